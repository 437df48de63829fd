-- SQL and procedure tasks (DESIGN §6): on the scheduler's own database they run as the
-- workflow's owner, in a background worker connected as that role (extension/src/sql_task.rs);
-- on a datasource, in the worker that has it. Either way the worker stores the result here.

CREATE TABLE sched.task_result (
    task_instance_id     bigint PRIMARY KEY,
    workflow_instance_id bigint NOT NULL,
    columns              text[] NOT NULL,
    rows                 jsonb NOT NULL,
    row_count            bigint NOT NULL,
    truncated            boolean NOT NULL,
    stored_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_result_instance ON sched.task_result (workflow_instance_id);
COMMENT ON TABLE sched.task_result IS 'What the statement of a sql task (or the CALL of a procedure task) returned, one row per attempt; read through sched.task_results. Deleted with its workflow instance.';
COMMENT ON COLUMN sched.task_result.task_instance_id IS 'The task attempt.';
COMMENT ON COLUMN sched.task_result.workflow_instance_id IS 'The workflow instance of the attempt.';
COMMENT ON COLUMN sched.task_result.columns IS 'Column names of the result, in order.';
COMMENT ON COLUMN sched.task_result.rows IS 'The first limit_rows rows, each a JSON array of the columns'' values as text (null for NULL).';
COMMENT ON COLUMN sched.task_result.row_count IS 'Rows the statement returned, kept or not.';
COMMENT ON COLUMN sched.task_result.truncated IS 'Fewer rows were kept than returned (limit_rows, or 4 MB of values).';
COMMENT ON COLUMN sched.task_result.stored_at IS 'When the worker stored it.';

-- The slots of sched.max_sql_task_workers, as rows a running task keeps locked (no user can).
CREATE TABLE sched.sql_task_slot (
    slot integer PRIMARY KEY
);
INSERT INTO sched.sql_task_slot SELECT generate_series(1, 1024);
COMMENT ON TABLE sched.sql_task_slot IS 'One row per possible slot of sched.max_sql_task_workers; a running sql or procedure task on the scheduler''s database keeps one locked.';
COMMENT ON COLUMN sched.sql_task_slot.slot IS 'Slot number, 1 to 1024.';

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
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    SELECT ti.state, ti.kill_requested, td.task_type,
           CASE WHEN td.parameterized THEN ti.resolved->'settings' ELSE td.settings END AS settings,
           w.owner, r.rolcanlogin, r.rolvaliduntil
      INTO task
      FROM sched.task_instance ti
      JOIN sched.task_definition td ON td.id = ti.task_id
      JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
      JOIN sched.workflow w ON w.id = wi.workflow_id
      JOIN pg_catalog.pg_roles r ON r.oid = w.owner
     WHERE ti.id = task_instance_id AND ti.worker_id = _run_sql_task.worker_id;
    IF NOT FOUND OR task.state NOT IN ('dispatched', 'running') THEN
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
    IF NOT task.rolcanlogin THEN
        RETURN jsonb_build_object('error', format(
            'the workflow''s owner %s cannot log in (NOLOGIN); its sql and procedure tasks run over a connection as that role: ALTER ROLE %s LOGIN, or name a datasource',
            task.owner, task.owner));
    END IF;
    -- A role whose password expired can no longer log in itself; its workflows do not keep
    -- running SQL as it.
    IF task.rolvaliduntil < now() THEN
        RETURN jsonb_build_object('error', format(
            'the workflow''s owner %s expired at %s (VALID UNTIL); its sql and procedure tasks run as that role: ALTER ROLE %s VALID UNTIL ''infinity'' (or a later time)',
            task.owner, task.rolvaliduntil, task.owner));
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
    'Worker protocol: runs a claimed sql or procedure task that names no datasource, as its workflow''s owner in a background worker connected as that role, and returns {"log", "columns", "rows", "row_count", "truncated"} or {"error"}. Waits while sched.max_sql_task_workers run; a cancel stops the statements.';
COMMENT ON FUNCTION sched._execute_as(oid, jsonb) IS
    'Internal: runs a sql or procedure task''s bound statements in a background worker connected as the given role.';

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
       AND ti.state IN ('dispatched', 'running')
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
