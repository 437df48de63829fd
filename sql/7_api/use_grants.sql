-- Granting and revoking the use of shared names (the rules: 2_kernel/use_rights.sql).
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

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
