-- What SQL and procedure tasks leave behind (their result rows) and the slots that bound how
-- many run at once inside the scheduler's database (5_protocol/sql_tasks.sql).

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
