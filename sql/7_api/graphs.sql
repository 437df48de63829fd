-- Pictures of a DAG and its tasks in order: a workflow's tasks and dependencies as Graphviz DOT
-- or Mermaid text, and an instance's, each task coloured by the state of its latest attempt
-- (gathered here, drawn by sched._render_graph in Rust), and an instance's tasks and attempts
-- a page at a time.

-- The dependencies of a workflow version, by task id, in no order: sched._render_graph
-- orders them. One row; a set so that it is inlined where it is used.
CREATE FUNCTION sched._version_edges(version_id bigint) RETURNS TABLE (edge_from bigint[], edge_to bigint[])
LANGUAGE sql STABLE
AS $$
    -- unnest in the select list: a lateral join over the successor arrays cost twice as much.
    SELECT array_agg(e.up), array_agg(e.down)
      FROM (SELECT up.id AS up, unnest(up.successors) AS down
              FROM sched.task_definition up WHERE up.workflow_version_id = version_id) e
$$;
COMMENT ON FUNCTION sched._version_edges(bigint) IS 'Internal: a workflow version''s dependencies as parallel arrays of task ids (upstream, downstream).';

-- The latest attempt of each task of an instance, live or archived: the one with the highest id,
-- as sched_core::graph::fill_latest picks it for instance_graph.
CREATE FUNCTION sched._latest_attempts(instance_id bigint)
RETURNS TABLE (task_id bigint, id bigint, state text, attempt integer, worker_id bigint, exit_code integer,
               started_at timestamptz, ended_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT DISTINCT ON (a.task_id) a.task_id, a.id, a.state::text, a.attempt, a.worker_id, a.exit_code, a.started_at, a.ended_at
      FROM sched._attempts a WHERE a.workflow_instance_id = instance_id
     ORDER BY a.task_id, a.id DESC
$$;
COMMENT ON FUNCTION sched._latest_attempts(bigint) IS 'Internal: each task''s latest attempt in an instance (the hot table and the history).';

CREATE FUNCTION sched.workflow_graph(name text, format text DEFAULT 'dot') RETURNS text
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._workflow_graph(principal regrole, name text, format text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    wf sched.workflow;
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _workflow_graph.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow "%" does not exist', _workflow_graph.name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name));
    -- One statement: an array kept in a PL/pgSQL variable is expanded element by element.
    RETURN (SELECT sched._render_graph(wf.name, format, t.ids, t.names, t.types, NULL, NULL, NULL, NULL, NULL, e.edge_from, e.edge_to)
              FROM sched.workflow_version v
             CROSS JOIN LATERAL (SELECT array_agg(td.id) AS ids, array_agg(td.name) AS names, array_agg(td.task_type) AS types
                                   FROM sched.task_definition td
                                  WHERE td.workflow_version_id = v.id AND td.element_of IS NULL) t
             CROSS JOIN LATERAL sched._version_edges(v.id) e
             WHERE v.workflow_id = wf.id AND v.version = wf.current_version);
END
$$;
COMMENT ON FUNCTION sched.workflow_graph(text, text) IS
    'The tasks and dependencies of a workflow''s current version as text: format dot (Graphviz: dot -Tsvg) or mermaid.';

CREATE FUNCTION sched.instance_graph(instance_id bigint, format text DEFAULT 'dot') RETURNS text
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._instance_graph(principal regrole, instance_id bigint, format text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    inst sched.workflow_instance;
BEGIN
    inst := sched._instance_for(principal, instance_id, false);
    -- One statement: an array kept in a PL/pgSQL variable is expanded element by element.
    -- All the instance's attempts go to sched._render_graph, which picks each task's latest:
    -- sorting 100,000 attempts by task and joining them to the tasks here cost a third of
    -- the picture.
    RETURN (SELECT sched._render_graph((SELECT w.name FROM sched.workflow w WHERE w.id = inst.workflow_id) || ' #' || instance_id,
                                       format, t.ids, t.names, t.types, t.notes,
                                       coalesce(a.tasks, '{}'), a.ids, a.states, a.numbers, e.edge_from, e.edge_to)
              FROM (SELECT array_agg(td.id) AS ids, array_agg(td.name) AS names, array_agg(td.task_type) AS types,
                           -- A dynamic task is one node, with its elements counted by state (read
                           -- for it alone: joined, the view's counts would be worked out for every task).
                           array_agg(CASE WHEN td.logic = 'dynamic'
                                          THEN (SELECT ep.element_count || ' elements'
                                                       || coalesce((SELECT string_agg(pg_catalog.format(', %s %s', s.value, s.key), '' ORDER BY s.key)
                                                                      FROM jsonb_each_text(ep.element_states) s), '')
                                                  FROM sched._task_instance_rows ep
                                                 WHERE ep.id = (SELECT max(la.id) FROM sched._attempts la
                                                                 WHERE la.workflow_instance_id = instance_id AND la.task_id = td.id)
                                                   AND ep.element_count IS NOT NULL) END) AS notes
                      FROM sched.task_definition td
                     WHERE td.workflow_version_id = inst.workflow_version_id AND td.element_of IS NULL) t,
                   -- Live or archived; a task that never became ready has none.
                   (SELECT array_agg(ta.task_id) AS tasks, array_agg(ta.id) AS ids, array_agg(ta.state::text) AS states,
                           array_agg(ta.attempt) AS numbers
                      FROM sched._attempts ta WHERE ta.workflow_instance_id = instance_id) a,
                   sched._version_edges(inst.workflow_version_id) e);
END
$$;
COMMENT ON FUNCTION sched.instance_graph(bigint, text) IS
    'An instance''s DAG as workflow_graph draws it, each task filled by the state of its latest attempt (white with a dashed border: not run; pale and dashed: skipped or forbidden).';

-- The tasks of a workflow version (within scope, when given; element tasks left out) in DAG
-- order: depth is the longest path from a root, so every task comes after all its upstream
-- tasks, which upstream names. The whole version's are kept at definition; a scope (a run
-- started from some tasks) has roots of its own, so its depths are walked. For instance_tasks
-- and test runs.
CREATE FUNCTION sched._task_order(version_id bigint, scope bigint[])
RETURNS TABLE (id bigint, depth integer, upstream text[])
LANGUAGE sql STABLE
-- Estimates over the recursive walk are far off; see instance_tasks.
SET enable_nestloop = off
SET jit = off
AS $$
    SELECT td.id, td.depth, td.deps
      FROM sched.task_definition td
     WHERE scope IS NULL AND td.workflow_version_id = version_id AND td.element_of IS NULL
    UNION ALL
    (WITH RECURSIVE tasks AS (
        SELECT td.id, td.name, td.successors
          FROM sched.task_definition td
         WHERE scope IS NOT NULL AND td.workflow_version_id = version_id AND td.id = ANY(scope)
           AND td.element_of IS NULL
    ), edges AS (
        SELECT t.id AS up, s.id AS down FROM tasks t CROSS JOIN LATERAL unnest(t.successors) AS s(id)
        WHERE s.id IN (SELECT tasks.id FROM tasks)
    ), walk AS (
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
    SELECT p.id, p.depth, coalesce(up.names, '{}')
      FROM placed p LEFT JOIN upstream up ON up.id = p.id)
$$;
COMMENT ON FUNCTION sched._task_order(bigint, bigint[]) IS
    'Internal: the tasks of a workflow version (within scope when given) with their depth (the longest path from a root: ordered by it, every task follows its upstream tasks) and their upstream tasks'' names.';

-- One row, inlined where it is called: a task's latest attempt in an instance, through the
-- instance's index on both tables, or a row saying not run.
CREATE FUNCTION sched._latest_attempt(instance_id bigint, task_id bigint)
RETURNS TABLE (task_instance_id bigint, state text, attempt integer, worker text, exit_code integer,
               started_at timestamptz, ended_at timestamptz, duration interval)
LANGUAGE sql STABLE
AS $$
    SELECT a.id, coalesce(a.state::text, 'not run'), a.attempt, wk.name, a.exit_code,
           a.started_at, a.ended_at, a.ended_at - a.started_at
      FROM (SELECT) one
      LEFT JOIN LATERAL (SELECT ta.id, ta.state, ta.attempt, ta.worker_id, ta.exit_code, ta.started_at, ta.ended_at
                           FROM sched._attempts ta
                          WHERE ta.workflow_instance_id = instance_id AND ta.task_id = _latest_attempt.task_id
                          ORDER BY ta.id DESC LIMIT 1) a ON true
      LEFT JOIN sched.worker wk ON wk.id = a.worker_id
$$;
COMMENT ON FUNCTION sched._latest_attempt(bigint, bigint) IS
    'Internal: the latest attempt of a task in an instance (state not run, and the rest NULL, when it has none).';

CREATE FUNCTION sched.instance_tasks(instance_id bigint, after text DEFAULT NULL, max_rows integer DEFAULT NULL)
RETURNS TABLE (task text, type text, deps text[], depth integer, task_instance_id bigint, state text, attempt integer,
               worker text, exit_code integer, started_at timestamptz, ended_at timestamptz, duration interval)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- A page of an instance's tasks in DAG order: at most max_rows after the task named after.
-- For instance_tasks and instance_attempts, which read each task's attempts through the
-- instance's index on both tables: a page of a 100,000-task instance reads the page.
CREATE FUNCTION sched._instance_page(inst sched.workflow_instance, after text, max_rows integer)
RETURNS TABLE (id bigint, depth integer, upstream text[], name text, task_type text)
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    after_id    bigint;
    after_depth integer;
BEGIN
    IF max_rows IS NOT NULL AND max_rows NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_rows: must be between 1 and 1000 (NULL for every task), got %', max_rows
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF after IS NOT NULL THEN
        SELECT td.id, td.depth INTO after_id, after_depth
          FROM sched.task_definition td
         WHERE td.workflow_version_id = inst.workflow_version_id AND td.name = after AND td.element_of IS NULL
           AND (inst.scope IS NULL OR td.id = ANY (inst.scope));
        IF NOT FOUND THEN
            RAISE EXCEPTION 'after: instance % has no task "%" (give the last task of the page before)', inst.id, after
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF inst.scope IS NOT NULL THEN
            after_depth := (SELECT o.depth FROM sched._task_order(inst.workflow_version_id, inst.scope) o WHERE o.id = after_id);
        END IF;
    END IF;
    -- A whole version's page is read in its index's order on the kept depths, a scope's walked.
    -- The two are apart because under a UNION ALL the planner no longer sees the index's order
    -- and sorts every task, and the depth bound is there because under the row comparison
    -- alone it expects a few rows and sorts them all.
    IF inst.scope IS NULL THEN
        RETURN QUERY
        SELECT td.id, td.depth, td.deps, td.name, td.task_type FROM sched.task_definition td
         WHERE td.workflow_version_id = inst.workflow_version_id AND td.element_of IS NULL
           AND (after IS NULL OR (td.depth >= after_depth AND (td.depth, td.id) > (after_depth, after_id)))
         ORDER BY td.depth, td.id LIMIT max_rows;
    ELSE
        RETURN QUERY
        SELECT o.id, o.depth, o.upstream, td.name, td.task_type
          FROM (SELECT o.id, o.depth, o.upstream FROM sched._task_order(inst.workflow_version_id, inst.scope) o
                 WHERE after IS NULL OR (o.depth, o.id) > (after_depth, after_id)
                 ORDER BY o.depth, o.id LIMIT max_rows) o
          JOIN sched.task_definition td ON td.id = o.id
         ORDER BY o.depth, o.id;
    END IF;
END
$$;
COMMENT ON FUNCTION sched._instance_page(sched.workflow_instance, text, integer) IS
    'Internal: a page of an instance''s tasks (those in its scope) in DAG order, with their depth and upstream tasks.';

CREATE FUNCTION sched._instance_tasks(principal regrole, instance_id bigint, after text, max_rows integer)
RETURNS TABLE (task text, type text, deps text[], depth integer, task_instance_id bigint, state text, attempt integer,
               worker text, exit_code integer, started_at timestamptz, ended_at timestamptz, duration interval)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    SELECT p.name, p.task_type, p.upstream, p.depth, a.*
      FROM sched._instance_page(sched._instance_for(principal, instance_id, false), after, max_rows) p
      CROSS JOIN LATERAL sched._latest_attempt(instance_id, p.id) a
     ORDER BY p.depth, p.id
$$;
COMMENT ON FUNCTION sched.instance_tasks(bigint, text, integer) IS
    'The tasks of an instance (those in its scope) in DAG order (depth: the longest path from a root), each with its upstream tasks and its latest attempt: state (not run when none), attempt, worker, exit code, times. A page at a time: at most max_rows (1 to 1000; NULL for all) after the task named after (the last of the page before; NULL for the first page).';

CREATE FUNCTION sched.instance_attempts(instance_id bigint, after text DEFAULT NULL, max_rows integer DEFAULT NULL)
RETURNS SETOF sched.task_instances
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._instance_attempts(principal regrole, instance_id bigint, after text, max_rows integer)
RETURNS SETOF sched.task_instances
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    -- By the page's tasks: ordering the instance's attempts by id would read them all, since
    -- its index on both tables is by task.
    ids bigint[] := ARRAY(SELECT a.id
                            FROM sched._instance_page(sched._instance_for(principal, instance_id, false), after, max_rows) p
                            CROSS JOIN LATERAL (SELECT ta.id FROM sched._attempts ta
                                                 WHERE ta.workflow_instance_id = instance_id AND ta.task_id = p.id) a);
BEGIN
    RETURN QUERY SELECT r.* FROM sched._task_instance_rows r WHERE r.id = ANY (ids) ORDER BY r.id;
END
$$;
COMMENT ON FUNCTION sched.instance_attempts(bigint, text, integer) IS
    'The attempts (every run, retry and failover; not a dynamic task''s elements) of a page of an instance''s tasks, the page sched.instance_tasks gives for the same after and max_rows, ordered by id: the rows of sched.task_instances.';
