-- Datasources: sched_admin declares the names; their connections are only in workers' files.
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

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
