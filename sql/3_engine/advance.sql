-- Advancing workflow instances after attempts end (docs/architecture.md, "The life of a
-- task"). Every function of the engine expects its caller to hold the row locks of the
-- workflow instances concerned (2_kernel/locks.sql), taken in id order so that they never
-- deadlock. Held exclusively, nothing else advances the instance meanwhile. Held shared by
-- workers' reports of successes, "are all upstream tasks done?" is answered by the join's
-- counter row, which the reports update one after the other (in one order, so that they do not
-- deadlock either), and "is anything still active?" under the exclusive row lock each takes
-- last (sched._settle): neither is answered twice by racing transactions.
--
-- They are plpgsql rather than SQL: PostgreSQL 15 plans a non-inlined SQL function's
-- statements on every call, plpgsql keeps its plans for the session.

-- finished: the attempts; touched: their instances; any_failed: whether one failed or was
-- killed. The caller knows all three from the statement that ended the attempts. touched may
-- be empty when the caller finishes the instances itself (a logic task decided while its
-- instance is still being advanced). shared: the caller holds the instances' lock shared with
-- other workers' reports of successes (2_kernel/locks.sql), and decides whether they ended
-- itself, last (sched._settle).
CREATE FUNCTION sched._advance(finished bigint[], touched bigint[], any_failed boolean, shared boolean DEFAULT false)
RETURNS text[]
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
    r_element  integer[];
    first      boolean := true;
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
                   array_agg(ti.attempt + 1), array_agg(ti.retry + 1), array_agg(ti.element)
            INTO retried, r_inst, r_task, r_attempt, r_retry, r_element
            FROM unnest(finished) AS f(id)
            JOIN sched.task_instance ti ON ti.id = f.id
            JOIN sched.task_definition td ON td.id = ti.task_id
            JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
            WHERE ti.state = 'failed' AND ti.retry < td.retries
              AND wi.state = ANY (sched._workflow_states_advancing()) AND NOT (wi.has_failure AND wi.failure_strategy = 'end');
            IF retried IS NOT NULL THEN
                groups := sched._new_attempts(r_inst, r_task, r_attempt, r_retry, r_element);
            END IF;

            -- ---------- Failures: the first one decides; under "end" it stops everything ----------
            -- A failure that only CONDITIONS tasks follow is theirs to judge, not the instance's;
            -- an element's is its dynamic task's.
            WITH failing AS (
                UPDATE sched.workflow_instance wi SET has_failure = true
                WHERE wi.id IN (SELECT ti.workflow_instance_id
                                FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
                                WHERE ti.id = ANY(finished) AND ti.state = ANY (sched._task_states_failure())
                                  AND NOT ti.id = ANY(coalesce(retried, '{}')) AND ti.element IS NULL
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

        -- ---------- Elements of dynamic tasks: counted for their dynamic attempt ----------
        -- Only while an instance with a dynamic task runs does a completion look (the table is
        -- empty otherwise); elements end only in the first round, the later ones pass logic tasks.
        IF first AND EXISTS (SELECT 1 FROM sched.dynamic_progress) THEN
            passed := ARRAY(SELECT f.id FROM unnest(finished) AS f(id) WHERE NOT f.id = ANY(coalesce(retried, '{}')));
            groups := groups || sched._elements_ended(passed);
        END IF;
        first := false;

        -- ---------- Successors: of tasks that are done, only in instances still running ----------
        -- A task with one upstream task is ready as soon as that one is done; a join counts its
        -- done upstream tasks in join_progress, so no completion ever rescans the DAG. Done is
        -- succeeded, forced_success, skipped or forbidden, and for a CONDITIONS task also failed.
        -- A successor that a CONDITIONS or SWITCH task did not choose, or of a skipped task, counts
        -- as skipped; a task whose upstream tasks are all skipped is skipped too.
        -- Driven by the ids, so that each is one primary-key probe. The lateral subqueries fence
        -- the join order (OFFSET 0 keeps them from being flattened): a plan cached while the
        -- tables were small and unanalysed otherwise starts from the running instance and walks
        -- all its attempts in task_instance_by_instance, which makes every completion batch of a
        -- 100,000-task instance cost O(N).
        WITH ok AS (
            SELECT ti.workflow_instance_id, ti.task_id, ti.state, ti.branch, wi.scope
            FROM unnest(finished) AS f(id)
            CROSS JOIN LATERAL (SELECT t.id, t.workflow_instance_id, t.task_id, t.state, t.branch
                                FROM sched.task_instance t WHERE t.id = f.id OFFSET 0) ti
            CROSS JOIN LATERAL (SELECT w.state, w.scope, w.has_failure, w.failure_strategy
                                FROM sched.workflow_instance w WHERE w.id = ti.workflow_instance_id OFFSET 0) wi
            WHERE (ti.state = ANY (sched._task_states_passed())
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
            ORDER BY s.workflow_instance_id, s.task_id
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

    IF NOT shared THEN
        PERFORM sched._finish_if_done(touched);
    END IF;
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._advance(bigint[], bigint[], boolean, boolean) IS
    'Internal: reacts to task attempts that reached a final state: records failures (and applies failure strategy end), makes ready the successors whose upstream tasks are all done (skipping those only skipped tasks lead to, passing forbidden ones), and finishes instances with nothing left to run. Returns the worker groups that got ready tasks; the caller decides whom to wake.';
