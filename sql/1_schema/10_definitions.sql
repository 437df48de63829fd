-- Workflow definitions: a workflow is a name and an owner; its DAG lives in versions so that
-- replacing a workflow never changes what running instances execute. Project parameters
-- belong to the role that owns workflows (a project).

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
COMMENT ON COLUMN sched.workflow.owner IS 'Its project: the role that created the workflow, or the group role its spec''s project names; its members and sched_admin may replace, run and drop it. DROP ROLE is refused while a role owns workflows; REASSIGN OWNED moves them, DROP OWNED drops them.';
COMMENT ON COLUMN sched.workflow.current_version IS 'Version that start_workflow runs.';
COMMENT ON COLUMN sched.workflow.created_at IS 'When the first version was created.';
COMMENT ON COLUMN sched.workflow.updated_at IS 'When the current version was created.';

CREATE TABLE sched.workflow_version (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id      bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    version          integer NOT NULL,
    description      text NOT NULL,
    failure_strategy sched.failure_strategy NOT NULL,
    execution_type   text NOT NULL,
    priority         smallint NOT NULL,
    worker_group     text NOT NULL,
    tenant           text,
    -- Some task declares OUT params: only then is the instance's output gathered at its end.
    has_out          boolean NOT NULL DEFAULT false,
    -- The worker groups its worker-run tasks name, NULL for those that inherit the instance's:
    -- a start checks them against live workers without reading every task.
    worker_groups    text[] NOT NULL DEFAULT '{}',
    timeout_after    interval,
    timeout_strategy text,
    spec             jsonb NOT NULL,
    -- What it names that needs a right (2_kernel/use_rights.sql), checked again at every start.
    uses             jsonb NOT NULL DEFAULT '[]',
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- Some task is decided in the database and can fail or reach other instances, or no two of
    -- its tasks can run at once (a chain): reports of its instances' attempts then lock the
    -- instance alone (3_engine/complete.sql).
    reports_alone    boolean NOT NULL DEFAULT true,
    UNIQUE (workflow_id, version)
);
COMMENT ON TABLE sched.workflow_version IS 'Immutable versions of a workflow definition.';
COMMENT ON COLUMN sched.workflow_version.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.workflow_version.workflow_id IS 'The workflow this is a version of.';
COMMENT ON COLUMN sched.workflow_version.version IS 'Version number, 1 for the first definition, +1 per replace.';
COMMENT ON COLUMN sched.workflow_version.description IS 'Free text from the spec.';
COMMENT ON COLUMN sched.workflow_version.failure_strategy IS 'Default failure strategy of its instances.';
COMMENT ON COLUMN sched.workflow_version.execution_type IS 'How concurrent instances relate (parallel).';
COMMENT ON COLUMN sched.workflow_version.priority IS 'Default instance priority, 0 = highest .. 4 = lowest.';
COMMENT ON COLUMN sched.workflow_version.worker_group IS 'Default worker group of its tasks.';
COMMENT ON COLUMN sched.workflow_version.tenant IS 'OS user its shell tasks run as on workers (DolphinScheduler''s tenant); NULL runs them as the worker''s user.';
COMMENT ON COLUMN sched.workflow_version.worker_groups IS 'The distinct worker groups of its tasks that run on workers (not logic tasks); a NULL element stands for the tasks that inherit the instance''s group.';
COMMENT ON COLUMN sched.workflow_version.has_out IS 'Some task declares OUT params, so its instances gather output parameters when they finish.';
COMMENT ON COLUMN sched.workflow_version.reports_alone IS 'Some task is decided in the database (sub_process, conditions, switch, dependent, dynamic), or the DAG is a chain, whose tasks never run at once: a worker''s report of an attempt of its instances locks the instance alone; otherwise reports of successes in one instance proceed side by side and wait for each other only to decide whether the instance has ended.';
COMMENT ON COLUMN sched.workflow_version.timeout_after IS 'Workflow timeout: how long after its start an instance alerts or is stopped; NULL for none.';
COMMENT ON COLUMN sched.workflow_version.timeout_strategy IS 'What the workflow timeout does: warn (an alert) or stop.';
COMMENT ON COLUMN sched.workflow_version.spec IS 'The normalised spec (what sched.workflow_spec returns).';
COMMENT ON COLUMN sched.workflow_version.uses IS 'The worker groups, datasources, alert groups and task groups it names, as [{kind, name, field}]: its owner needs the right to use each, at definition and at every start.';
COMMENT ON COLUMN sched.workflow_version.created_by IS 'Name of the role that created this version.';
COMMENT ON COLUMN sched.workflow_version.created_at IS 'When this version was created.';

