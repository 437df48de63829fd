-- Task groups (reference §4.7): a named number of slots that caps how many tasks of the group
-- run at once, across all workflows. An attempt of such a task takes a slot when it would be
-- queued (it waits in delayed, with no time, until one is free) and gives it back when it ends
-- in any way; slots go to the waiting attempts by task_group_priority (larger first), then as
-- the queue orders them. Tasks of no group touch none of this.

CREATE TABLE sched.task_group (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    size        integer NOT NULL CHECK (size >= 1),
    description text NOT NULL DEFAULT '',
    owner       regrole NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sched.task_group IS 'Task groups: how many tasks of each may run at once; read through sched.task_groups.';
COMMENT ON COLUMN sched.task_group.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.task_group.name IS 'Name tasks refer to (task_group).';
COMMENT ON COLUMN sched.task_group.size IS 'Slots: tasks of the group that run at once at most.';
COMMENT ON COLUMN sched.task_group.description IS 'Free text.';
COMMENT ON COLUMN sched.task_group.owner IS 'Role that created it; it (or sched_admin) may change or drop it.';
COMMENT ON COLUMN sched.task_group.created_at IS 'When it was created.';

-- Hands free slots of these groups to their waiting attempts. The group's row lock makes
-- concurrent grants and releases of one group take turns.
CREATE FUNCTION sched._grant_slots(group_ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    g      sched.task_group;
    groups text[];
BEGIN
    FOR g IN SELECT * FROM sched.task_group tg WHERE tg.id = ANY(group_ids) ORDER BY tg.id FOR UPDATE LOOP
        WITH granted AS (
            UPDATE sched.task_instance ti SET state = 'queued', holds_slot = true
            WHERE ti.id = ANY(ARRAY(
                      SELECT w.id FROM sched.task_instance w
                      WHERE w.task_group_id = g.id AND w.state = 'delayed' AND w.not_before IS NULL
                      ORDER BY w.task_group_priority DESC, w.workflow_priority, w.task_priority, w.id
                      LIMIT greatest(0, g.size - (SELECT count(*) FROM sched.task_instance h
                                                  WHERE h.task_group_id = g.id AND h.holds_slot))))
              AND ti.state = 'delayed'
            RETURNING ti.worker_group)
        SELECT array_agg(DISTINCT worker_group) INTO groups FROM granted;
        PERFORM sched._notify_ready(groups);
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._grant_slots(bigint[]) IS 'Internal: queues as many waiting attempts of these task groups as they have free slots.';

-- These attempts ended (or stopped waiting in the queue): their slots go to the next waiting.
CREATE FUNCTION sched._release_slots(task_instance_ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    groups bigint[];
BEGIN
    WITH released AS (
        UPDATE sched.task_instance ti SET holds_slot = false
        WHERE ti.id = ANY(task_instance_ids) AND ti.holds_slot
        RETURNING ti.task_group_id)
    SELECT array_agg(DISTINCT task_group_id) INTO groups FROM released;
    IF groups IS NOT NULL THEN
        PERFORM sched._grant_slots(groups);
    END IF;
END
$$;
COMMENT ON FUNCTION sched._release_slots(bigint[]) IS 'Internal: gives back the task-group slots of these attempts and hands them on.';

CREATE FUNCTION sched.create_task_group(name text, size integer, description text DEFAULT '', replace boolean DEFAULT false)
RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_task_group(principal regrole, name text, size integer, description text, replace boolean)
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
                HINT = 'Pass replace => true to change its size or description.';
        END IF;
        PERFORM sched._check_owner(principal, existing.owner, format('task group "%s"', name));
        UPDATE sched.task_group tg SET size = _create_task_group.size, description = coalesce(_create_task_group.description, '')
        WHERE tg.id = existing.id;
        -- A larger group has room at once.
        PERFORM sched._grant_slots(ARRAY[existing.id]);
    ELSE
        INSERT INTO sched.task_group (name, size, description, owner)
        VALUES (name, size, coalesce(description, ''), principal);
    END IF;
END
$$;
COMMENT ON FUNCTION sched.create_task_group(text, integer, text, boolean) IS
    'Creates a task group: tasks naming it (task_group) run at most size at once across all workflows; with replace, changes an existing one''s size or description (its owner or sched_admin).';

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
