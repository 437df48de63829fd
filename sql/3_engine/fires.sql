-- Fire times: a schedule's next fires (its cron in its zone, between its start and end) and
-- what a fire starts an instance with. Used by the master's schedule fires, backfill ranges
-- and the schedule API.

-- The next fire time of a schedule strictly after `after`, or NULL past its end.
CREATE FUNCTION sched._next_fire(cron text, timezone text, after timestamptz, end_at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT f FROM (SELECT pg_catalog.to_timestamp(e) AS f
                   FROM sched._cron_fires(cron, 1, extract(epoch FROM after)::float8, timezone) AS e) x
    WHERE end_at IS NULL OR f <= end_at
$$;
COMMENT ON FUNCTION sched._next_fire(text, text, timestamptz, timestamptz) IS 'Internal: a schedule''s next fire time after a time, NULL past its end.';

-- The deadline a schedule's fires have: its own, else its workflow's (current version); NULL
-- for none.
CREATE FUNCTION sched._schedule_deadline(s sched.schedule) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(s.deadline,
                    (SELECT v.spec->>'deadline' FROM sched.workflow w
                     JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
                     WHERE w.id = s.workflow_id))
$$;
COMMENT ON FUNCTION sched._schedule_deadline(sched.schedule) IS 'Internal: the deadline of a schedule''s fires, its own or its workflow''s; NULL for none.';

-- The workflow a schedule or a backfill starts, after checking the principal may, and their
-- options: `own` are the caller's keys, the rest are start options (failure_strategy,
-- priority, worker_group, params), checked as a start would check them so that no fire fails
-- on them later.
CREATE FUNCTION sched._fire_options(principal regrole, workflow text, options jsonb, own text[], owner_action text)
RETURNS sched.workflow
LANGUAGE plpgsql
AS $$
DECLARE
    wf      sched.workflow;
    opt     text;
    allowed text[] := own || ARRAY['failure_strategy', 'priority', 'worker_group', 'params', 'notify'];
    notify  jsonb;
BEGIN
    SELECT * INTO wf FROM sched.workflow w WHERE w.name = _fire_options.workflow;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow: "%" does not exist', workflow USING ERRCODE = 'undefined_object';
    END IF;
    -- What fires later runs as the workflow's owner: with owner_action, only its members may.
    IF owner_action IS NULL THEN
        PERFORM sched._check_owner(principal, wf.owner, format('workflow "%s"', wf.name));
    ELSE
        PERFORM sched._check_owner_strict(principal, wf.owner, format('workflow "%s"', wf.name), owner_action);
    END IF;
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR opt IN SELECT jsonb_object_keys(options) LOOP
        IF NOT opt = ANY(allowed) THEN
            RAISE EXCEPTION 'options.%: unknown option; allowed: %', opt, array_to_string(allowed, ', ')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    IF options ? 'params' AND jsonb_typeof(options->'params') <> 'object' THEN
        RAISE EXCEPTION 'options.params: must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF options ? 'failure_strategy' AND lower(options->>'failure_strategy') NOT IN ('continue', 'end') THEN
        RAISE EXCEPTION 'options.failure_strategy: "%" is not a valid failure strategy; allowed: continue, end', options->>'failure_strategy'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sched._priority_rank(options->>'priority', 'options.priority');
    IF options ? 'notify' THEN
        notify := sched._notify_with((SELECT v.spec->'notify' FROM sched.workflow_version v
                                      WHERE v.workflow_id = wf.id AND v.version = wf.current_version),
                                     options->'notify', 'options.notify');
        PERFORM sched._check_use(principal, 'alert_group', notify->>'alert_group', 'options.notify.alert_group');
    END IF;
    IF options ? 'worker_group' THEN
        PERFORM sched._check_name(options->>'worker_group', 'options.worker_group', 'name');
    END IF;
    PERFORM sched._check_use(principal, 'worker_group', options->>'worker_group', 'options.worker_group');
    RETURN wf;
END
$$;
COMMENT ON FUNCTION sched._fire_options(regrole, text, jsonb, text[], text) IS
    'Internal: the workflow a schedule or backfill starts, with its options checked (its own keys, and the start options); with owner_action, only members of its owner may (sched_admin does not suffice).';
