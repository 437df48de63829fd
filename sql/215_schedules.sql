-- Schedules (reference §9): a workflow fired on a cron expression in a time zone, between an
-- optional start and end, by the master, as the schedule's owner, with command type scheduler
-- and the nominal fire time as schedule_time (the business time). A fire is idempotent: one
-- instance per (schedule, fire time) (workflow_instance_one_per_fire), so restarts, crashes
-- and promotions never fire twice. The master sleeps until the next due fire.

CREATE TABLE sched.schedule (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id      bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    cron             text NOT NULL,
    timezone         text NOT NULL,
    start_at         timestamptz,
    end_at           timestamptz,
    enabled          boolean NOT NULL,
    misfire          text NOT NULL CHECK (misfire IN ('all', 'latest', 'none')),
    run_options      jsonb NOT NULL,
    params           jsonb NOT NULL,
    owner            regrole NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    next_fire_at     timestamptz,
    last_fire_at     timestamptz,
    last_instance_id bigint
);
CREATE INDEX schedule_due ON sched.schedule (next_fire_at) WHERE enabled AND next_fire_at IS NOT NULL;
CREATE INDEX schedule_by_workflow ON sched.schedule (workflow_id);
COMMENT ON TABLE sched.schedule IS 'Cron schedules of workflows; read through sched.schedules.';
COMMENT ON COLUMN sched.schedule.id IS 'Schedule id, returned by sched.schedule.';
COMMENT ON COLUMN sched.schedule.workflow_id IS 'The workflow it starts.';
COMMENT ON COLUMN sched.schedule.cron IS 'Cron expression (Quartz or Unix; see sched.cron_next).';
COMMENT ON COLUMN sched.schedule.timezone IS 'IANA time zone the expression is read in.';
COMMENT ON COLUMN sched.schedule.start_at IS 'No fire before this; NULL for none.';
COMMENT ON COLUMN sched.schedule.end_at IS 'No fire after this; NULL for none.';
COMMENT ON COLUMN sched.schedule.enabled IS 'Online (true) or offline; an offline schedule fires nothing, and on going online it continues from now.';
COMMENT ON COLUMN sched.schedule.misfire IS 'Fires missed while the master was down or busy for more than sched.misfire_threshold: all (fired, each with its own time), latest (only the last) or none.';
COMMENT ON COLUMN sched.schedule.run_options IS 'Start options of its instances (failure_strategy, priority, worker_group).';
COMMENT ON COLUMN sched.schedule.params IS 'Start parameters of its instances.';
COMMENT ON COLUMN sched.schedule.owner IS 'Role it fires as.';
COMMENT ON COLUMN sched.schedule.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.schedule.next_fire_at IS 'The next fire time; NULL when none is left (past end) or it is offline.';
COMMENT ON COLUMN sched.schedule.last_fire_at IS 'The last fire time fired.';
COMMENT ON COLUMN sched.schedule.last_instance_id IS 'The instance of the last fire.';

-- The next fire time of a schedule strictly after `after`, or NULL past its end.
CREATE FUNCTION sched._next_fire(cron text, timezone text, after timestamptz, end_at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT f FROM (SELECT pg_catalog.to_timestamp(e) AS f
                   FROM sched._cron_fires(cron, 1, extract(epoch FROM after)::float8, timezone) AS e) x
    WHERE end_at IS NULL OR f <= end_at
$$;
COMMENT ON FUNCTION sched._next_fire(text, text, timestamptz, timestamptz) IS 'Internal: a schedule''s next fire time after a time, NULL past its end.';

-- The workflow a schedule or a backfill starts, after checking the principal may, and their
-- options: `own` are the caller's keys, the rest are start options (failure_strategy,
-- priority, worker_group, params), checked as a start would check them so that no fire fails
-- on them later.
CREATE FUNCTION sched._fire_options(principal regrole, workflow text, options jsonb, own text[], owner_action text)
RETURNS sched.workflow
LANGUAGE plpgsql
AS $$
DECLARE
    wf      sched.workflow;
    opt     text;
    allowed text[] := own || ARRAY['failure_strategy', 'priority', 'worker_group', 'params', 'notify'];
    notify  jsonb;
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _fire_options.workflow;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow: "%" does not exist', workflow USING ERRCODE = 'undefined_object';
    END IF;
    -- What fires later runs as the workflow's owner: with owner_action, only its members may.
    IF owner_action IS NULL THEN
        PERFORM sched._check_owner(principal, wf.owner, format('workflow "%s"', wf.name));
    ELSE
        PERFORM sched._check_owner_strict(principal, wf.owner, format('workflow "%s"', wf.name), owner_action);
    END IF;
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR opt IN SELECT jsonb_object_keys(options) LOOP
        IF NOT opt = ANY(allowed) THEN
            RAISE EXCEPTION 'options.%: unknown option; allowed: %', opt, array_to_string(allowed, ', ')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    IF options ? 'params' AND jsonb_typeof(options->'params') <> 'object' THEN
        RAISE EXCEPTION 'options.params: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'failure_strategy' AND lower(options->>'failure_strategy') NOT IN ('continue', 'end') THEN
        RAISE EXCEPTION 'options.failure_strategy: "%" is not a valid failure strategy; allowed: continue, end', options->>'failure_strategy'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sched._priority_rank(options->>'priority', 'options.priority');
    IF options ? 'notify' THEN
        notify := sched._notify_with((SELECT v.spec->'notify' FROM sched.workflow_version v
                                      WHERE v.workflow_id = wf.id AND v.version = wf.current_version),
                                     options->'notify', 'options.notify');
        PERFORM sched._check_use(principal, 'alert_group', notify->>'alert_group', 'options.notify.alert_group');
    END IF;
    IF options ? 'worker_group' THEN
        PERFORM sched._check_name(options->>'worker_group', 'options.worker_group', 'name');
    END IF;
    PERFORM sched._check_use(principal, 'worker_group', options->>'worker_group', 'options.worker_group');
    RETURN wf;
