-- Views for people and BI tools. Each shows only what the querying role may see: rows of
-- workflows owned by a role it is a member of, everything for sched_admin and superusers.
-- The querying role is current_user, the identity the API uses (2_kernel/access.sql): an index
-- expression or another role's SECURITY DEFINER function sees what its own role may see.
-- security_barrier: a caller's own functions in WHERE must not see rows before that filter.
--
-- This file: workflows, task types and project parameters.

CREATE VIEW sched.workflows WITH (security_barrier) AS
SELECT w.name,
       w.current_version AS version,
       sched._role_name(w.owner) AS project,
       v.description,
       w.owner,
       (SELECT count(*) FROM sched.task_definition td WHERE td.workflow_version_id = v.id) AS task_count,
       v.failure_strategy::text AS failure_strategy,
       v.execution_type,
       sched._priority_name(v.priority) AS priority,
       v.worker_group,
       w.created_at,
       w.updated_at
FROM sched.workflow w
JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.workflows IS 'Defined workflows with their current version.';
COMMENT ON COLUMN sched.workflows.name IS 'Workflow name.';
COMMENT ON COLUMN sched.workflows.version IS 'Current version, the one start_workflow runs.';
COMMENT ON COLUMN sched.workflows.project IS 'Its project: the role that owns it (a group role whose members share its workflows, or the role that defined it).';
COMMENT ON COLUMN sched.workflows.description IS 'Description from the spec.';
COMMENT ON COLUMN sched.workflows.owner IS 'Owning role.';
COMMENT ON COLUMN sched.workflows.task_count IS 'Number of tasks in the current version.';
COMMENT ON COLUMN sched.workflows.failure_strategy IS 'Default failure strategy: continue or end.';
COMMENT ON COLUMN sched.workflows.execution_type IS 'How concurrent instances relate: parallel.';
COMMENT ON COLUMN sched.workflows.priority IS 'Default instance priority: highest, high, medium, low, lowest.';
COMMENT ON COLUMN sched.workflows.worker_group IS 'Default worker group.';
COMMENT ON COLUMN sched.workflows.created_at IS 'When version 1 was created.';
COMMENT ON COLUMN sched.workflows.updated_at IS 'When the current version was created.';

CREATE VIEW sched.workflow_dependencies WITH (security_barrier) AS
SELECT w.name AS workflow,
       v.version,
       v.version = w.current_version AS current,
       d.task,
       CASE WHEN d.classid = 'pg_catalog.pg_class'::regclass THEN 'relation' ELSE 'function' END AS kind,
       CASE WHEN d.classid = 'pg_catalog.pg_class'::regclass THEN d.objid::regclass::text
            ELSE d.objid::regprocedure::text END AS object
FROM sched.workflow_dependency d
JOIN sched.workflow_version v ON v.id = d.workflow_version_id
JOIN sched.workflow w ON w.id = v.workflow_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.workflow_dependencies IS 'What each workflow version''s SQL uses on this database (relations and functions), found when it was defined; DROP and ALTER of them warn while a schedule runs the workflow, and are refused under protect_objects.';
COMMENT ON COLUMN sched.workflow_dependencies.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.workflow_dependencies.version IS 'Its version.';
COMMENT ON COLUMN sched.workflow_dependencies.current IS 'Whether it is the current version (the one the guard of DROP and ALTER reads).';
COMMENT ON COLUMN sched.workflow_dependencies.task IS 'The task whose statements use it.';
COMMENT ON COLUMN sched.workflow_dependencies.kind IS 'relation (table, view, sequence, ...) or function (procedures too).';
COMMENT ON COLUMN sched.workflow_dependencies.object IS 'The object, schema-qualified where not on the reader''s search_path; an OID once it was dropped.';

CREATE VIEW sched.task_types AS
SELECT b.name, true AS builtin, b.description, b.fields, b.command,
       NULL::text AS interpreter, NULL::text AS created_by, NULL::timestamptz AS created_at
FROM sched._builtin_task_types() b
UNION ALL
SELECT tt.name, false, tt.definition->>'description', tt.definition->'fields', tt.definition->>'command',
       tt.definition->>'interpreter', tt.created_by, tt.created_at
FROM sched.task_type tt;
COMMENT ON VIEW sched.task_types IS 'Every task type a spec may use: the built-in ones and those registered with sched.register_task_type.';
COMMENT ON COLUMN sched.task_types.name IS 'Type name, as a task''s "type" gives it (any case).';
COMMENT ON COLUMN sched.task_types.builtin IS 'Part of pg_sched (false: registered).';
COMMENT ON COLUMN sched.task_types.description IS 'What it runs.';
COMMENT ON COLUMN sched.task_types.fields IS 'Its fields: {name: {kind, required, default, values}}.';
COMMENT ON COLUMN sched.task_types.command IS 'Command template of a command type ({field} is the value shell-quoted, [...] is left out unless its fields have values); NULL for types built into the worker.';
COMMENT ON COLUMN sched.task_types.interpreter IS 'Program that runs the command with -c; NULL is bash.';
COMMENT ON COLUMN sched.task_types.created_by IS 'Role that registered it; NULL for built-in types.';
COMMENT ON COLUMN sched.task_types.created_at IS 'When it was registered; NULL for built-in types.';

CREATE VIEW sched.project_params WITH (security_barrier) AS
SELECT sched._role_name(pp.role) AS project, pp.params, pp.updated_by, pp.updated_at
FROM sched.project_param pp
WHERE sched._visible(pp.role);
COMMENT ON VIEW sched.project_params IS 'Project parameters (sched.set_project_params), for the project''s members and sched_admin.';
COMMENT ON COLUMN sched.project_params.project IS 'The project: the role owning the workflows that see them.';
COMMENT ON COLUMN sched.project_params.params IS 'The parameters: plain values or {"value", "type"}; a workflow''s globals, upstream OUT values, local and start parameters win over them.';
COMMENT ON COLUMN sched.project_params.updated_by IS 'Role that set them last.';
COMMENT ON COLUMN sched.project_params.updated_at IS 'When they were set last.';
