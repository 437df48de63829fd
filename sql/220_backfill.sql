-- Backfill (补数, reference §5): a workflow run once per date of a range or a list, each date
-- its own instance with command type complement_data and that date as schedule_time, in
-- serial (one after another, stopping at the first that does not succeed unless on_failure
-- is continue) or in parallel (at most `parallelism` at once). A range's dates are the fire
-- times of the workflow's enabled schedule within it, else every midnight of the time zone.
-- The next dates start as instances end (sched._finish_if_done), in the ending transaction.

CREATE TABLE sched.backfill (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    mode        text NOT NULL CHECK (mode IN ('serial', 'parallel')),
    parallelism integer NOT NULL CHECK (parallelism >= 1),
    on_failure  text NOT NULL CHECK (on_failure IN ('stop', 'continue')),
    run_options jsonb NOT NULL,
    params      jsonb NOT NULL,
    owner       regrole NOT NULL,
    state       text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
    -- A dependent backfill (options.dependents): the backfill it follows.
    triggered_by bigint REFERENCES sched.backfill ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ended_at    timestamptz
);
COMMENT ON TABLE sched.backfill IS 'Backfills: a workflow run once per date; read through sched.backfills.';
COMMENT ON COLUMN sched.backfill.id IS 'Backfill id, returned by sched.backfill.';
COMMENT ON COLUMN sched.backfill.workflow_id IS 'The workflow run.';
COMMENT ON COLUMN sched.backfill.mode IS 'serial (one date after another) or parallel.';
COMMENT ON COLUMN sched.backfill.parallelism IS 'Instances running at once at most (1 in serial mode).';
COMMENT ON COLUMN sched.backfill.on_failure IS 'stop (no date starts after one did not succeed) or continue.';
COMMENT ON COLUMN sched.backfill.run_options IS 'Start options of its instances (failure_strategy, priority, worker_group).';
COMMENT ON COLUMN sched.backfill.params IS 'Start parameters of its instances.';
COMMENT ON COLUMN sched.backfill.owner IS 'Role that asked for it; its instances start as it.';
COMMENT ON COLUMN sched.backfill.state IS 'running, succeeded (every date succeeded), failed or cancelled.';
COMMENT ON COLUMN sched.backfill.triggered_by IS 'For a backfill of a workflow with DEPENDENT tasks on another (options.dependents): the other workflow''s backfill; NULL otherwise.';
COMMENT ON COLUMN sched.backfill.created_at IS 'When it was asked for.';
COMMENT ON COLUMN sched.backfill.ended_at IS 'When its last instance ended, or it was cancelled.';

CREATE TABLE sched.backfill_date (
    backfill_id   bigint NOT NULL REFERENCES sched.backfill ON DELETE CASCADE,
    position      integer NOT NULL,
    schedule_time timestamptz NOT NULL,
    instance_id   bigint,
    cancelled     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (backfill_id, position),
    UNIQUE (backfill_id, schedule_time)
);
COMMENT ON TABLE sched.backfill_date IS 'The dates of a backfill, in the order they run, with their instances.';
COMMENT ON COLUMN sched.backfill_date.backfill_id IS 'The backfill.';
COMMENT ON COLUMN sched.backfill_date.position IS 'Order of the date in the backfill, from 1.';
COMMENT ON COLUMN sched.backfill_date.schedule_time IS 'The date (business time) of its instance.';
COMMENT ON COLUMN sched.backfill_date.instance_id IS 'Its workflow instance; NULL while pending.';
COMMENT ON COLUMN sched.backfill_date.cancelled IS 'Cancelled before it started.';

