-- Continuing and pausing instances: the commands' common part (state check and record, with
-- the command table of core/src/state.rs), bringing a finished instance back from the history
-- and running it again from what its run did, and the commands the engine itself issues to a
-- sub-process's child (resume, recover, rerun, as the parent's owner). The users' control
-- functions are in 7_api/control.sql.

-- The instance a command acts on: locked, checked to be in a state the command applies to (else
-- refused, naming its state and those allowed), and the command recorded with its
-- DolphinScheduler type. Both come from the command table in core/src/state.rs.
CREATE FUNCTION sched._command(principal regrole, instance_id bigint, action text, params jsonb DEFAULT '{}')
RETURNS sched.workflow_instance
LANGUAGE plpgsql
AS $$
DECLARE
    inst    sched.workflow_instance;
    allowed sched.workflow_state[] := sched._command_workflow_states(action);
BEGIN
    inst := sched._instance_for(principal, instance_id, true);
    IF inst.state <> ALL (allowed) THEN
        RAISE EXCEPTION 'workflow instance % is %; % applies to % instances', instance_id, inst.state, action,
            sched._listed(allowed::text[]) USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES (sched._command_type(action), inst.workflow_id, inst.id, sched._role_name(principal), params);
    RETURN inst;
END
$$;
COMMENT ON FUNCTION sched._command(regrole, bigint, text, jsonb) IS
    'Internal: locks the instance a command acts on, refuses it unless its state is allowed, and records the command.';

-- The attempt a task command (force_success, kill_task) acts on, and its instance: the instance
-- locked as _command locks it, the attempt read again under that lock and refused unless its
-- state is one the command applies to. `missing` ends the error for an attempt not found.
CREATE FUNCTION sched._command_attempt(principal regrole, task_instance_id bigint, action text, missing text,
                                       OUT ti sched.task_instance, OUT inst sched.workflow_instance)
LANGUAGE plpgsql
AS $$
DECLARE
    allowed sched.task_state[] := sched._command_task_states(action);
BEGIN
    SELECT * INTO ti FROM sched.task_instance t WHERE t.id = task_instance_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task instance % %', task_instance_id, missing USING ERRCODE = 'undefined_object';
    END IF;
    inst := sched._instance_for(principal, ti.workflow_instance_id, true);
    SELECT * INTO ti FROM sched.task_instance t WHERE t.id = task_instance_id;
    IF ti.state <> ALL (allowed) THEN
        RAISE EXCEPTION 'task instance % is %; % applies to % attempts', task_instance_id, ti.state, action,
            sched._listed(allowed::text[]) USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._command_attempt(regrole, bigint, text, text) IS
    'Internal: locks the instance of the attempt a task command acts on and refuses it unless the attempt''s state is one the command applies to.';

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
          AND td.element_of IS NULL
    ), latest AS (
        SELECT DISTINCT ON (ti.task_id) ti.task_id, ti.state, ti.attempt, ti.branch
        FROM sched.task_instance ti
        WHERE ti.workflow_instance_id = instance_id AND ti.run = wi.run AND ti.element IS NULL
        ORDER BY ti.task_id, ti.id DESC
    ), done AS (
        SELECT l.task_id FROM latest l
        WHERE l.state = ANY (sched._task_states_passed()) AND NOT l.task_id = ANY(coalesce(redo, '{}'))
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
                       WHERE ti.workflow_instance_id = instance_id AND ti.run = wi.run AND ti.element IS NULL
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

-- Resume, recover and rerun: the command checked and recorded, the rights the instance's names
-- need checked again, and the instance continued, rerun in a new run. Which states each
-- applies to and which attempts each runs again are the command table's (core/src/state.rs).
-- A parent's SUB_PROCESS task issues them to its child as the parent's owner (subprocess.sql).
CREATE FUNCTION sched._continue_command(principal regrole, instance_id bigint, action text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    inst sched.workflow_instance := sched._command(principal, instance_id, action);
BEGIN
    PERFORM sched._check_instance_rights(inst);
    IF action = 'rerun' THEN
        UPDATE sched.workflow_instance SET run = run + 1, has_failure = false WHERE id = inst.id;
    END IF;
    PERFORM sched._continue(inst.id, coalesce(sched._command_reruns(action), '{}'), NULL);
END
$$;
COMMENT ON FUNCTION sched._continue_command(regrole, bigint, text) IS
    'Internal: resume, recover or rerun an instance for principal, as the command table says.';

CREATE FUNCTION sched._resume_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._continue_command(principal, instance_id, 'resume') $$;

CREATE FUNCTION sched._recover_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._continue_command(principal, instance_id, 'recover') $$;

CREATE FUNCTION sched._rerun_workflow(principal regrole, instance_id bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._continue_command(principal, instance_id, 'rerun') $$;

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

-- Pausing reaches logic attempts too: a sub-process pauses its child (which ends the attempt
-- paused once it has), a waiting DEPENDENT task ends paused and looks again after resume.
CREATE FUNCTION sched._pause_instance(instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    slots bigint[];
    c     record;
BEGIN
    UPDATE sched.workflow_instance SET state = 'ready_pause' WHERE id = instance_id;
    -- What has not started waits, paused; what runs finishes.
    WITH paused AS (
        UPDATE sched.task_instance ti SET state = 'paused', ended_at = now(), not_before = NULL
        WHERE ti.workflow_instance_id = instance_id AND ti.state = ANY (sched._task_states_waiting())
        RETURNING ti.id, ti.holds_slot)
    SELECT array_agg(id) FILTER (WHERE holds_slot) INTO slots FROM paused;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    FOR c IN
        SELECT ch.id, ch.workflow_id FROM sched.workflow_instance ch
        JOIN sched.task_instance ti ON ti.id = ch.parent_task_instance_id
        WHERE ch.parent_instance_id = instance_id AND ti.state = 'running' AND ch.state = 'running'
        ORDER BY ch.id
        FOR UPDATE OF ch
    LOOP
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        VALUES ('pause', c.workflow_id, c.id, 'pg_sched', jsonb_build_object('parent_instance_id', instance_id));
        PERFORM sched._pause_instance(c.id);
    END LOOP;
    WITH paused AS (
        UPDATE sched.task_instance ti SET state = 'paused', ended_at = now(), recheck_at = NULL
        WHERE ti.workflow_instance_id = instance_id AND ti.state = 'running' AND ti.worker_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM sched.workflow_instance ch
                          WHERE ch.parent_task_instance_id = ti.id AND ch.parent_instance_id = instance_id
                            AND ch.state <> ALL (sched._workflow_states_finished()))
        RETURNING ti.id)
    DELETE FROM sched.dependent_watch dw WHERE dw.task_instance_id IN (SELECT id FROM paused);
    PERFORM sched._finish_if_done(ARRAY[instance_id]);
END
$$;
COMMENT ON FUNCTION sched._pause_instance(bigint) IS
    'Internal: puts an instance in ready_pause: queued and delayed attempts pause, sub-process children pause with it, waiting DEPENDENT attempts pause; paused once nothing runs.';
