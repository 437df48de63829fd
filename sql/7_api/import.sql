-- Import from DolphinScheduler: its workflow export (3.2 or 3.3+ JSON) converted by sched-core
-- (core/src/dolphinscheduler/) into specs and schedules, which are created here with the
-- same internal functions as create_workflow and schedule, in one transaction.

CREATE FUNCTION sched.import_dolphinscheduler(export jsonb, options jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._import_dolphinscheduler(principal regrole, export jsonb, options jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    converted jsonb;
    is_dry    boolean;
    do_replace boolean;
    spec      jsonb;
    wf_name   text;
    new_version bigint;
    created   jsonb := '[]';
    schedules jsonb := '[]';
    sch       jsonb;
    sch_id    bigint;
    msg       text;
    err_state text;
BEGIN
    IF export IS NULL THEN
        RAISE EXCEPTION 'export: required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    options := coalesce(options, '{}');
    IF jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH msg IN ARRAY ARRAY['dry_run', 'replace'] LOOP
        IF options ? msg AND jsonb_typeof(options->msg) <> 'boolean' THEN
            RAISE EXCEPTION 'options.%: must be true or false', msg USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    is_dry := coalesce((options->>'dry_run')::boolean, false);
    do_replace := coalesce((options->>'replace')::boolean, false);
    converted := sched._dolphinscheduler_convert(export, options);

    -- Referenced workflows come first in the list, so each is created before what uses it.
    -- Any error aborts the whole import; it is re-raised naming the workflow it belongs to.
    FOR spec IN SELECT value FROM jsonb_array_elements(converted->'workflows') LOOP
        wf_name := spec->>'name';
        BEGIN
            IF is_dry THEN
                IF NOT do_replace AND EXISTS (SELECT 1 FROM sched.workflow w WHERE w.name = wf_name) THEN
                    RAISE EXCEPTION 'workflow "%" already exists', wf_name
                        USING ERRCODE = 'duplicate_object', HINT = 'Import with replace to add a new version.';
                END IF;
                created := created || jsonb_build_object('workflow', wf_name, 'version_id', NULL,
                                                         'spec', sched._check_workflow(principal, spec));
            ELSE
                new_version := sched._create_workflow(principal, spec, do_replace);
                created := created || jsonb_build_object('workflow', wf_name, 'version_id', new_version,
                                                         'spec', (SELECT v.spec FROM sched.workflow_version v WHERE v.id = new_version));
            END IF;
        EXCEPTION WHEN others THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, err_state = RETURNED_SQLSTATE;
            RAISE EXCEPTION 'workflow "%": %', wf_name, msg USING ERRCODE = err_state;
        END;
    END LOOP;

    FOR sch IN SELECT value FROM jsonb_array_elements(converted->'schedules') LOOP
        wf_name := sch->>'workflow';
        BEGIN
            IF is_dry THEN
                -- Checks the expression, the zone and the end as schedule() would.
                PERFORM sched._next_fire(sch->>'cron', coalesce(sch#>>'{options,timezone}', 'UTC'), now(),
                                         (sch#>>'{options,end}')::timestamptz);
                sch_id := NULL;
            ELSE
                -- Importing again with replace keeps one schedule per cron and zone.
                SELECT s.id INTO sch_id FROM sched.schedule s JOIN sched.workflow w ON w.id = s.workflow_id
                WHERE w.name = wf_name AND s.cron = sch->>'cron'
                  AND s.timezone = coalesce(sch#>>'{options,timezone}', 'UTC');
                IF NOT FOUND THEN
                    sch_id := sched._schedule(principal, wf_name, sch->>'cron', sch->'options');
                END IF;
            END IF;
        EXCEPTION WHEN others THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, err_state = RETURNED_SQLSTATE;
            RAISE EXCEPTION 'workflow "%", schedule: %', wf_name, msg USING ERRCODE = err_state;
        END;
        schedules := schedules || (sch || jsonb_build_object('id', sch_id));
    END LOOP;

    RETURN jsonb_build_object('dry_run', is_dry, 'created', created, 'schedules', schedules,
                              'unmapped', converted->'unmapped', 'skipped', converted->'skipped');
END
$$;
COMMENT ON FUNCTION sched.import_dolphinscheduler(jsonb, jsonb) IS
    'Creates the workflows and schedules of a DolphinScheduler 3.2 or 3.3+ workflow export (the JSON array its export writes), all or nothing, and returns {dry_run, created: [{workflow, version_id, spec}], schedules: [{workflow, cron, options, id}], unmapped: [{workflow, task, what, blocking}], skipped: [{workflow, reason}]}. options: dry_run (convert and validate, create nothing), replace (as create_workflow), datasources and task_groups ({"<DolphinScheduler id>": "name"}; a datasource may map to null, the scheduler''s database), workflows ({"<code>": "existing workflow"}), force (create workflows whose tasks cannot be converted, those tasks as empty). Schedules come in disabled, as the export leaves them.';
COMMENT ON FUNCTION sched._import_dolphinscheduler(regrole, jsonb, jsonb) IS
    'Internal: sched.import_dolphinscheduler for a principal.';
