-- Creating attempts (queued, delayed, or running for logic tasks that no worker runs) and
-- killing the active ones of instances that stop or fail with failure strategy end.

-- The one place attempts are created: first attempts of ready tasks (attempt 1, retry 0),
-- retries (retry > 0) and failovers (attempt > 1, retry as before). An attempt waits in delayed
-- when its task has a delay (first attempts) or a retry interval (retries); the master
-- releases it on time, woken at commit. An attempt of a logic task runs at once, with no worker,
-- and is decided before this returns (3_engine/branches.sql). Returns the worker groups that got
-- queued attempts.
CREATE FUNCTION sched._new_attempts(instance_ids bigint[], task_ids bigint[], attempts integer[], retries integer[],
                                    elements integer[] DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    groups      text[];
    delayed     boolean;
    task_groups bigint[];
    logic       bigint[];
    held        bigint[];
BEGIN
    WITH created AS (
        INSERT INTO sched.task_instance (workflow_instance_id, task_id, attempt, run, retry, state, not_before,
                                         ended_at, worker_group, workflow_priority, task_priority, tenant,
                                         task_group_id, task_group_priority, started_at, element)
        SELECT n.instance_id, n.task_id, coalesce(n.attempt, 1), wi.run, coalesce(n.retry, 0),
               -- An instance being paused starts nothing: the attempt waits, paused, for resume.
               -- A task of a task group waits, delayed with no time, for a slot.
               CASE WHEN wi.state = 'ready_pause' THEN 'paused'
                    WHEN td.logic IS NOT NULL THEN 'running'
                    WHEN w.wait > interval '0' OR td.task_group_id IS NOT NULL OR td.admit THEN 'delayed'
                    ELSE 'queued' END::sched.task_state,
               CASE WHEN w.wait > interval '0' AND wi.state <> 'ready_pause' THEN now() + w.wait END,
               CASE WHEN wi.state = 'ready_pause' THEN now() END,
               coalesce(td.worker_group, wi.worker_group), wi.priority, td.priority, wi.tenant,
               -- Its workflow's admit_when comes first: the task group, if any, once it holds.
               CASE WHEN NOT td.admit THEN td.task_group_id END,
               CASE WHEN td.task_group_id IS NOT NULL AND NOT td.admit THEN td.task_group_priority END,
               CASE WHEN td.logic IS NOT NULL AND wi.state <> 'ready_pause' THEN now() END, n.element
        FROM unnest(instance_ids, task_ids, attempts, retries, elements) AS n(instance_id, task_id, attempt, retry, element)
        JOIN sched.task_definition td ON td.id = n.task_id
        JOIN sched.workflow_instance wi ON wi.id = n.instance_id
        CROSS JOIN LATERAL (
            SELECT CASE WHEN coalesce(n.retry, 0) > 0 THEN td.retry_interval
                        WHEN coalesce(n.attempt, 1) = 1 THEN td.delay END AS wait) w
        ORDER BY wi.id, td.priority, td.id, n.element
        RETURNING id, state, worker_group, not_before, task_group_id)
    SELECT array_agg(DISTINCT worker_group) FILTER (WHERE state = 'queued'),
           bool_or(state = 'delayed' AND not_before IS NOT NULL),
           array_agg(DISTINCT task_group_id) FILTER (WHERE state = 'delayed' AND not_before IS NULL),
           array_agg(id) FILTER (WHERE state = 'running'),
           array_agg(id) FILTER (WHERE state = 'delayed' AND not_before IS NULL AND task_group_id IS NULL)
    INTO groups, delayed, task_groups, logic, held
    FROM created;
    -- Attempts waiting for an admit_when: the master asks again until it holds.
    IF held IS NOT NULL THEN
        PERFORM sched._admit_held(held);
        PERFORM sched._wake_master();
    ELSIF task_groups IS NOT NULL AND EXISTS (SELECT 1 FROM sched.task_group g WHERE g.id = ANY(task_groups) AND g.admit_when IS NOT NULL) THEN
        PERFORM sched._wake_master();
    END IF;
    IF delayed THEN
        PERFORM sched._wake_master();
    END IF;
    IF task_groups IS NOT NULL THEN
        PERFORM sched._grant_slots(task_groups);
    END IF;
    IF logic IS NOT NULL THEN
        PERFORM sched._run_logic(logic);
    END IF;
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._new_attempts(bigint[], bigint[], integer[], integer[], integer[]) IS
    'Internal: creates attempts (queued, or delayed by the task''s delay or retry interval) of these tasks in these instances; attempts and retries may be NULL for first attempts, elements NULL but for the elements of dynamic tasks. Returns the worker groups that got queued ones.';

-- Attempts to end for a reason: those not started end at once, killed (their task group slots
-- released); those a worker runs are killed through it, which reports them killed. Returns how
-- many ended at once.
CREATE FUNCTION sched._kill_attempts(ids bigint[], reason text) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    ended    integer;
    slots    bigint[];
    notified bigint;
BEGIN
    -- Never started: nothing to kill, the attempt just ends.
    WITH killed AS (
        UPDATE sched.task_instance ti SET state = 'killed', ended_at = now(), kill_reason = reason
        WHERE ti.id = ANY(ids) AND ti.state = ANY (sched._task_states_waiting())
        RETURNING ti.id, ti.holds_slot)
    SELECT count(*), array_agg(id) FILTER (WHERE holds_slot) INTO ended, slots FROM killed;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;

    WITH asked AS (
        UPDATE sched.task_instance ti SET kill_requested = true, kill_reason = reason
        WHERE ti.id = ANY(ids) AND ti.state = ANY (sched._task_states_claimed())
          AND NOT ti.kill_requested AND ti.worker_id IS NOT NULL
        RETURNING ti.worker_id)
    SELECT count(pg_catalog.pg_notify('sched_kill', w::text))
    INTO notified
    FROM (SELECT DISTINCT worker_id AS w FROM asked) s;
    RETURN ended;
END
$$;
COMMENT ON FUNCTION sched._kill_attempts(bigint[], text) IS
    'Internal: ends these attempts for a reason: queued and delayed ones at once as killed, running ones through their workers; returns how many ended at once.';

CREATE FUNCTION sched._kill_active(instances bigint[], reason text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM sched._kill_attempts(ARRAY(SELECT ti.id FROM sched.task_instance ti
                                       WHERE ti.workflow_instance_id = ANY(instances)
                                         AND ti.state = ANY (sched._task_states_active())), reason);

    -- Last, once every worker's attempt has been dealt with: a sub-process child that stops
    -- at once ends its attempt and advances the instance, which must find nothing else to kill.
    IF EXISTS (SELECT 1 FROM sched.task_instance ti
               WHERE ti.workflow_instance_id = ANY(instances) AND ti.state = 'running' AND ti.worker_id IS NULL) THEN
        PERFORM sched._kill_logic(instances, NULL, reason);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._kill_active(bigint[], text) IS
    'Internal: ends queued and delayed attempts of these instances as killed, asks workers to kill the running ones and stops sub-process children, recording the reason.';