-- Starts the dates a backfill may start now; finishes it when nothing is left.
CREATE FUNCTION sched._advance_backfill(backfill_id bigint, raise_errors boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    b        record;
    running  integer;
    stuck    boolean;
    d        record;
    inst     bigint;
BEGIN
    SELECT bf.*, w.name AS workflow INTO b
    FROM sched.backfill bf JOIN sched.workflow w ON w.id = bf.workflow_id
    WHERE bf.id = backfill_id FOR UPDATE OF bf;
    IF NOT FOUND OR b.state <> 'running' THEN
        RETURN;
    END IF;
    SELECT count(*) FILTER (WHERE wi.state NOT IN ('paused', 'stopped', 'failed', 'succeeded')),
           bool_or(wi.state IN ('paused', 'stopped', 'failed'))
    INTO running, stuck
    FROM sched.backfill_date bd JOIN sched.workflow_instance wi ON wi.id = bd.instance_id
    WHERE bd.backfill_id = b.id;
    IF NOT (coalesce(stuck, false) AND b.on_failure = 'stop') THEN
        FOR d IN
            SELECT bd.position, bd.schedule_time FROM sched.backfill_date bd
            WHERE bd.backfill_id = b.id AND bd.instance_id IS NULL AND NOT bd.cancelled
            ORDER BY bd.position LIMIT greatest(0, b.parallelism - running)
        LOOP
            BEGIN
                inst := sched._start(b.owner, b.workflow, b.params,
                                     b.run_options || jsonb_build_object('schedule_time', d.schedule_time::text),
                                     'complement_data', NULL);
            EXCEPTION WHEN others THEN
                IF raise_errors THEN
                    RAISE;
                END IF;
                -- The instance whose end called this must end whatever the next date's start
                -- says (a grant revoked since, a cap reached): the backfill stops, failed.
                RAISE WARNING 'pg_sched: backfill % stops: its date % cannot start: %', b.id, d.schedule_time, SQLERRM;
                UPDATE sched.backfill_date bd SET cancelled = true
                WHERE bd.backfill_id = b.id AND bd.instance_id IS NULL;
                EXIT;
            END;
            UPDATE sched.workflow_instance SET backfill_id = b.id WHERE id = inst;
            UPDATE sched.backfill_date bd SET instance_id = inst
            WHERE bd.backfill_id = b.id AND bd.position = d.position;
            running := running + 1;
        END LOOP;
    END IF;
    -- Done: nothing runs and nothing more will start.
    IF running = 0 AND (coalesce(stuck, false) AND b.on_failure = 'stop'
                        OR NOT EXISTS (SELECT 1 FROM sched.backfill_date bd
                                       WHERE bd.backfill_id = b.id AND bd.instance_id IS NULL AND NOT bd.cancelled)) THEN
        UPDATE sched.backfill bf
           SET state = CASE WHEN EXISTS (
                                SELECT 1 FROM sched.backfill_date bd
                                LEFT JOIN sched.workflow_instance wi ON wi.id = bd.instance_id
                                WHERE bd.backfill_id = b.id AND (wi.state IS DISTINCT FROM 'succeeded'))
                            THEN 'failed' ELSE 'succeeded' END,
               ended_at = now()
         WHERE bf.id = b.id;
    END IF;
END
$$;
COMMENT ON FUNCTION sched._advance_backfill(bigint, boolean) IS
    'Internal: starts as many pending dates of a backfill as it may run now (in order), and gives it its final state when nothing is left.';

-- The zone a backfill's range is read in and its business values are computed in
-- (DolphinScheduler's schedule time zone): options.timezone, else the workflow's enabled
-- schedule's, else the workflow's timezone, else UTC.
CREATE FUNCTION sched._backfill_zone(wf sched.workflow, options jsonb) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF options ? 'timezone' THEN
        RETURN sched._check_time_zone(options->>'timezone', 'options.timezone');
    END IF;
    RETURN coalesce((SELECT sc.timezone FROM sched.schedule sc WHERE sc.workflow_id = wf.id AND sc.enabled ORDER BY sc.id LIMIT 1),
                    sched._workflow_time_zone(wf.id));
END
$$;
COMMENT ON FUNCTION sched._backfill_zone(sched.workflow, jsonb) IS
    'Internal: the zone of a backfill: options.timezone, else the workflow''s enabled schedule''s, else its timezone, else UTC.';

-- The dates of a range: the fire times of the workflow's enabled schedule in [lo, hi], else
-- every midnight of the zone. A range of more than 10,000 is refused once the 10,001st is
-- found, without computing the rest.
CREATE FUNCTION sched._range_dates(principal regrole, workflow text, lo timestamptz, hi timestamptz, day_form boolean, options jsonb)
RETURNS timestamptz[]
LANGUAGE plpgsql
AS $$
DECLARE
    wf    sched.workflow;
    s     sched.schedule;
    zone  text;
    cron  text := '0 0 0 * * ?';
    dates timestamptz[];
    t     timestamptz;
    shown text;
BEGIN
    IF lo IS NULL OR hi IS NULL OR hi < lo THEN
        RAISE EXCEPTION 'to: must not be before from (from %, to %)',
            CASE WHEN day_form THEN ((lo AT TIME ZONE 'UTC')::date)::text ELSE lo::text END,
            CASE WHEN day_form THEN ((hi AT TIME ZONE 'UTC')::date)::text ELSE hi::text END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _range_dates.workflow;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow: "%" does not exist', workflow USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, wf.owner, format('workflow "%s"', wf.name));
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    zone := sched._backfill_zone(wf, options);
    -- Days (passed as UTC midnights) are the zone's: from the first one's midnight to the end
    -- of the last one.
    IF day_form THEN
        lo := (lo AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE zone;
        hi := ((hi AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE zone - interval '1 microsecond';
    END IF;
    SELECT * INTO s FROM sched.schedule sc WHERE sc.workflow_id = wf.id AND sc.enabled ORDER BY sc.id LIMIT 1;
    IF s.id IS NOT NULL THEN
        cron := s.cron;
        zone := s.timezone;
    END IF;
    t := sched._next_fire(cron, zone, lo - interval '1 second', hi);
    WHILE t IS NOT NULL AND coalesce(cardinality(dates), 0) <= 10000 LOOP
        dates := dates || t;
        t := sched._next_fire(cron, zone, t, hi);
    END LOOP;
    IF cardinality(dates) > 10000 THEN
        RAISE EXCEPTION 'to: the range holds more than 10000 dates; a backfill runs at most 10000'
            USING ERRCODE = 'program_limit_exceeded', HINT = 'Split it into several backfills.';
    END IF;
    IF dates IS NULL THEN
        shown := CASE WHEN day_form THEN format('%s and %s', lo AT TIME ZONE zone, hi AT TIME ZONE zone) ELSE format('%s and %s', lo, hi) END;
        RAISE EXCEPTION 'from: no date of the % between % (%)', CASE WHEN s.id IS NULL THEN 'days' ELSE 'schedule' END, shown, zone
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN dates;
END
$$;
COMMENT ON FUNCTION sched._range_dates(regrole, text, timestamptz, timestamptz, boolean, jsonb) IS
    'Internal: the dates of a backfill over a range: its workflow''s enabled schedule''s fire times in it, else the midnights of the backfill''s zone; day_form reads lo and hi as whole days of that zone.';

CREATE FUNCTION sched.backfill(workflow text, "from" timestamptz, "to" timestamptz, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._backfill(principal regrole, workflow text, "from" timestamptz, "to" timestamptz, options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN sched._backfill_dates(principal, workflow, sched._range_dates(principal, workflow, "from", "to", false, options), options);
END
$$;
COMMENT ON FUNCTION sched.backfill(text, timestamptz, timestamptz, jsonb) IS
    'Backfills a workflow over [from, to] (instants): one instance per fire time of its enabled schedule in the range (both ends included), else per midnight of the backfill''s zone. The zone (options.timezone, else the schedule''s, else the workflow''s timezone, else UTC) is the one its instances'' business values are computed in. options: mode serial (default) or parallel, parallelism (parallel mode), order desc (default) or asc, on_failure stop (default) or continue, failure_strategy, priority, worker_group, params, timezone, dry_run (true: returns NULL and says in a NOTICE which dates it would run; sched.backfill_preview lists them), dependents (true: also backfill, for the same dates, the workflows whose DEPENDENT tasks depend on this one in its cycle, from those tasks on). Returns the backfill id (sched.backfills).';

CREATE FUNCTION sched.backfill(workflow text, "from" date, "to" date, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._backfill(principal regrole, workflow text, "from" date, "to" date, options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN sched._backfill_dates(principal, workflow, sched._range_dates(principal, workflow, "from"::timestamp AT TIME ZONE 'UTC',
                                                                         "to"::timestamp AT TIME ZONE 'UTC', true, options), options);
END
$$;
COMMENT ON FUNCTION sched.backfill(text, date, date, jsonb) IS
    'Backfills a workflow over the days from .. to (both included) of the backfill''s zone (options.timezone, else its enabled schedule''s, else the workflow''s timezone, else UTC): one instance per fire time of its enabled schedule in those days, else per day at midnight. Options as for the timestamp form.';

CREATE FUNCTION sched.backfill_preview(workflow text, "from" date, "to" date, options jsonb DEFAULT '{}')
RETURNS TABLE ("position" integer, schedule_time timestamptz, business_date date, time_zone text)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._backfill_preview(principal regrole, workflow text, "from" date, "to" date, options jsonb)
RETURNS TABLE ("position" integer, schedule_time timestamptz, business_date date, time_zone text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT * FROM sched._backfill_plan(principal, workflow,
        sched._range_dates(principal, workflow, "from"::timestamp AT TIME ZONE 'UTC', "to"::timestamp AT TIME ZONE 'UTC', true, options),
        options);
END
$$;
COMMENT ON FUNCTION sched.backfill_preview(text, date, date, jsonb) IS
    'What sched.backfill with the same arguments would run, without running anything: each date in the order it would run, its business date and the zone. Checks the options as the backfill does.';

CREATE FUNCTION sched.backfill_preview(workflow text, "from" timestamptz, "to" timestamptz, options jsonb DEFAULT '{}')
RETURNS TABLE ("position" integer, schedule_time timestamptz, business_date date, time_zone text)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._backfill_preview(principal regrole, workflow text, "from" timestamptz, "to" timestamptz, options jsonb)
RETURNS TABLE ("position" integer, schedule_time timestamptz, business_date date, time_zone text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT * FROM sched._backfill_plan(principal, workflow,
        sched._range_dates(principal, workflow, "from", "to", false, options), options);
END
$$;
COMMENT ON FUNCTION sched.backfill_preview(text, timestamptz, timestamptz, jsonb) IS
    'What sched.backfill over these instants would run, without running anything (see the date form).';

-- The dates of a backfill in the order it runs them, as backfill_preview shows them; the
-- options are checked as the backfill itself checks them.
CREATE FUNCTION sched._backfill_plan(principal regrole, workflow text, dates timestamptz[], options jsonb)
RETURNS TABLE ("position" integer, schedule_time timestamptz, business_date date, time_zone text)
LANGUAGE plpgsql
AS $$
DECLARE
    wf   sched.workflow;
    zone text;
BEGIN
    wf := sched._backfill_checked(principal, workflow, dates, options);
    zone := sched._backfill_zone(wf, options);
    RETURN QUERY SELECT * FROM sched._backfill_order(dates, options, zone);
END
$$;
COMMENT ON FUNCTION sched._backfill_plan(regrole, text, timestamptz[], jsonb) IS
    'Internal: the dates of a backfill in the order it runs them, with their business dates and zone, its options checked.';

-- The one place the order of a backfill's dates is decided: options.order, newest first by
-- default as in DolphinScheduler, duplicates removed.
CREATE FUNCTION sched._backfill_order(dates timestamptz[], options jsonb, zone text)
RETURNS TABLE ("position" integer, schedule_time timestamptz, business_date date, time_zone text)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT (row_number() OVER (ORDER BY CASE WHEN lower(coalesce(options->>'order', 'desc')) = 'asc' THEN d END ASC,
                                        CASE WHEN lower(coalesce(options->>'order', 'desc')) = 'desc' THEN d END DESC))::integer,
           d, (d AT TIME ZONE zone)::date, zone
    FROM (SELECT DISTINCT unnest(dates) AS d) x
    ORDER BY 1
$$;
COMMENT ON FUNCTION sched._backfill_order(timestamptz[], jsonb, text) IS
    'Internal: a backfill''s dates in the order it runs them (options.order), with their business dates in zone.';

CREATE FUNCTION sched.backfill(workflow text, dates timestamptz[], options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._backfill(principal regrole, workflow text, dates timestamptz[], options jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF dates IS NULL OR cardinality(dates) = 0 OR array_position(dates, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'dates: must be a non-empty array of timestamps' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN sched._backfill_dates(principal, workflow, dates, options);
END
$$;
COMMENT ON FUNCTION sched.backfill(text, timestamptz[], jsonb) IS
    'Backfills a workflow for a list of dates, as given (duplicates removed); options as for the range form.';

-- A backfill's workflow, its dates and options checked, before anything is written.
CREATE FUNCTION sched._backfill_checked(principal regrole, workflow text, dates timestamptz[], options jsonb)
RETURNS sched.workflow
LANGUAGE plpgsql
AS $$
DECLARE
    wf   sched.workflow;
    mode text := lower(coalesce(options->>'mode', 'serial'));
BEGIN
    IF dates IS NOT NULL AND cardinality(dates) > 10000 THEN
        RAISE EXCEPTION 'dates: % dates; a backfill runs at most 10000', cardinality(dates)
            USING ERRCODE = 'program_limit_exceeded', HINT = 'Split it into several backfills.';
    END IF;
    wf := sched._fire_options(principal, workflow, options, ARRAY['mode', 'parallelism', 'order', 'on_failure', 'timezone', 'dependents', 'dry_run'],
                              CASE WHEN options->'params' <> '{}' THEN 'backfill it with parameters' END);
    IF options ? 'dry_run' AND jsonb_typeof(options->'dry_run') <> 'boolean' THEN
        RAISE EXCEPTION 'options.dry_run: must be true or false' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'dependents' AND jsonb_typeof(options->'dependents') <> 'boolean' THEN
        RAISE EXCEPTION 'options.dependents: must be true or false' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF mode NOT IN ('serial', 'parallel') THEN
        RAISE EXCEPTION 'options.mode: "%" is not allowed; allowed: serial, parallel', options->>'mode' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'order', 'desc')) NOT IN ('asc', 'desc') THEN
        RAISE EXCEPTION 'options.order: "%" is not allowed; allowed: asc, desc', options->>'order' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'on_failure', 'stop')) NOT IN ('stop', 'continue') THEN
        RAISE EXCEPTION 'options.on_failure: "%" is not allowed; allowed: stop, continue', options->>'on_failure' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'parallelism' THEN
        IF jsonb_typeof(options->'parallelism') <> 'number' OR (options->>'parallelism')::numeric NOT BETWEEN 1 AND 1000
           OR (options->>'parallelism')::numeric <> trunc((options->>'parallelism')::numeric) THEN
            RAISE EXCEPTION 'options.parallelism: must be a whole number from 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF mode <> 'parallel' THEN
            RAISE EXCEPTION 'options.parallelism: applies to mode parallel' USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    RETURN wf;
END
$$;
COMMENT ON FUNCTION sched._backfill_checked(regrole, text, timestamptz[], jsonb) IS
    'Internal: the workflow of a backfill, its dates and options checked (the principal''s rights included).';

CREATE FUNCTION sched._backfill_dates(principal regrole, workflow text, dates timestamptz[], options jsonb) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    wf       sched.workflow;
    mode     text := lower(coalesce(options->>'mode', 'serial'));
    parallel integer;
    run_opts jsonb;
    new_id   bigint;
    cycle    text := 'day';
    s        sched.schedule;
    first_at timestamptz;
    dep      record;
    zone     text;
    planned  text;
    n_dates  bigint;
BEGIN
    wf := sched._backfill_checked(principal, workflow, dates, options);
    zone := sched._backfill_zone(wf, options);
    IF coalesce((options->>'dry_run')::boolean, false) THEN
        SELECT count(*), string_agg(to_char(p.schedule_time AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI:SS'), ', ' ORDER BY p.position)
        INTO n_dates, planned
        FROM sched._backfill_order(dates, options, zone) p;
        RAISE NOTICE 'dry run: backfill of "%" would run % date(s), in this order (local times of %): %',
            wf.name, n_dates, zone, planned;
        RETURN NULL;
    END IF;
    -- Every instance computes its business values in the backfill's zone.
    run_opts := options - ARRAY['mode', 'parallelism', 'order', 'on_failure', 'timezone', 'params', 'dependents', 'dry_run']
                || jsonb_build_object('timezone', zone);
    parallel := CASE WHEN mode = 'serial' THEN 1
                     ELSE coalesce((options->>'parallelism')::integer, cardinality(dates)) END;
    new_id := sched._new_backfill(wf.id, mode, parallel, options, run_opts, principal, dates, NULL);

    -- DolphinScheduler's ALL_DEPENDENT: the workflows with DEPENDENT tasks on this one in its
    -- cycle (its schedule's, else daily) are backfilled for the same dates, from those tasks on.
    -- Their DEPENDENT tasks order them after this backfill's dates by waiting for them.
    IF coalesce((options->>'dependents')::boolean, false) THEN
        SELECT * INTO s FROM sched.schedule sc WHERE sc.workflow_id = wf.id AND sc.enabled ORDER BY sc.id LIMIT 1;
        IF s.id IS NOT NULL THEN
            first_at := sched._next_fire(s.cron, s.timezone, now(), NULL);
            cycle := coalesce(sched._fires_cycle(ARRAY[
                to_char(first_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI:SS'),
                to_char(sched._next_fire(s.cron, s.timezone, first_at, NULL) AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI:SS')]), 'day');
        END IF;
        FOR dep IN
            SELECT w.id, w.name, w.owner, array_agg(DISTINCT td.name ORDER BY td.name) AS tasks
            FROM sched.workflow w
            JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
            JOIN sched.task_definition td ON td.workflow_version_id = v.id AND td.logic = 'dependent'
            WHERE w.id <> wf.id AND EXISTS (
                SELECT 1 FROM jsonb_array_elements(td.settings->'groups') g
                CROSS JOIN LATERAL jsonb_array_elements(g->'items') i
                WHERE i->>'workflow' = wf.name AND i->>'cycle' = cycle)
            GROUP BY w.id, w.name, w.owner
            ORDER BY w.id
        LOOP
            -- Another role's workflow may depend on this one; it is theirs to backfill, and only
            -- its owner's members may give it parameters.
            IF NOT sched._may_see(principal, dep.owner) THEN
                RAISE NOTICE 'options.dependents: a workflow of another role depends on "%"; not backfilled', wf.name;
                CONTINUE;
            END IF;
            IF options->'params' <> '{}' AND NOT pg_has_role(principal, dep.owner, 'MEMBER') THEN
                RAISE NOTICE 'options.dependents: workflow "%" depends on "%" but only its owner''s members may backfill it with parameters; not backfilled', dep.name, wf.name;
                CONTINUE;
            END IF;
            PERFORM sched._new_backfill(dep.id, mode, parallel, options,
                                        run_opts || jsonb_build_object('start_tasks', to_jsonb(dep.tasks), 'task_scope', 'downstream'),
                                        principal, dates, new_id);
        END LOOP;
    END IF;
    RETURN new_id;
END
$$;

CREATE FUNCTION sched._new_backfill(workflow_id bigint, mode text, parallel integer, options jsonb, run_opts jsonb,
                                    principal regrole, dates timestamptz[], triggered_by bigint) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO sched.backfill (workflow_id, mode, parallelism, on_failure, run_options, params, owner, state, triggered_by)
    VALUES (workflow_id, mode, greatest(parallel, 1), lower(coalesce(options->>'on_failure', 'stop')), run_opts,
            coalesce(options->'params', '{}'), principal, 'running', triggered_by)
    RETURNING id INTO new_id;
    INSERT INTO sched.backfill_date (backfill_id, position, schedule_time)
    SELECT new_id, o.position, o.schedule_time FROM sched._backfill_order(dates, options, 'UTC') o;
    PERFORM sched._advance_backfill(new_id);
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched._new_backfill(bigint, text, integer, jsonb, jsonb, regrole, timestamptz[], bigint) IS
    'Internal: records a backfill of these dates (in options.order) with these start options and starts its first instances.';
COMMENT ON FUNCTION sched._backfill_dates(regrole, text, timestamptz[], jsonb) IS 'Internal: creates a backfill of these dates and starts its first instances.';

CREATE FUNCTION sched.cancel_backfill(backfill_id bigint, stop_running boolean DEFAULT false) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._cancel_backfill(principal regrole, backfill_id bigint, stop_running boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b    sched.backfill;
    inst bigint;
BEGIN
    SELECT * INTO b FROM sched.backfill bf WHERE bf.id = backfill_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'backfill % does not exist', backfill_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, b.owner, format('backfill %s', backfill_id));
    IF b.state <> 'running' THEN
        RAISE EXCEPTION 'backfill % is %; cancel applies to running backfills', backfill_id, b.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE sched.backfill_date bd SET cancelled = true WHERE bd.backfill_id = b.id AND bd.instance_id IS NULL;
    UPDATE sched.backfill bf SET state = 'cancelled', ended_at = now() WHERE bf.id = b.id;
    IF coalesce(stop_running, false) THEN
        FOR inst IN
            SELECT wi.id FROM sched.backfill_date bd JOIN sched.workflow_instance wi ON wi.id = bd.instance_id
            WHERE bd.backfill_id = b.id AND wi.state NOT IN ('paused', 'stopped', 'failed', 'succeeded', 'ready_stop')
            ORDER BY wi.id
        LOOP
            PERFORM sched._stop_workflow(principal, inst);
        END LOOP;
    END IF;
END
$$;
COMMENT ON FUNCTION sched.cancel_backfill(bigint, boolean) IS
    'Cancels a running backfill: its pending dates never start; with stop_running, its running instances are stopped too.';
