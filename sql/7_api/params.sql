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

COMMENT ON FUNCTION sched.resolve(text, jsonb, timestamptz, text) IS
    'Resolves a template as a task would: ${name} from params (plain values or {"value", "type"}) and the built-ins (system.biz.date, system.biz.curdate, system.datetime), then $[...] time expressions at schedule_time (default now) read in timezone (IANA, default UTC), as an instance with that business zone would. E.g. sched.resolve(''$[yyyyMMdd-1]'', ''{}'', ''2024-03-15'') = 20240314.';
