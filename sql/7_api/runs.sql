-- Running workflows: start, and wait for an instance to finish. Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.start_workflow(name text, params jsonb DEFAULT '{}', options jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._start_workflow(principal regrole, name text, params jsonb, options jsonb)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._start(principal, name, params, options, 'start_process', NULL) $$;
COMMENT ON FUNCTION sched.start_workflow(text, jsonb, jsonb) IS
    'Starts the current version of a workflow and returns the new instance id. Works inside the caller''s transaction: nothing runs before it commits, nothing ever runs if it rolls back. params: start parameters (plain values or {"value", "type"}), resolved once; options: priority, worker_group, failure_strategy, tenant, schedule_time (the business time; default now; a time without an offset is read in the zone), timezone (IANA zone the business values are computed in; default the workflow''s timezone, else UTC), start_tasks (task names) with task_scope only, downstream (default) or upstream, notify ({"strategy": none | success | failure | all, "alert_group"}, over the workflow''s).';

CREATE FUNCTION sched.wait_workflow(instance_id bigint, timeout interval DEFAULT '1 hour') RETURNS text
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._wait_workflow(principal regrole, instance_id bigint, timeout interval) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inst     sched.workflow_instance;
    deadline timestamptz := clock_timestamp() + timeout;
    pause    double precision := 0.001;
    current  sched.workflow_state;
BEGIN
    inst := sched._instance_for(principal, instance_id, false);
    IF (SELECT wi.xmin::text::bigint FROM sched.workflow_instance wi WHERE wi.id = instance_id)
       = txid_current_if_assigned() % 4294967296 THEN
        RAISE EXCEPTION 'workflow instance % was started in this transaction; it cannot run before the transaction commits', instance_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'COMMIT after sched.start_workflow, then wait.';
    END IF;
    -- Each statement of a volatile function takes a new snapshot, so the loop sees commits of
    -- workers as they happen; the pause backs off from 1 ms to 100 ms.
    LOOP
        SELECT wi.state INTO current FROM sched.workflow_instance wi WHERE wi.id = instance_id;
        IF current = ANY (sched._workflow_states_finished()) OR clock_timestamp() >= deadline THEN
            RETURN current::text;
        END IF;
        PERFORM pg_sleep(greatest(0, least(pause, extract(epoch FROM deadline - clock_timestamp()))));
        pause := least(pause * 2, 0.1);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched.wait_workflow(bigint, interval) IS
    'Waits until the instance is finished and returns its final state, or returns its current state when timeout passes. Call it after the start has committed, outside REPEATABLE READ.';

-- Waiting without holding a snapshot: wait_workflow is a function, and the statement that
-- calls it keeps its snapshot for the whole wait, which holds back vacuum everywhere. This
-- procedure commits between polls. It runs as its caller (procedures that commit cannot be
-- SECURITY DEFINER) and reads only the caller's view of instances.
CREATE PROCEDURE sched.wait_for_workflow(instance_id bigint, timeout interval DEFAULT '1 hour', INOUT state text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    deadline timestamptz;
    pause    double precision := 0.001;
    finished boolean;
BEGIN
    IF timeout IS NULL THEN
        RAISE EXCEPTION 'timeout: must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    deadline := pg_catalog.clock_timestamp() + timeout;
    LOOP
        SELECT i.state, i.finished INTO state, finished FROM sched.workflow_instances i WHERE i.id = instance_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'workflow instance % does not exist', instance_id
                USING ERRCODE = 'undefined_object',
                      HINT = 'Instances of workflows owned by other roles are invisible to you.';
        END IF;
        EXIT WHEN finished OR pg_catalog.clock_timestamp() >= deadline;
        COMMIT;
        PERFORM pg_catalog.pg_sleep(greatest(0, least(pause, extract(epoch FROM deadline - pg_catalog.clock_timestamp()))));
        pause := least(pause * 2, 0.1);
    END LOOP;
END
$$;
COMMENT ON PROCEDURE sched.wait_for_workflow(bigint, interval, text) IS
    'CALL sched.wait_for_workflow(id): waits like wait_workflow and returns the state, but commits between polls so that a long wait holds back no vacuum. CALL it outside a transaction block; inside one, use wait_workflow.';
