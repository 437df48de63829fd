-- Tenants, and what PostgreSQL's role commands do to what roles own here.
--
-- Workflows and tenant grants name roles by OID (regrole), which PostgreSQL does not track: a
-- bare DROP ROLE would leave them pointing at nothing. So a role that owns a workflow or holds
-- a tenant grant is also granted SELECT on the empty table sched.role_anchor, a privilege
-- PostgreSQL does track: DROP ROLE is refused, from any database, with "privileges for table
-- sched.role_anchor". The usual sequence then works: REASSIGN OWNED BY old TO new moves old's
-- workflows to new; DROP OWNED BY old drops old's workflows (refused while one has unfinished
-- instances) and tenant grants and revokes the anchor; DROP ROLE old succeeds.
-- extension/src/owned.rs runs sched._reassign_owned and sched._drop_owned for those two
-- statements in the database where pg_sched is installed.

CREATE TABLE sched.role_anchor ();
COMMENT ON TABLE sched.role_anchor IS
    'Holds no rows. Roles that own workflows or hold tenant grants have SELECT on it, so that DROP ROLE refuses to drop them until REASSIGN OWNED / DROP OWNED has dealt with their workflows.';

CREATE FUNCTION sched._anchor_role(role regrole) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    anchored boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
                   WHERE c.oid = 'sched.role_anchor'::pg_catalog.regclass AND a.grantee = role)
    INTO anchored;
    IF NOT anchored THEN
        -- Two GRANTs on one table in concurrent transactions fail with "tuple concurrently
        -- updated": granting is serialised, and only granting (owners are anchored once).
        PERFORM 1 FROM sched.engine_lock l WHERE l.name = 'role_anchor' FOR UPDATE;
        EXECUTE pg_catalog.format('GRANT SELECT ON sched.role_anchor TO %s', role);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._anchor_role(regrole) IS
    'Internal: makes DROP ROLE refuse to drop role (it owns workflows or holds tenant grants) until DROP OWNED.';

CREATE FUNCTION sched._check_os_user(os_user text, field text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF os_user IS NULL OR os_user !~ '^[A-Za-z_][A-Za-z0-9_.-]{0,31}$' THEN
        RAISE EXCEPTION '%: % is not a valid OS user name; use 1-32 letters, digits, ''_'', ''-'' or ''.'', starting with a letter or ''_''',
            field, coalesce(pg_catalog.to_json(os_user)::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_os_user(text, text) IS 'Internal: raises, naming field, unless os_user is a valid OS user name (the spec''s rule).';

CREATE FUNCTION sched.grant_tenant(role regrole, os_user text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._grant_tenant(principal regrole, role regrole, os_user text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    added integer;
BEGIN
    PERFORM sched._require_admin(principal, 'sched.grant_tenant');
    IF role IS NULL THEN
        RAISE EXCEPTION 'role: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sched._check_os_user(os_user, 'os_user');
    -- A root tenant would hand the worker hosts to whoever may use it; workers refuse any
    -- user of uid 0 too, whatever its name.
    IF os_user = 'root' THEN
        RAISE EXCEPTION 'os_user: tasks never run as root; grant an unprivileged OS user'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO sched.tenant_grant (role, os_user, granted_by)
    VALUES (role, os_user, sched._role_name(principal))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    PERFORM sched._anchor_role(role);
    RETURN added > 0;
END
$$;
COMMENT ON FUNCTION sched.grant_tenant(regrole, text) IS
    'sched_admin only: lets role (and its members) run workflows whose shell tasks run as OS user os_user on workers (DolphinScheduler''s tenant). Returns false when it was already granted.';

CREATE FUNCTION sched.revoke_tenant(role regrole, os_user text) RETURNS boolean
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._revoke_tenant(principal regrole, role regrole, os_user text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed integer;
BEGIN
    PERFORM sched._require_admin(principal, 'sched.revoke_tenant');
    DELETE FROM sched.tenant_grant g WHERE g.role = _revoke_tenant.role AND g.os_user = _revoke_tenant.os_user;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed > 0;
END
$$;
COMMENT ON FUNCTION sched.revoke_tenant(regrole, text) IS
    'sched_admin only: takes back a grant_tenant. Instances already started keep their tenant; new starts are refused. Returns false when there was no such grant.';

CREATE FUNCTION sched._reassign_owned(roles oid[], new_owner oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    moved integer;
BEGIN
    UPDATE sched.workflow w SET owner = new_owner::regrole WHERE w.owner = ANY(roles::regrole[]);
    GET DIAGNOSTICS moved = ROW_COUNT;
    -- Project parameters go with the workflows, unless the new owner has its own (of several
    -- old roles', the first's).
    DELETE FROM sched.project_param pp
    WHERE pp.role = ANY(roles::regrole[])
      AND (EXISTS (SELECT 1 FROM sched.project_param n WHERE n.role = new_owner::regrole)
           OR pp.role::oid > (SELECT min(o.role::oid) FROM sched.project_param o WHERE o.role = ANY(roles::regrole[])));
    UPDATE sched.project_param pp SET role = new_owner::regrole WHERE pp.role = ANY(roles::regrole[]);
    IF FOUND THEN
        moved := moved + 1;
    END IF;
    IF moved > 0 THEN
        PERFORM sched._anchor_role(new_owner::regrole);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._reassign_owned(oid[], oid) IS
    'Internal, run after REASSIGN OWNED: the workflows of roles now belong to new_owner, and their project parameters unless new_owner has its own.';

CREATE FUNCTION sched._drop_owned(roles oid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf sched.workflow;
BEGIN
    FOR wf IN SELECT * FROM sched.workflow w WHERE w.owner = ANY(roles::regrole[]) ORDER BY w.id FOR UPDATE LOOP
        PERFORM sched._remove_workflow(wf);
    END LOOP;
    DELETE FROM sched.tenant_grant g WHERE g.role = ANY(roles::regrole[]);
    DELETE FROM sched.use_grant u WHERE u.role = ANY(roles::regrole[]);
    DELETE FROM sched.project_param pp WHERE pp.role = ANY(roles::regrole[]);
END
$$;
COMMENT ON FUNCTION sched._drop_owned(oid[]) IS
    'Internal, run before DROP OWNED: drops the workflows of roles (refused while one has unfinished instances), their tenant grants, use grants and project parameters.';