-- No foreign keys on the bulk tables (task definitions, task instances, join progress, log
-- lines): only sched functions write them, drop_workflow deletes explicitly, and a foreign key
-- check costs about 12 us per row, which would dominate creating a 10,000-task workflow and the
-- completion hot path.
CREATE TABLE sched.task_definition (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    workflow_version_id bigint NOT NULL,
    name                text NOT NULL,
    task_type           text NOT NULL,
    priority            smallint NOT NULL,
    worker_group        text,
    settings            jsonb NOT NULL,
    dep_count           integer NOT NULL,
    -- Local params, as normalised; NULL when it has none.
    params              jsonb,
    -- Its direct predecessors that declare OUT params; NULL when none does.
    inputs_from         bigint[],
    -- Resolved when claimed: some text of it holds ${...} or $[...], it has local params, or
    -- upstream OUT params come in. Only such tasks pay for resolution.
    parameterized       boolean NOT NULL DEFAULT false,
    -- Run policies (policies: 4_master/tick.sql); defaults cost nothing.
    retries             integer NOT NULL DEFAULT 0,
    retry_interval      interval,
    delay               interval,
    timeout_after       interval,
    timeout_strategy    text,
    task_group_id       bigint,
    task_group_priority integer NOT NULL DEFAULT 0,
    -- Decided by the scheduler in the database, never queued for a worker: sub_process,
    -- conditions, switch, dependent, or forbidden (enabled false, whatever its type).
    logic               text,
    -- Every task that depends on it is a CONDITIONS task: its failure is theirs to judge,
    -- not the instance's.
    feeds_conditions    boolean NOT NULL DEFAULT false,
    -- The DAG is stored downstream-facing: completing a task reads its own row to find what
    -- may become ready, without a join over an edge table.
    successors          bigint[] NOT NULL,
    -- Datasets a success of it updates; NULL when none.
    produces            text[],
    -- The element task of a DYNAMIC task (its id here): no place in the DAG of its own.
    element_of          bigint,
    -- Its workflow declares admit_when (3_engine/admit_when.sql): its attempts wait for it.
    admit               boolean NOT NULL DEFAULT false,
    -- Kept at definition (sched-core computes it) so that an instance's tasks are listed in
    -- DAG order a page at a time without walking the DAG, and with their deps by name, which
    -- the downstream-facing successors cannot give without a scan.
    depth               integer NOT NULL,
    deps                text[] NOT NULL,
    UNIQUE (workflow_version_id, name)
);
-- Instances start from the roots only; wide DAGs must not scan every task to find them.
CREATE INDEX task_definition_roots ON sched.task_definition (workflow_version_id) WHERE dep_count = 0;
-- Completing attempts asks whether any task produces datasets before looking at theirs.
CREATE INDEX task_definition_producing ON sched.task_definition (id) WHERE produces IS NOT NULL;
-- An instance's tasks in DAG order, a page at a time (sched.instance_tasks).
CREATE INDEX task_definition_in_order ON sched.task_definition (workflow_version_id, depth, id) WHERE element_of IS NULL;
-- A dynamic attempt finds its element task.
CREATE INDEX task_definition_elements ON sched.task_definition (element_of) WHERE element_of IS NOT NULL;
-- What grows with a workflow's size is compressed by lz4 (in PostgreSQL built with it, as the
-- PGDG and Debian packages are): a 100,000-task spec in a third of pglz's time, a join's
-- 100,000 dependency names or a fan-out's successors in a tenth (20 and 90 ms of its creation).
DO $lz4$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE sched.workflow_version ALTER COLUMN spec SET COMPRESSION lz4;
        ALTER TABLE sched.task_definition ALTER COLUMN deps SET COMPRESSION lz4,
                                          ALTER COLUMN successors SET COMPRESSION lz4;
    END IF;
