-- Project parameters: values every workflow of a project (its owning role) sees.
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.set_project_params(project regrole, params jsonb) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- Project parameters reach every workflow of the project, SQL included: only its members may
-- set them, as only they may start its workflows with parameters.
CREATE FUNCTION sched._set_project_params(principal regrole, project regrole, params jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    norm jsonb;
BEGIN
    IF project IS NULL THEN
        RAISE EXCEPTION 'project: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sched._check_owner_strict(principal, project, pg_catalog.format('project %s', project), 'set its parameters');
    IF params IS NULL OR jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'params: must be a JSON object of parameters, e.g. {"region": "eu"}' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The rules of a spec's params.
    norm := sched._normalize_params(params, 'params');
    IF params = '{}' THEN
        DELETE FROM sched.project_param pp WHERE pp.role = project;
    ELSE
        INSERT INTO sched.project_param AS pp (role, params, updated_by)
        VALUES (project, norm, sched._role_name(principal))
        ON CONFLICT (role) DO UPDATE SET params = excluded.params, updated_by = excluded.updated_by, updated_at = now();
        PERFORM sched._anchor_role(project);
    END IF;
END
$$;
COMMENT ON FUNCTION sched.set_project_params(regrole, jsonb) IS
    'Sets the parameters of a project (the role owning workflows; members of it only): plain values or {"value", "type"} as a spec''s params, which its workflows'' instances see below their own globals (DolphinScheduler''s project parameters). {} removes them.';
