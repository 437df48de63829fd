-- Advancing workflow instances. Every function here expects its caller to hold the row locks
-- of the workflow instances concerned (taken in id order, so that concurrent completions
-- serialise per instance and never deadlock): under that lock "are all upstream tasks done?"
-- and "is anything still active?" cannot be answered twice by racing transactions.
--
-- They are plpgsql rather than SQL: PostgreSQL 15 plans a non-inlined SQL function's
-- statements on every call, plpgsql keeps its plans for the session.

CREATE FUNCTION sched._notify_ready(groups text[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    g text;
BEGIN
    IF groups IS NULL THEN
        RETURN;
    END IF;
    -- One tiny notification per worker group: PostgreSQL folds duplicates within a transaction,
    -- and workers only need to know that their group has work.
    FOREACH g IN ARRAY groups LOOP
        PERFORM pg_catalog.pg_notify('sched_ready', g);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._notify_ready(text[]) IS 'Internal: wakes the workers of these groups.';

-- The one place attempts are created: first attempts of ready tasks (attempt 1, retry 0),
-- retries (retry > 0) and failovers (attempt > 1, retry as before). An attempt waits in delayed
-- when its task has a delay (first attempts) or a retry interval (retries); the master
-- releases it on time, woken at commit. An attempt of a logic task runs at once, with no worker,
-- and is decided before this returns (230_logic_tasks.sql). Returns the worker groups that got
-- queued attempts.
CREATE FUNCTION sched._new_attempts(instance_ids bigint[], task_ids bigint[], attempts integer[], retries integer[])
RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    groups      text[];
    delayed     boolean;
    task_groups bigint[];
    logic       bigint[];
BEGIN
    WITH created AS (
        INSERT INTO sched.task_instance (workflow_instance_id, task_id, attempt, run, retry, state, not_before,
                                         ended_at, worker_group, workflow_priority, task_priority, tenant,
                                         task_group_id, task_group_priority, started_at)
        SELECT n.instance_id, n.task_id, coalesce(n.attempt, 1), wi.run, coalesce(n.retry, 0),
               -- An instance being paused starts nothing: the attempt waits, paused, for resume.
               -- A task of a task group waits, delayed with no time, for a slot.
               CASE WHEN wi.state = 'ready_pause' THEN 'paused'
                    WHEN td.logic IS NOT NULL THEN 'running'
                    WHEN w.wait > interval '0' OR td.task_group_id IS NOT NULL THEN 'delayed'
                    ELSE 'queued' END::sched.task_state,
               CASE WHEN w.wait > interval '0' AND wi.state <> 'ready_pause' THEN now() + w.wait END,
               CASE WHEN wi.state = 'ready_pause' THEN now() END,
               coalesce(td.worker_group, wi.worker_group), wi.priority, td.priority, wi.tenant,
               td.task_group_id, CASE WHEN td.task_group_id IS NOT NULL THEN td.task_group_priority END,
               CASE WHEN td.logic IS NOT NULL AND wi.state <> 'ready_pause' THEN now() END
        FROM unnest(instance_ids, task_ids, attempts, retries) AS n(instance_id, task_id, attempt, retry)
        JOIN sched.task_definition td ON td.id = n.task_id
        JOIN sched.workflow_instance wi ON wi.id = n.instance_id
        CROSS JOIN LATERAL (
            SELECT CASE WHEN coalesce(n.retry, 0) > 0 THEN td.retry_interval
                        WHEN coalesce(n.attempt, 1) = 1 THEN td.delay END AS wait) w
        ORDER BY wi.id, td.priority, td.id
        RETURNING id, state, worker_group, not_before, task_group_id)
    SELECT array_agg(DISTINCT worker_group) FILTER (WHERE state = 'queued'),
           bool_or(state = 'delayed' AND not_before IS NOT NULL),
           array_agg(DISTINCT task_group_id) FILTER (WHERE state = 'delayed' AND not_before IS NULL),
           array_agg(id) FILTER (WHERE state = 'running')
    INTO groups, delayed, task_groups, logic
    FROM created;
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
COMMENT ON FUNCTION sched._new_attempts(bigint[], bigint[], integer[], integer[]) IS
    'Internal: creates attempts (queued, or delayed by the task''s delay or retry interval) of these tasks in these instances; attempts and retries may be NULL for first attempts. Returns the worker groups that got queued ones.';

CREATE FUNCTION sched._kill_active(instances bigint[], reason text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    notified bigint;
    slots    bigint[];
BEGIN
    -- Never started: nothing to kill, the attempt just ends.
    WITH ended AS (
        UPDATE sched.task_instance ti SET state = 'killed', ended_at = now(), kill_reason = reason
        WHERE ti.workflow_instance_id = ANY(instances) AND ti.state IN ('delayed', 'queued')
        RETURNING ti.id, ti.holds_slot)
    SELECT array_agg(id) FILTER (WHERE holds_slot) INTO slots FROM ended;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;

    WITH asked AS (
        UPDATE sched.task_instance ti SET kill_requested = true, kill_reason = reason
        WHERE ti.workflow_instance_id = ANY(instances) AND ti.state IN ('dispatched', 'running')
          AND NOT ti.kill_requested AND ti.worker_id IS NOT NULL
        RETURNING ti.worker_id)
    SELECT count(pg_catalog.pg_notify('sched_kill', w::text))
    INTO notified
    FROM (SELECT DISTINCT worker_id AS w FROM asked) s;

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

CREATE FUNCTION sched._finish_if_done(instances bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    inst      bigint;
    wf_id     bigint;
    exec_type text;
    backfill  bigint;
    parent    bigint;
    notify    text;
BEGIN
    -- One instance at a time: with a scalar id the activity check is always a probe of
    -- task_instance_active, never a scan of every active task in the system.
    FOREACH inst IN ARRAY instances LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM sched.task_instance ti
            WHERE ti.workflow_instance_id = inst
              AND ti.state IN ('delayed', 'queued', 'dispatched', 'running'));
        UPDATE sched.workflow_instance wi
           SET state = CASE WHEN wi.state = 'ready_stop' THEN 'stopped'
                            WHEN wi.state = 'ready_pause' THEN 'paused'
                            WHEN wi.has_failure THEN 'failed'
                            ELSE 'succeeded' END::sched.workflow_state,
               ended_at = now(),
               timeout_at = NULL,
               -- The last finished task wins a name: downstream tasks refine what upstream ones
               -- said. Read only where some task declares OUT params: no index serves this, so
               -- that other instances' attempts do not maintain one.
               out_params = CASE WHEN (SELECT v.has_out FROM sched.workflow_version v WHERE v.id = wi.workflow_version_id)
                            THEN (SELECT jsonb_object_agg(o.key, o.value ORDER BY ti.ended_at, ti.task_id)
                                  FROM sched.task_instance ti CROSS JOIN LATERAL jsonb_each(ti.out_params) o
                                  WHERE ti.workflow_instance_id = inst AND ti.out_params IS NOT NULL
                                    AND ti.run = wi.run AND ti.state IN ('succeeded', 'forced_success')) END
         WHERE wi.id = inst AND wi.state IN ('running', 'ready_stop', 'ready_pause')
        RETURNING wi.workflow_id, (SELECT v.execution_type FROM sched.workflow_version v WHERE v.id = wi.workflow_version_id),
                  wi.backfill_id, wi.parent_task_instance_id, wi.notify_strategy
        INTO wf_id, exec_type, backfill, parent, notify;
        -- Join counters matter only while the instance runs; the table stays as small as
        -- the set of running instances.
        IF FOUND THEN
            DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = inst;
            IF exec_type = 'serial_wait' OR current_setting('sched.max_running_instances')::integer > 0 THEN
                PERFORM sched._on_instance_end(wf_id, exec_type);
            END IF;
            IF backfill IS NOT NULL THEN
                PERFORM sched._advance_backfill(backfill, false);
            END IF;
            IF parent IS NOT NULL THEN
                PERFORM sched._end_parent_task(inst);
            END IF;
            IF EXISTS (SELECT 1 FROM sched.dependent_watch dw WHERE dw.workflow_id = wf_id) THEN
                PERFORM sched._wake_dependents(wf_id);
            END IF;
            IF notify <> 'none' THEN
                PERFORM sched._alert_workflow_end(inst);
            END IF;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._finish_if_done(bigint[]) IS
    'Internal: gives every instance with nothing left active its final state and its output parameters; ends the SUB_PROCESS attempt of a child and wakes the DEPENDENT attempts waiting on its workflow.';

-- finished: the attempts; touched: their instances; any_failed: whether one failed or was
-- killed. The caller knows all three from the statement that ended the attempts. touched may
-- be empty when the caller finishes the instances itself (a logic task decided while its
-- instance is still being advanced).
CREATE FUNCTION sched._advance(finished bigint[], touched bigint[], any_failed boolean) RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    ending     bigint[];
    groups     text[];
    retried    bigint[];
    r_inst     bigint[];
    r_task     bigint[];
    r_attempt  integer[];
    r_retry    integer[];
    w_inst     bigint[];
    w_task     bigint[];
    passed     bigint[];
    deciding   bigint[];
    p_inst     bigint[];
    p_task     bigint[];
    p_skip     boolean[];
BEGIN
    -- One round per wave of attempts that end where they become ready (skipped, forbidden,
    -- CONDITIONS, SWITCH): a long chain of them is a loop, never a recursion.
    LOOP
        IF any_failed THEN
            -- ---------- Retry or fail: the one place that decides ----------
            -- A failed attempt (never a killed one) of a task with retries left, in an instance
            -- that still runs, gets a new attempt; only when none is left does it count as a failure.
            SELECT array_agg(ti.id), array_agg(ti.workflow_instance_id), array_agg(ti.task_id),
                   array_agg(ti.attempt + 1), array_agg(ti.retry + 1)
            INTO retried, r_inst, r_task, r_attempt, r_retry
            FROM unnest(finished) AS f(id)
            JOIN sched.task_instance ti ON ti.id = f.id
            JOIN sched.task_definition td ON td.id = ti.task_id
            JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
            WHERE ti.state = 'failed' AND ti.retry < td.retries
              AND wi.state IN ('running', 'ready_pause') AND NOT (wi.has_failure AND wi.failure_strategy = 'end');
            IF retried IS NOT NULL THEN
                groups := sched._new_attempts(r_inst, r_task, r_attempt, r_retry);
            END IF;

            -- ---------- Failures: the first one decides; under "end" it stops everything ----------
            -- A failure that only CONDITIONS tasks follow is theirs to judge, not the instance's.
            WITH failing AS (
                UPDATE sched.workflow_instance wi SET has_failure = true
                WHERE wi.id IN (SELECT ti.workflow_instance_id
                                FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
                                WHERE ti.id = ANY(finished) AND ti.state IN ('failed', 'killed')
                                  AND NOT ti.id = ANY(coalesce(retried, '{}'))
                                  AND NOT (ti.state = 'failed' AND td.feeds_conditions
                                           AND EXISTS (SELECT 1 FROM sched.workflow_instance s
                                                       WHERE s.id = ti.workflow_instance_id
                                                         AND (s.scope IS NULL OR td.successors && s.scope))))
                  AND NOT wi.has_failure
                RETURNING wi.id, wi.failure_strategy)
            SELECT array_agg(id) INTO ending FROM failing WHERE failure_strategy = 'end';
            IF ending IS NOT NULL THEN
                PERFORM sched._kill_active(ending, 'failure_strategy_end');
            END IF;
        END IF;

        -- ---------- Successors: of tasks that are done, only in instances still running ----------
        -- A task with one upstream task is ready as soon as that one is done; a join counts its
        -- done upstream tasks in join_progress, so no completion ever rescans the DAG. Done is
        -- succeeded, forced_success, skipped or forbidden, and for a CONDITIONS task also failed.
        -- A successor that a CONDITIONS or SWITCH task did not choose, or of a skipped task, counts
        -- as skipped; a task whose upstream tasks are all skipped is skipped too.
        -- Driven by the ids, so that each is one primary-key probe: joined the other way round,
        -- the planner may walk a whole index of task_instance in instance order (a merge join).
        WITH ok AS (
            SELECT ti.workflow_instance_id, ti.task_id, ti.state, ti.branch, wi.scope
            FROM unnest(finished) AS f(id)
            JOIN sched.task_instance ti ON ti.id = f.id
            JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
            WHERE (ti.state IN ('succeeded', 'forced_success', 'skipped', 'forbidden')
                   OR (any_failed AND ti.state = 'failed' AND NOT ti.id = ANY(coalesce(retried, '{}'))))
              AND wi.state = 'running'
              AND NOT (wi.has_failure AND wi.failure_strategy = 'end')
        ), successor AS (
            SELECT ok.workflow_instance_id, next.task_id, count(*)::integer AS n,
                   count(*) FILTER (WHERE ok.state = 'skipped'
                                       OR (ok.branch IS NOT NULL AND NOT next.task_id = ANY(ok.branch)))::integer AS skipped,
                   min(td.dep_count) AS dep_count, min(td.logic) AS logic
            FROM ok
            JOIN sched.task_definition done ON done.id = ok.task_id
            CROSS JOIN LATERAL unnest(done.successors) AS next(task_id)
            JOIN sched.task_definition td ON td.id = next.task_id
            -- A run limited to some tasks (start_tasks, execute_task) makes only those ready.
            WHERE (ok.scope IS NULL OR next.task_id = ANY(ok.scope))
              AND (ok.state <> 'failed' OR td.logic = 'conditions')
            GROUP BY ok.workflow_instance_id, next.task_id
        ), joined AS (
            INSERT INTO sched.join_progress AS jp (workflow_instance_id, task_id, deps_done, deps_skipped)
            SELECT s.workflow_instance_id, s.task_id, s.n, s.skipped FROM successor s WHERE s.dep_count > 1
            ON CONFLICT (workflow_instance_id, task_id)
                DO UPDATE SET deps_done = jp.deps_done + excluded.deps_done,
                              deps_skipped = jp.deps_skipped + excluded.deps_skipped
            RETURNING jp.workflow_instance_id, jp.task_id, jp.deps_done, jp.deps_skipped
        ), ready AS (
            SELECT s.workflow_instance_id, s.task_id, s.skipped = 1 AS skip, s.logic
            FROM successor s WHERE s.dep_count = 1
            UNION ALL
            SELECT j.workflow_instance_id, j.task_id, j.deps_skipped = td.dep_count, td.logic
            FROM joined j JOIN sched.task_definition td ON td.id = j.task_id
            WHERE j.deps_done = td.dep_count
        )
        SELECT array_agg(r.workflow_instance_id) FILTER (WHERE r.skip OR r.logic IN ('forbidden', 'conditions', 'switch')),
               array_agg(r.task_id) FILTER (WHERE r.skip OR r.logic IN ('forbidden', 'conditions', 'switch')),
               array_agg(r.skip) FILTER (WHERE r.skip OR r.logic IN ('forbidden', 'conditions', 'switch')),
               w_inst || array_agg(r.workflow_instance_id) FILTER (WHERE NOT (r.skip OR coalesce(r.logic IN ('forbidden', 'conditions', 'switch'), false))),
               w_task || array_agg(r.task_id) FILTER (WHERE NOT (r.skip OR coalesce(r.logic IN ('forbidden', 'conditions', 'switch'), false)))
        INTO p_inst, p_task, p_skip, w_inst, w_task
        FROM ready r;
        EXIT WHEN p_inst IS NULL;
        -- Skipped and forbidden tasks pass here; CONDITIONS and SWITCH attempts start here and
        -- are decided at once; their successors come in the next round. Tasks with none of
        -- these never get here.
        WITH passing AS (
            INSERT INTO sched.task_instance (workflow_instance_id, task_id, run, state, started_at, ended_at,
                                             worker_group, workflow_priority, task_priority, tenant)
            SELECT p.instance_id, p.task_id, wi.run,
                   CASE WHEN p.skip THEN 'skipped' WHEN td.logic = 'forbidden' THEN 'forbidden'
                        ELSE 'running' END::sched.task_state,
                   CASE WHEN NOT p.skip AND td.logic <> 'forbidden' THEN now() END,
                   CASE WHEN p.skip OR td.logic = 'forbidden' THEN now() END,
                   coalesce(td.worker_group, wi.worker_group), wi.priority, td.priority, wi.tenant
            FROM unnest(p_inst, p_task, p_skip) AS p(instance_id, task_id, skip)
            JOIN sched.workflow_instance wi ON wi.id = p.instance_id
            JOIN sched.task_definition td ON td.id = p.task_id
            ORDER BY p.instance_id, td.priority, td.id
            RETURNING id, state)
        SELECT array_agg(p.id ORDER BY p.id), array_agg(p.id ORDER BY p.id) FILTER (WHERE p.state = 'running')
        INTO passed, deciding
        FROM passing p;
        any_failed := deciding IS NOT NULL AND sched._decide_branches(deciding);
        finished := passed;
    END LOOP;
    IF w_inst IS NOT NULL THEN
        -- A group twice is one notification: PostgreSQL folds them.
        groups := groups || sched._new_attempts(w_inst, w_task, NULL, NULL);
    END IF;

    PERFORM sched._finish_if_done(touched);
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._advance(bigint[], bigint[], boolean) IS
    'Internal: reacts to task attempts that reached a final state: records failures (and applies failure strategy end), makes ready the successors whose upstream tasks are all done (skipping those only skipped tasks lead to, passing forbidden ones), and finishes instances with nothing left to run. Returns the worker groups that got ready tasks; the caller decides whom to wake.';

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

    -- DolphinScheduler §10.3: the lost attempt becomes need_fault_tolerance and a new attempt
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
           array_agg(l.id) FILTER (WHERE l.holds_slot),
           array_agg(l.id) FILTER (WHERE l.state = 'need_fault_tolerance'),
           array_agg(l.id) FILTER (WHERE l.state <> 'need_fault_tolerance')
    INTO r_inst, r_task, r_attempt, r_retry, slots, lost_ids, ended
    FROM lost l
    JOIN sched.workflow_instance wi ON wi.id = l.workflow_instance_id
    CROSS JOIN LATERAL (SELECT wi.state = 'running' AND NOT (wi.has_failure AND wi.failure_strategy = 'end')
                               AND NOT l.kill_requested AS requeue) q;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    IF r_inst IS NOT NULL THEN
        groups := sched._new_attempts(r_inst, r_task, r_attempt, r_retry);
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
