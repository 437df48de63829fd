-- Test runs (docs/architecture.md, "Test runs"): a workflow's SQL, PROCEDURE and logic tasks run
-- in the caller's transaction, as its owner, in DAG order, and everything they did is rolled
-- back at the end. No instance is created: nothing is written to the scheduler's tables.

CREATE FUNCTION sched.test_run(workflow text, params jsonb DEFAULT '{}', options jsonb DEFAULT '{}')
RETURNS TABLE (task text, task_type text, state text, reason text, columns text[], "rows" jsonb,
               row_count bigint, "out" jsonb, notices text[], log text[], duration interval)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- Each task is decided as the engine would (sql/3_engine/advance.sql, branches.sql): a task whose
-- upstream failed is not reached (a CONDITIONS task judges the failure), a task on a branch not
-- taken is skipped, a forbidden task passes. Its parameters are resolved as its claim would
-- resolve them (sched._resolve_task), its statements run by sched._test_sql in a subtransaction
-- of their own, so that a failure undoes that task alone and later tasks see what earlier ones
-- did. The walk itself runs in a block that always ends in an exception, which rolls it all back.
CREATE FUNCTION sched._test_run(principal regrole, workflow text, params jsonb, options jsonb)
RETURNS TABLE (task text, task_type text, state text, reason text, columns text[], "rows" jsonb,
               row_count bigint, "out" jsonb, notices text[], log text[], duration interval)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf       sched.workflow;
    v        sched.workflow_version;
    opt      text;
    allowed  text[] := ARRAY['mock', 'schedule_time', 'timezone', 'spec'];
    mock     jsonb := coalesce(options->'mock', '{}');
    zone     text;
    biz_at   timestamptz;
    biz_text text;
    vals     jsonb;
    path     text;
    refusal  text;
    t        record;
    up       record;
    done     jsonb := '{}';
    results  jsonb[] := '{}';
    result   jsonb;
    ctx      jsonb;
    choice   jsonb;
    holds    boolean;
