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

CREATE FUNCTION sched._kill_active(instances bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    notified bigint;
BEGIN
    -- Never started: nothing to kill, the attempt just ends.
    UPDATE sched.task_instance ti SET state = 'killed', ended_at = now()
    WHERE ti.workflow_instance_id = ANY(instances) AND ti.state IN ('delayed', 'queued');

    WITH asked AS (
        UPDATE sched.task_instance ti SET kill_requested = true
        WHERE ti.workflow_instance_id = ANY(instances) AND ti.state IN ('dispatched', 'running')
          AND NOT ti.kill_requested
        RETURNING ti.worker_id)
    SELECT count(pg_catalog.pg_notify('sched_kill', w::text))
    INTO notified
    FROM (SELECT DISTINCT worker_id AS w FROM asked) s;
END
$$;
COMMENT ON FUNCTION sched._kill_active(bigint[]) IS
    'Internal: ends queued attempts of these instances as killed and asks workers to kill the running ones.';

CREATE FUNCTION sched._finish_if_done(instances bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    inst bigint;
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
                            WHEN wi.has_failure THEN 'failed'
                            ELSE 'succeeded' END::sched.workflow_state,
               ended_at = now(),
               -- The last finished task wins a name: downstream tasks refine what upstream ones
               -- said. Read only where some task declares OUT params: no index serves this, so
               -- that other instances' attempts do not maintain one.
               out_params = CASE WHEN (SELECT v.has_out FROM sched.workflow_version v WHERE v.id = wi.workflow_version_id)
                            THEN (SELECT jsonb_object_agg(o.key, o.value ORDER BY ti.ended_at, ti.task_id)
                                  FROM sched.task_instance ti CROSS JOIN LATERAL jsonb_each(ti.out_params) o
                                  WHERE ti.workflow_instance_id = inst AND ti.out_params IS NOT NULL
                                    AND ti.state IN ('succeeded', 'forced_success')) END
         WHERE wi.id = inst AND wi.state IN ('running', 'ready_stop');
        -- Join counters matter only while the instance runs; the table stays as small as
        -- the set of running instances.
        IF FOUND THEN
            DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = inst;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._finish_if_done(bigint[]) IS
    'Internal: gives every instance with nothing left active its final state and its output parameters.';

-- finished: the attempts; touched: their instances; any_failed: whether one failed or was
-- killed. The caller knows all three from the statement that ended the attempts.
CREATE FUNCTION sched._advance(finished bigint[], touched bigint[], any_failed boolean) RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    ending     bigint[];
    groups     text[];
BEGIN

    -- ---------- Failures: the first one decides; under "end" it stops everything ----------
    IF any_failed THEN
        WITH failing AS (
            UPDATE sched.workflow_instance wi SET has_failure = true
            WHERE wi.id IN (SELECT ti.workflow_instance_id FROM sched.task_instance ti
                            WHERE ti.id = ANY(finished) AND ti.state IN ('failed', 'killed'))
              AND NOT wi.has_failure
            RETURNING wi.id, wi.failure_strategy)
        SELECT array_agg(id) INTO ending FROM failing WHERE failure_strategy = 'end';
        IF ending IS NOT NULL THEN
            PERFORM sched._kill_active(ending);
        END IF;
    END IF;

    -- ---------- Successors: only of tasks that succeeded, only in instances still running ----------
    -- A task with one upstream task is ready as soon as that one succeeds; a join counts its
    -- upstream successes in join_progress, so no completion ever rescans the DAG.
    WITH ok AS (
        SELECT ti.workflow_instance_id, ti.task_id
        FROM sched.task_instance ti
        JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
        WHERE ti.id = ANY(finished)
          AND ti.state IN ('succeeded', 'forced_success')
          AND wi.state = 'running'
          AND NOT (wi.has_failure AND wi.failure_strategy = 'end')
    ), successor AS (
        SELECT ok.workflow_instance_id, next.task_id, count(*)::integer AS n, min(td.dep_count) AS dep_count
        FROM ok
        JOIN sched.task_definition done ON done.id = ok.task_id
        CROSS JOIN LATERAL unnest(done.successors) AS next(task_id)
        JOIN sched.task_definition td ON td.id = next.task_id
        GROUP BY ok.workflow_instance_id, next.task_id
    ), joined AS (
        INSERT INTO sched.join_progress AS jp (workflow_instance_id, task_id, deps_done)
        SELECT s.workflow_instance_id, s.task_id, s.n FROM successor s WHERE s.dep_count > 1
        ON CONFLICT (workflow_instance_id, task_id)
            DO UPDATE SET deps_done = jp.deps_done + excluded.deps_done
        RETURNING jp.workflow_instance_id, jp.task_id, jp.deps_done
    ), ready AS (
        SELECT s.workflow_instance_id, s.task_id FROM successor s WHERE s.dep_count = 1
        UNION ALL
        SELECT j.workflow_instance_id, j.task_id
        FROM joined j JOIN sched.task_definition td ON td.id = j.task_id
        WHERE j.deps_done = td.dep_count
    ), queued AS (
        INSERT INTO sched.task_instance (workflow_instance_id, task_id, state, worker_group,
                                         workflow_priority, task_priority, tenant)
        SELECT r.workflow_instance_id, r.task_id, 'queued', coalesce(td.worker_group, wi.worker_group),
               wi.priority, td.priority, wi.tenant
        FROM ready r
        JOIN sched.task_definition td ON td.id = r.task_id
        JOIN sched.workflow_instance wi ON wi.id = r.workflow_instance_id
        ORDER BY wi.id, td.priority, td.id
        RETURNING worker_group)
    SELECT array_agg(DISTINCT worker_group) INTO groups FROM queued;

    PERFORM sched._finish_if_done(touched);
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._advance(bigint[], bigint[], boolean) IS
    'Internal: reacts to task attempts that reached a final state: records failures (and applies failure strategy end), makes ready the successors whose upstream tasks all succeeded, and finishes instances with nothing left to run. Returns the worker groups that got ready tasks; the caller decides whom to wake.';

CREATE FUNCTION sched._fail_over(workers bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    instances bigint[];
    groups    text[];
BEGIN
    SELECT array_agg(DISTINCT ti.workflow_instance_id) INTO instances
    FROM sched.task_instance ti
    WHERE ti.worker_id = ANY(workers) AND ti.state IN ('dispatched', 'running');
    IF instances IS NULL THEN
        RETURN;
    END IF;
    -- An instance locked by someone else (a user's open stop_workflow) is skipped, not waited
    -- for: its attempts stay on the dead registration, which the master's next ticks retry.
    SELECT array_agg(l.id) INTO instances FROM (
        SELECT wi.id FROM sched.workflow_instance wi WHERE wi.id = ANY(instances)
        ORDER BY wi.id FOR NO KEY UPDATE SKIP LOCKED) l;
    IF instances IS NULL THEN
        RETURN;
    END IF;

    -- DolphinScheduler §10.3: the lost attempt becomes need_fault_tolerance and a new attempt
    -- of the same task is queued, unless the instance is being stopped or is ending.
    -- Only in the instances locked above: an attempt claimed since is the next tick's.
    WITH lost AS (
        UPDATE sched.task_instance ti SET state = 'need_fault_tolerance', ended_at = now()
        WHERE ti.worker_id = ANY(workers) AND ti.state IN ('dispatched', 'running')
          AND ti.workflow_instance_id = ANY(instances)
        RETURNING ti.*
    ), requeued AS (
        INSERT INTO sched.task_instance (workflow_instance_id, task_id, attempt, state, worker_group,
                                         workflow_priority, task_priority, tenant)
        SELECT l.workflow_instance_id, l.task_id, l.attempt + 1, 'queued', l.worker_group,
               l.workflow_priority, l.task_priority, l.tenant
        FROM lost l
        JOIN sched.workflow_instance wi ON wi.id = l.workflow_instance_id
        WHERE wi.state = 'running' AND NOT (wi.has_failure AND wi.failure_strategy = 'end')
          AND NOT l.kill_requested
        ORDER BY l.id
        RETURNING worker_group)
    SELECT array_agg(DISTINCT worker_group) INTO groups FROM requeued;

    IF groups IS NOT NULL THEN
        PERFORM sched._notify_ready(groups);
    END IF;
    PERFORM sched._finish_if_done(instances);
END
$$;
COMMENT ON FUNCTION sched._fail_over(bigint[]) IS
    'Internal: moves the running attempts of dead workers to need_fault_tolerance and queues new attempts.';
