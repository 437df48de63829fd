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
-- Members of sched_admin may use every one. A grant to a role covers its members.

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

-- What a normalised spec names that needs a right, as [{kind, name, field}], in spec order;
-- the default worker group needs none. Stored with the version (workflow_version.uses), so
-- that a start checks a short list, and nothing at all for a workflow that names nothing.
CREATE FUNCTION sched._spec_uses(norm jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('kind', u.kind, 'name', u.name, 'field', u.field) ORDER BY u.i, u.o), '[]')
    FROM (
        SELECT -1 AS i, 0 AS o, 'worker_group' AS kind, norm->>'worker_group' AS name, 'worker_group' AS field
        UNION ALL
        SELECT -1, 1, 'alert_group', norm#>>'{notify,alert_group}', 'notify.alert_group'
        UNION ALL
        SELECT t.i - 1, x.o, x.kind, x.name, pg_catalog.format('tasks[%s].%s', t.i - 1, x.field)
        FROM jsonb_array_elements(norm->'tasks') WITH ORDINALITY AS t(task, i)
        CROSS JOIN LATERAL (VALUES (0, 'worker_group', t.task->>'worker_group', 'worker_group'),
                                   (1, 'datasource', t.task->>'datasource', 'datasource'),
                                   (2, 'alert_group', t.task#>>'{send_result,alert_group}', 'send_result.alert_group'),
                                   (3, 'task_group', t.task->>'task_group', 'task_group')) AS x(o, kind, name, field)
    ) u
    WHERE u.name IS NOT NULL AND NOT (u.kind = 'worker_group' AND u.name = 'default')
$$;
COMMENT ON FUNCTION sched._spec_uses(jsonb) IS
    'Internal: the worker groups, datasources, alert groups and task groups a normalised spec names, as [{kind, name, field}].';

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

-- ---------- Datasources ----------

CREATE FUNCTION sched.create_datasource(name text, kind text, description text DEFAULT '') RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_datasource(principal regrole, name text, kind text, description text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sched._require_admin(principal, 'sched.create_datasource');
    PERFORM sched._check_name(name, 'name', 'datasource name');
    IF kind IS NULL OR lower(kind) NOT IN ('postgresql', 'mysql') THEN
        RAISE EXCEPTION 'kind: "%" is not allowed; allowed: postgresql, mysql', kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO sched.datasource (name, kind, description, created_by)
    VALUES (name, lower(kind), coalesce(description, ''), sched._role_name(principal))
    ON CONFLICT ON CONSTRAINT datasource_pkey DO UPDATE SET kind = EXCLUDED.kind, description = EXCLUDED.description;
END
$$;
COMMENT ON FUNCTION sched.create_datasource(text, text, text) IS
    'sched_admin only: declares a datasource tasks may name (or changes its kind and description). Only the name and kind are here: the connection and its password are in the workers'' --datasources files. Roles need sched.grant_datasource to use it.';

CREATE FUNCTION sched.drop_datasource(name text) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._drop_datasource(principal regrole, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sched._require_admin(principal, 'sched.drop_datasource');
    DELETE FROM sched.datasource d WHERE d.name = _drop_datasource.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name: datasource "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    DELETE FROM sched.use_grant u WHERE u.kind = 'datasource' AND u.name = _drop_datasource.name;
END
$$;
COMMENT ON FUNCTION sched.drop_datasource(text) IS
    'sched_admin only: removes a datasource and its grants; tasks naming it fail from then on, at their next claim.';

-- ---------- Grants ----------

-- Who may grant a use: sched_admin for worker groups and datasources, the group's owner (or
-- sched_admin) for alert and task groups; the thing must exist, except worker groups, which
-- exist wherever a worker serves them.
CREATE FUNCTION sched._check_granter(principal regrole, kind text, name text) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    owner regrole;
BEGIN
    IF kind IN ('worker_group', 'datasource') THEN
        PERFORM sched._require_admin(principal, pg_catalog.format('sched.grant_%s and sched.revoke_%s', kind, kind));
        IF kind = 'datasource' AND NOT EXISTS (SELECT 1 FROM sched.datasource d WHERE d.name = _check_granter.name) THEN
            RAISE EXCEPTION 'name: datasource "%" does not exist', name
                USING ERRCODE = 'undefined_object', HINT = 'Declare it with sched.create_datasource first.';
        END IF;
        IF kind = 'worker_group' THEN
            PERFORM sched._check_name(name, 'worker_group', 'name');
        END IF;
        RETURN;
    END IF;
    owner := sched._use_owner(kind, name);
    IF owner IS NULL THEN
        RAISE EXCEPTION 'name: % "%" does not exist', sched._use_noun(kind), name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, owner, pg_catalog.format('%s "%s"', sched._use_noun(kind), name));
END
$$;
COMMENT ON FUNCTION sched._check_granter(regrole, text, text) IS 'Internal: raises unless principal may grant and revoke uses of this name.';

CREATE FUNCTION sched._grant_use(principal regrole, kind text, role regrole, name text) RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    added integer;
BEGIN
    PERFORM sched._check_granter(principal, kind, name);
    IF role IS NULL THEN
        RAISE EXCEPTION 'role: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO sched.use_grant (kind, name, role, granted_by)
    VALUES (kind, name, role, sched._role_name(principal))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    PERFORM sched._anchor_role(role);
    RETURN added > 0;
END
$$;
COMMENT ON FUNCTION sched._grant_use(regrole, text, regrole, text) IS 'Internal: records a use grant, after checking the granter.';

CREATE FUNCTION sched._revoke_use(principal regrole, kind text, role regrole, name text) RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    removed integer;
BEGIN
    PERFORM sched._check_granter(principal, kind, name);
    DELETE FROM sched.use_grant u WHERE u.kind = _revoke_use.kind AND u.name = _revoke_use.name AND u.role = _revoke_use.role;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed > 0;
END
$$;
COMMENT ON FUNCTION sched._revoke_use(regrole, text, regrole, text) IS 'Internal: removes a use grant, after checking the revoker.';

CREATE FUNCTION sched.grant_worker_group(role regrole, worker_group text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._grant_worker_group(principal regrole, role regrole, worker_group text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._grant_use(principal, 'worker_group', role, worker_group) $$;
COMMENT ON FUNCTION sched.grant_worker_group(regrole, text) IS
    'sched_admin only: lets role (and its members) run tasks on the workers of a worker group; default is open to all. Returns false when it was already granted.';

CREATE FUNCTION sched.revoke_worker_group(role regrole, worker_group text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._revoke_worker_group(principal regrole, role regrole, worker_group text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._revoke_use(principal, 'worker_group', role, worker_group) $$;
COMMENT ON FUNCTION sched.revoke_worker_group(regrole, text) IS
    'sched_admin only: takes back grant_worker_group; starts and reruns naming the group are refused from then on. Returns false when there was no such grant.';

CREATE FUNCTION sched.grant_datasource(role regrole, datasource text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._grant_datasource(principal regrole, role regrole, datasource text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._grant_use(principal, 'datasource', role, datasource) $$;
COMMENT ON FUNCTION sched.grant_datasource(regrole, text) IS
    'sched_admin only: lets role (and its members) run sql and procedure tasks on a datasource, with its credentials. Returns false when it was already granted.';

CREATE FUNCTION sched.revoke_datasource(role regrole, datasource text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._revoke_datasource(principal regrole, role regrole, datasource text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._revoke_use(principal, 'datasource', role, datasource) $$;
COMMENT ON FUNCTION sched.revoke_datasource(regrole, text) IS
    'sched_admin only: takes back grant_datasource; tasks naming it fail from their next claim on. Returns false when there was no such grant.';

CREATE FUNCTION sched.grant_alert_group(role regrole, alert_group text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._grant_alert_group(principal regrole, role regrole, alert_group text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._grant_use(principal, 'alert_group', role, alert_group) $$;
COMMENT ON FUNCTION sched.grant_alert_group(regrole, text) IS
    'The group''s owner or sched_admin: lets role (and its members) send alerts to an alert group (notify, send_result). Returns false when it was already granted.';

CREATE FUNCTION sched.revoke_alert_group(role regrole, alert_group text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._revoke_alert_group(principal regrole, role regrole, alert_group text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._revoke_use(principal, 'alert_group', role, alert_group) $$;
COMMENT ON FUNCTION sched.revoke_alert_group(regrole, text) IS
    'The group''s owner or sched_admin: takes back grant_alert_group. Returns false when there was no such grant.';

CREATE FUNCTION sched.grant_task_group(role regrole, task_group text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._grant_task_group(principal regrole, role regrole, task_group text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._grant_use(principal, 'task_group', role, task_group) $$;
COMMENT ON FUNCTION sched.grant_task_group(regrole, text) IS
    'The group''s owner or sched_admin: lets role (and its members) put tasks in a task group. Returns false when it was already granted.';

CREATE FUNCTION sched.revoke_task_group(role regrole, task_group text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';
CREATE FUNCTION sched._revoke_task_group(principal regrole, role regrole, task_group text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT sched._revoke_use(principal, 'task_group', role, task_group) $$;
COMMENT ON FUNCTION sched.revoke_task_group(regrole, text) IS
    'The group''s owner or sched_admin: takes back grant_task_group. Returns false when there was no such grant.';
