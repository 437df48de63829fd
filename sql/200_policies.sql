-- What the master does on time for run policies (reference §4.2-4.4): delayed attempts
-- (delay, retry interval) become queued, task timeouts alert and back up the worker's kill,
-- workflow timeouts alert or stop. Each is read from a partial index that only holds rows
-- with such a policy, so tasks without one cost the master nothing.

COMMENT ON FUNCTION sched._wake_master() IS
    'Internal: wakes the master when the calling transaction commits, for work it must do on time (a delayed attempt, a timeout).';

-- The timeout alert of these attempts, once each. Raised by the master when the timeout
-- strikes, or by the completion of an attempt its worker killed for it first.
CREATE FUNCTION sched._alert_task_timeouts(task_instance_ids bigint[]) RETURNS void
LANGUAGE sql
AS $$
    SELECT count(sched._raise_alert(
               'task_timeout', ti.workflow_instance_id, ti.id, wi.alert_group,
               pg_catalog.format('pg_sched: task %s of workflow %s timed out (instance %s)', td.name, w.name, wi.id),
               pg_catalog.format(E'Task %s of workflow %s (instance %s, attempt %s, started at %s) has run longer than its timeout of %s; its timeout strategy is %s.\n%s',
                                 td.name, w.name, wi.id, ti.id, ti.started_at, td.timeout_after, td.timeout_strategy,
                                 sched._alert_look(wi.id)),
               jsonb_build_object('workflow', w.name, 'workflow_instance_id', wi.id, 'task', td.name,
                                  'task_instance_id', ti.id, 'timeout', td.timeout_after::text,
                                  'timeout_strategy', td.timeout_strategy, 'started_at', ti.started_at)))
    FROM sched.task_instance ti
    JOIN sched.task_definition td ON td.id = ti.task_id
    JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
    JOIN sched.workflow w ON w.id = wi.workflow_id
    WHERE ti.id = ANY(task_instance_ids) AND td.timeout_strategy IN ('warn', 'warn_fail')
$$;
COMMENT ON FUNCTION sched._alert_task_timeouts(bigint[]) IS 'Internal: raises the task_timeout alerts of these attempts (of warn and warn_fail timeouts), once each.';

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
BEGIN
    PERFORM sched._fire_schedules();

    -- Delayed attempts whose time has come: queued, or for a task of a task group, waiting
    -- for a slot.
    WITH released AS (
        UPDATE sched.task_instance ti
           SET state = CASE WHEN ti.task_group_id IS NULL THEN 'queued' ELSE 'delayed' END::sched.task_state,
               not_before = NULL
        WHERE ti.id = ANY(ARRAY(
                  SELECT d.id FROM sched.task_instance d
                  WHERE d.state = 'delayed' AND d.not_before <= now()
                  ORDER BY d.not_before LIMIT 10000
                  FOR UPDATE SKIP LOCKED))
          AND ti.state = 'delayed'
        RETURNING ti.worker_group, ti.task_group_id)
    SELECT array_agg(DISTINCT worker_group) FILTER (WHERE task_group_id IS NULL),
           array_agg(DISTINCT task_group_id) FILTER (WHERE task_group_id IS NOT NULL)
    INTO groups, task_groups FROM released;
    PERFORM sched._notify_ready(groups);
    IF task_groups IS NOT NULL THEN
        PERFORM sched._grant_slots(task_groups);
    END IF;

    -- Task timeouts: warn alerts once; fail is the worker's to enforce (it kills the process
    -- group at the timeout and reports 124), and the master asks for the kill 15 s later if
    -- the attempt still runs.
    PERFORM sched._alert_task_timeouts(array(
        SELECT ti.id FROM sched.task_instance ti
        WHERE ti.check_at <= now() AND ti.check_at IS NOT NULL AND ti.state IN ('dispatched', 'running')));
    WITH due AS (
        SELECT ti.id, ti.workflow_instance_id, ti.worker_id, ti.timeout_at, ti.kill_requested,
               td.name, td.timeout_after, td.timeout_strategy
        FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
        WHERE ti.check_at <= now() AND ti.check_at IS NOT NULL AND ti.state IN ('dispatched', 'running')
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
        FOR NO KEY UPDATE OF wi SKIP LOCKED
    LOOP
        -- A sub-process instance is stopped only with its parents locked too; never waited for.
        CONTINUE WHEN inst.id <> ALL(sched._lock_family(ARRAY[inst.id], false));
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
        IF inst.timeout_strategy = 'stop' AND inst.state NOT IN ('ready_stop', 'paused', 'stopped', 'failed', 'succeeded') THEN
            INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
            VALUES ('stop', inst.workflow_id, inst.id, 'pg_sched master', '{"reason": "timeout"}');
            UPDATE sched.workflow_instance SET state = 'ready_stop' WHERE id = inst.id;
            PERFORM sched._kill_active(ARRAY[inst.id], 'workflow_timeout');
            PERFORM sched._finish_if_done(ARRAY[inst.id]);
        END IF;
    END LOOP;

    SELECT least(sched._dependent_tick(),
                 (SELECT min(d.not_before) FROM sched.task_instance d WHERE d.state = 'delayed'),
                 (SELECT min(t.check_at) FROM sched.task_instance t
                  WHERE t.check_at IS NOT NULL AND t.state IN ('dispatched', 'running')),
                 (SELECT min(wi.timeout_at) FROM sched.workflow_instance wi WHERE wi.timeout_at IS NOT NULL),
                 (SELECT min(sc.next_fire_at) FROM sched.schedule sc WHERE sc.enabled AND sc.next_fire_at IS NOT NULL))
    INTO next_at;
    RETURN next_at;
END
$$;
COMMENT ON FUNCTION sched._policy_tick() IS
    'Internal, run by the master: fires due schedules, queues delayed attempts whose time has come, raises timeout alerts, asks for the kill of attempts past a fail timeout that their worker did not kill, stops instances past a stop timeout, looks at due DEPENDENT attempts; returns when it next has something to do.';
