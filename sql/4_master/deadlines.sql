-- Deadlines (docs/architecture.md, "Deadlines"): for a schedule whose fires have a deadline
-- (its own or its workflow's), the master records each nominal fire when its time comes,
-- whether or not an instance started (the schedule may be offline, the instance waiting behind
-- a serial predecessor), and decides it when its deadline comes: met when the fire's instance
-- had succeeded by then, else missed, with one alert deadline_missed. Only schedules with a
-- deadline are read (schedule_deadline_due), so others cost the master nothing.

-- Runs as the bootstrap superuser in the master: search_path pinned as for _master_tick.
CREATE FUNCTION sched._deadline_tick() RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      record;
    c      record;
    inst   record;
    t      timestamptz;
    fire   timestamptz;
    n      integer;
    why    text;
BEGIN
    FOR s IN
        SELECT sc.*, w.name AS workflow, w.owner AS workflow_owner, sched._schedule_deadline(sc) AS effective,
               coalesce(sc.run_options#>>'{notify,alert_group}', v.spec#>>'{notify,alert_group}') AS alert_group
        FROM sched.schedule sc
        JOIN sched.workflow w ON w.id = sc.workflow_id
        JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
        WHERE sc.deadline_next <= now()
        ORDER BY sc.deadline_next
        FOR UPDATE OF sc SKIP LOCKED
    LOOP
        IF s.effective IS NULL THEN
            UPDATE sched.schedule sc SET deadline_next = NULL WHERE sc.id = s.id;
            CONTINUE;
        END IF;
        -- The fires whose time has come, at most 1000 a tick (the rest at the next).
        t := coalesce(s.deadline_through, now());
        n := 0;
        LOOP
            fire := sched._next_fire(s.cron, s.timezone, greatest(t, s.start_at - interval '1 second'), s.end_at);
            EXIT WHEN fire IS NULL OR fire > now() OR n >= 1000;
            INSERT INTO sched.deadline_check (schedule_id, fire_at, deadline_at)
            VALUES (s.id, fire, to_timestamp(sched._deadline_at(s.effective, extract(epoch FROM fire)::float8, s.timezone, 'deadline')))
            ON CONFLICT DO NOTHING;
            t := fire;
            n := n + 1;
        END LOOP;
        FOR c IN
            SELECT dc.fire_at, dc.deadline_at FROM sched.deadline_check dc
            WHERE dc.schedule_id = s.id AND dc.state = 'pending' AND dc.deadline_at <= now()
            ORDER BY dc.fire_at
        LOOP
            SELECT wi.id, wi.state, wi.ended_at INTO inst
            FROM sched.workflow_instance wi WHERE wi.schedule_id = s.id AND wi.schedule_time = c.fire_at;
            IF inst.state = 'succeeded' AND inst.ended_at <= c.deadline_at THEN
                UPDATE sched.deadline_check dc SET state = 'met', decided_at = now()
                WHERE dc.schedule_id = s.id AND dc.fire_at = c.fire_at;
                CONTINUE;
            END IF;
            UPDATE sched.deadline_check dc SET state = 'missed', decided_at = now()
            WHERE dc.schedule_id = s.id AND dc.fire_at = c.fire_at;
            why := CASE WHEN inst.id IS NULL
                        THEN 'no instance of it started' || CASE WHEN NOT s.enabled THEN ' (the schedule is offline)' ELSE '' END
                        WHEN inst.state = 'succeeded' THEN format('instance %s succeeded only at %s', inst.id, inst.ended_at)
                        ELSE format('instance %s is %s', inst.id, inst.state) END;
            -- The group is used now: the roles it was granted to at definition must still have it,
            -- else the alert is only recorded.
            PERFORM sched._raise_alert(
                'deadline_missed', inst.id, NULL,
                CASE WHEN sched._may_use(s.owner, 'alert_group', s.alert_group)
                      AND sched._may_use(s.workflow_owner, 'alert_group', s.alert_group) THEN s.alert_group END,
                format('pg_sched: workflow %s missed its deadline (fire of %s)', s.workflow, c.fire_at),
                format(E'Workflow %s, fired by schedule %s at %s (business date %s), had not succeeded by its deadline %s (%s): %s.%s',
                       s.workflow, s.id, c.fire_at, (c.fire_at AT TIME ZONE s.timezone)::date, c.deadline_at, s.effective, why,
                       CASE WHEN inst.id IS NOT NULL THEN E'\n' || sched._alert_look(inst.id) ELSE '' END),
                jsonb_build_object('workflow', s.workflow, 'workflow_id', s.workflow_id, 'schedule_id', s.id,
                                   'fire_at', c.fire_at, 'deadline_at', c.deadline_at, 'deadline', s.effective,
                                   'workflow_instance_id', inst.id, 'state', inst.state));
        END LOOP;
        -- fire is now the first one not recorded: its time, the next pending deadline, or now
        -- when a thousand were recorded and more are due.
        UPDATE sched.schedule sc
           SET deadline_through = t,
               deadline_next = least((SELECT min(dc.deadline_at) FROM sched.deadline_check dc
                                      WHERE dc.schedule_id = s.id AND dc.state = 'pending'), fire)
         WHERE sc.id = s.id;
    END LOOP;
    RETURN (SELECT min(sc.deadline_next) FROM sched.schedule sc WHERE sc.deadline_next IS NOT NULL);
END
$$;
COMMENT ON FUNCTION sched._deadline_tick() IS
    'Internal, run by the master: records the fires of schedules with a deadline whose time has come, decides those whose deadline has come (met, or missed with an alert deadline_missed); returns when it next has something to do.';
