-- Defining workflows: create (or replace with a new version), read back, drop.
-- Public functions are trampolines over `_<name>(principal, ...)` (2_kernel/access.sql).

CREATE FUNCTION sched.create_workflow(spec jsonb, replace boolean DEFAULT false) RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_workflow(principal regrole, spec jsonb, replace boolean) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    norm       jsonb;
    wf_name    text;
    wf         sched.workflow;
    new_version integer;
    version_id bigint;
    wf_env     jsonb;
    any_env    boolean;
    types      jsonb;
    cmd_types  jsonb;
    any_cmd    boolean;
    uses       jsonb;
    refs       boolean;
    gathers    boolean;
    alone      boolean;
    groups     text[];
    checks_sql boolean;
    depths     integer[];
    ranks      smallint[];
    next_ords  integer[];
    next_count integer[];
    feeds      boolean[];
BEGIN
    -- Validation is pure Rust (sched-core) so that the rules are unit tested; it raises with the
    -- offending field's path before anything is written.
    IF spec IS NULL THEN
        RAISE EXCEPTION 'spec: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    types := coalesce((SELECT jsonb_object_agg(tt.name, tt.definition) FROM sched.task_type tt), '{}');
    SELECT p.norm::jsonb, p.uses, p.depths, p.priorities, p.successors, p.successor_counts, p.feeds_conditions
      INTO norm, uses, depths, ranks, next_ords, next_count, feeds
      FROM sched._prepare_spec(spec::text, types) p;
    wf_name := norm->>'name';

    SELECT * INTO wf FROM sched.workflow w WHERE w.name = wf_name FOR UPDATE;
    IF FOUND AND norm ? 'project' AND sched._project_owner(principal, norm->>'project') <> wf.owner THEN
        RAISE EXCEPTION 'project: workflow "%" belongs to another project; REASSIGN OWNED moves a project''s workflows', wf_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF FOUND THEN
        IF NOT replace THEN
            RAISE EXCEPTION 'workflow "%" already exists', wf_name
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Call sched.create_workflow(spec, replace => true) to add a new version.';
        END IF;
        PERFORM sched._check_owner_strict(principal, wf.owner, pg_catalog.format('workflow "%s"', wf_name),
                                          'replace its definition');
        new_version := wf.current_version + 1;
        UPDATE sched.workflow SET current_version = new_version, updated_at = now() WHERE id = wf.id;
    ELSE
        new_version := 1;
        INSERT INTO sched.workflow (name, owner, current_version)
        VALUES (wf_name, coalesce(sched._project_owner(principal, norm->>'project'), principal), new_version)
        RETURNING * INTO wf;
        PERFORM sched._anchor_role(wf.owner);
    END IF;
    -- The owner's code runs as the tenant, on the worker group's hosts, with the datasources'
    -- credentials, into the alert groups and task groups it names: the owner needs each right.
    PERFORM sched._check_tenant(wf.owner, norm->>'tenant', 'tenant');
    PERFORM sched._check_uses(wf.owner, uses);

    INSERT INTO sched.workflow_version (workflow_id, version, description, failure_strategy,
                                        execution_type, priority, worker_group, tenant, has_out,
                                        timeout_after, timeout_strategy, spec, uses, created_by)
    VALUES (wf.id, new_version, norm->>'description',
            (norm->>'failure_strategy')::sched.failure_strategy, norm->>'execution_type',
            sched._priority_rank(norm->>'priority', 'priority'), norm->>'worker_group', norm->>'tenant',
            false,
            (norm#>>'{timeout,after}')::interval, norm#>>'{timeout,strategy}', norm, uses, sched._role_name(principal))
    RETURNING id INTO version_id;
    wf_env := coalesce(norm->'env', '{}');
    any_env := wf_env <> '{}' OR jsonb_path_exists(norm, '$.tasks[*].env');
    -- A task of a command type carries its type's definition as it is now: a later change
    -- of the type does not change what this version runs.
    cmd_types := sched._command_types(types);
    any_cmd := EXISTS (SELECT 1 FROM jsonb_array_elements(norm->'tasks') t WHERE cmd_types ? (t->>'type'));

    -- One statement for the whole DAG, so that a 10,000-task workflow is not 10,000 round
    -- trips: ids are drawn first so that each task can list its successors' ids, which
    -- sched-core found (by their positions in the spec). The workflow's environment is merged
    -- into each task's settings here, so that dispatch reads one row.
    -- Tasks that pass OUT params on: those that declare them, sub-processes (their child's) and
    -- DEPENDENT tasks passing parameters (their upstream instances').
    -- A DYNAMIC task's element task is a task of its own, outside the DAG: named after it, its
    -- inline task or a SUB_PROCESS of the workflow it names.
    WITH listed AS (
        SELECT t, ord, nextval('sched.task_definition_id_seq') AS id, NULL::bigint AS element_of, depths[ord] AS depth,
               ranks[ord] AS rank, feeds[ord] AS feeds_conditions
        FROM jsonb_array_elements(norm->'tasks') WITH ORDINALITY AS e(t, ord)
    ), task AS (
        SELECT l.t, l.ord, l.id, l.element_of, l.depth, l.rank, l.feeds_conditions,
               l.t ? 'out' OR l.t->>'type' IN ('sub_process', 'dynamic')
                   OR (l.t->>'type' = 'dependent' AND jsonb_path_exists(l.t, '$.groups[*].items[*] ? (@.parameter_passing == true)')) AS outputs,
               CASE WHEN l.t->>'enabled' = 'false' THEN 'forbidden'
                    WHEN l.t->>'type' IN ('sub_process', 'conditions', 'switch', 'dependent', 'dynamic') THEN l.t->>'type' END AS logic
        FROM (SELECT * FROM listed
              UNION ALL
              SELECT CASE WHEN jsonb_typeof(d.t->'run') = 'string'
                          THEN jsonb_build_object('type', 'sub_process', 'workflow', d.t->'run', 'priority', d.t->'priority')
                          ELSE d.t->'run' END
                     || jsonb_build_object('name', (d.t->>'name') || '[]', 'deps', '[]'::jsonb)
                     || CASE WHEN d.t ? 'env' AND NOT d.t->'run' ? 'env' THEN jsonb_build_object('env', d.t->'env') ELSE '{}' END,
                     NULL, nextval('sched.task_definition_id_seq'), d.id, d.depth, NULL, false
              FROM listed d WHERE d.t->>'type' = 'dynamic') l
    ), successor AS (
        SELECT s.ord, s.successor_ids AS ids
        FROM sched._successor_ids((SELECT array_agg(l.id ORDER BY l.ord) FROM listed l), next_ords, next_count) s
    ), source AS (
        -- Looked for only where some task passes OUT params on (the uncorrelated condition is
        -- checked once, before anything is joined).
        SELECT down.id AS down_id, array_agg(up.id ORDER BY up.id) AS ids
        FROM task down
        CROSS JOIN LATERAL jsonb_array_elements_text(down.t->'deps') AS d(dep)
        JOIN task up ON up.t->>'name' = d.dep
        WHERE up.outputs AND (SELECT bool_or(o.outputs) FROM task o) GROUP BY down.id
    ), created AS (
    INSERT INTO sched.task_definition (id, workflow_version_id, name, task_type, priority, worker_group,
                                       settings, params, inputs_from, parameterized, dep_count, successors,
                                       retries, retry_interval, delay, timeout_after, timeout_strategy,
                                       task_group_id, task_group_priority, logic, feeds_conditions, produces, element_of, admit,
                                       depth, deps)
    SELECT task.id, version_id, task.t->>'name', task.t->>'type',
           coalesce(task.rank, sched._priority_rank(task.t->>'priority', 'priority')), task.t->>'worker_group',
           CASE WHEN any_env
                THEN (task.t - ARRAY['name', 'type', 'deps', 'priority', 'worker_group', 'description', 'env', 'params',
                                     'retries', 'retry_interval', 'delay', 'enabled', 'produces'])
                     || jsonb_build_object('env', wf_env || coalesce(task.t->'env', '{}'))
                ELSE task.t - ARRAY['name', 'type', 'deps', 'priority', 'worker_group', 'description', 'params',
                                    'retries', 'retry_interval', 'delay', 'enabled', 'produces'] END
               || CASE WHEN any_cmd AND cmd_types ? (task.t->>'type')
                       THEN jsonb_build_object('command_type', cmd_types->(task.t->>'type')) ELSE '{}' END,
           task.t->'params', source.ids,
           (task.t - ARRAY['name', 'type', 'deps', 'priority', 'worker_group', 'description', 'env', 'params', 'out'])::text ~ '\$[[{]'
               OR task.t ? 'params' OR source.ids IS NOT NULL OR (any_cmd AND cmd_types ? (task.t->>'type'))
               OR task.t->>'type' IN ('sql', 'procedure'),
           -- An element task counts its dynamic task as its one upstream task, so that it is no
           -- root; no task lists it as a successor.
           CASE WHEN task.element_of IS NOT NULL THEN 1 ELSE jsonb_array_length(task.t->'deps') END,
           coalesce(successor.ids, '{}'),
           coalesce((task.t->>'retries')::integer, 0), (task.t->>'retry_interval')::interval,
           (task.t->>'delay')::interval, (task.t#>>'{timeout,after}')::interval, task.t#>>'{timeout,strategy}',
           CASE WHEN task.t ? 'task_group' THEN (SELECT g.id FROM sched.task_group g WHERE g.name = task.t->>'task_group') END,
           coalesce((task.t->>'task_group_priority')::integer, 0),
           task.logic, task.feeds_conditions,
           CASE WHEN task.t ? 'produces' THEN ARRAY(SELECT jsonb_array_elements_text(task.t->'produces')) END,
           task.element_of, norm ? 'admit_when',
           task.depth,
           CASE jsonb_array_length(task.t->'deps')
                WHEN 0 THEN '{}'
                WHEN 1 THEN ARRAY[task.t->'deps'->>0]
                -- Byte order: a join's 100,000 names sort in a fifth of the time of a locale's order.
                ELSE ARRAY(SELECT d FROM jsonb_array_elements_text(task.t->'deps') AS d ORDER BY d COLLATE "C") END
    FROM task LEFT JOIN successor ON successor.ord = task.ord
              LEFT JOIN source ON source.down_id = task.id)
    SELECT bool_or(t.logic IN ('sub_process', 'dependent')), bool_or(t.outputs),
           bool_or(t.logic <> 'forbidden') OR count(DISTINCT t.depth) = count(*),
           coalesce(array_agg(DISTINCT t.t->>'worker_group') FILTER (WHERE t.logic IS NULL), '{}'),
           bool_or(t.t->>'type' IN ('sql', 'procedure') AND NOT t.t ? 'datasource')
    INTO refs, gathers, alone, groups, checks_sql
    FROM task t;

    -- Known only now that the tasks are read: whether the instances gather OUT params, whether
    -- reports of their attempts lock them alone, which worker groups their tasks need, whether
    -- logic tasks name other workflows, which run and are read as the owner, and whether SQL
    -- runs on this database, checked as the owner.
    UPDATE sched.workflow_version SET has_out = coalesce(gathers, false), reports_alone = coalesce(alone, false),
                                      worker_groups = groups
    WHERE id = version_id;
    IF refs THEN
        PERFORM sched._check_logic_refs(wf.owner, wf_name, norm);
    END IF;
    IF checks_sql THEN
        PERFORM sched._check_sql(wf.owner, norm, version_id);
    END IF;
    IF norm ? 'admit_when' THEN
        PERFORM sched._check_admit_when(wf.owner, norm->>'admit_when', 'admit_when');
    END IF;
    IF norm ? 'schedule_on' OR EXISTS (SELECT 1 FROM sched.trigger t WHERE t.workflow_id = wf.id AND t.kind = 'dataset') THEN
        PERFORM sched._sync_dataset_trigger(wf, norm->'schedule_on');
    END IF;
    -- Its schedules watch the new deadline (or stop watching one it no longer has); the master
    -- records their fires from now on.
    IF norm ? 'deadline' OR EXISTS (SELECT 1 FROM sched.schedule sc WHERE sc.workflow_id = wf.id AND sc.deadline_next IS NOT NULL) THEN
        UPDATE sched.schedule sc
           SET deadline_through = CASE WHEN sc.deadline_next IS NULL THEN now() ELSE sc.deadline_through END,
               deadline_next = CASE WHEN coalesce(sc.deadline, norm->>'deadline') IS NOT NULL THEN coalesce(sc.deadline_next, now()) END
         WHERE sc.workflow_id = wf.id;
        PERFORM sched._wake_master();
    END IF;
    RETURN version_id;
END
$$;
COMMENT ON FUNCTION sched.create_workflow(jsonb, boolean) IS
    'Defines a workflow from a JSON spec (see the README) and returns the id of the new version. An existing name is an error unless replace is true, which adds a version; running instances keep theirs. A refused spec stores nothing.';

CREATE FUNCTION sched.workflow_spec(name text) RETURNS jsonb
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._workflow_spec(principal regrole, name text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf sched.workflow;
    result jsonb;
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _workflow_spec.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow "%" does not exist', _workflow_spec.name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name));
    SELECT v.spec INTO result FROM sched.workflow_version v
    WHERE v.workflow_id = wf.id AND v.version = wf.current_version;
    RETURN result;
END
$$;
COMMENT ON FUNCTION sched.workflow_spec(text) IS
    'The normalised spec of the current version of a workflow; create_workflow(workflow_spec(name), true) round-trips.';

CREATE FUNCTION sched.check_workflow(spec jsonb) RETURNS jsonb
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

-- What create_workflow would store, without storing it: for workflows kept as code, to see
-- whether a file changes anything before applying it.
CREATE FUNCTION sched._check_workflow(principal regrole, spec jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    norm  jsonb;
    owner regrole;
BEGIN
    IF spec IS NULL THEN
        RAISE EXCEPTION 'spec: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    norm := sched._normalize_spec(spec::text,
                                  coalesce((SELECT jsonb_object_agg(tt.name, tt.definition) FROM sched.task_type tt), '{}'));
    owner := coalesce((SELECT w.owner FROM sched.workflow w WHERE w.name = norm->>'name'),
                      sched._project_owner(principal, norm->>'project'), principal);
    PERFORM sched._check_sql(owner, norm);
    IF norm ? 'admit_when' THEN
        PERFORM sched._check_admit_when(owner, norm->>'admit_when', 'admit_when');
    END IF;
    RETURN norm;
END
$$;
COMMENT ON FUNCTION sched.check_workflow(jsonb) IS
    'Validates a workflow spec as create_workflow would (its SQL checked against the catalog, warnings included) and returns it normalised, storing nothing; workflow_spec(name) = check_workflow(spec) means the spec changes nothing.';

CREATE FUNCTION sched.workflow_versions(name text)
RETURNS TABLE (version integer, created_by text, created_at timestamptz, spec jsonb)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._workflow_versions(principal regrole, name text)
RETURNS TABLE (version integer, created_by text, created_at timestamptz, spec jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf sched.workflow;
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _workflow_versions.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow "%" does not exist', _workflow_versions.name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name));
    RETURN QUERY SELECT v.version, v.created_by, v.created_at, v.spec
                   FROM sched.workflow_version v WHERE v.workflow_id = wf.id ORDER BY v.version DESC;
END
$$;
COMMENT ON FUNCTION sched.workflow_versions(text) IS
    'Every version of a workflow, newest first, with who made it, when, and its normalised spec.';

CREATE FUNCTION sched.drop_workflow(name text) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._drop_workflow(principal regrole, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wf   sched.workflow;
    used text;
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _drop_workflow.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow "%" does not exist', _drop_workflow.name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name));
    -- A sub-process or DEPENDENT task of another workflow would only fail from now on.
    SELECT CASE WHEN sched._may_see(principal, w.owner)
                THEN pg_catalog.format('workflow "%s" is used by task "%s" (%s) of workflow "%s"; change or drop that one first',
                                       wf.name, t->>'name', t->>'type', w.name)
                ELSE pg_catalog.format('workflow "%s" is used by a %s task of a workflow of another role; its owner must change or drop that one first',
                                       wf.name, t->>'type') END
    INTO used
    FROM sched.workflow w
    JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
    CROSS JOIN LATERAL jsonb_array_elements(v.spec->'tasks') AS t
    WHERE w.id <> wf.id
      AND ((t->>'type' = 'sub_process' AND t->>'workflow' = wf.name)
           OR (t->>'type' = 'dependent' AND jsonb_path_exists(t, '$.groups[*].items[*] ? (@.workflow == $w)',
                                                                 jsonb_build_object('w', wf.name))))
    ORDER BY w.name, t->>'name' LIMIT 1;
    IF used IS NOT NULL THEN
        RAISE EXCEPTION '%', used USING ERRCODE = 'dependent_objects_still_exist';
    END IF;
    PERFORM sched._remove_workflow(wf);
END
$$;
COMMENT ON FUNCTION sched.drop_workflow(text) IS
    'Drops a workflow with all its versions and the history of its finished instances. Refused while an instance is unfinished.';

CREATE FUNCTION sched._remove_workflow(wf sched.workflow) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    unfinished bigint;
BEGIN
    SELECT count(*) INTO unfinished FROM sched.workflow_instance i
    WHERE i.workflow_id = wf.id AND i.state <> ALL (sched._workflow_states_finished());
    IF unfinished > 0 THEN
        RAISE EXCEPTION 'workflow "%" has % unfinished instance(s)', wf.name, unfinished
            USING ERRCODE = 'object_in_use',
                  HINT = 'Stop them with sched.stop_workflow(id) or wait for them to finish, then drop.';
    END IF;
    -- The bulk tables have no foreign keys (1_schema/10_definitions.sql): clear them first.
    DELETE FROM sched.task_log_line l USING sched.task_instance ti, sched.workflow_instance i
    WHERE l.task_instance_id = ti.id AND ti.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.join_progress j USING sched.workflow_instance i
    WHERE j.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.dynamic_element e USING sched.workflow_instance i
    WHERE e.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.task_log_line l USING sched.task_instance_history th, sched.workflow_instance i
    WHERE l.task_instance_id = th.id AND th.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.task_instance ti USING sched.workflow_instance i
    WHERE ti.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.task_instance_history th USING sched.workflow_instance i
    WHERE th.workflow_instance_id = i.id AND i.workflow_id = wf.id;
    DELETE FROM sched.task_definition td USING sched.workflow_version v
    WHERE td.workflow_version_id = v.id AND v.workflow_id = wf.id;
    -- Triggers cascade; a watched table's statement-level triggers must go too.
    PERFORM sched._remove_trigger(t) FROM sched.trigger t WHERE t.workflow_id = wf.id AND t.kind = 'table_change';
    DELETE FROM sched.workflow WHERE id = wf.id;
END
$$;
COMMENT ON FUNCTION sched._remove_workflow(sched.workflow) IS
    'Internal: deletes a workflow and its history, refused while an instance is unfinished; the caller holds its row lock and has checked the principal.';

-- ---------- Definitions ----------

-- The workflows a version's tasks run as sub-processes: a SUB_PROCESS task's, and a DYNAMIC
-- task's for each element (its run names one, or its inline element task is a SUB_PROCESS).
CREATE FUNCTION sched._subprocess_refs(tasks jsonb)
RETURNS TABLE (i integer, field text, workflow text)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT (t.n - 1)::integer, r.field, r.workflow
    FROM jsonb_array_elements(tasks) WITH ORDINALITY AS t(task, n)
    CROSS JOIN LATERAL (
        SELECT 'workflow' AS field, t.task->>'workflow' AS workflow WHERE t.task->>'type' = 'sub_process'
        UNION ALL
        SELECT 'run', t.task->>'run' WHERE t.task->>'type' = 'dynamic' AND jsonb_typeof(t.task->'run') = 'string'
        UNION ALL
        SELECT 'run.workflow', t.task#>>'{run,workflow}'
        WHERE t.task->>'type' = 'dynamic' AND t.task#>>'{run,type}' = 'sub_process') r
$$;
COMMENT ON FUNCTION sched._subprocess_refs(jsonb) IS
    'Internal: the workflows a spec''s tasks run as sub-processes (SUB_PROCESS tasks, DYNAMIC tasks'' elements), with the task''s index and the field naming each.';

-- What create_workflow checks of logic tasks against other workflows: a sub-process's or a
-- DEPENDENT item's workflow exists and its owner may be run by the new workflow's owner, a
-- DEPENDENT item's task exists there, and no workflow includes itself as a sub-process.
CREATE FUNCTION sched._check_logic_refs(owner regrole, wf_name text, norm jsonb) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
    w sched.workflow;
BEGIN
    FOR r IN
        SELECT x.i, x.field, x.name, x.task, x.runs FROM (
            SELECT sp.i, sp.field, sp.workflow AS name, NULL::text AS task, true AS runs
            FROM sched._subprocess_refs(norm->'tasks') sp
            UNION ALL
            SELECT (t.i - 1)::integer, format('groups[%s].items[%s].workflow', g.n - 1, it.k - 1), it.item->>'workflow',
                   it.item->>'task', false
            FROM jsonb_array_elements(norm->'tasks') WITH ORDINALITY AS t(task, i)
            CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN t.task->>'type' = 'dependent' THEN t.task->'groups' ELSE '[]' END)
                 WITH ORDINALITY AS g(grp, n)
            CROSS JOIN LATERAL jsonb_array_elements(g.grp->'items') WITH ORDINALITY AS it(item, k)) x
        ORDER BY x.i
    LOOP
        IF r.name = wf_name THEN
            IF r.runs THEN
                RAISE EXCEPTION 'tasks[%].%: workflow "%" cannot run itself as a sub-process', r.i, r.field, wf_name
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            CONTINUE;
        END IF;
        SELECT * INTO w FROM sched.workflow wf WHERE wf.name = r.name;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'tasks[%].%: no workflow "%"', r.i, r.field, r.name USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- A sub-process runs the other workflow's code as its owner, with parameters from this
        -- one: only its owner's members may (sched_admin does not suffice). A DEPENDENT task
        -- only looks at its instances.
        IF r.runs THEN
            PERFORM sched._check_owner_strict(owner, w.owner, format('workflow "%s" (tasks[%s].%s)', r.name, r.i, r.field),
                                              'run it as a sub-process');
        ELSE
            PERFORM sched._check_owner(owner, w.owner, format('workflow "%s" (tasks[%s].%s)', r.name, r.i, r.field));
        END IF;
        IF r.task IS NOT NULL AND r.task <> '*' AND NOT EXISTS (
            SELECT 1 FROM sched.task_definition td JOIN sched.workflow_version v ON v.id = td.workflow_version_id
            WHERE v.workflow_id = w.id AND v.version = w.current_version AND td.name = r.task) THEN
            RAISE EXCEPTION 'tasks[%].%: workflow "%" has no task "%"', r.i, replace(r.field, '.workflow', '.task'), r.name, r.task
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;

    -- The workflows named are locked (shared) first, so that two definitions racing to name
    -- each other serialize, and the second sees the first.
    PERFORM 1 FROM sched.workflow wf
    WHERE wf.name IN (SELECT sp.workflow FROM sched._subprocess_refs(norm->'tasks') sp)
    ORDER BY wf.id FOR SHARE;
    SELECT s.i, s.field, array_to_string(s.path, ' -> ') AS path INTO r FROM (
        WITH RECURSIVE sub(i, field, path, wf) AS (
            SELECT sp.i, sp.field, ARRAY[wf_name, sp.workflow], sp.workflow
            FROM sched._subprocess_refs(norm->'tasks') sp
          UNION ALL
            SELECT s.i, s.field, s.path || t.workflow, t.workflow
            FROM sub s
            JOIN sched.workflow up ON up.name = s.wf AND s.wf <> wf_name
            JOIN sched.workflow_version v ON v.workflow_id = up.id AND v.version = up.current_version
            CROSS JOIN LATERAL sched._subprocess_refs(v.spec->'tasks') AS t
            WHERE NOT t.workflow = ANY(s.path[2:])
        )
        SELECT sub.i, sub.field, sub.path FROM sub WHERE sub.wf = wf_name ORDER BY sub.i, cardinality(sub.path) LIMIT 1) s;
    IF FOUND THEN
        RAISE EXCEPTION 'tasks[%].%: workflow "%" would include itself as a sub-process: %', r.i, r.field, wf_name, r.path
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_logic_refs(regrole, text, jsonb) IS
    'Internal: refuses logic tasks naming workflows (or tasks) that do not exist or that the owner may not run, and sub-process cycles, naming the path.';
