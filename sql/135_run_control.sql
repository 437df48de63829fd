-- Run control (reference §2): pause, resume, recover, rerun, execute a task, force success,
-- kill a task. Each command is recorded in sched.command with its DolphinScheduler type and
-- refused, changing nothing, in a state it does not apply to. Public functions are
-- trampolines over `_<name>(principal, ...)`, as in 110_definition_api.sql.

-- The instance a command acts on: locked, checked to be one of `allowed` (else refused, naming
-- its state and those allowed), and the command recorded.
CREATE FUNCTION sched._command(principal regrole, instance_id bigint, action text, allowed sched.workflow_state[],
                               command_type text, params jsonb DEFAULT '{}')
RETURNS sched.workflow_instance
LANGUAGE plpgsql
AS $$
DECLARE
    inst  sched.workflow_instance;
    names text[] := allowed::text[];
BEGIN
    inst := sched._instance_for(principal, instance_id, true);
    IF NOT inst.state = ANY(allowed) THEN
        RAISE EXCEPTION 'workflow instance % is %; % applies to % instances', instance_id, inst.state, action,
            CASE WHEN cardinality(names) = 1 THEN names[1]
                 ELSE array_to_string(names[1:cardinality(names) - 1], ', ') || ' or ' || names[cardinality(names)] END
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES (command_type, inst.workflow_id, inst.id, sched._role_name(principal), params);
    RETURN inst;
END
$$;
COMMENT ON FUNCTION sched._command(regrole, bigint, text, sched.workflow_state[], text, jsonb) IS
    'Internal: locks the instance a command acts on, refuses it unless its state is allowed, and records the command.';

