-- Backfill (补数): a workflow run once per date of a range or a list, each date its own
-- instance with command type complement_data and that date as schedule_time, in serial (one
-- after another, stopping at the first that does not succeed unless on_failure is continue)
-- or in parallel (at most `parallelism` at once). A range's dates are the fire times of the
-- workflow's enabled schedule within it, else every midnight of the time zone. The next dates
-- start as instances end (_finish_if_done), in the ending transaction. The user's functions
-- are in 7_api/backfill.sql.

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
    SELECT count(*) FILTER (WHERE wi.state <> ALL (sched._workflow_states_finished())),
           bool_or(wi.state = ANY (sched._workflow_states_unsuccessful()))
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
