-- pg_sched 0.4.0 to 0.5.0 (CHANGELOG.md): the choices of a spec's enum-like fields for forms
-- (sched._spec_choices), and the list functions finding a role's runs through the workflows it
-- may see, and sched.instance_tasks fast at 10,000 tasks. Run by ALTER EXTENSION pg_sched UPDATE, in one transaction; the test of
-- tests/tests/upgrade.rs checks that a database of an earlier release updated by it has the
-- schema of a fresh 0.5.0 install and keeps all it held. No table changes.

\echo Use "ALTER EXTENSION pg_sched UPDATE" to load this file. \quit

-- 1_schema/01_vocabulary.sql
CREATE FUNCTION sched._spec_choices() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"condition_statuses":["succeeded","failed"],"cycles":[{"cycle":"hour","date_values":["currentHour","last1Hour","last2Hours","last3Hours","last24Hours"]},{"cycle":"day","date_values":["today","last1Days","last2Days","last3Days","last7Days"]},{"cycle":"week","date_values":["thisWeek","lastWeek","lastMonday","lastTuesday","lastWednesday","lastThursday","lastFriday","lastSaturday","lastSunday"]},{"cycle":"month","date_values":["thisMonth","thisMonthBegin","lastMonth","lastMonthBegin","lastMonthEnd"]}],"dependent_failures":["fail","wait"],"execution_types":["parallel","serial_wait","serial_discard","serial_priority"],"failure_strategies":["continue","end"],"notify_strategies":["none","success","failure","all"],"param_types":["varchar","integer","long","float","double","date","time","timestamp","boolean","list"],"priorities":["highest","high","medium","low","lowest"],"relations":["and","or"],"timeout_strategies":["warn","fail","warn_fail"],"workflow_timeout_strategies":["warn","stop"]}'::jsonb $$;
COMMENT ON FUNCTION sched._spec_choices() IS 'Internal: the values a spec''s enum-like fields allow (failure strategies, execution types, priorities, timeout and notify strategies, parameter types, relations, condition statuses, DEPENDENT''s failure policies and its cycles with their date values), each list in the order errors name them: what forms offer.';
-- As 8_grants does: revoked from PUBLIC with everything, then granted again.
REVOKE ALL ON FUNCTION sched._spec_choices() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sched._spec_choices() TO PUBLIC;

-- 7_api/lists.sql
CREATE OR REPLACE FUNCTION sched._list_ids(principal regrole, source text, id_column text, filters jsonb, conditions jsonb,
                                before bigint, max_rows integer) RETURNS bigint[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    filtered text := sched._list_conditions(filters, conditions);
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
    -- Visibility as the ids of the workflows the principal may see, on the instance's own
    -- column: the planner then knows how many rows that leaves, and for a role that sees few
    -- of many it reads those through workflow_instance_by_workflow instead of walking every
    -- other role's rows newest first (half a second at a million runs).
    EXECUTE format(
        'SELECT array(SELECT %1$s FROM %2$s
         WHERE i.workflow_id = ANY ($5)
           AND ($3 IS NULL OR %1$s < $3)%3$s
         ORDER BY %1$s DESC LIMIT $4)', id_column, source, filtered)
        INTO ids
        USING principal, filters, before, max_rows,
              ARRAY(SELECT w.id FROM sched.workflow w WHERE sched._may_see(principal, w.owner));
    RETURN ids;
END
$$;

CREATE OR REPLACE FUNCTION sched._list_workflow_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.workflow_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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

CREATE OR REPLACE FUNCTION sched._list_task_instances(principal regrole, filters jsonb, before bigint, max_rows integer)
RETURNS SETOF sched.task_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
                                    filters, conditions, before, max_rows);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._task_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id DESC;
END
$$;

-- 7_api/graphs.sql
CREATE OR REPLACE FUNCTION sched._instance_tasks(principal regrole, instance_id bigint)
RETURNS TABLE (task text, type text, deps text[], depth integer, task_instance_id bigint, state text, attempt integer,
               worker text, exit_code integer, started_at timestamptz, ended_at timestamptz, duration interval)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The walk's row estimates are wild (a recursive CTE over CTEs), and a nested loop chosen on a
-- version whose tasks have no statistics yet took a minute at 10,000 tasks; hash joins take
-- under a second, and JIT, triggered by those estimates, only added to it.
SET enable_nestloop = off
SET jit = off
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._instance_for(principal, instance_id, false);
    RETURN QUERY
    WITH RECURSIVE tasks AS (
        SELECT td.id, td.name, td.task_type, td.successors
          FROM sched.task_definition td
         WHERE td.workflow_version_id = inst.workflow_version_id AND (inst.scope IS NULL OR td.id = ANY(inst.scope))
    ), edges AS (
        SELECT t.id AS up, s.id AS down FROM tasks t CROSS JOIN LATERAL unnest(t.successors) AS s(id)
        WHERE s.id IN (SELECT id FROM tasks)
    ), walk AS (
        -- The longest path from a root: every task comes after all its upstream tasks.
        SELECT t.id, 0 AS depth FROM tasks t WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.down = t.id)
        UNION
        SELECT e.down, w.depth + 1 FROM walk w JOIN edges e ON e.up = w.id
    ), placed AS (
        SELECT w.id, max(w.depth) AS depth FROM walk w GROUP BY w.id
    ), upstream AS (
        -- Grouped once: a subquery per task over the edges took 28 s at 10,000 tasks.
        SELECT e.down AS id, array_agg(u.name ORDER BY u.name) AS names
          FROM edges e JOIN tasks u ON u.id = e.up GROUP BY e.down
    )
    SELECT t.name, t.task_type, coalesce(up.names, '{}'),
           p.depth, a.id, coalesce(a.state, 'not run'), a.attempt, wk.name, a.exit_code,
           a.started_at, a.ended_at, a.ended_at - a.started_at
      FROM tasks t
      JOIN placed p ON p.id = t.id
      LEFT JOIN upstream up ON up.id = t.id
      LEFT JOIN sched._latest_attempts(instance_id) a ON a.task_id = t.id
      LEFT JOIN sched.worker wk ON wk.id = a.worker_id
     ORDER BY p.depth, t.id;
END
$$;