END
$$;
COMMENT ON FUNCTION sched._fire_options(regrole, text, jsonb, text[], text) IS
    'Internal: the workflow a schedule or backfill starts, with its options checked (its own keys, and the start options); with owner_action, only members of its owner may (sched_admin does not suffice).';

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

-- Run by the master: fires what is due. Fires missed for longer than sched.misfire_threshold
-- follow the schedule's misfire policy; at most 1000 fires per schedule per call.
CREATE FUNCTION sched._fire_schedules() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s         record;
    t         timestamptz;
    due       timestamptz[];
    fire      timestamptz;
    missed    timestamptz;
    -- Shown with its unit ("1min"), which interval input reads.
    threshold interval := current_setting('sched.misfire_threshold')::interval;
    inst      bigint;
    last_fire timestamptz;
    last_inst bigint;
BEGIN
    FOR s IN
        SELECT sc.*, w.name AS workflow FROM sched.schedule sc JOIN sched.workflow w ON w.id = sc.workflow_id
        WHERE sc.enabled AND sc.next_fire_at <= now()
        ORDER BY sc.next_fire_at
        FOR UPDATE OF sc SKIP LOCKED
    LOOP
        due := '{}';
        t := s.next_fire_at;
        WHILE t IS NOT NULL AND t <= now() AND cardinality(due) < 1000 LOOP
            due := due || t;
            t := sched._next_fire(s.cron, s.timezone, t, s.end_at);
        END LOOP;
        -- The misfire policy decides about the fires older than the threshold.
        missed := (SELECT max(d) FROM unnest(due) d WHERE d < now() - threshold);
        due := CASE s.misfire
                   WHEN 'all' THEN due
                   WHEN 'latest' THEN array(SELECT d FROM unnest(due) d WHERE d >= now() - threshold OR d = missed ORDER BY d)
                   ELSE array(SELECT d FROM unnest(due) d WHERE d >= now() - threshold ORDER BY d) END;
        last_fire := s.last_fire_at;
        last_inst := s.last_instance_id;
        FOREACH fire IN ARRAY due LOOP
            CONTINUE WHEN EXISTS (SELECT 1 FROM sched.workflow_instance wi
                                  WHERE wi.schedule_id = s.id AND wi.schedule_time = fire);
            BEGIN
                inst := sched._start(s.owner, s.workflow, s.params,
                                     s.run_options || jsonb_build_object('schedule_time', fire::text, 'timezone', s.timezone), 'scheduler', s.id);
                last_fire := fire;
                last_inst := inst;
            EXCEPTION WHEN others THEN
                -- One fire that cannot start (the owner lost a grant, say) does not stop the others.
                RAISE WARNING 'pg_sched: schedule % could not fire at %: %', s.id, fire, SQLERRM;
            END;
        END LOOP;
        UPDATE sched.schedule sc SET next_fire_at = t, last_fire_at = last_fire, last_instance_id = last_inst
        WHERE sc.id = s.id;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._fire_schedules() IS
    'Internal, run by the master: starts the instances of the schedules that are due, as their owners, once per fire time.';
