-- Backfill: run a workflow for a range or a list of dates, preview them, cancel. The engine's
-- part (dates, order, the next dates as instances end) is 3_engine/backfill.sql. Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

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
    IF mode <> ALL (sched._choices('backfill_modes')) THEN
        RAISE EXCEPTION 'options.mode: "%" is not allowed; allowed: %', options->>'mode', array_to_string(sched._choices('backfill_modes'), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'order', 'desc')) <> ALL (sched._choices('backfill_orders')) THEN
        RAISE EXCEPTION 'options.order: "%" is not allowed; allowed: %', options->>'order', array_to_string(sched._choices('backfill_orders'), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(coalesce(options->>'on_failure', 'stop')) <> ALL (sched._choices('backfill_on_failure')) THEN
        RAISE EXCEPTION 'options.on_failure: "%" is not allowed; allowed: %', options->>'on_failure', array_to_string(sched._choices('backfill_on_failure'), ', ')
            USING ERRCODE = 'invalid_parameter_value';
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
            WHERE bd.backfill_id = b.id AND wi.state <> ALL (sched._workflow_states_ending())
            ORDER BY wi.id
        LOOP
            PERFORM sched._stop_workflow(principal, inst);
        END LOOP;
    END IF;
END
$$;
COMMENT ON FUNCTION sched.cancel_backfill(bigint, boolean) IS
    'Cancels a running backfill: its pending dates never start; with stop_running, its running instances are stopped too.';
