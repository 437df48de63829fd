-- Parameters (DolphinScheduler's ${name} and $[time expression]). The rules are sched-core's
-- (core/src/params); this file exposes them for users to try expressions with.

CREATE FUNCTION sched.resolve(template text, params jsonb DEFAULT '{}', schedule_time timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

-- Business time as a task sees it: the schedule time, else now, in the caller's time zone.
CREATE FUNCTION sched._resolve(principal regrole, template text, params jsonb, schedule_time timestamptz)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT sched._resolve_template(
        template, coalesce(params, '{}'),
        pg_catalog.to_char(coalesce(schedule_time, pg_catalog.now())
                           AT TIME ZONE pg_catalog.current_setting('TimeZone'),
                           'YYYY-MM-DD HH24:MI:SS'))
$$;
-- A templated task's settings as its attempt runs them: the instance's values at its
-- business time. Called by the claim, for templated tasks only.
CREATE FUNCTION sched._task_settings(settings jsonb, instance_id bigint) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT sched._resolve_settings(
        settings, wi.param_values,
        pg_catalog.to_char(wi.business_time AT TIME ZONE wi.time_zone, 'YYYY-MM-DD HH24:MI:SS'))
    FROM sched.workflow_instance wi WHERE wi.id = instance_id
$$;
COMMENT ON FUNCTION sched._task_settings(jsonb, bigint) IS
    'Internal: settings with ${...} and $[...] resolved for an attempt of the instance; a failure is returned as resolve_error.';
COMMENT ON FUNCTION sched._instance_values(jsonb, jsonb, text) IS
    'Internal: the parameter values of a new instance (built-ins, facts, start parameters) resolved at its business time.';
COMMENT ON FUNCTION sched._resolve_settings(jsonb, jsonb, text) IS
    'Internal: a task''s settings with their texts resolved; never raises, a failure is returned as resolve_error.';

COMMENT ON FUNCTION sched.resolve(text, jsonb, timestamptz) IS
    'Resolves a template as a task would: ${name} from params (plain values or {"value", "type"}) and the built-ins (system.biz.date, system.biz.curdate, system.datetime), then $[...] time expressions at schedule_time (default now) in your time zone. E.g. sched.resolve(''$[yyyyMMdd-1]'', ''{}'', ''2024-03-15'') = 20240314.';
COMMENT ON FUNCTION sched._resolve_template(text, jsonb, text) IS
    'Internal: the resolution of sched.resolve, pure; business_time is YYYY-MM-DD HH24:MI:SS.';
