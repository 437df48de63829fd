-- Who is calling, and may they touch this workflow (docs/architecture.md, "Security model").
--
-- Identity is the role executing the call: current_user as the caller sees it, never the session
-- user or the `role` setting, so that code run by a lower role inside a privileged session (an
-- index expression under autovacuum, another role's SECURITY DEFINER function) acts as that lower
-- role. A SECURITY DEFINER function cannot see that role, so every public function is a C
-- function bound to `sched_as_caller` (extension/src/principal.rs): it captures the executing
-- role and calls the internal function `sched._<name>(principal regrole, <same arguments>)`,
-- which is SECURITY DEFINER with a pinned search_path and acts for that principal. The master
-- and later internal callers (cron fires, backfills, sub-workflows) call the same internal
-- functions with the principal they act for, e.g. a schedule's owner.
--
-- Function hygiene: internal functions are executable by nobody but the extension's owner and
-- schema-qualify what they call. The entry points (the `_<name>(principal, ...)` functions and
-- what the master calls) pin search_path; the helpers they call (named sched._*) carry no SET
-- clause, because one blocks SQL-function inlining and costs a configuration save and restore
-- on every call of the completion hot path, and they run only inside a pinned entry point. The
-- entry points that move work force generic plans: their statements take id arrays, and custom
-- plans would be re-planned on every call (a tenfold cost measured on the completion path) for
-- no better plan.

CREATE FUNCTION sched._check_owner(principal regrole, owner regrole, what text) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF principal IS NULL OR NOT (pg_catalog.pg_has_role(principal, owner, 'MEMBER')
                                 OR pg_catalog.pg_has_role(principal, 'sched_admin', 'MEMBER')) THEN
        RAISE EXCEPTION 'permission denied for %', what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('Role %s is neither a member of the role that owns it nor of sched_admin.', principal);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_owner(regrole, regrole, text) IS 'Internal: raises unless principal may act on something owned by owner (a member of owner, or of sched_admin). The message never names the owner.';

-- What runs code as the owner is the owner's alone: replacing a definition, scheduling it and
-- starting it with parameters (which reach its SQL and scripts, `!{...}` included). sched_admin
-- passes _check_owner, and would otherwise become any owner, superusers included.
CREATE FUNCTION sched._check_owner_strict(principal regrole, owner regrole, what text, action text) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF principal IS NULL OR NOT pg_catalog.pg_has_role(principal, owner, 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied for %', what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('Only members of the role that owns it may %s (it runs as that role); role %s is not one, and sched_admin does not suffice.', action, principal);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_owner_strict(regrole, regrole, text, text) IS
    'Internal: raises unless principal is a member of owner (sched_admin does not suffice): for what runs code as the owner.';

-- A project is a group role that owns workflows (DolphinScheduler's project): its members
-- define, run and see them. Naming one in a spec needs membership, as SET ROLE would.
CREATE FUNCTION sched._project_owner(principal regrole, project text) RETURNS regrole
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    role regrole;
BEGIN
    IF project IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT r.oid::regrole INTO role FROM pg_catalog.pg_roles r WHERE r.rolname = project;
    IF role IS NULL OR NOT pg_catalog.pg_has_role(principal, role, 'MEMBER') THEN
        RAISE EXCEPTION 'project: role "%" does not exist or role % is not a member of it', project, principal
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A project is a group role; its members (GRANT project TO member) define and run its workflows.';
    END IF;
    RETURN role;
END
$$;
COMMENT ON FUNCTION sched._project_owner(regrole, text) IS
    'Internal: the role a spec''s project names, which will own the workflow; raises unless principal is a member of it.';

CREATE FUNCTION sched._may_see(principal regrole, owner regrole) RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.pg_has_role(principal, owner, 'MEMBER') OR pg_catalog.pg_has_role(principal, 'sched_admin', 'MEMBER') $$;
COMMENT ON FUNCTION sched._may_see(regrole, regrole) IS
    'Internal: may principal see things owned by owner; errors name another role''s workflows only when it may.';

-- Lists and counts filter runs on their own workflow_id column with this (`= ANY`): the planner
-- then knows how many rows a role that sees few of many leaves and reads them through
-- workflow_instance_by_workflow, where a check of each row's owner walks every other role's.
CREATE FUNCTION sched._visible_workflow_ids(principal regrole) RETURNS bigint[]
LANGUAGE sql STABLE
AS $$ SELECT ARRAY(SELECT w.id FROM sched.workflow w WHERE sched._may_see(principal, w.owner)) $$;
COMMENT ON FUNCTION sched._visible_workflow_ids(regrole) IS
    'Internal: the ids of the workflows principal may see (sched._may_see).';

CREATE FUNCTION sched._require_admin(principal regrole, what text) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF principal IS NULL OR NOT pg_catalog.pg_has_role(principal, 'sched_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied for %', what
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('Only members of sched_admin may; role %s is not one.', principal);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._require_admin(regrole, text) IS 'Internal: raises unless principal is a member of sched_admin.';

CREATE FUNCTION sched._check_tenant(role regrole, os_user text, field text) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF os_user IS NULL THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM sched.tenant_grant g
                   WHERE g.os_user = _check_tenant.os_user
                     AND pg_catalog.pg_has_role(_check_tenant.role, g.role, 'MEMBER')) THEN
        RAISE EXCEPTION '%: role % may not run tasks as OS user "%"', field, role, os_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = pg_catalog.format('A member of sched_admin can allow it: SELECT sched.grant_tenant(%L, %L);', role::text, os_user);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_tenant(regrole, text, text) IS
    'Internal: raises, naming field, unless role (or a role it is a member of) was granted the OS user as a tenant; NULL (no tenant) is always allowed.';

CREATE FUNCTION sched._instance_for(principal regrole, instance_id bigint, lock boolean) RETURNS sched.workflow_instance
LANGUAGE plpgsql
AS $$
DECLARE
    inst  sched.workflow_instance;
    owner regrole;
BEGIN
    IF lock THEN
        -- With the instances above it first: ending a sub-process instance ends its attempt.
        PERFORM sched._lock_family(ARRAY[instance_id], true);
        SELECT * INTO inst FROM sched.workflow_instance wi WHERE wi.id = instance_id;
    ELSE
        SELECT * INTO inst FROM sched.workflow_instance wi WHERE wi.id = instance_id;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow instance % does not exist', instance_id USING ERRCODE = 'undefined_object';
    END IF;
    SELECT w.owner INTO owner FROM sched.workflow w WHERE w.id = inst.workflow_id;
    PERFORM sched._check_owner(principal, owner, pg_catalog.format('workflow instance %s', instance_id));
    RETURN inst;
END
$$;
COMMENT ON FUNCTION sched._instance_for(regrole, bigint, boolean) IS
    'Internal: the workflow instance, after checking the principal may act on its workflow.';

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

CREATE FUNCTION sched._visible(owner regrole) RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.pg_has_role(owner, 'MEMBER') OR pg_catalog.pg_has_role('sched_admin', 'MEMBER') $$;
COMMENT ON FUNCTION sched._visible(regrole) IS 'Internal: may the current role see things owned by owner.';
