-- SUB_PROCESS tasks: the attempt starts a child instance and ends in the transaction that ends
-- the child; a parent's stop, pause or kill reaches its children.

-- ---------- SUB_PROCESS ----------

-- A sub_process attempt's child: a new instance of the workflow's current version as the parent
-- workflow's owner, or (after a resume, recover or rerun of the parent) the child it had,
-- continued the same way.
CREATE FUNCTION sched._start_child(task_instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t        record;
    parent   sched.workflow_instance;
    child    sched.workflow_instance;
    owner    regrole;
    ctx      jsonb;
    params   jsonb;
    child_id bigint;
    rerun    boolean;
BEGIN
    SELECT ti.id, ti.task_id, ti.run, ti.element, ti.workflow_instance_id, td.settings, td.params AS local_params,
           td.inputs_from, td.name
    INTO t
    FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
    WHERE ti.id = task_instance_id;
    SELECT * INTO parent FROM sched.workflow_instance wi WHERE wi.id = t.workflow_instance_id;
    SELECT c.* INTO child FROM sched.workflow_instance c
    WHERE c.parent_instance_id = parent.id
      AND c.parent_task_instance_id IN (SELECT p.id FROM sched.task_instance p
                                        WHERE p.workflow_instance_id = parent.id AND p.task_id = t.task_id
                                          AND p.element IS NOT DISTINCT FROM t.element)
    ORDER BY c.id DESC LIMIT 1
    FOR UPDATE;

    IF FOUND THEN
        -- The child runs again from the start when its parent does: a new run of the parent
        -- (rerun_workflow, however it was paused or recovered since) or execute_task.
        rerun := (SELECT c.command_type FROM sched.command c
                  WHERE c.workflow_instance_id = parent.id ORDER BY c.id DESC LIMIT 1) = 'execute_task'
                 OR (SELECT p.run FROM sched.task_instance p WHERE p.id = child.parent_task_instance_id) < t.run;
        UPDATE sched.workflow_instance SET parent_task_instance_id = t.id WHERE id = child.id;
        PERFORM sched._logic_log(t.id, format('sub_process: continues instance %s (%s) of workflow "%s"',
                                              child.id, child.state, t.settings->>'workflow'));
        -- As the parent workflow's owner, who runs its children, through the commands a user
        -- would issue (which check that right again, and record them).
        owner := (SELECT w.owner FROM sched.workflow w WHERE w.id = parent.workflow_id);
        IF rerun THEN
            PERFORM sched._rerun_workflow(owner, child.id);
        ELSIF child.state = ANY (sched._command_workflow_states('resume')) THEN
            PERFORM sched._resume_workflow(owner, child.id);
        ELSIF child.state = 'failed' THEN
            PERFORM sched._recover_workflow(owner, child.id);
        ELSIF child.state = 'succeeded' THEN
            PERFORM sched._end_parent_task(child.id, false);
        END IF;
        RETURN;
    END IF;

    -- The child's start parameters: the parent's globals and start parameters, under the task's
    -- own (upstream OUT values, its local params), so that they override the child's globals.
    ctx := sched._task_context(t.settings, t.local_params, t.inputs_from, t.name, t.task_id, t.id, parent.id, t.element);
    SELECT coalesce(jsonb_object_agg(k, parent.param_values->k), '{}') INTO params
    FROM (SELECT jsonb_object_keys(coalesce(v.spec->'params', '{}')) AS k
          FROM sched.workflow_version v WHERE v.id = parent.workflow_version_id
          UNION SELECT jsonb_object_keys(parent.params)) keys
    WHERE parent.param_values ? k;
    SELECT params || coalesce(jsonb_object_agg(p.key, p.value), '{}') INTO params
    FROM jsonb_each(coalesce(ctx->'params', '{}')) p WHERE p.key NOT LIKE 'system.%';
    -- An element of a dynamic task starts its child with its values.
    IF t.element IS NOT NULL THEN
        params := params || (SELECT e."values" FROM sched.dynamic_element e
                             WHERE e.workflow_instance_id = parent.id AND e.task_id = t.task_id
                               AND e.run = t.run AND e.element = t.element);
    END IF;
    BEGIN
        IF ctx->'settings' ? 'resolve_error' THEN
            RAISE EXCEPTION 'cannot resolve parameters: %', ctx#>>'{settings,resolve_error}';
        END IF;
        child_id := sched._start((SELECT w.owner FROM sched.workflow w WHERE w.id = parent.workflow_id),
                                 t.settings->>'workflow', params, '{}',
                                 (SELECT c.command_type FROM sched.command c WHERE c.workflow_instance_id = parent.id
                                  ORDER BY c.id LIMIT 1),
                                 NULL, t.id);
    EXCEPTION WHEN others THEN
        -- One child that cannot start fails its task, not the transaction that made it ready.
        UPDATE sched.task_instance ti SET state = 'failed', ended_at = now() WHERE ti.id = t.id;
        PERFORM sched._logic_log(t.id, format('sub_process: cannot start workflow "%s": %s', t.settings->>'workflow', SQLERRM));
        PERFORM sched._notify_ready(sched._advance(ARRAY[t.id], '{}', true));
        RETURN;
    END;
    PERFORM sched._logic_log(t.id, format('sub_process: started instance %s of workflow "%s"', child_id, t.settings->>'workflow'));
END
$$;
COMMENT ON FUNCTION sched._start_child(bigint) IS
    'Internal: gives a SUB_PROCESS attempt its child instance: a new one, or the one it had, resumed, recovered or rerun as its parent was.';

-- A child instance ended: its SUB_PROCESS attempt ends as it did (stopped is killed) and, if it
-- succeeded, with its OUT params. finish_parent false leaves finishing the parent to the caller.
CREATE FUNCTION sched._end_parent_task(child_id bigint, finish_parent boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    c     sched.workflow_instance;
    ended sched.task_state;
    ptask bigint;
BEGIN
    SELECT * INTO c FROM sched.workflow_instance wi WHERE wi.id = child_id;
    ended := CASE c.state WHEN 'succeeded' THEN 'succeeded' WHEN 'failed' THEN 'failed'
                          WHEN 'stopped' THEN 'killed' WHEN 'paused' THEN 'paused' END;
    UPDATE sched.task_instance ti
       SET state = ended, ended_at = now(),
           out_params = CASE WHEN ended = 'succeeded' THEN c.out_params END,
           kill_reason = CASE WHEN ended = 'killed' THEN coalesce(ti.kill_reason, 'stop') ELSE ti.kill_reason END
     WHERE ti.id = c.parent_task_instance_id AND ti.state = 'running'
    RETURNING ti.id INTO ptask;
    IF ptask IS NOT NULL THEN
        PERFORM sched._logic_log(ptask, format('sub_process: instance %s %s', c.id, c.state));
        PERFORM sched._notify_ready(sched._advance(ARRAY[ptask],
            CASE WHEN finish_parent THEN ARRAY[c.parent_instance_id] ELSE '{}' END, ended = ANY (sched._task_states_failure())));
    END IF;
END
$$;
COMMENT ON FUNCTION sched._end_parent_task(bigint, boolean) IS
    'Internal: ends the SUB_PROCESS attempt of a child instance that ended, as the child ended: succeeded (with its OUT params), failed, killed (stopped) or paused.';

-- Logic attempts that a stop, a failure strategy end or kill_task ends: a sub-process's child is
-- stopped (its end then kills the attempt); any other just ends, killed. Returns those.
CREATE FUNCTION sched._kill_logic(instances bigint[], only_task bigint, reason text) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    c      record;
    killed bigint[];
BEGIN
    FOR c IN
        SELECT ch.id, ch.workflow_id, ti.id AS attempt FROM sched.workflow_instance ch
        JOIN sched.task_instance ti ON ti.id = ch.parent_task_instance_id
        WHERE ch.parent_instance_id = ANY(instances) AND ti.state = 'running'
          AND (only_task IS NULL OR ti.id = only_task)
          AND ch.state <> ALL (sched._workflow_states_ending())
        ORDER BY ch.id
        FOR UPDATE OF ch
    LOOP
        -- The attempt ends killed, for this reason, once its child has stopped.
        UPDATE sched.task_instance ti SET kill_requested = true, kill_reason = reason WHERE ti.id = c.attempt;
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        VALUES ('stop', c.workflow_id, c.id, 'pg_sched', jsonb_build_object('reason', reason));
        UPDATE sched.workflow_instance SET state = 'ready_stop' WHERE id = c.id;
        PERFORM sched._kill_active(ARRAY[c.id], reason);
        PERFORM sched._finish_if_done(ARRAY[c.id]);
    END LOOP;
    WITH ended AS (
        UPDATE sched.task_instance ti SET state = 'killed', ended_at = now(), kill_reason = reason, recheck_at = NULL
        WHERE ti.workflow_instance_id = ANY(instances) AND ti.state = 'running' AND ti.worker_id IS NULL
          AND (only_task IS NULL OR ti.id = only_task)
          AND NOT EXISTS (SELECT 1 FROM sched.workflow_instance ch
                          WHERE ch.parent_task_instance_id = ti.id AND ch.parent_instance_id = ti.workflow_instance_id
                            AND ch.state <> ALL (sched._workflow_states_finished()))
        RETURNING ti.id)
    SELECT array_agg(id) INTO killed FROM ended;
    DELETE FROM sched.dependent_watch dw WHERE dw.task_instance_id = ANY(killed);
    -- A dynamic attempt's elements go with it.
    IF EXISTS (SELECT 1 FROM sched.dynamic_progress p WHERE p.task_instance_id = ANY(killed)) THEN
        PERFORM sched._kill_elements(killed, reason);
    END IF;
    RETURN killed;
END
$$;
COMMENT ON FUNCTION sched._kill_logic(bigint[], bigint, text) IS
    'Internal: ends running logic attempts of these instances (or just only_task): stops sub-process children, kills the rest (a dynamic attempt with its elements); returns those killed at once.';
