-- Registering and dropping task types (sched_admin). Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.register_task_type(name text, definition jsonb, replace boolean DEFAULT false) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._register_task_type(principal regrole, name text, definition jsonb, replace boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    norm jsonb;
BEGIN
    PERFORM sched._require_admin(principal, 'sched.register_task_type');
    IF name IS NULL OR definition IS NULL THEN
        RAISE EXCEPTION '%: required', CASE WHEN name IS NULL THEN 'name' ELSE 'definition' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    norm := sched._normalize_task_type(name, definition);
    IF EXISTS (SELECT 1 FROM sched.task_type tt WHERE tt.name = _register_task_type.name) THEN
        IF NOT coalesce(replace, false) THEN
            RAISE EXCEPTION 'task type "%" already exists', name
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Pass replace => true; workflow versions already defined keep the definition they were created with.';
        END IF;
        UPDATE sched.task_type tt SET definition = norm, created_by = sched._role_name(principal), created_at = now()
        WHERE tt.name = _register_task_type.name;
    ELSE
        INSERT INTO sched.task_type (name, definition, created_by)
        VALUES (_register_task_type.name, norm, sched._role_name(principal));
    END IF;
END
$$;
COMMENT ON FUNCTION sched.register_task_type(text, jsonb, boolean) IS
    'sched_admin only: registers a task type {"description", "fields": {name: {"kind": string|integer|boolean|enum|list, "required", "default", "values"}}, "command": template, "interpreter"}. The template''s {field} is the value shell-quoted, [...] a part left out unless its fields have values. replace => true changes an existing type for workflows defined from then on.';

CREATE FUNCTION sched.drop_task_type(name text) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._drop_task_type(principal regrole, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    user_of record;
BEGIN
    PERFORM sched._require_admin(principal, 'sched.drop_task_type');
    PERFORM 1 FROM sched.task_type tt WHERE tt.name = _drop_task_type.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task type "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    SELECT w.name AS workflow, v.version INTO user_of
    FROM sched.task_definition td
    JOIN sched.workflow_version v ON v.id = td.workflow_version_id
    JOIN sched.workflow w ON w.id = v.workflow_id
    WHERE td.task_type = _drop_task_type.name
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'task type "%" is used by workflow "%" (version %)', name, user_of.workflow, user_of.version
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop or replace the workflows that use it first.';
    END IF;
    DELETE FROM sched.task_type tt WHERE tt.name = _drop_task_type.name;
END
$$;
COMMENT ON FUNCTION sched.drop_task_type(text) IS
    'sched_admin only: removes a registered task type; refused while a version of any workflow uses it.';
