-- Tenants (DolphinScheduler's 租户): OS users that process tasks run as on workers. sched_admin
-- decides which roles may use which OS users; a workflow (or a start option) names one.
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

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
