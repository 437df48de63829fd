-- What the master does on time for run policies (reference §4.2-4.4): delayed attempts
-- (delay, retry interval) become queued, task timeouts alert and back up the worker's kill,
-- workflow timeouts alert or stop. Each is read from a partial index that only holds rows
-- with such a policy, so tasks without one cost the master nothing.

CREATE TABLE sched.alert (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                 text NOT NULL CHECK (kind IN ('task_timeout', 'workflow_timeout')),
    workflow_instance_id bigint NOT NULL,
    task_instance_id     bigint,
    message              text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE UNIQUE INDEX alert_once ON sched.alert (kind, workflow_instance_id, coalesce(task_instance_id, 0));
COMMENT ON TABLE sched.alert IS 'Alerts raised by the engine (timeouts), one per event; delivered by alert groups (a later version), read through sched.alerts.';
COMMENT ON COLUMN sched.alert.id IS 'Alert id.';
COMMENT ON COLUMN sched.alert.kind IS 'task_timeout or workflow_timeout.';
COMMENT ON COLUMN sched.alert.workflow_instance_id IS 'The workflow instance concerned.';
COMMENT ON COLUMN sched.alert.task_instance_id IS 'The task attempt concerned; NULL for a workflow alert.';
COMMENT ON COLUMN sched.alert.message IS 'What happened, in words.';
COMMENT ON COLUMN sched.alert.created_at IS 'When it was raised.';

COMMENT ON FUNCTION sched._wake_master() IS
    'Internal: wakes the master when the calling transaction commits, for work it must do on time (a delayed attempt, a timeout).';

-- The timeout alert of these attempts, once each. Raised by the master when the timeout
-- strikes, or by the completion of an attempt its worker killed for it first.
CREATE FUNCTION sched._alert_task_timeouts(task_instance_ids bigint[]) RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO sched.alert (kind, workflow_instance_id, task_instance_id, message)
    SELECT 'task_timeout', ti.workflow_instance_id, ti.id,
           pg_catalog.format('task %s (attempt %s) has run longer than its timeout of %s', td.name, ti.id, td.timeout_after)
    FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
    WHERE ti.id = ANY(task_instance_ids) AND td.timeout_strategy IN ('warn', 'warn_fail')
    ON CONFLICT DO NOTHING
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
        SELECT wi.id, wi.workflow_id, wi.timeout_strategy, wi.state, v.timeout_after
        FROM sched.workflow_instance wi JOIN sched.workflow_version v ON v.id = wi.workflow_version_id
        WHERE wi.timeout_at <= now() AND wi.timeout_at IS NOT NULL
        ORDER BY wi.id
        FOR NO KEY UPDATE OF wi SKIP LOCKED
    LOOP
        -- A sub-process instance is stopped only with its parents locked too; never waited for.
        CONTINUE WHEN inst.id <> ALL(sched._lock_family(ARRAY[inst.id], false));
        UPDATE sched.workflow_instance SET timeout_at = NULL WHERE id = inst.id;
        INSERT INTO sched.alert (kind, workflow_instance_id, message)
        VALUES ('workflow_timeout', inst.id,
                format('workflow instance %s has run longer than its timeout of %s%s', inst.id, inst.timeout_after,
                       CASE WHEN inst.timeout_strategy = 'stop' THEN '; it is being stopped' ELSE '' END))
        ON CONFLICT DO NOTHING;
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
