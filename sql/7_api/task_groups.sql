-- Task groups: create and drop them. Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.create_task_group(name text, size integer, description text DEFAULT '', replace boolean DEFAULT false,
                                       admit_when text DEFAULT NULL)
RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_task_group(principal regrole, name text, size integer, description text, replace boolean,
                                        admit_when text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing sched.task_group;
BEGIN
    PERFORM sched._check_name(name, 'name', 'task group name');
    IF size IS NULL OR size NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'size: must be between 1 and 100000, got %', size USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO existing FROM sched.task_group tg WHERE tg.name = _create_task_group.name FOR UPDATE;
    IF FOUND THEN
        IF NOT coalesce(replace, false) THEN
            RAISE EXCEPTION 'task group "%" already exists', name USING ERRCODE = 'duplicate_object',
                HINT = 'Pass replace => true to change its size, description or admit_when.';
        END IF;
        PERFORM sched._check_owner(principal, existing.owner, format('task group "%s"', name));
        IF admit_when IS NOT NULL THEN
            PERFORM sched._check_admit_when(existing.owner, admit_when, 'admit_when');
        END IF;
        UPDATE sched.task_group tg SET size = _create_task_group.size, description = coalesce(_create_task_group.description, ''),
                                       admit_when = btrim(_create_task_group.admit_when)
        WHERE tg.id = existing.id;
        -- A new expression is asked anew, not after the last one's interval.
        UPDATE sched.admit_check c SET reason = NULL, checked_at = NULL
        WHERE c.gate = 'task_group' AND c.gate_id = existing.id;
        -- A larger group has room at once; one with admit_when is looked at again by the master.
        PERFORM sched._grant_slots(ARRAY[existing.id]);
        IF admit_when IS NOT NULL THEN
            PERFORM sched._wake_master();
        END IF;
    ELSE
        IF admit_when IS NOT NULL THEN
            PERFORM sched._check_admit_when(principal, admit_when, 'admit_when');
        END IF;
        INSERT INTO sched.task_group (name, size, description, owner, admit_when)
        VALUES (name, size, coalesce(description, ''), principal, btrim(admit_when));
    END IF;
END
$$;
COMMENT ON FUNCTION sched.create_task_group(text, integer, text, boolean, text) IS
    'Creates a task group: tasks naming it (task_group) run at most size at once across all workflows, and with admit_when only while that SQL boolean over sched.load holds (evaluated as the group''s owner); with replace, changes an existing one''s size, description and admit_when (its owner or sched_admin).';

CREATE FUNCTION sched.drop_task_group(name text) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._drop_task_group(principal regrole, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g    sched.task_group;
    used text;
BEGIN
    SELECT * INTO g FROM sched.task_group tg WHERE tg.name = _drop_task_group.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task group "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, g.owner, format('task group "%s"', name));
    SELECT CASE WHEN sched._may_see(principal, w.owner) THEN format('workflow "%s" (version %s)', w.name, v.version)
                ELSE 'a workflow of another role' END INTO used
    FROM sched.task_definition td
    JOIN sched.workflow_version v ON v.id = td.workflow_version_id
    JOIN sched.workflow w ON w.id = v.workflow_id
    WHERE td.task_group_id = g.id LIMIT 1;
    IF used IS NOT NULL THEN
        RAISE EXCEPTION 'task group "%" is used by %', name, used USING ERRCODE = 'dependent_objects_still_exist',
            HINT = 'Replace or drop the workflows that use it first.';
    END IF;
    DELETE FROM sched.task_group WHERE id = g.id;
END
$$;
COMMENT ON FUNCTION sched.drop_task_group(text) IS 'Drops a task group that no workflow version uses (its owner or sched_admin).';
