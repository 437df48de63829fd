-- The master's tick (extension/src/master.rs calls these in its loop): workers whose heartbeat
-- stopped are failed over; run policies are applied on time (delayed attempts become queued,
-- task timeouts alert and back up the worker's kill, workflow timeouts alert or stop), each
-- read from a partial index that only holds rows with such a policy, so tasks without one cost
-- the master nothing; DEPENDENT attempts are looked at at their check_interval.

-- The master runs this as the bootstrap superuser, so its search_path is pinned like a
-- SECURITY DEFINER function's: a planted public.= or public.array_agg must never run here.
CREATE FUNCTION sched._master_tick(worker_timeout interval, master_started_at timestamptz) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    expired integer;
    orphans bigint[];
BEGIN
    -- Silence counts only from when a heartbeat could have been seen: after a restart of the
    -- server (or a promotion, or a restart of the master) heartbeats from before it are no
    -- evidence that a worker died, and every worker gets a full timeout to be heard again.
    UPDATE sched.worker w SET alive = false, ended_at = now(), ended_why = 'timed_out'
    WHERE w.alive AND greatest(w.last_heartbeat, master_started_at) < now() - worker_timeout;
    GET DIAGNOSTICS expired = ROW_COUNT;
    -- Recently dead registrations' active attempts, not only those of workers that expired now:
    -- a claim that committed just after its worker was declared dead would otherwise be
    -- stranded. Such a race lasts milliseconds, but an instance locked by a user's open
    -- transaction is skipped by failover for as long as it stays open: a day of dead
    -- registrations is probed.
    -- A scalar sub-select, not EXISTS: the planner may turn EXISTS into a semi-join that reads
    -- every running attempt each tick, and the master would touch the whole task table over a
    -- day; this probes the claimed-attempts index once per dead registration.
    SELECT array_agg(w.id) INTO orphans
    FROM sched.worker w
    WHERE NOT w.alive AND w.ended_at > now() - interval '1 day'
      AND (SELECT true FROM sched.task_instance ti
           WHERE ti.worker_id = w.id AND ti.state = ANY (sched._task_states_claimed()) LIMIT 1);
    IF orphans IS NOT NULL THEN
        PERFORM sched._fail_over(orphans);
    END IF;
    RETURN expired;
END
$$;
COMMENT ON FUNCTION sched._master_tick(interval, timestamptz) IS
    'Internal, run by the master every tick: declares workers dead that were silent for worker_timeout since their last heartbeat or since the master started, whichever is later, and fails their tasks over; returns how many.';

-- Runs as the bootstrap superuser in the master: search_path pinned as for _master_tick.
CREATE FUNCTION sched._policy_tick() RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    groups  text[];
    inst    record;
    next_at     timestamptz;
    killed      bigint;
    task_groups bigint[];
    held        bigint[];
BEGIN
    PERFORM sched._fire_schedules();

    -- Delayed attempts whose time has come: queued, or for a task of a task group, waiting
    -- for a slot, or for a workflow with admit_when, waiting for it to hold.
    WITH released AS (
        UPDATE sched.task_instance ti
           SET state = CASE WHEN ti.task_group_id IS NULL AND NOT td.admit THEN 'queued' ELSE 'delayed' END::sched.task_state,
               not_before = NULL
          FROM sched.task_definition td
        WHERE ti.id = ANY(ARRAY(
                  SELECT d.id FROM sched.task_instance d
                  WHERE d.state = 'delayed' AND d.not_before <= now()
                  ORDER BY d.not_before LIMIT 10000
                  FOR UPDATE SKIP LOCKED))
          AND ti.state = 'delayed' AND td.id = ti.task_id
        RETURNING ti.id, ti.worker_group, ti.task_group_id, td.admit)
    SELECT array_agg(DISTINCT worker_group) FILTER (WHERE task_group_id IS NULL AND NOT admit),
           array_agg(DISTINCT task_group_id) FILTER (WHERE task_group_id IS NOT NULL),
           array_agg(id) FILTER (WHERE admit)
    INTO groups, task_groups, held FROM released;
    PERFORM sched._notify_ready(groups);
    IF task_groups IS NOT NULL THEN
        PERFORM sched._grant_slots(task_groups);
    END IF;
    IF held IS NOT NULL THEN
        PERFORM sched._admit_held(held);
    END IF;

    -- Task timeouts: warn alerts once; fail is the worker's to enforce (it kills the process
    -- group at the timeout and reports it timed_out), and the master asks for the kill 15 s later if
    -- the attempt still runs.
    PERFORM sched._alert_task_timeouts(array(
        SELECT ti.id FROM sched.task_instance ti
        WHERE ti.check_at <= now() AND ti.check_at IS NOT NULL AND ti.state = ANY (sched._task_states_claimed())));
    WITH due AS (
        SELECT ti.id, ti.workflow_instance_id, ti.worker_id, ti.timeout_at, ti.kill_requested,
               td.name, td.timeout_after, td.timeout_strategy
        FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
        WHERE ti.check_at <= now() AND ti.check_at IS NOT NULL AND ti.state = ANY (sched._task_states_claimed())
        FOR NO KEY UPDATE OF ti SKIP LOCKED
    ), checked AS (
        UPDATE sched.task_instance ti
           SET check_at = CASE WHEN d.timeout_strategy = 'warn_fail' AND ti.check_at < d.timeout_at + interval '15 s'
                               THEN d.timeout_at + interval '15 s' END,
               kill_requested = ti.kill_requested OR (d.timeout_strategy IN ('fail', 'warn_fail')
                                                      AND now() >= d.timeout_at + interval '15 s'),
               kill_reason = CASE WHEN d.timeout_strategy IN ('fail', 'warn_fail') AND now() >= d.timeout_at + interval '15 s'
                                       AND NOT ti.kill_requested THEN 'timeout' ELSE ti.kill_reason END
          FROM due d
         WHERE ti.id = d.id
        RETURNING ti.worker_id, ti.kill_requested AND NOT d.kill_requested AS newly_killed)
    SELECT count(pg_notify('sched_kill', w::text)) INTO killed
    FROM (SELECT DISTINCT worker_id AS w FROM checked WHERE newly_killed) s;

    -- Workflow timeouts: an alert, and under stop the instance is stopped.
    FOR inst IN
        SELECT wi.id, wi.workflow_id, wi.timeout_strategy, wi.state, v.timeout_after, wi.alert_group, wi.started_at,
               (SELECT w.name FROM sched.workflow w WHERE w.id = wi.workflow_id) AS workflow
        FROM sched.workflow_instance wi JOIN sched.workflow_version v ON v.id = wi.workflow_version_id
        WHERE wi.timeout_at <= now() AND wi.timeout_at IS NOT NULL
        ORDER BY wi.id
    LOOP
        -- A sub-process instance is stopped only with its parents locked too; never waited for
        -- long. Under the lock, the instance may have ended meanwhile.
        CONTINUE WHEN inst.id <> ALL(sched._lock_family(ARRAY[inst.id], false));
        SELECT wi.state INTO inst.state FROM sched.workflow_instance wi WHERE wi.id = inst.id AND wi.timeout_at <= now();
        CONTINUE WHEN NOT FOUND;
        UPDATE sched.workflow_instance SET timeout_at = NULL WHERE id = inst.id;
        PERFORM sched._raise_alert(
            'workflow_timeout', inst.id, NULL, inst.alert_group,
            format('pg_sched: workflow %s timed out (instance %s)', inst.workflow, inst.id),
            format(E'Workflow %s, instance %s (started at %s), has run longer than its timeout of %s%s.\n%s',
                   inst.workflow, inst.id, inst.started_at, inst.timeout_after,
                   CASE WHEN inst.timeout_strategy = 'stop' THEN '; it is being stopped' ELSE '' END,
                   sched._alert_look(inst.id)),
            jsonb_build_object('workflow', inst.workflow, 'workflow_instance_id', inst.id,
                               'timeout', inst.timeout_after::text, 'timeout_strategy', inst.timeout_strategy));
        IF inst.timeout_strategy = 'stop' AND inst.state <> ALL (sched._workflow_states_ending()) THEN
            INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
            VALUES ('stop', inst.workflow_id, inst.id, 'pg_sched master', '{"reason": "timeout"}');
            UPDATE sched.workflow_instance SET state = 'ready_stop' WHERE id = inst.id;
            PERFORM sched._kill_active(ARRAY[inst.id], 'workflow_timeout');
            PERFORM sched._finish_if_done(ARRAY[inst.id]);
        END IF;
    END LOOP;

    SELECT least(sched._dependent_tick(), sched._deadline_tick(), sched._admit_tick(), sched._snapshot_tick(),
                 (SELECT min(d.not_before) FROM sched.task_instance d WHERE d.state = 'delayed'),
                 (SELECT min(t.check_at) FROM sched.task_instance t
                  WHERE t.check_at IS NOT NULL AND t.state = ANY (sched._task_states_claimed())),
                 (SELECT min(wi.timeout_at) FROM sched.workflow_instance wi WHERE wi.timeout_at IS NOT NULL),
                 (SELECT min(sc.next_fire_at) FROM sched.schedule sc WHERE sc.enabled AND sc.next_fire_at IS NOT NULL))
    INTO next_at;
    RETURN next_at;
