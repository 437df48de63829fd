-- The console's home page over a chosen range: runs and attempts counted by the hour. The
-- views sched.instance_states_hourly and sched.task_states_hourly count the whole history (for
-- BI tools, which filter what they read); a range given to a view is applied after it counted
-- every row, seconds at a million runs. These read only the range: runs through
-- workflow_instance_created, attempts through the runs alive in it (created before its end, not
-- ended before its start: an attempt is queued while its run is), each by its run's index.
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

-- The range of a dashboard function, checked: both ends given, from before to.
CREATE FUNCTION sched._check_range(range_from timestamptz, range_to timestamptz) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF range_from IS NULL OR range_to IS NULL OR range_from >= range_to THEN
        RAISE EXCEPTION 'range_from, range_to: must both be given, range_from before range_to; got % and %',
                        coalesce(range_from::text, 'NULL'), coalesce(range_to::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_range(timestamptz, timestamptz) IS 'Internal: raises unless range_from and range_to are given and range_from is before range_to.';

CREATE FUNCTION sched.hourly_instance_states(range_from timestamptz, range_to timestamptz)
RETURNS TABLE (hour timestamptz, workflow text, state text, instances bigint)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._hourly_instance_states(principal regrole, range_from timestamptz, range_to timestamptz)
RETURNS TABLE (hour timestamptz, workflow text, state text, instances bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Planned for its range: a day reads an index, a month may not.
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    PERFORM sched._check_range(range_from, range_to);
    RETURN QUERY
    SELECT date_trunc('hour', i.created_at), w.name, i.state::text, count(*)
      FROM sched.workflow_instance i
      JOIN sched.workflow w ON w.id = i.workflow_id
     WHERE i.workflow_id = ANY (sched._visible_workflow_ids(principal))
       AND i.created_at >= range_from AND i.created_at < range_to
     GROUP BY 1, 2, 3;
END
$$;
COMMENT ON FUNCTION sched.hourly_instance_states(timestamptz, timestamptz) IS
    'Workflow instances you may see created in [range_from, range_to), by the hour (in the session''s time zone), workflow and the state they are in now: sched.instance_states_hourly for a range, read through an index.';

CREATE FUNCTION sched.hourly_task_states(range_from timestamptz, range_to timestamptz)
RETURNS TABLE (hour timestamptz, workflow text, state text, attempts bigint)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._hourly_task_states(principal regrole, range_from timestamptz, range_to timestamptz)
RETURNS TABLE (hour timestamptz, workflow text, state text, attempts bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    visible bigint[];
BEGIN
    PERFORM sched._check_range(range_from, range_to);
    visible := sched._visible_workflow_ids(principal);
    RETURN QUERY
    WITH alive AS (
        SELECT i.id, i.workflow_id FROM sched.workflow_instance i
         WHERE i.workflow_id = ANY (visible) AND i.created_at < range_to AND i.ended_at >= range_from
        UNION ALL
        SELECT i.id, i.workflow_id FROM sched.workflow_instance i
         WHERE i.workflow_id = ANY (visible) AND i.created_at < range_to
           AND i.state <> ALL (sched._workflow_states_finished())
    )
    SELECT date_trunc('hour', ti.queued_at), w.name, ti.state::text, count(*)
      FROM alive a
      JOIN sched._attempts ti ON ti.workflow_instance_id = a.id
      JOIN sched.workflow w ON w.id = a.workflow_id
     WHERE ti.queued_at >= range_from AND ti.queued_at < range_to
     GROUP BY 1, 2, 3;
END
$$;
COMMENT ON FUNCTION sched.hourly_task_states(timestamptz, timestamptz) IS
    'Task attempts you may see queued in [range_from, range_to), by the hour (in the session''s time zone), workflow and the state they are in now: sched.task_states_hourly for a range, read through the runs alive in it.';
