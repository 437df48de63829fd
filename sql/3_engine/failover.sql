-- Failover: the attempts of a worker declared dead become need_fault_tolerance and get new
-- attempts, in the transaction that declares it dead (the master's tick, a registration, a
-- heartbeat that finds its leases gone).

CREATE FUNCTION sched._fail_over(workers bigint[], attempts bigint[] DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    instances bigint[];
    groups    text[];
    r_inst    bigint[];
    r_task    bigint[];
    r_attempt integer[];
    r_retry   integer[];
    r_element integer[];
    slots     bigint[];
    lost_ids  bigint[];
    ended     bigint[];
BEGIN
    SELECT array_agg(DISTINCT ti.workflow_instance_id) INTO instances
    FROM sched.task_instance ti
    WHERE ti.worker_id = ANY(workers) AND ti.state = ANY(sched._task_states_claimed())
      AND (attempts IS NULL OR ti.id = ANY(attempts));
    IF instances IS NULL THEN
        RETURN;
    END IF;
    -- An instance locked by someone else (a user's open stop_workflow) is skipped, not waited
    -- for: its attempts stay on the dead registration, which the master's next ticks retry.
    instances := sched._lock_family(instances, false);
    IF cardinality(instances) = 0 THEN
        RETURN;
    END IF;

    -- As in DolphinScheduler's fault tolerance: the lost attempt becomes need_fault_tolerance and a new attempt
    -- of the same task is queued, unless the instance is being stopped or is ending.
    -- Only in the instances locked above: an attempt claimed since is the next tick's.
    -- A live worker's attempt that it says it does not run (attempts given) went with a lost
    -- commit: one it was asked to kill ends as the kill would have ended it.
    WITH lost AS (
        UPDATE sched.task_instance ti
           SET state = CASE WHEN attempts IS NULL OR NOT ti.kill_requested THEN 'need_fault_tolerance'
                            WHEN ti.kill_reason = 'timeout' THEN 'failed'
                            ELSE 'killed' END::sched.task_state,
               ended_at = now(),
               kill_reason = coalesce(ti.kill_reason, 'failover')
        WHERE ti.worker_id = ANY(workers) AND ti.state = ANY(sched._task_states_claimed())
          AND (attempts IS NULL OR ti.id = ANY(attempts))
          AND ti.workflow_instance_id = ANY(instances)
        RETURNING ti.*)
    SELECT array_agg(l.workflow_instance_id ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.task_id ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.attempt + 1 ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.retry ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.element ORDER BY l.id) FILTER (WHERE requeue),
           array_agg(l.id) FILTER (WHERE l.holds_slot),
           array_agg(l.id) FILTER (WHERE l.state = 'need_fault_tolerance'),
           array_agg(l.id) FILTER (WHERE l.state <> 'need_fault_tolerance')
    INTO r_inst, r_task, r_attempt, r_retry, r_element, slots, lost_ids, ended
    FROM lost l
    JOIN sched.workflow_instance wi ON wi.id = l.workflow_instance_id
    CROSS JOIN LATERAL (SELECT wi.state = 'running' AND NOT (wi.has_failure AND wi.failure_strategy = 'end')
                               AND NOT l.kill_requested AS requeue) q;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    IF r_inst IS NOT NULL THEN
        groups := sched._new_attempts(r_inst, r_task, r_attempt, r_retry, r_element);
        -- The engine's own command, which no user can issue.
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        SELECT 'recover_tolerance_fault_process', wi.workflow_id, wi.id, 'pg_sched', jsonb_build_object('workers', workers)
        FROM sched.workflow_instance wi WHERE wi.id IN (SELECT DISTINCT unnest(r_inst)) ORDER BY wi.id;
    END IF;

    IF groups IS NOT NULL THEN
        PERFORM sched._notify_ready(groups);
    END IF;
    IF lost_ids IS NOT NULL THEN
        PERFORM sched._alert_fault_tolerance(lost_ids);
    END IF;
    IF ended IS NOT NULL THEN
        PERFORM sched._notify_ready(sched._advance(ended, instances, true));
    END IF;
    PERFORM sched._finish_if_done(instances);
END
$$;
COMMENT ON FUNCTION sched._fail_over(bigint[], bigint[]) IS
    'Internal: moves the running attempts of dead workers (or only the attempts given, which a live worker does not run; those to be killed end killed) to need_fault_tolerance and queues new attempts.';


-- A commit the worker acted on can be lost (promotion of an asynchronous standby, a crash with
-- synchronous_commit off) and leave the database believing that a live worker runs an attempt
-- it never had or already finished. A claim's answer can also be in flight, or retried after a
-- lost connection, for a while; the grace covers that, so only an attempt the worker has had
-- every chance to know of is taken from it.
CREATE FUNCTION sched._reconcile(worker_id bigint, unknown bigint[]) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    stale bigint[];
BEGIN
    IF cardinality(unknown) = 0 THEN
        RETURN 0;
    END IF;
    SELECT array_agg(ti.id) INTO stale
    FROM sched.task_instance ti
    WHERE ti.id = ANY(unknown) AND ti.worker_id = _reconcile.worker_id
      AND ti.state = ANY(sched._task_states_claimed())
      AND ti.started_at < now() - sched._lease_grace();
    IF stale IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM sched._fail_over(ARRAY[worker_id], stale);
    RETURN cardinality(stale);
END
$$;
COMMENT ON FUNCTION sched._reconcile(bigint, bigint[]) IS
    'Internal: fails over (or ends killed, when they were to be killed) the given attempts of a live worker that it says it does not run, once claimed longer than sched._lease_grace() ago; returns how many.';

CREATE FUNCTION sched._lease_grace() RETURNS interval
LANGUAGE sql STABLE
AS $$
    -- A claim's answer may wait for a call timeout (half the worker timeout, at least 5 s) and
    -- a retry; the worker timeout, at least 15 s, outlasts both.
    SELECT greatest(coalesce(pg_catalog.current_setting('sched.worker_timeout', true), '30s')::interval,
                    interval '15 seconds')
$$;
COMMENT ON FUNCTION sched._lease_grace() IS
    'Internal: how long after its claim an attempt a worker does not report may be taken from it: sched.worker_timeout, at least 15 s.';