END
$$;
COMMENT ON FUNCTION sched._policy_tick() IS
    'Internal, run by the master: fires due schedules, queues delayed attempts whose time has come, raises timeout alerts, asks for the kill of attempts past a fail timeout that their worker did not kill, stops instances past a stop timeout, looks at due DEPENDENT attempts, due deadlines, attempts waiting for an admit_when and consistent snapshots to release; returns when it next has something to do.';

-- Run by the master: due DEPENDENT attempts, each under its family's locks (skipped when busy;
-- the next tick takes them), a few dozen per tick so that the tick's subtransactions stay
-- within PostgreSQL's cache of them. One that errs is logged and looked at again later: it
-- must not stop the master. Returns when the next one is due.
CREATE FUNCTION sched._dependent_tick() RETURNS timestamptz
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT ti.id, ti.workflow_instance_id FROM sched.task_instance ti
        WHERE ti.recheck_at <= now() AND ti.recheck_at IS NOT NULL
        ORDER BY ti.recheck_at LIMIT 50
    LOOP
        CONTINUE WHEN cardinality(sched._lock_family(ARRAY[r.workflow_instance_id], false)) = 0;
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM sched.task_instance t
                                  WHERE t.id = r.id AND t.state = 'running' AND t.recheck_at <= now());
        BEGIN
            PERFORM sched._check_dependent(r.id);
            PERFORM sched._finish_if_done(ARRAY[r.workflow_instance_id]);
        EXCEPTION WHEN others THEN
            RAISE WARNING 'pg_sched: DEPENDENT task instance %: %', r.id, SQLERRM;
            UPDATE sched.task_instance t SET recheck_at = now() + interval '1 min' WHERE t.id = r.id;
        END;
    END LOOP;
    DELETE FROM sched.dependent_watch dw
    WHERE NOT EXISTS (SELECT 1 FROM sched.task_instance t WHERE t.id = dw.task_instance_id AND t.state = 'running');
    RETURN (SELECT min(ti.recheck_at) FROM sched.task_instance ti WHERE ti.recheck_at IS NOT NULL);
END
$$;
COMMENT ON FUNCTION sched._dependent_tick() IS 'Internal, run by the master: evaluates the DEPENDENT attempts that are due; returns when the next is.';
