-- Tenants (DolphinScheduler's 租户): OS users that process tasks run as on workers. sched_admin
-- decides which roles may use which OS users; a workflow (or a start option) names one.

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