-- A finished instance's attempts may have moved to the history; one that runs again brings
-- them back, so that the engine reads the run where it writes it.
CREATE FUNCTION sched._unarchive(instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF (SELECT wi.archived FROM sched.workflow_instance wi WHERE wi.id = instance_id) THEN
        WITH back AS (
            DELETE FROM sched.task_instance_history th WHERE th.workflow_instance_id = instance_id RETURNING th.*)
        INSERT INTO sched.task_instance OVERRIDING SYSTEM VALUE SELECT * FROM back;
        UPDATE sched.workflow_instance SET archived = false WHERE id = instance_id;
    END IF;
END
$$;
COMMENT ON FUNCTION sched._unarchive(bigint) IS 'Internal: moves an instance''s attempts back from the history.';

-- Makes a finished instance run again from what its current run did: every task of its scope
-- whose upstream tasks (in the scope) are all done (succeeded, forced_success) and which is not
-- done itself, nor in redo, gets a new attempt if it never ran, if its last attempt ended in
-- one of `rerun`, or if it is in `redo` (tasks to run again although they succeeded). Join
-- counters are rebuilt from the same facts.
CREATE FUNCTION sched._continue(instance_id bigint, rerun sched.task_state[], redo bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    wi        sched.workflow_instance;
    r_inst    bigint[];
    r_task    bigint[];
    r_attempt integer[];
BEGIN
    PERFORM sched._unarchive(instance_id);
    UPDATE sched.workflow_instance i SET state = 'running', ended_at = NULL, out_params = NULL
    WHERE i.id = instance_id RETURNING * INTO wi;
    DELETE FROM sched.join_progress jp WHERE jp.workflow_instance_id = instance_id;
    WITH tasks AS (
        SELECT td.id, td.successors, td.dep_count, td.logic FROM sched.task_definition td
        WHERE td.workflow_version_id = wi.workflow_version_id AND (wi.scope IS NULL OR td.id = ANY(wi.scope))
    ), latest AS (
        SELECT DISTINCT ON (ti.task_id) ti.task_id, ti.state, ti.attempt, ti.branch
        FROM sched.task_instance ti
        WHERE ti.workflow_instance_id = instance_id AND ti.run = wi.run
        ORDER BY ti.task_id, ti.id DESC
    ), done AS (
        SELECT l.task_id FROM latest l
        WHERE l.state IN ('succeeded', 'forced_success', 'skipped', 'forbidden') AND NOT l.task_id = ANY(coalesce(redo, '{}'))
    ), ups AS (
        -- As _advance counts them: a failure is done for a CONDITIONS task, and what a skipped
        -- task or an unchosen branch leads to counts as skipped.
        SELECT next.task_id, count(*) AS in_scope,
               count(*) FILTER (WHERE d.task_id IS NOT NULL
                                   OR (lu.state = 'failed' AND t.logic = 'conditions'
                                       AND NOT up.id = ANY(coalesce(redo, '{}')))) AS done,
               count(*) FILTER (WHERE d.task_id IS NOT NULL
                                  AND (lu.state = 'skipped' OR NOT next.task_id = ANY(coalesce(lu.branch, ARRAY[next.task_id])))) AS skipped
        FROM tasks up
        CROSS JOIN LATERAL unnest(up.successors) AS next(task_id)
        JOIN tasks t ON t.id = next.task_id
        LEFT JOIN done d ON d.task_id = up.id
        LEFT JOIN latest lu ON lu.task_id = up.id
        GROUP BY next.task_id
    ), pending AS (
        SELECT t.id, t.dep_count, coalesce(u.in_scope, 0) AS in_scope, coalesce(u.done, 0) AS ups_done,
               coalesce(u.skipped, 0) AS ups_skipped, l.state AS last_state, l.attempt
        FROM tasks t
        LEFT JOIN ups u ON u.task_id = t.id
        LEFT JOIN latest l ON l.task_id = t.id
        WHERE t.id NOT IN (SELECT d.task_id FROM done d)
    ), joins AS (
        -- Upstream tasks outside the scope count as done.
        INSERT INTO sched.join_progress (workflow_instance_id, task_id, deps_done, deps_skipped)
        SELECT instance_id, p.id, p.dep_count - p.in_scope + p.ups_done, p.ups_skipped FROM pending p
        WHERE p.dep_count > 1 AND p.ups_done < p.in_scope AND p.dep_count - p.in_scope + p.ups_done > 0
    )
    SELECT array_agg(instance_id), array_agg(p.id ORDER BY p.id), array_agg(coalesce(p.attempt, 0) + 1 ORDER BY p.id)
    INTO r_inst, r_task, r_attempt
    FROM pending p
    WHERE p.ups_done = p.in_scope
      AND (p.last_state IS NULL OR p.last_state = ANY(rerun) OR p.id = ANY(coalesce(redo, '{}')));

    -- A failure stands while its task's last attempt is still a failure (and no CONDITIONS task
    -- judges it), and the task does not run again now: decided before the new attempts, which
    -- may end the instance at once (logic tasks).
    UPDATE sched.workflow_instance i SET has_failure = EXISTS (
        SELECT 1 FROM (SELECT DISTINCT ON (ti.task_id) ti.state, ti.task_id
                       FROM sched.task_instance ti
                       WHERE ti.workflow_instance_id = instance_id AND ti.run = wi.run
                         AND (wi.scope IS NULL OR ti.task_id = ANY(wi.scope))
                       ORDER BY ti.task_id, ti.id DESC) l
        JOIN sched.task_definition td ON td.id = l.task_id
        WHERE (l.state = 'killed' OR (l.state = 'failed' AND NOT (td.feeds_conditions
                                                                  AND (wi.scope IS NULL OR td.successors && wi.scope))))
          AND NOT l.task_id = ANY(coalesce(r_task, '{}')))
    WHERE i.id = instance_id;
    IF r_inst IS NOT NULL THEN
        PERFORM sched._notify_ready(sched._new_attempts(r_inst, r_task, r_attempt, NULL));
    END IF;
    PERFORM sched._finish_if_done(ARRAY[instance_id]);
END
$$;
COMMENT ON FUNCTION sched._continue(bigint, sched.task_state[], bigint[]) IS
    'Internal: makes a finished instance run again: new attempts of the tasks that are due (never run, last attempt in rerun, or in redo, with their upstream tasks done), join counters rebuilt.';

CREATE FUNCTION sched.pause_workflow(instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._pause_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._command(principal, instance_id, 'pause', '{running}', 'pause');
    -- Paused alone, a child would end its SUB_PROCESS attempt paused while the parent runs on,
    -- and the parent could end as if it had succeeded.
    IF inst.parent_instance_id IS NOT NULL THEN
        RAISE EXCEPTION 'workflow instance % is a sub-process of instance %; pause that one', instance_id, inst.parent_instance_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM sched._pause_instance(inst.id);
END
$$;
COMMENT ON FUNCTION sched.pause_workflow(bigint) IS
    'Pauses a running instance (ready_pause): running tasks finish, nothing new starts, sub-process children pause too; it is paused once nothing runs. resume_workflow continues it (and its children).';

CREATE FUNCTION sched.resume_workflow(instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._resume_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._command(principal, instance_id, 'resume', '{paused,stopped}', 'recover_suspended_process');
    PERFORM sched._check_instance_rights(inst);
    PERFORM sched._continue(inst.id, '{paused,killed}', NULL);
END
$$;
COMMENT ON FUNCTION sched.resume_workflow(bigint) IS
    'Continues a paused or stopped instance (recover_suspended_process): tasks not yet run, paused and killed run; succeeded tasks are not rerun.';

CREATE FUNCTION sched.recover_workflow(instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._recover_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._command(principal, instance_id, 'recover', '{failed}', 'start_failure_task_process');
    PERFORM sched._check_instance_rights(inst);
    PERFORM sched._continue(inst.id, '{failed,killed}', NULL);
END
$$;
COMMENT ON FUNCTION sched.recover_workflow(bigint) IS
    'Continues a failed instance (start_failure_task_process): its failed and killed tasks get new attempts and what is downstream runs as they succeed.';

CREATE FUNCTION sched.rerun_workflow(instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._rerun_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._command(principal, instance_id, 'rerun', '{paused,stopped,failed,succeeded}', 'repeat_running');
    PERFORM sched._check_instance_rights(inst);
    UPDATE sched.workflow_instance SET run = run + 1, has_failure = false WHERE id = inst.id;
    PERFORM sched._continue(inst.id, '{}', NULL);
END
$$;
COMMENT ON FUNCTION sched.rerun_workflow(bigint) IS
    'Runs a finished instance again from the start (repeat_running), with the same parameters and business time, as its next run; earlier attempts stay as history with their run number.';

CREATE FUNCTION sched.execute_task(instance_id bigint, task text, scope text DEFAULT 'only') RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._execute_task(principal regrole, instance_id bigint, task text, scope text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inst    sched.workflow_instance;
    task_id bigint;
    redo    bigint[];
BEGIN
    IF scope IS NULL OR lower(scope) NOT IN ('only', 'downstream') THEN
        RAISE EXCEPTION 'scope: "%" is not allowed; allowed: only, downstream', scope USING ERRCODE = 'invalid_parameter_value';
    END IF;
    inst := sched._command(principal, instance_id, 'execute_task', '{paused,stopped,failed,succeeded}', 'execute_task',
                           jsonb_build_object('task', task, 'scope', lower(scope)));
    PERFORM sched._check_instance_rights(inst);
    SELECT td.id INTO task_id FROM sched.task_definition td
    WHERE td.workflow_version_id = inst.workflow_version_id AND td.name = _execute_task.task;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task: workflow instance % has no task "%"', instance_id, task USING ERRCODE = 'invalid_parameter_value';
    END IF;
    redo := CASE WHEN lower(scope) = 'only' THEN ARRAY[task_id] ELSE sched._reach(ARRAY[task_id], true) END;
    UPDATE sched.workflow_instance SET scope = redo WHERE id = inst.id;
    PERFORM sched._continue(inst.id, '{}', redo);
END
$$;
COMMENT ON FUNCTION sched.execute_task(bigint, text, text) IS
    'Runs one task of a finished instance again (execute_task), with scope downstream also what depends on it; the instance runs until they are done.';

-- The tasks reachable from `start` (and `start` itself), downstream along successors or
-- upstream against them.
CREATE FUNCTION sched._reach(start bigint[], downstream boolean) RETURNS bigint[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    found bigint[];
BEGIN
    IF downstream THEN
        WITH RECURSIVE reach(id) AS (
            SELECT unnest(start)
            UNION
            SELECT next.id FROM reach r
            JOIN sched.task_definition here ON here.id = r.id
            CROSS JOIN LATERAL unnest(here.successors) AS next(id))
        SELECT array_agg(id ORDER BY id) INTO found FROM reach;
    ELSE
        WITH RECURSIVE reach(id) AS (
            SELECT unnest(start)
            UNION
            SELECT up.id FROM reach r
            JOIN sched.task_definition here ON here.id = r.id
            JOIN sched.task_definition up
              ON up.workflow_version_id = here.workflow_version_id AND r.id = ANY(up.successors))
        SELECT array_agg(id ORDER BY id) INTO found FROM reach;
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION sched._reach(bigint[], boolean) IS 'Internal: these tasks and every task downstream (or upstream) of them.';

CREATE FUNCTION sched.force_success(task_instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._force_success(principal regrole, task_instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ti    sched.task_instance;
    inst  sched.workflow_instance;
    slots bigint[];
BEGIN
    SELECT * INTO ti FROM sched.task_instance t WHERE t.id = task_instance_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task instance % does not exist (or its instance finished and was archived: recover it first)', task_instance_id
            USING ERRCODE = 'undefined_object';
    END IF;
    inst := sched._instance_for(principal, ti.workflow_instance_id, true);
    SELECT * INTO ti FROM sched.task_instance t WHERE t.id = task_instance_id;
    IF ti.state NOT IN ('failed', 'killed') THEN
        RAISE EXCEPTION 'task instance % is %; force_success applies to failed or killed attempts', task_instance_id, ti.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF ti.run <> inst.run OR EXISTS (
        SELECT 1 FROM sched.task_instance t
        WHERE t.workflow_instance_id = ti.workflow_instance_id AND t.task_id = ti.task_id AND t.run = ti.run
          AND t.id > ti.id AND t.state NOT IN ('delayed', 'queued')) THEN
        RAISE EXCEPTION 'task instance % is not its task''s last attempt; force the last one', task_instance_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES ('force_success', inst.workflow_id, inst.id, sched._role_name(principal),
            jsonb_build_object('task_instance_id', task_instance_id));
    -- A pending retry is cancelled.
    WITH cancelled AS (
        UPDATE sched.task_instance t SET state = 'killed', ended_at = now(), kill_reason = 'forced_success'
        WHERE t.workflow_instance_id = ti.workflow_instance_id AND t.task_id = ti.task_id AND t.run = ti.run
          AND t.id > ti.id AND t.state IN ('delayed', 'queued')
        RETURNING t.id, t.holds_slot)
    SELECT array_agg(id) FILTER (WHERE holds_slot) INTO slots FROM cancelled;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    UPDATE sched.task_instance t SET state = 'forced_success' WHERE t.id = ti.id;
    IF inst.state IN ('running', 'ready_pause') THEN
        UPDATE sched.workflow_instance i SET has_failure = EXISTS (
            SELECT 1 FROM (SELECT DISTINCT ON (t.task_id) t.state, t.task_id FROM sched.task_instance t
                           WHERE t.workflow_instance_id = inst.id AND t.run = inst.run
                           ORDER BY t.task_id, t.id DESC) l
            JOIN sched.task_definition td ON td.id = l.task_id
            WHERE l.state = 'killed' OR (l.state = 'failed' AND NOT td.feeds_conditions))
        WHERE i.id = inst.id;
        PERFORM sched._notify_ready(sched._advance(ARRAY[ti.id], ARRAY[inst.id], false));
    END IF;
END
$$;
COMMENT ON FUNCTION sched.force_success(bigint) IS
    'Marks a failed or killed attempt forced_success: in a running instance its downstream becomes ready at once, in a failed one recover_workflow continues from it. A pending retry is cancelled.';

CREATE FUNCTION sched.kill_task(task_instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._kill_task(principal regrole, task_instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ti   sched.task_instance;
    inst sched.workflow_instance;
BEGIN
    SELECT * INTO ti FROM sched.task_instance t WHERE t.id = task_instance_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task instance % does not exist or has finished', task_instance_id USING ERRCODE = 'undefined_object';
    END IF;
    inst := sched._instance_for(principal, ti.workflow_instance_id, true);
    SELECT * INTO ti FROM sched.task_instance t WHERE t.id = task_instance_id;
    IF ti.state NOT IN ('delayed', 'queued', 'dispatched', 'running') THEN
        RAISE EXCEPTION 'task instance % is %; kill_task applies to delayed, queued or running attempts', task_instance_id, ti.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES ('kill_task', inst.workflow_id, inst.id, sched._role_name(principal),
            jsonb_build_object('task_instance_id', task_instance_id));
    IF ti.state IN ('delayed', 'queued') THEN
        UPDATE sched.task_instance t SET state = 'killed', ended_at = now(), kill_reason = 'user' WHERE t.id = ti.id;
        IF ti.holds_slot THEN
            PERFORM sched._release_slots(ARRAY[ti.id]);
        END IF;
        PERFORM sched._notify_ready(sched._advance(ARRAY[ti.id], ARRAY[inst.id], true));
    ELSIF ti.worker_id IS NULL THEN
        -- A logic task: a DEPENDENT one ends now, a sub-process once its child has stopped.
        IF sched._kill_logic(ARRAY[inst.id], ti.id, 'user') IS NOT NULL THEN
            PERFORM sched._notify_ready(sched._advance(ARRAY[ti.id], ARRAY[inst.id], true));
        END IF;
    ELSIF NOT ti.kill_requested THEN
        UPDATE sched.task_instance t SET kill_requested = true, kill_reason = 'user' WHERE t.id = ti.id;
        PERFORM pg_notify('sched_kill', ti.worker_id::text);
    END IF;
END
$$;
COMMENT ON FUNCTION sched.kill_task(bigint) IS
    'Kills one attempt: a running one through its worker (its whole process group), a queued or delayed one at once; the failure strategy applies as to any killed task.';