END
$lz4$;
COMMENT ON TABLE sched.task_definition IS 'The tasks of one workflow version.';
COMMENT ON COLUMN sched.task_definition.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.task_definition.workflow_version_id IS 'The workflow version this task belongs to.';
COMMENT ON COLUMN sched.task_definition.name IS 'Task name, unique within the version.';
COMMENT ON COLUMN sched.task_definition.task_type IS 'Task type (shell, empty, ...).';
COMMENT ON COLUMN sched.task_definition.priority IS 'Task priority inside its instance, 0 = highest .. 4 = lowest.';
COMMENT ON COLUMN sched.task_definition.worker_group IS 'Worker group of the task; NULL inherits the instance''s.';
COMMENT ON COLUMN sched.task_definition.settings IS 'Type-specific settings, e.g. {"script": "..."} for shell, with the environment (env) and the declared OUT params (out: [{name, type, default}]) the worker needs.';
COMMENT ON COLUMN sched.task_definition.params IS 'Local IN params as normalised ({"name": {"value", "type"}}); NULL when none.';
COMMENT ON COLUMN sched.task_definition.inputs_from IS 'Ids of its direct predecessors that declare OUT params, whose values it receives; NULL when none.';
COMMENT ON COLUMN sched.task_definition.dep_count IS 'Number of tasks this one depends on.';
COMMENT ON COLUMN sched.task_definition.parameterized IS 'Resolved when claimed: its settings hold ${...} or $[...], it has local params, it receives upstream OUT params, or it is a sql or procedure task (whose parameters are bound when claimed).';
COMMENT ON COLUMN sched.task_definition.retries IS 'How many times a failed attempt is tried again (never a killed one); 0 for none.';
COMMENT ON COLUMN sched.task_definition.retry_interval IS 'How long a retry waits in delayed after the failure.';
COMMENT ON COLUMN sched.task_definition.delay IS 'How long the first attempt waits in delayed once ready; NULL for none.';
COMMENT ON COLUMN sched.task_definition.timeout_after IS 'Timeout, counted from the attempt''s start; NULL for none.';
COMMENT ON COLUMN sched.task_definition.timeout_strategy IS 'What the timeout does: warn (an alert), fail (the attempt is killed and fails, which is retryable) or warn_fail.';
COMMENT ON COLUMN sched.task_definition.task_group_id IS 'The task group (sched.task_groups) whose slots cap how many of its tasks run at once; NULL for none.';
COMMENT ON COLUMN sched.task_definition.task_group_priority IS 'Rank among the task group''s waiting attempts: larger gets a slot first.';
COMMENT ON COLUMN sched.task_definition.successors IS 'Ids of the tasks that depend on this one.';
COMMENT ON COLUMN sched.task_definition.produces IS 'Datasets each success of it updates (its spec''s produces), an event each in sched.dataset_event; NULL when none.';
COMMENT ON COLUMN sched.task_definition.logic IS 'How the scheduler decides it in the database, with no worker: sub_process, conditions, switch, dependent, or forbidden (enabled false); NULL for tasks workers run.';
COMMENT ON COLUMN sched.task_definition.element_of IS 'For the element task of a DYNAMIC task (named after it, with []): that task''s id; its attempts are the elements. NULL for the tasks of the DAG.';
COMMENT ON COLUMN sched.task_definition.admit IS 'Its workflow declares admit_when: an attempt is queued only while that holds.';
COMMENT ON COLUMN sched.task_definition.depth IS 'Depth in the DAG: the longest path to it from a task without deps (0 for those). Ordered by it, every task comes after its upstream tasks. An element task has its DYNAMIC task''s.';
COMMENT ON COLUMN sched.task_definition.deps IS 'Names of the tasks it depends on (its spec''s deps), in byte order; empty for an element task.';
COMMENT ON COLUMN sched.task_definition.feeds_conditions IS 'Every task that depends on it is a CONDITIONS task, which judges its failure: a failure of it does not fail the instance.';

-- Project parameters (DolphinScheduler's): values every workflow of a project (its owning
-- role) sees, below the workflow's own globals.
CREATE TABLE sched.project_param (
    role       regrole PRIMARY KEY,
    params     jsonb NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sched.project_param IS 'Project parameters: per owning role, the parameters its workflows'' instances see below their globals; read through sched.project_params.';
COMMENT ON COLUMN sched.project_param.role IS 'The project: the role owning the workflows. DROP ROLE is refused while it has parameters; DROP OWNED removes them.';
COMMENT ON COLUMN sched.project_param.params IS 'The parameters, normalised as a spec''s params: plain values or {"value", "type"}.';
COMMENT ON COLUMN sched.project_param.updated_by IS 'Role that set them last.';
COMMENT ON COLUMN sched.project_param.updated_at IS 'When they were set last.';
