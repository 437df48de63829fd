-- Parameters (DolphinScheduler's ${name} and $[time expression]). The rules are sched-core's
-- (core/src/params); this file exposes them for users to try expressions with.

CREATE FUNCTION sched.resolve(template text, params jsonb DEFAULT '{}', schedule_time timestamptz DEFAULT NULL,
                              timezone text DEFAULT 'UTC')
RETURNS text
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

-- Business time as a task sees it: the schedule time, else now, in the business zone (UTC
-- unless given, as for a manual start of a workflow without a timezone).
CREATE FUNCTION sched._resolve(principal regrole, template text, params jsonb, schedule_time timestamptz, timezone text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT sched._resolve_template(
        template, coalesce(params, '{}'),
        pg_catalog.to_char(coalesce(schedule_time, pg_catalog.now())
                           AT TIME ZONE sched._check_time_zone(coalesce(timezone, 'UTC'), 'timezone'),
                           'YYYY-MM-DD HH24:MI:SS'))
$$;
-- What an attempt of a task with parameters runs with (DolphinScheduler's precedence,
-- lowest first: built-ins and task facts, globals, upstream OUT, local, start parameters):
-- the instance's values, the OUT values of its direct predecessors that succeeded (earliest
-- finished first, then by task id, for the conflict rule), and its local params resolved
-- over them at the instance's business time. Called by the claim, for such tasks only;
-- plpgsql, so that its statement is planned once per session, not at every claim.
CREATE FUNCTION sched._task_context(settings jsonb, local_params jsonb, inputs_from bigint[], task_name text,
                                    task_id bigint, task_instance_id bigint, instance_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    owner regrole;
BEGIN
    -- A datasource's credentials are used at the claim: its grant is checked here, every time,
    -- so that a revoked grant stops the next attempt. The worker fails a refused task with the
    -- reason.
    IF settings ? 'datasource' THEN
        SELECT w.owner INTO owner FROM sched.workflow_instance wi JOIN sched.workflow w ON w.id = wi.workflow_id
        WHERE wi.id = instance_id;
        IF NOT (EXISTS (SELECT 1 FROM sched.datasource d WHERE d.name = settings->>'datasource')
                AND sched._may_use(owner, 'datasource', settings->>'datasource')) THEN
            RETURN pg_catalog.jsonb_build_object('params', '{}'::jsonb, 'settings', settings || pg_catalog.jsonb_build_object(
                'refused', pg_catalog.format('datasource "%s" does not exist or role %s (the workflow''s owner) may not use it',
                                             settings->>'datasource', owner)));
        END IF;
    END IF;
    RETURN (SELECT sched._resolve_task(
        settings, local_params,
        CASE WHEN inputs_from IS NOT NULL THEN (
            SELECT pg_catalog.jsonb_agg(u.out_params ORDER BY u.ended_at, u.task_id)
            FROM sched.task_instance u
            WHERE u.workflow_instance_id = instance_id AND u.task_id = ANY(inputs_from) AND u.run = wi.run
              AND u.state IN ('succeeded', 'forced_success') AND u.out_params IS NOT NULL) END,
        wi.param_values, wi.params,
        pg_catalog.jsonb_build_object('system.task.instance.id', task_instance_id::text,
                                      'system.task.definition.name', task_name,
                                      'system.task.definition.code', task_id::text),
        pg_catalog.to_char(wi.business_time AT TIME ZONE wi.time_zone, 'YYYY-MM-DD HH24:MI:SS'))
    FROM sched.workflow_instance wi WHERE wi.id = instance_id);
END
$$;
COMMENT ON FUNCTION sched._task_context(jsonb, jsonb, bigint[], text, bigint, bigint, bigint) IS
    'Internal: {"params", "settings"} of an attempt of a task with parameters, as its claim stores them; a failure to resolve is returned in settings as resolve_error.';
COMMENT ON FUNCTION sched._instance_values(jsonb, jsonb, jsonb, text) IS
    'Internal: the parameter values of a new instance (built-ins, facts, globals, start parameters over them) resolved at its business time.';
COMMENT ON FUNCTION sched._resolve_task(jsonb, jsonb, jsonb, jsonb, jsonb, jsonb, text) IS
    'Internal: resolves a task''s local params and settings for an attempt; never raises, a failure is returned in settings as resolve_error.';

COMMENT ON FUNCTION sched.resolve(text, jsonb, timestamptz, text) IS
    'Resolves a template as a task would: ${name} from params (plain values or {"value", "type"}) and the built-ins (system.biz.date, system.biz.curdate, system.datetime), then $[...] time expressions at schedule_time (default now) read in timezone (IANA, default UTC), as an instance with that business zone would. E.g. sched.resolve(''$[yyyyMMdd-1]'', ''{}'', ''2024-03-15'') = 20240314.';
COMMENT ON FUNCTION sched._resolve_template(text, jsonb, text) IS
    'Internal: the resolution of sched.resolve, pure; business_time is YYYY-MM-DD HH24:MI:SS.';
