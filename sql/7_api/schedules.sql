-- Schedules: set, enable, disable, remove. The master fires them (4_master/schedules.sql).
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.schedule(workflow text, cron text, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- A schedule as sched.schedule and sched.alter_schedule make it, every option checked, not
-- yet stored (id NULL).
CREATE FUNCTION sched._schedule_row(principal regrole, workflow text, cron text, options jsonb, action text)
RETURNS sched.schedule
LANGUAGE plpgsql
AS $$
DECLARE
    wf       sched.workflow;
    tz       text;
    starts   timestamptz;
    ends     timestamptz;
    enabled  boolean;
BEGIN
    wf := sched._fire_options(principal, workflow, options, ARRAY['timezone', 'start', 'end', 'enabled', 'misfire', 'deadline'], action);
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
    enabled := coalesce((options->>'enabled')::boolean, true);
    IF options ? 'deadline' THEN
        IF jsonb_typeof(options->'deadline') <> 'string' THEN
            RAISE EXCEPTION 'options.deadline: must be a string such as "06:00", "+1 day 06:00" or "2 h"' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM sched._deadline_at(options->>'deadline', 0, tz, 'options.deadline');
    END IF;
    RETURN ROW(NULL, wf.id, cron, tz, starts, ends, enabled, lower(coalesce(options->>'misfire', 'all')),
               options - ARRAY['timezone', 'start', 'end', 'enabled', 'misfire', 'params', 'deadline'],
               coalesce(options->'params', '{}'), principal, now(),
               -- Checks the expression and the zone, naming them; the caller stores it only if enabled.
               sched._next_fire(cron, tz, greatest(now(), starts - interval '1 second'), ends),
               NULL, NULL, nullif(trim(options->>'deadline'), ''), NULL, NULL)::sched.schedule;
END
$$;
COMMENT ON FUNCTION sched._schedule_row(regrole, text, text, jsonb, text) IS
    'Internal: the schedule sched.schedule and sched.alter_schedule store, its options checked (only members of the workflow''s owner may, as it fires as them).';

CREATE FUNCTION sched._schedule(principal regrole, workflow text, cron text, options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      sched.schedule := sched._schedule_row(principal, workflow, cron, options, 'schedule it');
    new_id bigint;
BEGIN
    INSERT INTO sched.schedule (workflow_id, cron, timezone, start_at, end_at, enabled, misfire, run_options, params, owner,
                                next_fire_at, deadline, deadline_through, deadline_next)
    VALUES (s.workflow_id, s.cron, s.timezone, s.start_at, s.end_at, s.enabled, s.misfire, s.run_options, s.params, s.owner,
            CASE WHEN s.enabled THEN s.next_fire_at END, s.deadline, now(),
            CASE WHEN sched._schedule_deadline(s) IS NOT NULL THEN now() END)
    RETURNING sched.schedule.id INTO new_id;
    PERFORM sched._wake_master();
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched.schedule(text, text, jsonb) IS
    'Schedules a workflow on a cron expression and returns the schedule id. options: timezone (IANA; default the workflow''s timezone, else UTC: the expression and the business values of its instances are in it), start, end (local times of the zone unless they carry an offset), enabled (default true), misfire (all, latest, none: what happens to fires missed for longer than sched.misfire_threshold; default all), deadline (when each fire''s run must have succeeded by, over the workflow''s deadline: "06:00" on the business date, "+1 day 06:00", or a duration after the fire such as "2 h"; a miss raises the alert deadline_missed once, even when the run never started), and run options failure_strategy, priority, worker_group, params, notify (over the workflow''s). It fires as you, with schedule_time the nominal fire time.';

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

CREATE FUNCTION sched.alter_schedule(schedule_id bigint, cron text DEFAULT NULL, options jsonb DEFAULT '{}') RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._alter_schedule(principal regrole, schedule_id bigint, cron text, options jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      sched.schedule;
    merged jsonb;
    new    sched.schedule;
BEGIN
    SELECT * INTO s FROM sched.schedule sc WHERE sc.id = schedule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule_id: schedule % does not exist', schedule_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, s.owner, format('schedule %s', schedule_id));
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- What options leaves out stays; a null removes it (its default applies).
    merged := jsonb_strip_nulls(
        s.run_options
        || jsonb_build_object('timezone', s.timezone, 'start', s.start_at, 'end', s.end_at,
                              'enabled', s.enabled, 'misfire', s.misfire, 'params', s.params, 'deadline', s.deadline)
        || options);
    new := sched._schedule_row(principal, (SELECT w.name FROM sched.workflow w WHERE w.id = s.workflow_id),
                               coalesce(cron, s.cron), merged, 'change its schedule');
    UPDATE sched.schedule sc
       SET cron = new.cron, timezone = new.timezone, start_at = new.start_at, end_at = new.end_at,
           enabled = new.enabled, misfire = new.misfire, run_options = new.run_options, params = new.params,
           owner = new.owner, next_fire_at = CASE WHEN new.enabled THEN new.next_fire_at END,
           deadline = new.deadline,
           deadline_through = CASE WHEN sc.deadline_next IS NULL THEN now() ELSE sc.deadline_through END,
           deadline_next = CASE WHEN sched._schedule_deadline(new) IS NOT NULL THEN coalesce(sc.deadline_next, now()) END
     WHERE sc.id = schedule_id;
    PERFORM sched._wake_master();
END
$$;
COMMENT ON FUNCTION sched.alter_schedule(bigint, text, jsonb) IS
    'Changes a schedule in place, keeping its id and history: cron (NULL keeps it) and any option of sched.schedule (an option left out stays, a null removes it). It continues from now, and fires from then on as you (only members of the workflow''s owner may).';
