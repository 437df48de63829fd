-- Lists a page at a time, newest first (what the console's runs and task runs pages call):
-- keyset paging on id (`before`: the last id of the page before), filters by name. The views
-- (6_views/runs.sql) give the same rows, but a security_barrier view is planned on its own,
-- so ORDER BY id DESC LIMIT n over one sorts every row the caller may see: at a million runs,
-- seconds. These find a page's ids in the tables themselves, each filter on the column an
-- index or the statistics know (a workflow's id, the state's enum value), in a plan that
-- reads the newest first and stops at the page's end, then return the views' rows of those
-- ids (sched._workflow_instance_rows, sched._task_instance_rows).
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

-- The filters of a list, checked: only the keys of `conditions` ({filter: [SQL condition over
-- the values as $2, kind]}), each a string (an id may be a number), times, dates and ids
-- parsable; returns the conditions of those given (every value is bound, never spliced).
CREATE FUNCTION sched._list_conditions(filters jsonb, conditions jsonb) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    k    text;
    kind text;
    sql  text := '';
BEGIN
    IF filters IS NULL OR jsonb_typeof(filters) <> 'object' THEN
        RAISE EXCEPTION 'filters: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(filters) ORDER BY 1 LOOP
        kind := conditions->k->>1;
        IF kind IS NULL THEN
            RAISE EXCEPTION 'filters.%: not a filter; allowed: %', k,
                            (SELECT string_agg(c, ', ' ORDER BY c) FROM jsonb_object_keys(conditions) c)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        CONTINUE WHEN jsonb_typeof(filters->k) = 'null';
        IF NOT (jsonb_typeof(filters->k) = 'string' OR (kind = 'id' AND jsonb_typeof(filters->k) = 'number')) THEN
            RAISE EXCEPTION 'filters.%: must be a string', k USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            CASE kind
                WHEN 'time' THEN PERFORM (filters->>k)::timestamptz;
                WHEN 'date' THEN PERFORM (filters->>k)::date;
                WHEN 'id' THEN PERFORM (filters->>k)::bigint;
                WHEN 'workflow_state' THEN PERFORM (filters->>k)::sched.workflow_state;
                WHEN 'task_state' THEN PERFORM (filters->>k)::sched.task_state;
                ELSE NULL;
            END CASE;
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'filters.%: "%" is not %', k, filters->>k,
                            CASE kind WHEN 'date' THEN 'a date (YYYY-MM-DD)' WHEN 'id' THEN 'an id'
                                      WHEN 'workflow_state' THEN 'a workflow state; allowed: ' || array_to_string(enum_range(NULL::sched.workflow_state), ', ')
                                      WHEN 'task_state' THEN 'a task state; allowed: ' || array_to_string(enum_range(NULL::sched.task_state), ', ')
                                      ELSE 'a time (ISO 8601, e.g. 2026-12-05T08:00:00Z)' END
                USING ERRCODE = 'invalid_parameter_value';
        END;
        sql := sql || ' AND ' || (conditions->k->>0);
    END LOOP;
    RETURN sql;
END
$$;
COMMENT ON FUNCTION sched._list_conditions(jsonb, jsonb) IS
    'Internal: checks a list''s filters ({filter: value}) against its conditions ({filter: [SQL over the values as $2, text|time|date|id|workflow_state|task_state]}) and returns the conditions of those given.';

-- The ids of a list's page: the `id_column` of `source` (which has the run as i), for the
-- principal, below `before`, filtered (sched._list_conditions), newest first. `by_runs`, for a
-- list of what runs hold (attempts), restricts source to the runs $6 created at or after $7.
CREATE FUNCTION sched._list_ids(principal regrole, source text, id_column text, filters jsonb, conditions jsonb,
                                before bigint, max_rows integer, by_runs text DEFAULT NULL) RETURNS bigint[]
LANGUAGE plpgsql STABLE
-- A page is milliseconds of work; estimates over the history's partitions reach JIT's
-- thresholds, and compiling took 1.5 s of every page once a 100,000-task run was archived.
SET jit = off
-- Each call planned for its own values: a plan cached for any role reads a role's few runs by
-- scanning everyone's (0.2 s at a million where its own plan takes milliseconds).
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    filtered text := sched._list_conditions(filters, conditions);
    visible  bigint[] := sched._visible_workflow_ids(principal);
    runs     bigint[];
    oldest   timestamptz;
    ids      bigint[];
BEGIN
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_rows: must be between 1 and 1000, got %', coalesce(max_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF before IS NOT NULL AND before < 1 THEN
        RAISE EXCEPTION 'before: must be an id (the last id of the page before), got %', before
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A role that sees a few runs among many: newest first, the scan below would step over
    -- every other role's attempts before it finds the page (seconds at a million, the planner
    -- cannot know that they are old). Up to 1,000 runs holding up to 10,000 matching rows are
    -- read whole instead, through the runs' index, and sorted.
    IF by_runs IS NOT NULL THEN
        SELECT array_agg(r.id), min(r.created_at) INTO runs, oldest
          FROM (SELECT i.id, i.created_at FROM sched.workflow_instance i
                 WHERE i.workflow_id = ANY (visible) LIMIT 1001) r;
        IF coalesce(cardinality(runs), 0) <= 1000 THEN
            EXECUTE format(
                'SELECT array(SELECT %1$s FROM %2$s
                 WHERE %4$s AND i.workflow_id = ANY ($5)
                   AND ($3 IS NULL OR %1$s < $3)%3$s
                 LIMIT 10001)', id_column, source, filtered, by_runs)
                INTO ids
                USING principal, filters, before, max_rows, visible, coalesce(runs, '{}'), oldest;
            IF cardinality(ids) <= 10000 THEN
                RETURN ARRAY(SELECT x FROM unnest(ids) x ORDER BY x DESC LIMIT max_rows);
            END IF;
        END IF;
    END IF;
    -- Visibility on the run's own column: for a role that sees few runs the planner reads those
    -- through workflow_instance_by_workflow instead of walking every other role's newest first.
    EXECUTE format(
        'SELECT array(SELECT %1$s FROM %2$s
         WHERE i.workflow_id = ANY ($5)
           AND ($3 IS NULL OR %1$s < $3)%3$s
         ORDER BY %1$s DESC LIMIT $4)', id_column, source, filtered)
        INTO ids
        USING principal, filters, before, max_rows, visible;
    RETURN ids;
