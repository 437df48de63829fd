-- Views for people and BI tools. Each shows only what the querying role may see: rows of
-- workflows owned by a role it is a member of, everything for sched_admin and superusers.
-- The querying role is current_user, the identity the API uses (2_kernel/access.sql): an index
-- expression or another role's SECURITY DEFINER function sees what its own role may see.
-- security_barrier: a caller's own functions in WHERE must not see rows before that filter.
--
-- This file: tenants, use grants and datasources.

CREATE VIEW sched.tenants WITH (security_barrier) AS
SELECT g.role,
       g.os_user,
       g.granted_by,
       g.granted_at
FROM sched.tenant_grant g
WHERE sched._visible(g.role);
COMMENT ON VIEW sched.tenants IS 'Which roles may run tasks as which OS users (sched.grant_tenant); members of a role may use its grants.';
COMMENT ON COLUMN sched.tenants.role IS 'Role allowed to use the OS user.';
COMMENT ON COLUMN sched.tenants.os_user IS 'OS user that shell tasks run as on workers.';
COMMENT ON COLUMN sched.tenants.granted_by IS 'Role that granted it.';
COMMENT ON COLUMN sched.tenants.granted_at IS 'When.';

CREATE VIEW sched.datasources WITH (security_barrier) AS
SELECT d.name, d.kind, d.description, d.created_by, d.created_at
FROM sched.datasource d
WHERE pg_catalog.pg_has_role('sched_admin', 'MEMBER')
   OR EXISTS (SELECT 1 FROM sched.use_grant u
              WHERE u.kind = 'datasource' AND u.name = d.name AND pg_catalog.pg_has_role(u.role, 'MEMBER'));
COMMENT ON VIEW sched.datasources IS 'Datasources you may name in sql and procedure tasks (sched_admin sees all); their connections are in the workers'' --datasources files.';
COMMENT ON COLUMN sched.datasources.name IS 'Name a task''s datasource refers to.';
COMMENT ON COLUMN sched.datasources.kind IS 'postgresql or mysql.';
COMMENT ON COLUMN sched.datasources.description IS 'Free text.';
COMMENT ON COLUMN sched.datasources.created_by IS 'Role that declared it.';
COMMENT ON COLUMN sched.datasources.created_at IS 'When.';

CREATE VIEW sched.use_grants WITH (security_barrier) AS
SELECT u.kind, u.name, u.role, u.granted_by, u.granted_at
FROM sched.use_grant u
LEFT JOIN sched.alert_group ag ON u.kind = 'alert_group' AND ag.name = u.name
LEFT JOIN sched.task_group tg ON u.kind = 'task_group' AND tg.name = u.name
WHERE sched._visible(u.role) OR coalesce(sched._visible(coalesce(ag.owner, tg.owner)), false);
COMMENT ON VIEW sched.use_grants IS 'Which roles may name which worker groups, datasources, alert groups and task groups (sched.grant_worker_group, grant_datasource, grant_alert_group, grant_task_group), for the grantee, the group''s owner and sched_admin.';
COMMENT ON COLUMN sched.use_grants.kind IS 'worker_group, datasource, alert_group or task_group.';
COMMENT ON COLUMN sched.use_grants.name IS 'Its name.';
COMMENT ON COLUMN sched.use_grants.role IS 'Role allowed (and its members).';
COMMENT ON COLUMN sched.use_grants.granted_by IS 'Role that granted it.';
COMMENT ON COLUMN sched.use_grants.granted_at IS 'When.';
