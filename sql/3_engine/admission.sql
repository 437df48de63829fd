-- Admission of workflow instances: whether a new instance runs now, by its workflow's
-- execution type and the running-instances limit, and which waiting instance runs when one
-- ends. Parallel workflows under no limit pay for none of it: the start takes no lock and an
-- ending looks at nothing more.

-- Queues the first attempts of a run: the roots of its DAG, or of its scope.
CREATE FUNCTION sched._queue_roots(instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    wi    sched.workflow_instance;
    roots bigint[];
    logic boolean;
BEGIN
    SELECT * INTO wi FROM sched.workflow_instance i WHERE i.id = instance_id;
    IF wi.scope IS NOT NULL THEN
        -- Only part of the DAG: its first tasks are those with no upstream task in it.
        PERFORM sched._continue(instance_id, '{}', NULL);
        RETURN;
    END IF;
    SELECT array_agg(td.id), bool_or(td.logic IS NOT NULL) INTO roots, logic
    FROM sched.task_definition td WHERE td.workflow_version_id = wi.workflow_version_id AND td.dep_count = 0;
    PERFORM sched._notify_ready(sched._new_attempts(array_fill(instance_id, ARRAY[cardinality(roots)]), roots, NULL, NULL));
    -- Logic roots are decided at once, and may have been all there was to run.
    IF logic THEN
        PERFORM sched._finish_if_done(ARRAY[instance_id]);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._queue_roots(bigint) IS 'Internal: queues the first attempts of an instance''s run.';

-- The running-instances limit: true when another instance may run now. Called under the
-- limit's advisory lock, so that two starts cannot both take the last place.
CREATE FUNCTION sched._below_running_limit() RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    limit_n integer := current_setting('sched.max_running_instances')::integer;
BEGIN
    IF limit_n = 0 THEN
        RETURN true;
    END IF;
    PERFORM 1 FROM sched.engine_lock l WHERE l.name = 'running_limit' FOR UPDATE;
    RETURN (SELECT count(*) FROM sched.workflow_instance wi
            WHERE wi.state = ANY (sched._workflow_states_executing())) < limit_n;
END
$$;
COMMENT ON FUNCTION sched._below_running_limit() IS
    'Internal: whether one more instance may run under sched.max_running_instances (0: no limit); takes the limit''s lock for the transaction.';

-- The state a new instance of this workflow starts in. Serial types lock the workflow's row
-- for the transaction: two starts racing in different transactions serialize, and the second
-- sees the first.
CREATE FUNCTION sched._admit(workflow_id bigint, execution_type text, principal_name text) RETURNS sched.workflow_state
LANGUAGE plpgsql
AS $$
DECLARE
    earlier bigint[];
BEGIN
    IF execution_type <> 'parallel' THEN
        -- The workflow's row: the foreign keys of parallel starts take only KEY SHARE on it,
        -- which this does not wait for.
        PERFORM 1 FROM sched.workflow w WHERE w.id = _admit.workflow_id FOR NO KEY UPDATE;
        -- Sub-process instances are admitted with their parents, not here.
        SELECT array_agg(wi.id ORDER BY wi.id) INTO earlier
        FROM sched.workflow_instance wi
        WHERE wi.workflow_id = _admit.workflow_id AND wi.state <> ALL (sched._workflow_states_finished())
          AND wi.parent_instance_id IS NULL;
        IF earlier IS NOT NULL THEN
            IF execution_type = 'serial_wait' THEN
                RETURN 'serial_wait';
            ELSIF execution_type = 'serial_discard' THEN
                RETURN 'stopped';
            END IF;
            -- serial_priority: the earlier ones are stopped, the new one runs.
            PERFORM sched._lock_family(earlier, true);
            INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
            SELECT 'stop', _admit.workflow_id, e, principal_name, '{"reason": "serial_priority"}' FROM unnest(earlier) e;
            UPDATE sched.workflow_instance wi SET state = 'ready_stop' WHERE wi.id = ANY(earlier) AND wi.state <> 'ready_stop';
            PERFORM sched._kill_active(earlier, 'stop');
            PERFORM sched._finish_if_done(earlier);
        END IF;
    END IF;
    IF NOT sched._below_running_limit() THEN
        RETURN 'waiting_thread';
    END IF;
    RETURN 'running';
END
$$;
COMMENT ON FUNCTION sched._admit(bigint, text, text) IS
    'Internal: the state a new instance starts in: serial_wait behind an active instance of a serial_wait workflow, stopped behind one of a serial_discard workflow, waiting_thread past sched.max_running_instances, else running (serial_priority stops the active ones first).';

-- An instance ended: a waiting one may run now. The next of its serial_wait workflow (first
-- come first served), else under the running limit the most urgent waiting one (priority, then
-- first come).
CREATE FUNCTION sched._on_instance_end(workflow_id bigint, execution_type text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    next_id bigint;
    kind    text;
BEGIN
    IF execution_type = 'serial_wait' THEN
        PERFORM 1 FROM sched.workflow w WHERE w.id = _on_instance_end.workflow_id FOR NO KEY UPDATE;
        IF NOT EXISTS (SELECT 1 FROM sched.workflow_instance wi
                       WHERE wi.workflow_id = _on_instance_end.workflow_id AND wi.parent_instance_id IS NULL
                         AND wi.state = ANY (sched._workflow_states_admitted())) THEN
            SELECT wi.id INTO next_id FROM sched.workflow_instance wi
            WHERE wi.workflow_id = _on_instance_end.workflow_id AND wi.state = 'serial_wait'
            ORDER BY wi.id LIMIT 1 FOR NO KEY UPDATE;
            kind := 'recover_serial_wait';
        END IF;
    END IF;
    IF next_id IS NULL AND current_setting('sched.max_running_instances')::integer > 0 THEN
        SELECT wi.id INTO next_id FROM sched.workflow_instance wi
        WHERE wi.state = 'waiting_thread'
        ORDER BY wi.priority, wi.id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED;
        kind := 'recover_waiting_thread';
    END IF;
    IF next_id IS NULL OR NOT sched._below_running_limit() THEN
        IF next_id IS NOT NULL AND kind = 'recover_serial_wait' THEN
            UPDATE sched.workflow_instance SET state = 'waiting_thread' WHERE id = next_id;
        END IF;
        RETURN;
    END IF;
    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by)
    SELECT kind, wi.workflow_id, wi.id, 'pg_sched' FROM sched.workflow_instance wi WHERE wi.id = next_id;
    UPDATE sched.workflow_instance SET state = 'running', started_at = now() WHERE id = next_id;
    PERFORM sched._queue_roots(next_id);
END
$$;
COMMENT ON FUNCTION sched._on_instance_end(bigint, text) IS
    'Internal: after an instance ended, starts the next serial_wait instance of its workflow, or under sched.max_running_instances the most urgent waiting_thread instance, recording the command.';