END
$$;
COMMENT ON FUNCTION sched._list_ids(regrole, text, text, jsonb, jsonb, bigint, integer, text) IS
    'Internal: the ids of a page of a list for principal (its paging arguments and filters checked), newest first; by_runs (a condition on $6, the ids of the runs principal may see, and $7, the oldest one''s creation) lets a list of what runs hold read them run by run when principal sees few.';

CREATE FUNCTION sched.list_workflow_instances(filters jsonb DEFAULT '{}', before bigint DEFAULT NULL, max_rows integer DEFAULT 50)
RETURNS SETOF sched.workflow_instances
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._list_workflow_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.workflow_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- As _list_ids: no page is worth compiling.
SET jit = off
AS $$
DECLARE
    conditions jsonb := $c${
        "workflow": ["i.workflow_id = (SELECT w1.id FROM sched.workflow w1 WHERE w1.name = $2->>'workflow')", "text"],
        "state": ["i.state = ($2->>'state')::sched.workflow_state", "workflow_state"],
        "from": ["i.created_at >= ($2->>'from')::timestamptz", "time"],
        "to": ["i.created_at < ($2->>'to')::timestamptz", "time"],
        "business_date": ["(i.business_time AT TIME ZONE i.time_zone)::date = ($2->>'business_date')::date", "date"],
        "started_by": ["i.started_by = $2->>'started_by'", "text"],
        "command_type": ["(SELECT c.command_type FROM sched.command c WHERE c.workflow_instance_id = i.id ORDER BY c.id LIMIT 1) = $2->>'command_type'", "text"]}$c$;
    ids bigint[] := sched._list_ids(principal, 'sched.workflow_instance i', 'i.id',
                                    filters, conditions, before, max_rows);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._workflow_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id DESC;
END
$$;
COMMENT ON FUNCTION sched.list_workflow_instances(jsonb, bigint, integer) IS
    'Workflow instances you may see, newest first, a page at a time: the rows of sched.workflow_instances with id below before (the last id of the page before; NULL for the first page), at most max_rows (1 to 1000). filters: workflow, state, started_by, command_type (equal), business_date (YYYY-MM-DD), from and to (created at or after, before).';

CREATE FUNCTION sched.list_task_instances(filters jsonb DEFAULT '{}', before bigint DEFAULT NULL, max_rows integer DEFAULT 50)
RETURNS SETOF sched.task_instances
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._list_task_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.task_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- As _list_ids: no page is worth compiling.
SET jit = off
AS $$
DECLARE
    conditions jsonb := $c${
        "workflow": ["i.workflow_id = (SELECT w1.id FROM sched.workflow w1 WHERE w1.name = $2->>'workflow')", "text"],
        "task": ["ti.task_id IN (SELECT td.id FROM sched.task_definition td WHERE td.name = $2->>'task')", "text"],
        "state": ["ti.state = ($2->>'state')::sched.task_state", "task_state"],
        "worker": ["ti.worker_id IN (SELECT wk.id FROM sched.worker wk WHERE wk.name = $2->>'worker')", "text"],
        "instance": ["ti.workflow_instance_id = ($2->>'instance')::bigint", "id"],
        "from": ["ti.queued_at >= ($2->>'from')::timestamptz", "time"],
        "to": ["ti.queued_at < ($2->>'to')::timestamptz", "time"]}$c$;
    ids bigint[] := sched._list_ids(principal,
                                    'sched._attempts ti JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id', 'ti.id',
                                    filters, conditions, before, max_rows,
                                    -- An attempt ends after its run began: days of history before the oldest run are not read.
                                    -- One run's attempts are read newest first through its own rows
                                    -- instead: it may hold more than the 10,000 read whole.
                                    CASE WHEN NOT coalesce(filters ? 'instance', false)
                                         THEN 'ti.workflow_instance_id = ANY ($6) AND (ti.ended_at IS NULL OR ti.ended_at >= $7)' END);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._task_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id DESC;
END
$$;
COMMENT ON FUNCTION sched.list_task_instances(jsonb, bigint, integer) IS
    'Task attempts you may see, newest first, a page at a time: the rows of sched.task_instances with id below before (NULL for the first page), at most max_rows (1 to 1000). filters: workflow, task, state, worker (equal), instance (a workflow instance id), from and to (queued at or after, before).';
