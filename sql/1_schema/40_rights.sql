-- Who may use what (docs/architecture.md, "Security model"): tenants (OS users that process
-- tasks run as, granted by sched_admin), the anchor that keeps PostgreSQL from dropping a role
-- that owns workflows, datasources, and use grants of shared names (worker groups,
-- datasources, alert groups, task groups).

CREATE TABLE sched.tenant_grant (
    role       regrole NOT NULL,
    os_user    text NOT NULL,
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (role, os_user)
);
CREATE INDEX tenant_grant_by_os_user ON sched.tenant_grant (os_user);
COMMENT ON TABLE sched.tenant_grant IS
    'Which roles may run tasks as which OS users; written by sched.grant_tenant and sched.revoke_tenant. Members of a granted role may use it too.';
COMMENT ON COLUMN sched.tenant_grant.role IS 'Role allowed to use the OS user. DROP ROLE is refused while it holds grants; DROP OWNED removes them.';
COMMENT ON COLUMN sched.tenant_grant.os_user IS 'OS user name on the workers.';
COMMENT ON COLUMN sched.tenant_grant.granted_by IS 'Name of the role that granted it.';
COMMENT ON COLUMN sched.tenant_grant.granted_at IS 'When it was granted.';

CREATE TABLE sched.role_anchor ();
COMMENT ON TABLE sched.role_anchor IS
    'Holds no rows. Roles that own workflows or hold tenant grants have SELECT on it, so that DROP ROLE refuses to drop them until REASSIGN OWNED / DROP OWNED has dealt with their workflows.';

CREATE TABLE sched.datasource (
    name        text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('postgresql', 'mysql')),
    description text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sched.datasource IS
    'Datasources that tasks may name (sched.create_datasource): name and kind only; the connection and its secrets are in the workers'' --datasources files.';
COMMENT ON COLUMN sched.datasource.name IS 'Name tasks refer to (datasource); the same name in the workers'' --datasources file.';
COMMENT ON COLUMN sched.datasource.kind IS 'postgresql or mysql.';
COMMENT ON COLUMN sched.datasource.description IS 'Free text.';
COMMENT ON COLUMN sched.datasource.created_by IS 'Name of the role that declared it.';
COMMENT ON COLUMN sched.datasource.created_at IS 'When it was declared.';

CREATE TABLE sched.use_grant (
    kind       text NOT NULL CHECK (kind IN ('worker_group', 'datasource', 'alert_group', 'task_group')),
    name       text NOT NULL,
    role       regrole NOT NULL,
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (kind, name, role)
);
CREATE INDEX use_grant_by_role ON sched.use_grant (role);
COMMENT ON TABLE sched.use_grant IS
    'Which roles may name which worker groups, datasources, alert groups and task groups in their workflows (sched.grant_worker_group, grant_datasource, grant_alert_group, grant_task_group). Members of a granted role may too.';
COMMENT ON COLUMN sched.use_grant.kind IS 'worker_group, datasource, alert_group or task_group.';
COMMENT ON COLUMN sched.use_grant.name IS 'The worker group, datasource, alert group or task group.';
COMMENT ON COLUMN sched.use_grant.role IS 'Role allowed to use it. DROP ROLE is refused while it holds grants; DROP OWNED removes them.';
COMMENT ON COLUMN sched.use_grant.granted_by IS 'Name of the role that granted it.';
COMMENT ON COLUMN sched.use_grant.granted_at IS 'When it was granted.';
