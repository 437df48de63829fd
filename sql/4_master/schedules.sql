-- Schedule fires: a workflow fired on a cron expression in a time zone, between an optional
-- start and end, by the master, as the schedule's owner, with command type scheduler and the
-- nominal fire time as schedule_time (the business time). A fire is idempotent: one instance
-- per (schedule, fire time) (workflow_instance_one_per_fire), so restarts, crashes and
-- promotions never fire twice. The master sleeps until the next due fire
-- (docs/architecture.md, "How a cron fire becomes an instance").

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
