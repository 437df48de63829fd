-- Who may use which shared names. A workflow names things it does not own: a worker group
-- (which hosts run its tasks), a datasource (whose credentials its SQL runs with), an alert
-- group (whose channels hear of it) and a task group (whose slots it takes). Each use needs a
-- right, checked for the workflow's owner when a version is defined and again whenever an
-- instance starts or runs again (start, schedule fire, backfill, sub-process, resume, recover,
-- rerun, execute_task), and for datasources at every claim:
--   worker group  `default` is open to every role; any other needs grant_worker_group (sched_admin)
--   datasource    declared by sched_admin (create_datasource) and granted (grant_datasource)
--   alert group   its owner's members, or grant_alert_group (the group's owner or sched_admin)
--   task group    its owner's members, or grant_task_group (the group's owner or sched_admin)
-- Members of sched_admin may use every one. A grant to a role covers its members. The grant
-- and revoke functions are in 7_api/use_grants.sql.

-- The words of a kind in messages, and who administers its grants.
CREATE FUNCTION sched._use_noun(kind text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT pg_catalog.replace(kind, '_', ' ') $$;
COMMENT ON FUNCTION sched._use_noun(text) IS 'Internal: worker_group as "worker group" in messages.';

-- The role that owns a named alert or task group (NULL when there is none, or for kinds that
-- have no owner).
CREATE FUNCTION sched._use_owner(kind text, name text) RETURNS regrole
LANGUAGE sql STABLE
AS $$
    SELECT CASE kind
               WHEN 'alert_group' THEN (SELECT g.owner FROM sched.alert_group g WHERE g.name = _use_owner.name)
               WHEN 'task_group' THEN (SELECT g.owner FROM sched.task_group g WHERE g.name = _use_owner.name)
           END
$$;
COMMENT ON FUNCTION sched._use_owner(text, text) IS 'Internal: the owner of an alert or task group.';

CREATE FUNCTION sched._may_use(role regrole, kind text, name text) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT role IS NOT NULL AND (
           (kind = 'worker_group' AND name = 'default')
        OR pg_catalog.pg_has_role(role, 'sched_admin', 'MEMBER')
        OR coalesce(pg_catalog.pg_has_role(role, sched._use_owner(kind, name), 'MEMBER'), false)
        OR EXISTS (SELECT 1 FROM sched.use_grant u
                   WHERE u.kind = _may_use.kind AND u.name = _may_use.name
                     AND pg_catalog.pg_has_role(_may_use.role, u.role, 'MEMBER')))
$$;
COMMENT ON FUNCTION sched._may_use(regrole, text, text) IS
    'Internal: may role name this worker group, datasource, alert group or task group (the default worker group, sched_admin, the group''s owner, or a grant).';

-- Raises, naming the field, unless the name exists (where existence is recorded) and role may
-- use it. Datasources that do not exist and those that may not be used get one message, so
-- that nobody learns which datasources exist.
CREATE FUNCTION sched._check_use(role regrole, kind text, name text, field text) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF name IS NULL THEN
        RETURN;
    END IF;
    IF kind = 'datasource' THEN
        IF NOT (EXISTS (SELECT 1 FROM sched.datasource d WHERE d.name = _check_use.name)
                AND sched._may_use(role, kind, name)) THEN
            RAISE EXCEPTION '%: datasource "%" does not exist or role % may not use it', field, name, role
                USING ERRCODE = 'insufficient_privilege',
                      HINT = pg_catalog.format('A member of sched_admin can declare it (sched.create_datasource) and allow it: SELECT sched.grant_datasource(%L, %L);', role::text, name);
        END IF;
        RETURN;
    END IF;
    IF kind = 'alert_group' AND NOT EXISTS (SELECT 1 FROM sched.alert_group g WHERE g.name = _check_use.name) THEN
        RAISE EXCEPTION '%: alert group "%" does not exist; create it with sched.create_alert_group', field, name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind = 'task_group' AND NOT EXISTS (SELECT 1 FROM sched.task_group g WHERE g.name = _check_use.name) THEN
        RAISE EXCEPTION '%: no task group "%"; create it with sched.create_task_group', field, name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT sched._may_use(role, kind, name) THEN
        RAISE EXCEPTION '%: role % may not use % "%"', field, role, sched._use_noun(kind), name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = pg_catalog.format('%s can allow it: SELECT sched.grant_%s(%L, %L);',
                                           CASE WHEN kind IN ('alert_group', 'task_group') THEN 'Its owner or a member of sched_admin'
                                                ELSE 'A member of sched_admin' END,
                                           kind, role::text, name);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_use(regrole, text, text, text) IS
    'Internal: raises, naming field, unless the worker group, datasource, alert group or task group exists and role may use it.';

CREATE FUNCTION sched._check_uses(role regrole, uses jsonb) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    u jsonb;
BEGIN
    FOR u IN SELECT jsonb_array_elements(uses) LOOP
        PERFORM sched._check_use(role, u->>'kind', u->>'name', u->>'field');
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._check_uses(regrole, jsonb) IS 'Internal: _check_use for each of [{kind, name, field}].';

-- What an instance runs with is checked for its workflow's owner, whose code runs with it,
-- whenever it starts or runs again: the names its version uses (the instance's own worker
-- group in place of the version's), its tenant and its alert group. Grants revoked since the
-- definition or the start take effect here.
CREATE FUNCTION sched._check_instance_rights(inst sched.workflow_instance) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    owner regrole;
    uses  jsonb;
BEGIN
    SELECT w.owner INTO owner FROM sched.workflow w WHERE w.id = inst.workflow_id;
    SELECT v.uses INTO uses FROM sched.workflow_version v WHERE v.id = inst.workflow_version_id;
    IF uses <> '[]' THEN
        PERFORM sched._check_uses(owner, (SELECT coalesce(jsonb_agg(u), '[]') FROM jsonb_array_elements(uses) u
                                          WHERE u->>'field' <> 'worker_group'));
    END IF;
    PERFORM sched._check_use(owner, 'worker_group', inst.worker_group, 'worker_group');
    PERFORM sched._check_tenant(owner, inst.tenant, 'tenant');
    PERFORM sched._check_use(owner, 'alert_group', inst.alert_group, 'notify.alert_group');
END
$$;
COMMENT ON FUNCTION sched._check_instance_rights(sched.workflow_instance) IS
    'Internal: raises unless the instance''s workflow owner may still use every worker group, datasource, alert group, task group and tenant the instance runs with.';
