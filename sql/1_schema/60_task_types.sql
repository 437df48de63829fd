-- Task types defined by data (command types): an administrator registers a type's fields and
-- its command template (7_api/task_types.sql); specs using it are validated like built-in
-- types (sched-core's command_type).

CREATE TABLE sched.task_type (
    name       text PRIMARY KEY,
    definition jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sched.task_type IS 'Task types registered with sched.register_task_type; the built-in ones are listed by sched.task_types.';
COMMENT ON COLUMN sched.task_type.name IS 'Type name, as a task''s "type" gives it.';
COMMENT ON COLUMN sched.task_type.definition IS 'Normalised definition: description, fields ({name: {kind, required, default, values}}), command template, interpreter.';
COMMENT ON COLUMN sched.task_type.created_by IS 'Role that registered it.';
COMMENT ON COLUMN sched.task_type.created_at IS 'When it was registered or last replaced.';
