-- Schedules: set, enable, disable, remove. The master fires them (4_master/schedules.sql).
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.schedule(workflow text, cron text, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._schedule(principal regrole, workflow text, cron text, options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf       sched.workflow;
    tz       text;
    starts   timestamptz;
    ends     timestamptz;
    new_id   bigint;
    run_opts jsonb;
BEGIN
    wf := sched._fire_options(principal, workflow, options, ARRAY['timezone', 'start', 'end', 'enabled', 'misfire'],
                              'schedule it');
    tz := coalesce(options->>'timezone', sched._workflow_time_zone(wf.id));
    IF options ? 'enabled' AND jsonb_typeof(options->'enabled') <> 'boolean' THEN
        RAISE EXCEPTION 'options.enabled: must be true or false' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'misfire', 'all')) NOT IN ('all', 'latest', 'none') THEN
        RAISE EXCEPTION 'options.misfire: "%" is not allowed; allowed: all, latest, none', options->>'misfire'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sched._check_time_zone(tz, 'options.timezone');
    starts := sched._zoned_timestamp(options->>'start', tz, 'options.start');
    ends := sched._zoned_timestamp(options->>'end', tz, 'options.end');
    IF starts IS NOT NULL AND ends IS NOT NULL AND ends < starts THEN
        RAISE EXCEPTION 'options.end: % is before options.start %', ends, starts USING ERRCODE = 'invalid_parameter_value';
    END IF;
    run_opts := options - ARRAY['timezone', 'start', 'end', 'enabled', 'misfire', 'params'];
    INSERT INTO sched.schedule (workflow_id, cron, timezone, start_at, end_at, enabled, misfire, run_options, params, owner, next_fire_at)
    VALUES (wf.id, cron, tz, starts, ends, coalesce((options->>'enabled')::boolean, true), lower(coalesce(options->>'misfire', 'all')),
            run_opts, coalesce(options->'params', '{}'), principal,
            -- Checks the expression and the zone, naming them.
            sched._next_fire(cron, tz, greatest(now(), starts - interval '1 second'), ends))
    RETURNING sched.schedule.id INTO new_id;
    IF NOT coalesce((options->>'enabled')::boolean, true) THEN
        UPDATE sched.schedule s SET next_fire_at = NULL WHERE s.id = new_id;
    END IF;
    PERFORM sched._wake_master();
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched.schedule(text, text, jsonb) IS
    'Schedules a workflow on a cron expression and returns the schedule id. options: timezone (IANA; default the workflow''s timezone, else UTC: the expression and the business values of its instances are in it), start, end (local times of the zone unless they carry an offset), enabled (default true), misfire (all, latest, none: what happens to fires missed for longer than sched.misfire_threshold; default all), and run options failure_strategy, priority, worker_group, params, notify (over the workflow''s). It fires as you, with schedule_time the nominal fire time.';

-- Turns a schedule on (continuing from now) or off.
CREATE FUNCTION sched._set_schedule(principal regrole, schedule_id bigint, enabled boolean) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    s sched.schedule;
BEGIN
    SELECT * INTO s FROM sched.schedule sc WHERE sc.id = schedule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule % does not exist', schedule_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, s.owner, format('schedule %s', schedule_id));
    UPDATE sched.schedule sc
       SET enabled = _set_schedule.enabled,
           next_fire_at = CASE WHEN _set_schedule.enabled
                               THEN sched._next_fire(s.cron, s.timezone, greatest(now(), s.start_at - interval '1 second'), s.end_at) END
     WHERE sc.id = schedule_id;
    PERFORM sched._wake_master();
END
$$;
COMMENT ON FUNCTION sched._set_schedule(regrole, bigint, boolean) IS 'Internal: puts a schedule online or offline.';

CREATE FUNCTION sched.enable_schedule(schedule_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._enable_schedule(principal regrole, schedule_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN PERFORM sched._set_schedule(principal, schedule_id, true); END $$;
COMMENT ON FUNCTION sched.enable_schedule(bigint) IS 'Puts a schedule online (DolphinScheduler''s online): it fires from now on.';

CREATE FUNCTION sched.disable_schedule(schedule_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._disable_schedule(principal regrole, schedule_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN PERFORM sched._set_schedule(principal, schedule_id, false); END $$;
COMMENT ON FUNCTION sched.disable_schedule(bigint) IS 'Puts a schedule offline: it fires nothing until enabled again.';

CREATE FUNCTION sched.unschedule(schedule_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._unschedule(principal regrole, schedule_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s sched.schedule;
BEGIN
    SELECT * INTO s FROM sched.schedule sc WHERE sc.id = schedule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule % does not exist', schedule_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, s.owner, format('schedule %s', schedule_id));
    DELETE FROM sched.schedule sc WHERE sc.id = schedule_id;
END
$$;
COMMENT ON FUNCTION sched.unschedule(bigint) IS 'Deletes a schedule; the instances it created stay.';
