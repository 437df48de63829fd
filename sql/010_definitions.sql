-- Workflow definitions: a workflow is a name and an owner; its DAG lives in versions so that
-- replacing a workflow never changes what running instances execute.

CREATE TABLE sched.workflow (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    owner           regrole NOT NULL,
    current_version integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sched.workflow IS 'One row per workflow name; its definitions are in sched.workflow_version.';
COMMENT ON COLUMN sched.workflow.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.workflow.name IS 'Unique workflow name, as passed to start_workflow.';
COMMENT ON COLUMN sched.workflow.owner IS 'Role that created the workflow; it and sched_admin may replace, run and drop it.';
COMMENT ON COLUMN sched.workflow.current_version IS 'Version that start_workflow runs.';
COMMENT ON COLUMN sched.workflow.created_at IS 'When the first version was created.';
COMMENT ON COLUMN sched.workflow.updated_at IS 'When the current version was created.';

CREATE TABLE sched.workflow_version (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id      bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    version          integer NOT NULL,
    project          text NOT NULL,
    description      text NOT NULL,
    failure_strategy sched.failure_strategy NOT NULL,
    execution_type   text NOT NULL,
    priority         smallint NOT NULL,
    worker_group     text NOT NULL,
    spec             jsonb NOT NULL,
    created_by       regrole NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (workflow_id, version)
);
COMMENT ON TABLE sched.workflow_version IS 'Immutable versions of a workflow definition.';
COMMENT ON COLUMN sched.workflow_version.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.workflow_version.workflow_id IS 'The workflow this is a version of.';
COMMENT ON COLUMN sched.workflow_version.version IS 'Version number, 1 for the first definition, +1 per replace.';
COMMENT ON COLUMN sched.workflow_version.project IS 'Project label from the spec.';
COMMENT ON COLUMN sched.workflow_version.description IS 'Free text from the spec.';
COMMENT ON COLUMN sched.workflow_version.failure_strategy IS 'Default failure strategy of its instances.';
COMMENT ON COLUMN sched.workflow_version.execution_type IS 'How concurrent instances relate (parallel).';
COMMENT ON COLUMN sched.workflow_version.priority IS 'Default instance priority, 0 = highest .. 4 = lowest.';
COMMENT ON COLUMN sched.workflow_version.worker_group IS 'Default worker group of its tasks.';
COMMENT ON COLUMN sched.workflow_version.spec IS 'The normalised spec (what sched.workflow_spec returns).';
COMMENT ON COLUMN sched.workflow_version.created_by IS 'Role that created this version.';
COMMENT ON COLUMN sched.workflow_version.created_at IS 'When this version was created.';

CREATE TABLE sched.task_definition (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_version_id bigint NOT NULL REFERENCES sched.workflow_version ON DELETE CASCADE,
    name                text NOT NULL,
    task_type           text NOT NULL,
    priority            smallint NOT NULL,
    worker_group        text,
    settings            jsonb NOT NULL,
    dep_count           integer NOT NULL,
    UNIQUE (workflow_version_id, name)
);
-- Instances start from the roots only; wide DAGs must not scan every task to find them.
CREATE INDEX task_definition_roots ON sched.task_definition (workflow_version_id) WHERE dep_count = 0;
COMMENT ON TABLE sched.task_definition IS 'The tasks of one workflow version.';
COMMENT ON COLUMN sched.task_definition.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.task_definition.workflow_version_id IS 'The workflow version this task belongs to.';
COMMENT ON COLUMN sched.task_definition.name IS 'Task name, unique within the version.';
COMMENT ON COLUMN sched.task_definition.task_type IS 'Task type (shell, empty, ...).';
COMMENT ON COLUMN sched.task_definition.priority IS 'Task priority inside its instance, 0 = highest .. 4 = lowest.';
COMMENT ON COLUMN sched.task_definition.worker_group IS 'Worker group of the task; NULL inherits the instance''s.';
COMMENT ON COLUMN sched.task_definition.settings IS 'Type-specific settings, e.g. {"script": "..."} for shell.';
COMMENT ON COLUMN sched.task_definition.dep_count IS 'Number of tasks this one depends on.';

CREATE TABLE sched.task_dependency (
    task_id    bigint NOT NULL REFERENCES sched.task_definition ON DELETE CASCADE,
    depends_on bigint NOT NULL REFERENCES sched.task_definition ON DELETE CASCADE,
    -- Keyed by the upstream task: completing a task looks up its successors.
    PRIMARY KEY (depends_on, task_id)
);
CREATE INDEX task_dependency_task ON sched.task_dependency (task_id);
COMMENT ON TABLE sched.task_dependency IS 'DAG edges: task_id runs after depends_on succeeded.';
COMMENT ON COLUMN sched.task_dependency.task_id IS 'The downstream task.';
COMMENT ON COLUMN sched.task_dependency.depends_on IS 'The upstream task it waits for.';
