-- Who is calling, and may they touch this workflow.
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

-- How an error names a workflow: by name when the principal may see it, else only as another
-- role's, so that errors never reveal other users' workflows.
CREATE FUNCTION sched._workflow_label(principal regrole, name text, owner regrole) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN sched._may_see(principal, owner) THEN pg_catalog.format('workflow "%s"', name)
                ELSE 'a workflow of another role' END
$$;
COMMENT ON FUNCTION sched._workflow_label(regrole, text, regrole) IS
    'Internal: ''workflow "name"'' for a principal that may see it, else ''a workflow of another role''.';

-- The rule of names (worker groups, alert groups, task groups, datasources), as sched-core's
-- spec::is_name has it for specs.
CREATE FUNCTION sched._check_name(value text, field text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL OR value !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION '%: "%" is not a valid %; use 1-63 letters, digits, ''_'', ''-'' or ''.'', starting with a letter or digit', field, value, what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN value;
END
$$;
COMMENT ON FUNCTION sched._check_name(text, text, text) IS
    'Internal: returns value when it is a valid name (1-63 letters, digits, _, - or ., starting with a letter or digit), else raises naming field and what it names.';

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

CREATE FUNCTION sched._role_name(principal regrole) RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.pg_get_userbyid(principal)::text $$;
COMMENT ON FUNCTION sched._role_name(regrole) IS
    'Internal: the name a history row records for a role (the name at the time, so that history outlives a dropped role).';

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

CREATE FUNCTION sched._priority_rank(value text, field text) RETURNS smallint
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    CASE lower(value)
        WHEN 'highest' THEN RETURN 0;
        WHEN 'high' THEN RETURN 1;
        WHEN 'medium' THEN RETURN 2;
        WHEN 'low' THEN RETURN 3;
        WHEN 'lowest' THEN RETURN 4;
        ELSE RAISE EXCEPTION '%: "%" is not a valid priority; allowed: highest, high, medium, low, lowest', field, value
            USING ERRCODE = 'invalid_parameter_value';
    END CASE;
END
$$;
COMMENT ON FUNCTION sched._priority_rank(text, text) IS 'Internal: priority name to rank (0 = highest), with an error naming field.';
