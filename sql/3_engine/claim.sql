-- Claiming (docs/architecture.md, "The life of a task"): queued attempts of a worker's groups
-- become running on it, highest priority first, then FIFO, with SKIP LOCKED so that workers
-- never wait for each other; a claim token makes a retried call return what the first one
-- claimed. The worker's entry point, with its guard, is claim_tasks (5_protocol/worker.sql).

CREATE FUNCTION sched._claim(worker_id bigint, groups text[], max_tasks integer, claim_token bigint)
RETURNS TABLE (task_instance_id bigint, workflow_instance_id bigint, task_name text, task_type text,
               settings jsonb, attempt integer, tenant text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    already       integer;
    grp           text;
    got           integer;
    left_to_claim integer;
BEGIN
    IF max_tasks IS NULL OR max_tasks < 1 THEN
        RETURN;
    END IF;
    -- A call retried after its answer was lost (the connection dropped after the commit) must
    -- get the tasks the first call claimed, or they would sit running on a live worker that
    -- never heard of them.
    IF _claim.claim_token IS NOT NULL THEN
        RETURN QUERY
        SELECT ti.id, ti.workflow_instance_id, td.name, td.task_type,
               CASE WHEN td.parameterized THEN ti.resolved->'settings' ELSE td.settings END,
               ti.attempt, ti.tenant
        FROM sched.task_instance ti
        JOIN sched.task_definition td ON td.id = ti.task_id
        WHERE ti.worker_id = _claim.worker_id AND ti.state = ANY (sched._task_states_claimed())
          AND ti.claim_token = _claim.claim_token;
        GET DIAGNOSTICS already = ROW_COUNT;
        IF already > 0 THEN
            RETURN;
        END IF;
    END IF;
    -- One group at a time, each read in index order from its own part of the ready index; a
    -- worker of several groups fills its slots from them in the order it lists them.
    -- The picked ids come as an array from an uncorrelated sub-select, which runs once, with
    -- LIMIT and SKIP LOCKED, before the UPDATE joins anything; and an id array keeps the
    -- (generic) plan on the primary key whatever the size of the table: joining a CTE was
    -- planned as a hash join over every row once the table held a large backlog.
    left_to_claim := least(_claim.max_tasks, 1000);
    FOREACH grp IN ARRAY _claim.groups LOOP
        RETURN QUERY
        UPDATE sched.task_instance ti
           SET state = 'running', worker_id = _claim.worker_id, claim_token = _claim.claim_token,
               started_at = now(),
               timeout_at = now() + td.timeout_after,
               check_at = CASE WHEN td.timeout_strategy = 'fail' THEN now() + td.timeout_after + interval '15 s'
                               ELSE now() + td.timeout_after END,
               -- Resolved once per attempt and stored: a retried claim returns the same.
               resolved = CASE WHEN td.parameterized
                               THEN sched._task_context(td.settings, td.params, td.inputs_from, td.name, td.id,
                                                        ti.id, ti.workflow_instance_id, ti.element) END
          FROM sched.task_definition td
         WHERE ti.id = ANY(ARRAY(
                   SELECT q.id
                   FROM sched.task_instance q
                   WHERE q.state = 'queued' AND q.worker_group = grp
                   ORDER BY q.workflow_priority, q.task_priority, q.id
                   LIMIT left_to_claim
                   FOR UPDATE SKIP LOCKED))
           AND td.id = ti.task_id
        RETURNING ti.id, ti.workflow_instance_id, td.name, td.task_type,
                  CASE WHEN td.parameterized THEN ti.resolved->'settings' ELSE td.settings END,
                  ti.attempt, ti.tenant;
        GET DIAGNOSTICS got = ROW_COUNT;
        left_to_claim := left_to_claim - got;
        EXIT WHEN left_to_claim <= 0;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._claim(bigint, text[], integer, bigint) IS
    'Internal: claims up to max_tasks queued task instances of these groups for a worker, group by group in the order given: highest priority first, then FIFO. With a claim token already used by this worker, returns what that call claimed instead.';