BEGIN
    IF params IS NULL OR jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'params: must be a JSON object, e.g. {"dt": "20260101"}' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR opt IN SELECT jsonb_object_keys(options) LOOP
        IF opt <> ALL (allowed) THEN
            RAISE EXCEPTION 'options.%: unknown option; allowed: %', opt, array_to_string(allowed, ', ')
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF opt NOT IN ('mock', 'spec') AND jsonb_typeof(options->opt) <> 'string' THEN
            RAISE EXCEPTION 'options.%: must be a string', opt USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    -- Everything from here on is rolled back at the end, the spec tested (defined as the
    -- workflow's new version, as create_workflow(spec, true) would) included.
    BEGIN
        IF options ? 'spec' THEN
            IF jsonb_typeof(options->'spec') <> 'object' OR options->'spec'->>'name' IS DISTINCT FROM workflow THEN
                RAISE EXCEPTION 'options.spec: must be a workflow spec named "%" (what create_workflow takes), tested without being saved', workflow
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            PERFORM sched._create_workflow(principal, options->'spec', true);
        END IF;
        SELECT * INTO wf FROM sched.workflow w WHERE w.name = _test_run.workflow;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'workflow "%" does not exist', _test_run.workflow USING ERRCODE = 'undefined_object';
        END IF;
        -- It runs the owner's statements now, in the caller's session, with values the caller
        -- chooses (params, mocked OUT values): the owner's members alone may.
        PERFORM sched._check_owner_strict(principal, wf.owner, format('workflow "%s"', wf.name), 'test-run it');
        SELECT * INTO v FROM sched.workflow_version wv WHERE wv.workflow_id = wf.id AND wv.version = wf.current_version;
        IF jsonb_typeof(mock) <> 'object' THEN
            RAISE EXCEPTION 'options.mock: must be an object of task names and their OUT values, e.g. {"extract": {"rows": "42"}}'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR opt IN SELECT jsonb_object_keys(mock) LOOP
            IF NOT EXISTS (SELECT 1 FROM sched.task_definition td
                           WHERE td.workflow_version_id = v.id AND td.name = opt AND td.element_of IS NULL) THEN
                RAISE EXCEPTION 'options.mock.%: workflow "%" has no task "%"', opt, wf.name, opt
                    USING ERRCODE = 'invalid_parameter_value';
            ELSIF jsonb_typeof(mock->opt) <> 'object' THEN
                RAISE EXCEPTION 'options.mock.%: must be an object of OUT values, e.g. {"rows": "42"}', opt
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;

        -- The business time and values as a manual start would have them; no instance exists, so
        -- system.workflow.instance.id and system.task.instance.id are 0.
        zone := CASE WHEN options ? 'timezone' THEN sched._check_time_zone(options->>'timezone', 'options.timezone')
                     ELSE coalesce(v.spec->>'timezone', 'UTC') END;
        biz_at := CASE WHEN options ? 'schedule_time' THEN sched._zoned_timestamp(options->>'schedule_time', zone, 'options.schedule_time')
                       ELSE now() END;
        biz_text := to_char(biz_at AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI:SS');
        vals := sched._start_values(wf, v.spec, params, 0, biz_text);
        path := sched._login_search_path(wf.owner);
        -- What a real run's SQL tasks would fail with.
        SELECT sched._sql_owner_refusal(wf.owner, r.rolcanlogin, r.rolvaliduntil) INTO refusal
          FROM pg_roles r WHERE r.oid = wf.owner;

        -- In DAG order, so that every task's upstream tasks are decided before it.
        FOR t IN
            SELECT td.id, td.name, td.task_type, td.logic, td.settings, td.params AS local_params,
                   td.parameterized, o.upstream
            FROM sched._task_order(v.id, NULL) o
            JOIN sched.task_definition td ON td.id = o.id
            ORDER BY o.depth, td.id
        LOOP
            result := jsonb_build_object('task', t.name, 'task_type', t.task_type, 'seq', cardinality(results));
            SELECT u.name, done->u.name->>'state' AS state INTO up
            FROM unnest(t.upstream) AS u(name)
            WHERE done->u.name->>'state' = 'not_reached'
               OR (done->u.name->>'state' = 'failed' AND t.logic IS DISTINCT FROM 'conditions')
            LIMIT 1;
            IF FOUND THEN
                result := result || jsonb_build_object('state', 'not_reached',
                    'reason', format('upstream task %s %s', up.name,
                                     CASE WHEN up.state = 'failed' THEN 'failed' ELSE 'was not reached' END));
            ELSIF cardinality(t.upstream) > 0 AND NOT EXISTS (
                    SELECT 1 FROM unnest(t.upstream) AS u(name)
                    WHERE done->u.name->>'state' <> 'skipped'
                      AND NOT (done->u.name ? 'branch' AND NOT done->u.name->'branch' ? t.name)) THEN
                result := result || jsonb_build_object('state', 'skipped', 'reason', 'on a branch not taken');
            ELSIF t.logic = 'forbidden' THEN
                result := result || jsonb_build_object('state', 'forbidden', 'reason', 'enabled is false: passed through');
            ELSIF mock ? t.name THEN
                result := result || jsonb_build_object('state', 'mocked', 'reason', 'OUT values from options.mock',
                    'out', (SELECT jsonb_object_agg(m.key, CASE WHEN jsonb_typeof(m.value) = 'string' THEN m.value
                                                                ELSE to_jsonb(m.value::text) END)
                            FROM jsonb_each(mock->t.name) m));
            ELSIF t.task_type = 'empty' THEN
                result := result || jsonb_build_object('state', 'succeeded', 'reason', 'an empty task does nothing');
            ELSIF t.logic = 'conditions' THEN
                holds := sched._conditions_hold(t.settings->'conditions', (
                    SELECT jsonb_object_agg(d.key, CASE WHEN d.value->>'state' = 'failed' THEN 'failed'
                                                        WHEN d.value->>'state' = ANY (sched._test_states_success()) THEN 'success' END)
                    FROM jsonb_each(done) d));
                result := result || jsonb_build_object('state', 'succeeded',
                    'branch', t.settings->CASE WHEN holds THEN 'on_success' ELSE 'on_failure' END,
                    'reason', format('conditions %s: runs %s', CASE WHEN holds THEN 'hold' ELSE 'do not hold' END,
                                     CASE WHEN holds THEN 'on_success ' ELSE 'on_failure ' END
                                         || (t.settings->CASE WHEN holds THEN 'on_success' ELSE 'on_failure' END)::text));
            ELSIF t.logic = 'switch' OR (t.task_type IN ('sql', 'procedure') AND NOT t.settings ? 'datasource') THEN
                ctx := CASE WHEN t.parameterized OR t.logic = 'switch' THEN sched._resolve_task(
                           t.settings, t.local_params,
                           (SELECT jsonb_agg(done->u.name->'out' ORDER BY (done->u.name->>'seq')::integer) FROM unnest(t.upstream) AS u(name)
                            WHERE done->u.name->>'state' = ANY (sched._test_states_success()) AND done->u.name->'out' <> 'null'),
                           vals, params,
                           jsonb_build_object('system.task.instance.id', '0',
                                              'system.task.definition.name', t.name,
                                              'system.task.definition.code', t.id::text),
                           biz_text)
                       ELSE jsonb_build_object('settings', t.settings) END;
                IF ctx->'settings' ? 'resolve_error' THEN
                    result := result || jsonb_build_object('state', 'failed',
                        'reason', 'cannot resolve parameters: ' || (ctx#>>'{settings,resolve_error}'));
                ELSIF t.logic = 'switch' THEN
                    choice := sched._switch_choose(t.settings->'cases', vals || (ctx->'params'));
                    result := result || jsonb_build_object('state', 'succeeded',
                        'branch', CASE WHEN jsonb_typeof(choice->'case') = 'number'
                                       THEN t.settings->'cases'->((choice->>'case')::integer)->'then'
                                       ELSE t.settings->'default' END,
                        'notices', choice->'errors',
                        'reason', CASE WHEN jsonb_typeof(choice->'case') = 'number'
                                       THEN format('switch: cases[%s] (%s) holds: runs %s', choice->>'case',
                                                   t.settings->'cases'->((choice->>'case')::integer)->>'when',
                                                   t.settings->'cases'->((choice->>'case')::integer)->'then')
                                       ELSE format('switch: no case holds: runs default %s', t.settings->'default') END);
                ELSIF refusal IS NOT NULL THEN
                    result := result || jsonb_build_object('state', 'failed', 'reason', refusal);
                ELSE
                    result := result || sched._test_sql(wf.owner::oid, principal <> wf.owner, path, t.task_type, ctx->'settings');
                    result := result || jsonb_build_object('reason', result->'error');
                END IF;
            ELSE
                result := result || jsonb_build_object('state', 'not_run', 'reason',
                    CASE WHEN t.settings ? 'datasource'
                         THEN format('runs on datasource %s through a worker: not run in a test run; options.mock gives its OUT values', t.settings->>'datasource')
                         ELSE format('%s tasks do not run in a test run; options.mock gives their OUT values', t.task_type) END);
            END IF;
            done := done || jsonb_build_object(t.name, result);
            results := results || result;
        END LOOP;
        RAISE EXCEPTION USING ERRCODE = 'SCT01';
    EXCEPTION WHEN SQLSTATE 'SCT01' THEN
        NULL;
    END;
    RETURN QUERY
    SELECT r->>'task', r->>'task_type', r->>'state', r->>'reason',
           CASE WHEN r ? 'columns' THEN ARRAY(SELECT jsonb_array_elements_text(r->'columns')) END,
           r->'rows', (r->>'row_count')::bigint, nullif(r->'out', 'null'),
           ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'notices', '[]'))),
           ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'log', '[]'))),
           CASE WHEN r ? 'duration_ms' THEN make_interval(secs => (r->>'duration_ms')::double precision) / 1000 END
    FROM unnest(results) WITH ORDINALITY AS x(r, i)
    ORDER BY x.i;
END
$$;
COMMENT ON FUNCTION sched.test_run(text, jsonb, jsonb) IS
    'Runs the current version of a workflow''s sql and procedure tasks (on the scheduler''s database) and its logic tasks in DAG order, in the caller''s transaction, as the workflow''s owner, then rolls back everything they did; returns one row per task: state (sched._test_states()), reason, the rows its statement returned (columns, rows, row_count), its OUT values, what it said (notices), what each statement did (log) and how long it took. Other tasks (shell, python, a datasource''s SQL...) are not run; options.mock ({"task": {"out_param": "value"}}) gives their OUT values. Nothing is written to the scheduler''s tables. params: start parameters; options: mock, schedule_time, timezone, spec (a spec of the workflow to test instead of its current version, defined for the test run and rolled back with it: test before saving). Only members of the owner may.';
COMMENT ON FUNCTION sched._test_run(regrole, text, jsonb, jsonb) IS
    'Internal: what sched.test_run returns, for the calling role.';
