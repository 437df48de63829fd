-- Starting an instance: every start (a user's, a schedule's fire, a backfill date, a
-- sub-process's child) is sched._start, which checks the rights the workflow's names need,
-- fixes its business time and zone, admits it and queues its root tasks, all in the caller's
-- transaction: nothing runs before it commits, nothing ever runs if it rolls back.

-- A sub-process instance is about to be created below `parent`: its family may not grow past
-- sched.max_subprocess_instances instances nor sched.max_subprocess_depth levels. The count is
-- kept on the top-level instance, which the caller's family lock holds.
CREATE FUNCTION sched._count_descendant(parent sched.workflow_instance) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    top_id    bigint := coalesce(parent.ancestors[1], parent.id);
    depth     integer := coalesce(cardinality(parent.ancestors), 0) + 1;
    max_depth integer := current_setting('sched.max_subprocess_depth')::integer;
    max_count integer := current_setting('sched.max_subprocess_instances')::integer;
    created   integer;
BEGIN
    IF depth > max_depth THEN
        RAISE EXCEPTION 'a sub-process instance would be % levels below instance %; sched.max_subprocess_depth allows %',
            depth, top_id, max_depth USING ERRCODE = 'program_limit_exceeded';
    END IF;
    UPDATE sched.workflow_instance wi SET descendants = wi.descendants + 1 WHERE wi.id = top_id
    RETURNING wi.descendants INTO created;
    IF created > max_count THEN
        RAISE EXCEPTION 'instance % has created % sub-process instances; sched.max_subprocess_instances allows %',
            top_id, created - 1, max_count USING ERRCODE = 'program_limit_exceeded';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._count_descendant(sched.workflow_instance) IS
    'Internal: counts a new sub-process instance below parent on its top-level instance, raising past sched.max_subprocess_instances or sched.max_subprocess_depth.';

CREATE FUNCTION sched._check_unfinished_cap(who text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    cap        integer := current_setting('sched.max_unfinished_instances_per_role')::integer;
    unfinished bigint;
BEGIN
    SELECT count(*) INTO unfinished FROM sched.workflow_instance wi
    -- Unfinished is ended_at IS NULL (the constraint ended_at_set_exactly_when_finished).
    WHERE wi.ended_at IS NULL AND wi.started_by = who
      AND wi.parent_instance_id IS NULL;
    IF unfinished >= cap THEN
        RAISE EXCEPTION 'role % has % unfinished workflow instances; sched.max_unfinished_instances_per_role allows %', who, unfinished, cap
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Wait for some to finish, or stop them.';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_unfinished_cap(text) IS
    'Internal: raises when the role already has sched.max_unfinished_instances_per_role unfinished top-level instances.';

-- The parameter values of a start of a workflow (version spec) with these start params, as
-- instance instance_id, at a business time (YYYY-MM-DD HH24:MI:SS in the instance's zone):
-- project parameters sit below the workflow's globals (DolphinScheduler's precedence).
CREATE FUNCTION sched._start_values(wf sched.workflow, spec jsonb, params jsonb, instance_id bigint, business_time text)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT sched._instance_values(
        coalesce((SELECT pp.params FROM sched.project_param pp WHERE pp.role = wf.owner), '{}')
            || coalesce(spec->'params', '{}'),
        params,
        pg_catalog.jsonb_build_object('system.workflow.definition.name', wf.name,
                                      'system.workflow.definition.code', wf.id::text,
                                      'system.workflow.instance.id', instance_id::text,
                                      'system.project.name', sched._role_name(wf.owner)),
        business_time)
$$;
COMMENT ON FUNCTION sched._start_values(sched.workflow, jsonb, jsonb, bigint, text) IS
    'Internal: the parameter values of a start (built-ins, project parameters, the workflow''s globals, start params), resolved at the business time; a test run''s instance id is 0.';

-- The principal is who acts: the caller of start_workflow, or for the master's fires (cron,
-- backfill, sub-workflows) the owner of the schedule or workflow. It is checked and recorded,
-- with the command type (start_process, scheduler, complement_data) and, for a schedule's
-- fire, the schedule. parent_task is the SUB_PROCESS attempt a child instance runs for: the
-- child takes its parent's business time, failure strategy, priority and worker group, and
-- starts at once, admitted with its parent.
CREATE FUNCTION sched._start(principal regrole, name text, params jsonb, options jsonb,
                             command_type text, schedule_id bigint, parent_task bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    wf       sched.workflow;
    v        sched.workflow_version;
    opt      text;
    prio     smallint;
    strategy sched.failure_strategy;
    grp      text;
    tenant   text;
    sched_at timestamptz;
    biz_at   timestamptz;
    vals     jsonb;
    inst_id  bigint;
    roots    bigint[];
    scope    bigint[];
    initial  sched.workflow_state := 'running';
    who      text := sched._role_name(principal);
    parent   sched.workflow_instance;
    zone     text;
    notify   jsonb;
    unserved text;
    options_allowed text[] := ARRAY['priority', 'worker_group', 'failure_strategy', 'tenant', 'schedule_time', 'timezone',
                                    'start_tasks', 'task_scope', 'notify'];
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _start.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow "%" does not exist', _start.name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name));

    IF params IS NULL OR jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'params: must be a JSON object, e.g. {"dt": "20260101"}' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF params <> '{}' THEN
        PERFORM sched._check_owner_strict(principal, wf.owner, pg_catalog.format('workflow "%s"', wf.name),
                                          'start it with parameters');
    END IF;
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR opt IN SELECT jsonb_object_keys(options) LOOP
        IF opt <> ALL(options_allowed) THEN
            RAISE EXCEPTION 'options.%: unknown option; allowed: %', opt, array_to_string(options_allowed, ', ')
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF opt = 'notify' THEN
            NULL;
        ELSIF opt = 'start_tasks' THEN
            IF jsonb_typeof(options->opt) <> 'array' OR jsonb_array_length(options->opt) = 0
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(options->opt) e WHERE jsonb_typeof(e) <> 'string') THEN
                RAISE EXCEPTION 'options.start_tasks: must be a non-empty array of task names' USING ERRCODE = 'invalid_parameter_value';
            END IF;
        ELSIF jsonb_typeof(options->opt) <> 'string' THEN
            RAISE EXCEPTION 'options.%: must be a string', opt USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;

    SELECT * INTO v FROM sched.workflow_version wv
    WHERE wv.workflow_id = wf.id AND wv.version = wf.current_version;

    -- start_tasks and task_scope (DolphinScheduler's start node list with TASK_ONLY, TASK_POST,
    -- TASK_PRE): the run is limited to those tasks, their downstream or their upstream.
    IF options ? 'task_scope' AND NOT options ? 'start_tasks' THEN
        RAISE EXCEPTION 'options.task_scope: needs options.start_tasks' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'start_tasks' THEN
        IF lower(coalesce(options->>'task_scope', 'downstream')) NOT IN ('only', 'downstream', 'upstream') THEN
            RAISE EXCEPTION 'options.task_scope: "%" is not allowed; allowed: only, downstream, upstream', options->>'task_scope'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT e.name INTO opt FROM jsonb_array_elements_text(options->'start_tasks') e(name)
        WHERE NOT EXISTS (SELECT 1 FROM sched.task_definition td WHERE td.workflow_version_id = v.id AND td.name = e.name)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'options.start_tasks: workflow "%" has no task "%"', wf.name, opt USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT array_agg(td.id) INTO roots FROM sched.task_definition td
        WHERE td.workflow_version_id = v.id AND td.name IN (SELECT jsonb_array_elements_text(options->'start_tasks'));
        scope := CASE lower(coalesce(options->>'task_scope', 'downstream'))
                     WHEN 'only' THEN roots
                     WHEN 'downstream' THEN sched._reach(roots, true)
                     ELSE sched._reach(roots, false) END;
    END IF;

    prio := coalesce(sched._priority_rank(options->>'priority', 'options.priority'), v.priority);
    IF options ? 'failure_strategy' THEN
        IF lower(options->>'failure_strategy') NOT IN ('continue', 'end') THEN
            RAISE EXCEPTION 'options.failure_strategy: "%" is not a valid failure strategy; allowed: continue, end',
                options->>'failure_strategy' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        strategy := lower(options->>'failure_strategy')::sched.failure_strategy;
    ELSE
        strategy := v.failure_strategy;
    END IF;
    grp := coalesce(options->>'worker_group', v.worker_group);
    PERFORM sched._check_name(grp, 'options.worker_group', 'name');
    -- A worker group given at start must be one the starter may use; the owner's rights are
    -- checked below for everything the instance runs with.
    IF options ? 'worker_group' THEN
        PERFORM sched._check_use(principal, 'worker_group', grp, 'options.worker_group');
    END IF;
    -- A tenant given at start must be one the starter may use; either way the owner, whose
    -- code runs as it, must be allowed it (grants may have been revoked since the definition).
    IF options ? 'tenant' THEN
        tenant := options->>'tenant';
        PERFORM sched._check_tenant(principal, tenant, 'options.tenant');
        PERFORM sched._check_tenant(wf.owner, tenant, 'options.tenant');
    ELSE
        tenant := v.tenant;
        PERFORM sched._check_tenant(wf.owner, tenant, 'tenant');
    END IF;

    -- Business values are computed in this zone (DolphinScheduler's schedule time zone): a
    -- schedule's fire and a backfill pass theirs; a manual start may name one, else the
    -- workflow's, else UTC, never the session's.
    IF options ? 'timezone' THEN
        zone := sched._check_time_zone(options->>'timezone', 'options.timezone');
    ELSE
        zone := coalesce(v.spec->>'timezone', 'UTC');
    END IF;
    IF options ? 'schedule_time' THEN
        sched_at := sched._zoned_timestamp(options->>'schedule_time', zone, 'options.schedule_time');
    END IF;
    -- A manual run's business time is its start, fixed for the whole run.
    biz_at := coalesce(sched_at, now());
    IF parent_task IS NOT NULL THEN
        SELECT wi.* INTO parent FROM sched.workflow_instance wi
        JOIN sched.task_instance ti ON ti.workflow_instance_id = wi.id WHERE ti.id = parent_task;
        prio := parent.priority;
        strategy := parent.failure_strategy;
        grp := parent.worker_group;
        sched_at := parent.schedule_time;
        biz_at := parent.business_time;
        zone := parent.time_zone;
    END IF;
    -- Who hears of the end: the workflow's notify, changed by the start's (or the schedule's).
    -- A sub-process's instance alerts nothing of its own, as in DolphinScheduler.
    IF parent_task IS NULL AND (options ? 'notify' OR v.spec ? 'notify') THEN
        notify := sched._notify_with(v.spec->'notify', options->'notify', 'options.notify');
        IF options->'notify' ? 'alert_group' THEN
            PERFORM sched._check_use(principal, 'alert_group', notify->>'alert_group', 'options.notify.alert_group');
            PERFORM sched._check_use(wf.owner, 'alert_group', notify->>'alert_group', 'options.notify.alert_group');
        END IF;
    END IF;
    -- Everything the instance runs with, for the owner whose code runs with it (grants may have
    -- been revoked since the definition); nothing to look up for a workflow that names nothing.
    IF v.uses <> '[]' THEN
        PERFORM sched._check_uses(wf.owner, jsonb_path_query_array(v.uses, '$[*] ? (@.field != "worker_group")'));
    END IF;
    IF grp <> 'default' THEN
        PERFORM sched._check_use(wf.owner, 'worker_group', grp,
                                 CASE WHEN options ? 'worker_group' THEN 'options.worker_group' ELSE 'worker_group' END);
    END IF;
    IF parent_task IS NOT NULL THEN
        PERFORM sched._count_descendant(parent);
    ELSIF current_setting('sched.max_unfinished_instances_per_role')::integer > 0 THEN
        PERFORM sched._check_unfinished_cap(who);
    END IF;
    -- The id is drawn first: it is one of the values (system.workflow.instance.id).
    inst_id := nextval('sched.workflow_instance_id_seq');
    vals := sched._start_values(wf, v.spec, params, inst_id, to_char(biz_at AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI:SS'));

    -- Parallel workflows under no running limit start at once, without a lock.
    IF parent_task IS NULL AND (v.execution_type <> 'parallel' OR current_setting('sched.max_running_instances')::integer > 0) THEN
        initial := sched._admit(wf.id, v.execution_type, who);
    END IF;
    INSERT INTO sched.workflow_instance (id, workflow_id, workflow_version_id, state, failure_strategy, priority,
                                         worker_group, params, schedule_time, business_time, time_zone,
                                         param_values, tenant, started_by, started_at, ended_at,
                                         timeout_at, timeout_strategy, scope, schedule_id,
                                         parent_instance_id, parent_task_instance_id, ancestors,
                                         notify_strategy, alert_group)
    OVERRIDING SYSTEM VALUE
    VALUES (inst_id, wf.id, v.id, initial, strategy, prio, grp, params, sched_at, biz_at, zone,
            vals, tenant, who, CASE WHEN initial = 'running' THEN now() END,
            CASE WHEN initial = 'stopped' THEN now() END,
            now() + v.timeout_after, v.timeout_strategy, scope, _start.schedule_id,
            parent.id, parent_task, CASE WHEN parent.id IS NOT NULL THEN coalesce(parent.ancestors, '{}') || parent.id END,
            coalesce(notify->>'strategy', 'none'), notify->>'alert_group');
    IF v.timeout_after IS NOT NULL THEN
        PERFORM sched._wake_master();
    END IF;

    INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
    VALUES (_start.command_type, wf.id, inst_id, who,
            jsonb_build_object('params', params, 'options', options)
            || CASE WHEN parent_task IS NOT NULL THEN jsonb_build_object('parent_task_instance_id', parent_task) ELSE '{}' END);
    IF initial = 'stopped' THEN
        -- serial_discard: an earlier instance is active, this one never runs.
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        VALUES ('stop', wf.id, inst_id, who, '{"reason": "serial_discard"}');
    END IF;
    -- A group no live worker serves (a typo, its workers down) would leave tasks queued with no
    -- word: say so now. Logic tasks are decided in the database and need no worker; every
    -- other task is claimed by one (sql tasks too, which then run here).
    IF parent_task IS NULL THEN
        SELECT pg_catalog.string_agg(pg_catalog.format('"%s"', x.g), ', ' ORDER BY x.g) INTO unserved
        FROM (SELECT DISTINCT coalesce(g, grp) AS g FROM unnest(v.worker_groups) AS g) x
        WHERE NOT EXISTS (SELECT 1 FROM sched.worker wk WHERE wk.alive AND x.g = ANY(wk.groups));
        IF unserved IS NOT NULL THEN
            RAISE NOTICE 'no live worker serves worker group %; instance %''s tasks there wait in queued until one does', unserved, inst_id
                USING HINT = 'Start a worker with --group, or see sched.unserved_tasks.';
        END IF;
    END IF;
    IF initial <> 'running' THEN
        RETURN inst_id;
    END IF;

    PERFORM sched._queue_roots(inst_id);
    RETURN inst_id;
END
$$;

COMMENT ON FUNCTION sched._start(regrole, text, jsonb, jsonb, text, bigint, bigint) IS
    'Internal: starts a workflow for a principal, recording the command type (start_process, scheduler, complement_data), the schedule of a fire and, for a sub-process, the SUB_PROCESS attempt it runs for.';
