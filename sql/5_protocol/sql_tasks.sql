-- SQL and procedure tasks: on the scheduler's own database they run as the workflow's owner,
-- in a background worker connected as that role (extension/src/sql_task.rs); on a datasource,
-- in the worker that has it. Either way the worker stores the result here
-- (docs/architecture.md, "How a SQL task runs").

CREATE FUNCTION sched.run_sql_task(worker_id bigint, task_instance_id bigint) RETURNS jsonb
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- The transaction stays open while the statements run (on a connection of the worker's own);
-- it keeps one of the first sched.max_sql_task_workers rows of sched.sql_task_slot locked, so
-- that at most that many run at once, and no other row.
CREATE FUNCTION sched._run_sql_task(principal regrole, worker_id bigint, task_instance_id bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    task      record;
    slots     integer := current_setting('sched.max_sql_task_workers')::integer;
    slot      integer;
    refusal   text;
    snapshot  jsonb;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    SELECT ti.state, ti.kill_requested, td.task_type,
           CASE WHEN td.parameterized THEN ti.resolved->'settings' ELSE td.settings END AS settings,
           w.owner, r.rolcanlogin, r.rolvaliduntil, ti.workflow_instance_id,
           v.spec->>'snapshot' IS NOT DISTINCT FROM 'consistent' AS consistent
      INTO task
      FROM sched.task_instance ti
      JOIN sched.task_definition td ON td.id = ti.task_id
      JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
      JOIN sched.workflow_version v ON v.id = wi.workflow_version_id
      JOIN sched.workflow w ON w.id = wi.workflow_id
      JOIN pg_catalog.pg_roles r ON r.oid = w.owner
     WHERE ti.id = task_instance_id AND ti.worker_id = _run_sql_task.worker_id;
    IF NOT FOUND OR task.state <> ALL (sched._task_states_claimed()) THEN
        RAISE EXCEPTION 'task instance % is not running on worker %', task_instance_id, worker_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF task.task_type NOT IN ('sql', 'procedure') OR task.settings ? 'datasource' THEN
        RAISE EXCEPTION 'task instance % is not a sql or procedure task on the scheduler''s database', task_instance_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF task.kill_requested THEN
        RETURN jsonb_build_object('error', 'killed before it started');
    END IF;
    -- A role that cannot log in, or whose password expired, does not run SQL as itself here.
    refusal := sched._sql_owner_refusal(task.owner, task.rolcanlogin, task.rolvaliduntil);
    IF refusal IS NOT NULL THEN
        RETURN jsonb_build_object('error', refusal);
    END IF;
    -- "snapshot": "consistent": the statements read the instance's one snapshot
    -- (extension/src/snapshot.rs), taken at its first SQL task.
    IF task.consistent THEN
        snapshot := sched._instance_snapshot(task.workflow_instance_id, task.owner::oid);
        IF snapshot ? 'error' THEN
            RETURN snapshot;
        END IF;
        task.settings := task.settings || snapshot;
    END IF;
    SELECT s.slot INTO slot FROM sched.sql_task_slot s WHERE s.slot <= slots
    ORDER BY s.slot LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF slot IS NULL THEN
        -- All taken: wait for one, spread over them.
        PERFORM 1 FROM sched.sql_task_slot s WHERE s.slot = 1 + (task_instance_id % slots)::integer FOR UPDATE;
    END IF;
    RETURN sched._execute_as(task.owner::oid, task.settings);
END
$$;
COMMENT ON FUNCTION sched.run_sql_task(bigint, bigint) IS
    'Worker protocol: runs a claimed sql or procedure task that names no datasource, as its workflow''s owner in a background worker connected as that role (on the instance''s one snapshot under "snapshot": "consistent"), and returns {"log", "columns", "rows", "row_count", "truncated"} or {"error"}. Waits while sched.max_sql_task_workers run; a cancel stops the statements.';

CREATE FUNCTION sched.store_task_result(worker_id bigint, task_instance_id bigint, result jsonb) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._store_task_result(principal regrole, worker_id bigint, task_instance_id bigint, result jsonb)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    send jsonb;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    INSERT INTO sched.task_result (task_instance_id, workflow_instance_id, columns, rows, row_count, truncated)
    SELECT ti.id, ti.workflow_instance_id,
           ARRAY(SELECT jsonb_array_elements_text(coalesce(result->'columns', '[]'))),
           coalesce(result->'rows', '[]'), coalesce((result->>'row_count')::bigint, 0),
           coalesce((result->>'truncated')::boolean, false)
      FROM sched.task_instance ti
     WHERE ti.id = task_instance_id AND ti.worker_id = _store_task_result.worker_id
       AND ti.state = ANY (sched._task_states_claimed())
    ON CONFLICT ON CONSTRAINT task_result_pkey DO UPDATE
       SET columns = excluded.columns, rows = excluded.rows, row_count = excluded.row_count,
           truncated = excluded.truncated, stored_at = excluded.stored_at;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- send_result, as the attempt resolved it (its title may name parameters).
    SELECT CASE WHEN td.parameterized THEN ti.resolved->'settings'->'send_result' ELSE td.settings->'send_result' END
      INTO send
      FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
     WHERE ti.id = task_instance_id;
    IF send IS NOT NULL THEN
        PERFORM sched._alert_sql_result(task_instance_id, send);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION sched.store_task_result(bigint, bigint, jsonb) IS
    'Worker protocol: stores what a running sql or procedure task''s statement returned ({"columns", "rows", "row_count", "truncated"}), before the worker reports it complete, and alerts it when the task has send_result. false when the attempt is no longer running on that worker.';
