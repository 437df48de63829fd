-- Run control: stop, pause, resume, recover, rerun, execute a task, force success, kill a task.
-- Each command is recorded in sched.command with its DolphinScheduler type and refused,
-- changing nothing, in a state it does not apply to (the command table of core/src/state.rs).
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.stop_workflow(instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._stop_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._instance_for(principal, instance_id, true);
    IF inst.state <> ALL (sched._command_workflow_states('stop')) THEN
        RAISE EXCEPTION 'workflow instance % is already %; stop applies to unfinished or paused instances', instance_id, inst.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- A paused instance runs nothing: it is stopped at once, and resume continues it alike.
    IF inst.state = 'paused' THEN
        -- With its paused sub-process children, which resume continues alike.
        WITH RECURSIVE family AS (
            SELECT inst.id AS id
            UNION ALL
            SELECT c.id FROM sched.workflow_instance c JOIN family f ON c.parent_instance_id = f.id
            WHERE c.state = 'paused'
        ), stopped AS (
            UPDATE sched.workflow_instance wi SET state = 'stopped', ended_at = now()
            WHERE wi.id IN (SELECT f.id FROM family f)
            RETURNING wi.id, wi.workflow_id)
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by)
        SELECT 'stop', s.workflow_id, s.id, sched._role_name(principal) FROM stopped s ORDER BY s.id;
        RETURN;
    END IF;
    IF inst.state = 'ready_stop' THEN
        RETURN;
    END IF;
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by)
    VALUES (sched._command_type('stop'), inst.workflow_id, inst.id, sched._role_name(principal));
    UPDATE sched.workflow_instance SET state = 'ready_stop' WHERE id = inst.id;
    PERFORM sched._kill_active(ARRAY[inst.id], 'stop');
    PERFORM sched._finish_if_done(ARRAY[inst.id]);
END
$$;
COMMENT ON FUNCTION sched.stop_workflow(bigint) IS
    'Stops an unfinished instance: queued tasks never start, running tasks are killed (their whole process group); the instance ends stopped once they are gone.';

CREATE FUNCTION sched.pause_workflow(instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._pause_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._command(principal, instance_id, 'pause');
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
COMMENT ON FUNCTION sched.resume_workflow(bigint) IS
    'Continues a paused or stopped instance (recover_suspended_process): tasks not yet run, paused and killed run; succeeded tasks are not rerun.';

CREATE FUNCTION sched.recover_workflow(instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
COMMENT ON FUNCTION sched.recover_workflow(bigint) IS
    'Continues a failed instance (start_failure_task_process): its failed and killed tasks get new attempts and what is downstream runs as they succeed.';

CREATE FUNCTION sched.rerun_workflow(instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
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
    inst := sched._command(principal, instance_id, 'execute_task',
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

CREATE FUNCTION sched.force_success(task_instance_id bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._force_success(principal regrole, task_instance_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target record := sched._command_attempt(principal, task_instance_id, 'force_success',
                                            'does not exist (or its instance finished and was archived: recover it first)');
    ti     sched.task_instance := target.ti;
    inst   sched.workflow_instance := target.inst;
    slots  bigint[];
    retry_cancelled boolean;
    dynamic_attempt bigint;
BEGIN
    IF ti.run <> inst.run OR EXISTS (
        SELECT 1 FROM sched.task_instance t
        WHERE t.workflow_instance_id = ti.workflow_instance_id AND t.task_id = ti.task_id AND t.run = ti.run
          AND t.element IS NOT DISTINCT FROM ti.element
          AND t.id > ti.id AND t.state <> ALL (sched._task_states_waiting())) THEN
        RAISE EXCEPTION 'task instance % is not its task''s last attempt; force the last one', task_instance_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES (sched._command_type('force_success'), inst.workflow_id, inst.id, sched._role_name(principal),
            jsonb_build_object('task_instance_id', task_instance_id));
    -- A pending retry is cancelled.
    WITH cancelled AS (
        UPDATE sched.task_instance t SET state = 'killed', ended_at = now(), kill_reason = 'forced_success'
        WHERE t.workflow_instance_id = ti.workflow_instance_id AND t.task_id = ti.task_id AND t.run = ti.run
          AND t.element IS NOT DISTINCT FROM ti.element
          AND t.id > ti.id AND t.state = ANY (sched._task_states_waiting())
        RETURNING t.id, t.holds_slot)
    SELECT array_agg(id) FILTER (WHERE holds_slot), count(*) > 0 INTO slots, retry_cancelled FROM cancelled;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    UPDATE sched.task_instance t SET state = 'forced_success' WHERE t.id = ti.id;
    -- An element, for a dynamic attempt that still runs: one counted as failed is a failure no
    -- more, one whose retry was cancelled has ended. After its dynamic task ended, recover runs
    -- only the elements that did not succeed.
    IF ti.element IS NOT NULL THEN
        UPDATE sched.dynamic_progress p
           SET failed = p.failed - CASE WHEN retry_cancelled THEN 0 ELSE 1 END,
               ended = p.ended + CASE WHEN retry_cancelled THEN 1 ELSE 0 END
        FROM sched.task_definition e
        WHERE e.id = ti.task_id AND p.workflow_instance_id = ti.workflow_instance_id AND p.task_id = e.element_of
          AND p.run = ti.run
          AND EXISTS (SELECT 1 FROM sched.task_instance d WHERE d.id = p.task_instance_id AND d.state = 'running')
        RETURNING p.task_instance_id INTO dynamic_attempt;
        IF dynamic_attempt IS NOT NULL THEN
            PERFORM sched._notify_ready(sched._release_elements(dynamic_attempt));
            PERFORM sched._finish_if_done(ARRAY[inst.id]);
        END IF;
        RETURN;
    END IF;
    IF inst.state = ANY (sched._workflow_states_advancing()) THEN
        UPDATE sched.workflow_instance i SET has_failure = EXISTS (
            SELECT 1 FROM (SELECT DISTINCT ON (t.task_id) t.state, t.task_id FROM sched.task_instance t
                           WHERE t.workflow_instance_id = inst.id AND t.run = inst.run AND t.element IS NULL
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
    target record := sched._command_attempt(principal, task_instance_id, 'kill_task', 'does not exist or has finished');
    ti     sched.task_instance := target.ti;
    inst   sched.workflow_instance := target.inst;
BEGIN
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES (sched._command_type('kill_task'), inst.workflow_id, inst.id, sched._role_name(principal),
            jsonb_build_object('task_instance_id', task_instance_id));
    IF ti.state = ANY (sched._task_states_waiting()) THEN
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
