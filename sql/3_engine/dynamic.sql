-- DYNAMIC tasks (docs/architecture.md, "The life of a dynamic task"): no worker runs the
-- dynamic task itself. Its attempt expands its lists into elements in two set-based
-- statements (their values, then the first attempts of its element task), counts the
-- elements as they end (each end is a completion like any other, advanced by _advance), lets
-- the held-back ones start as others end, and ends once they are done, with their OUT params
-- gathered into lists, in element order.

-- The parameter values the lists are read from: the instance's, under the task's own layer
-- (upstream OUT values, its local params), as its claim would resolve them.
CREATE FUNCTION sched._dynamic_lists(t record) RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    ctx    jsonb;
    vals   jsonb;
    lists  jsonb := '[]';
    entry  record;
    list   jsonb;
BEGIN
    ctx := sched._task_context(t.settings, t.local_params, t.inputs_from, t.name, t.task_id, t.id, t.workflow_instance_id);
    IF ctx->'settings' ? 'resolve_error' THEN
        RAISE EXCEPTION 'cannot resolve parameters: %', ctx#>>'{settings,resolve_error}';
    END IF;
    vals := (SELECT wi.param_values FROM sched.workflow_instance wi WHERE wi.id = t.workflow_instance_id)
            || coalesce(ctx->'params', '{}');
    FOR entry IN SELECT o.key, o.value FROM jsonb_each(t.settings->'over') o LOOP
        IF jsonb_typeof(entry.value) = 'array' THEN
            list := entry.value;
        ELSIF NOT vals ? (entry.value#>>'{}') THEN
            RAISE EXCEPTION 'over.%: no parameter "%" (an upstream OUT param, a local, global or start param)',
                entry.key, entry.value#>>'{}';
        ELSE
            BEGIN
                list := (vals->>(entry.value#>>'{}'))::jsonb;
            EXCEPTION WHEN others THEN
                list := NULL;
            END;
            IF jsonb_typeof(list) IS DISTINCT FROM 'array' THEN
                RAISE EXCEPTION 'over.%: parameter "%" is not a list: % (a JSON array is, e.g. ["a", "b"])',
                    entry.key, entry.value#>>'{}', left(vals->>(entry.value#>>'{}'), 200);
            END IF;
        END IF;
        lists := lists || jsonb_build_array(jsonb_build_object('name', entry.key, 'list', list));
    END LOOP;
    RETURN lists;
END
$$;
COMMENT ON FUNCTION sched._dynamic_lists(record) IS
    'Internal: the lists a dynamic attempt runs over, [{name, list}] in the order of over''s names; raises, naming the field, when one is missing or not a list.';

-- A new attempt of a dynamic task: the lists expanded into elements (or, when this run
-- expanded them already, for a resume, recover or retry, the elements that did not succeed),
-- and the first of them started.
CREATE FUNCTION sched._expand(attempt_id bigint) RETURNS void
LANGUAGE plpgsql
-- The expansion's estimates (a million rows) set off JIT, which took longer than the statement.
SET jit = off
AS $$
DECLARE
    t         record;
    lists     jsonb;
    n         bigint := 1;
    cap       bigint;
    k         integer;
    list_name text;
    list      jsonb;
    elements  jsonb[] := ARRAY['{}'::jsonb];
    redo      integer[];
    again     boolean;
BEGIN
    SELECT ti.id, ti.task_id, ti.run, ti.workflow_instance_id, td.settings, td.params AS local_params,
           td.inputs_from, td.name, e.id AS element_task
    INTO t
    FROM sched.task_instance ti
    JOIN sched.task_definition td ON td.id = ti.task_id
    JOIN sched.task_definition e ON e.element_of = td.id
    WHERE ti.id = attempt_id;
    -- Its run expanded the lists already when it has elements: a resume, recover or retry.
    -- min() reads the primary key for its first entry, whatever the estimates say: EXISTS was
    -- planned as a scan of every run's elements.
    again := (SELECT min(e.element) FROM sched.dynamic_element e
              WHERE e.workflow_instance_id = t.workflow_instance_id AND e.task_id = t.element_task AND e.run = t.run) IS NOT NULL;
    IF again THEN
        WITH latest AS (
            SELECT DISTINCT ON (a.element) a.element, a.state
            FROM sched.task_instance a
            WHERE a.workflow_instance_id = t.workflow_instance_id AND a.task_id = t.element_task AND a.run = t.run
            ORDER BY a.element, a.id DESC)
        SELECT coalesce(array_agg(e.element ORDER BY e.element)
                            FILTER (WHERE l.state IS NULL OR l.state <> ALL (sched._task_states_success())), '{}'),
               count(*)
        INTO redo, n
        FROM sched.dynamic_element e LEFT JOIN latest l ON l.element = e.element
        WHERE e.workflow_instance_id = t.workflow_instance_id AND e.task_id = t.element_task AND e.run = t.run;
        PERFORM sched._logic_log(t.id, format('dynamic: runs again the %s of %s elements that did not succeed', cardinality(redo), n));
    ELSE
        BEGIN
            lists := sched._dynamic_lists(t);
            FOR k IN 0 .. jsonb_array_length(lists) - 1 LOOP
                n := n * jsonb_array_length(lists->k->'list');
            END LOOP;
            cap := least((t.settings->>'max_items')::bigint, current_setting('sched.max_dynamic_items')::bigint);
            IF n > cap THEN
                RAISE EXCEPTION 'over: the lists make % elements, more than % allowed (max_items %, sched.max_dynamic_items %)',
                    n, cap, t.settings->>'max_items', current_setting('sched.max_dynamic_items');
            END IF;
        EXCEPTION WHEN others THEN
            UPDATE sched.task_instance ti SET state = 'failed', ended_at = now() WHERE ti.id = t.id;
            PERFORM sched._logic_log(t.id, format('dynamic: %s', SQLERRM));
            PERFORM sched._notify_ready(sched._advance(ARRAY[t.id], '{}', true));
            RETURN;
        END;
        -- Every element's values, the last list varying fastest: each list's items are read
        -- once and crossed with the combinations of the lists before it (a value as text, as
        -- every parameter value is); then one insert.
        FOR k IN 0 .. jsonb_array_length(lists) - 1 LOOP
            list_name := lists->k->>'name';
            list := lists->k->'list';
            elements := ARRAY(
                SELECT c.v || jsonb_build_object(list_name, CASE WHEN jsonb_typeof(x.v) = 'string' THEN x.v ELSE to_jsonb(x.v::text) END)
                FROM unnest(elements) WITH ORDINALITY AS c(v, j)
                CROSS JOIN jsonb_array_elements(list) WITH ORDINALITY AS x(v, i)
                ORDER BY c.j, x.i);
        END LOOP;
        INSERT INTO sched.dynamic_element (workflow_instance_id, task_id, run, element, "values")
        SELECT t.workflow_instance_id, t.element_task, t.run, e.i - 1, e.v
        FROM unnest(elements) WITH ORDINALITY AS e(v, i);
        PERFORM sched._logic_log(t.id, format('dynamic: %s elements over %s', n,
                                              (SELECT string_agg(format('%s (%s)', l->>'name', jsonb_array_length(l->'list')), ' × ')
                                               FROM jsonb_array_elements(lists) l)));
    END IF;
    INSERT INTO sched.dynamic_progress AS p (workflow_instance_id, task_id, run, task_instance_id, element_task, total,
                                             pending, parallelism, on_failure)
    VALUES (t.workflow_instance_id, t.task_id, t.run, t.id, t.element_task, n, redo,
            (t.settings->>'parallelism')::integer, t.settings->>'on_failure')
    ON CONFLICT (workflow_instance_id, task_id, run) DO UPDATE
        SET task_instance_id = excluded.task_instance_id, total = excluded.total, pending = excluded.pending,
            released = 0, ended = 0, failed = 0, stopping = false;
    PERFORM sched._notify_ready(sched._release_elements(t.id));
END
$$;
COMMENT ON FUNCTION sched._expand(bigint) IS
    'Internal: starts an attempt of a dynamic task: expands its lists into elements (or takes those of its run that did not succeed), starts as many as its parallelism allows, and ends it at once when there are none.';

-- Elements started while parallelism allows; the attempt ends when none is left running and
-- none may start. Returns the worker groups that got queued attempts.
CREATE FUNCTION sched._release_elements(attempt_id bigint) RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    p      sched.dynamic_progress;
    todo   integer;
    wi     sched.workflow_instance;
    more   integer;
    picked integer[];
    groups text[];
    outcome sched.task_state;
BEGIN
    SELECT * INTO p FROM sched.dynamic_progress dp WHERE dp.task_instance_id = attempt_id FOR UPDATE;
    SELECT * INTO wi FROM sched.workflow_instance i WHERE i.id = p.workflow_instance_id;
    todo := coalesce(cardinality(p.pending), p.total);
    IF NOT p.stopping AND wi.state = 'running' AND p.released < todo THEN
        more := least(todo - p.released, coalesce(p.parallelism - (p.released - p.ended), todo));
        IF more > 0 THEN
            picked := CASE WHEN p.pending IS NULL THEN ARRAY(SELECT generate_series(p.released, p.released + more - 1))
                           ELSE p.pending[p.released + 1 : p.released + more] END;
            UPDATE sched.dynamic_progress dp SET released = dp.released + more
            WHERE dp.task_instance_id = attempt_id RETURNING * INTO p;
            groups := sched._new_attempts(array_fill(p.workflow_instance_id, ARRAY[more]),
                                          array_fill(p.element_task, ARRAY[more]), NULL, NULL, picked);
            -- Sub-process elements that could not start ended at once, counted already.
            SELECT * INTO p FROM sched.dynamic_progress dp WHERE dp.task_instance_id = attempt_id;
        END IF;
    END IF;
    IF p.ended = p.released AND (p.released = todo OR p.stopping OR wi.state <> 'running')
       AND EXISTS (SELECT 1 FROM sched.task_instance d WHERE d.id = attempt_id AND d.state = 'running') THEN
        outcome := CASE WHEN p.failed > 0 OR p.stopping THEN 'failed'
                        WHEN p.released < todo THEN 'paused' ELSE 'succeeded' END;
        UPDATE sched.task_instance d
           SET state = outcome, ended_at = now(),
               out_params = CASE WHEN outcome = 'succeeded'
                                 THEN sched._gather_elements(p.workflow_instance_id, p.element_task, p.run) END
         WHERE d.id = attempt_id;
        PERFORM sched._logic_log(attempt_id, format('dynamic: %s of %s elements ended, %s failed: %s',
                                                    p.ended, todo, p.failed, outcome));
        groups := groups || sched._advance(ARRAY[attempt_id], '{}', outcome = 'failed');
    END IF;
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._release_elements(bigint) IS
    'Internal: starts the elements of a dynamic attempt that its parallelism now allows, and ends it (succeeded with the gathered OUT params, failed, or paused) once none runs and none may start.';

-- Attempts of elements that ended for good (a pending retry is no end): counted for their
-- dynamic attempt, which starts the next ones, stops the others after a failure under
-- on_failure stop, or ends. Elements of an attempt that ended already (killed, paused) count
-- for nothing. Returns the worker groups that got queued attempts.
CREATE FUNCTION sched._elements_ended(ids bigint[]) RETURNS text[]
LANGUAGE plpgsql
AS $$
DECLARE
    d      record;
    groups text[];
BEGIN
    FOR d IN
        WITH ended AS (
            SELECT ti.workflow_instance_id, td.element_of, ti.run, count(*)::integer AS n,
                   count(*) FILTER (WHERE ti.state = ANY (sched._task_states_failure()))::integer AS failed
            FROM unnest(ids) AS f(id)
            JOIN sched.task_instance ti ON ti.id = f.id
            JOIN sched.task_definition td ON td.id = ti.task_id
            WHERE ti.element IS NOT NULL AND ti.state <> ALL (sched._task_states_active())
            GROUP BY 1, 2, 3)
        UPDATE sched.dynamic_progress p
           SET ended = p.ended + e.n, failed = p.failed + e.failed,
               stopping = p.stopping OR (e.failed > 0 AND p.on_failure = 'stop')
          FROM ended e
         WHERE p.workflow_instance_id = e.workflow_instance_id AND p.task_id = e.element_of AND p.run = e.run
           AND EXISTS (SELECT 1 FROM sched.task_instance a WHERE a.id = p.task_instance_id AND a.state = 'running')
        RETURNING p.task_instance_id, p.stopping
    LOOP
        IF d.stopping THEN
            PERFORM sched._kill_elements(ARRAY[d.task_instance_id], 'element_failed');
        END IF;
        groups := groups || sched._release_elements(d.task_instance_id);
    END LOOP;
    RETURN groups;
END
$$;
COMMENT ON FUNCTION sched._elements_ended(bigint[]) IS
    'Internal: counts element attempts that ended for good for their dynamic attempt, which then starts more, stops the others (on_failure stop) or ends.';

-- The elements of dynamic attempts that end early (kill_task, a failure under on_failure stop):
-- those not started end at once (counted here), running ones are killed through their
-- workers, sub-process ones stop their children (their ends are counted as they come).
CREATE FUNCTION sched._kill_elements(attempts bigint[], reason text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    p      sched.dynamic_progress;
    killed integer;
    c      record;
BEGIN
    FOR p IN SELECT * FROM sched.dynamic_progress dp WHERE dp.task_instance_id = ANY(attempts) LOOP
        killed := sched._kill_attempts(ARRAY(SELECT ti.id FROM sched.task_instance ti
                                             WHERE ti.workflow_instance_id = p.workflow_instance_id
                                               AND ti.task_id = p.element_task AND ti.run = p.run
                                               AND ti.state = ANY (sched._task_states_active())), reason);
        UPDATE sched.dynamic_progress dp SET ended = dp.ended + killed WHERE dp.task_instance_id = p.task_instance_id;
        FOR c IN
            SELECT ti.id FROM sched.task_instance ti
            WHERE ti.workflow_instance_id = p.workflow_instance_id AND ti.task_id = p.element_task
              AND ti.run = p.run AND ti.state = 'running' AND ti.worker_id IS NULL
            ORDER BY ti.id
        LOOP
            PERFORM sched._kill_logic(ARRAY[p.workflow_instance_id], c.id, reason);
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._kill_elements(bigint[], text) IS
    'Internal: ends the elements of these dynamic attempts: those not started at once, running ones through their workers, sub-process ones by stopping their children.';

-- The OUT params of a dynamic task: each name any element exported, as a list (JSON text, as
-- a list parameter is) of every element's value in element order, null where one had none.
CREATE FUNCTION sched._gather_elements(instance_id bigint, element_task bigint, run integer) RETURNS jsonb
LANGUAGE sql STABLE
-- Estimated at a row or two, the latest attempts were joined to the elements in a nested loop:
-- seconds at 10,000; hashed, milliseconds. JIT, set off by the estimates, only added to it.
SET enable_nestloop = off
SET jit = off
AS $$
    WITH latest AS MATERIALIZED (
        SELECT DISTINCT ON (a.element) a.element, a.out_params
        FROM sched.task_instance a
        WHERE a.workflow_instance_id = instance_id AND a.task_id = element_task AND a.run = _gather_elements.run
          AND a.state = ANY (sched._task_states_success())
        ORDER BY a.element, a.id DESC
    ), elements AS (
        SELECT e.element FROM sched.dynamic_element e
        WHERE e.workflow_instance_id = instance_id AND e.task_id = element_task AND e.run = _gather_elements.run
    ), names AS (
        SELECT DISTINCT o.key FROM latest l CROSS JOIN LATERAL jsonb_object_keys(l.out_params) AS o(key)
        WHERE l.out_params IS NOT NULL
    )
    SELECT jsonb_object_agg(n.key, (
        SELECT jsonb_agg(l.out_params->n.key ORDER BY e.element)
        FROM elements e LEFT JOIN latest l ON l.element = e.element)::text)
    FROM names n
$$;
COMMENT ON FUNCTION sched._gather_elements(bigint, bigint, integer) IS
    'Internal: the OUT params of a dynamic task''s run: every name its elements exported, each a JSON array of the elements'' values in element order; NULL when none exported any.';
