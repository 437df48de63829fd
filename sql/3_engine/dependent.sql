-- DEPENDENT tasks: an attempt that has to wait is looked at again when an instance of a
-- workflow it depends on ends (_wake_dependents) and at its check_interval, by the master
-- (4_master/tick.sql).

-- ---------- DEPENDENT ----------

CREATE FUNCTION sched._combine(relation text, acc text, result text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN acc IS NULL THEN result
                WHEN relation = 'or' THEN
                    CASE WHEN 'succeeded' IN (acc, result) THEN 'succeeded'
                         WHEN 'waiting' IN (acc, result) THEN 'waiting' ELSE 'failed' END
                ELSE CASE WHEN 'failed' IN (acc, result) THEN 'failed'
                          WHEN 'waiting' IN (acc, result) THEN 'waiting' ELSE 'succeeded' END END
$$;
COMMENT ON FUNCTION sched._combine(text, text, text) IS 'Internal: DolphinScheduler''s AND/OR over succeeded, failed and waiting.';

-- The state of a task's latest attempt in a run of an instance, also once the attempts of a
-- finished instance have moved to the history; NULL when it has none.
CREATE FUNCTION sched._latest_state(instance_id bigint, run integer, task_id bigint) RETURNS sched.task_state
LANGUAGE sql STABLE
AS $$
    SELECT a.state FROM sched._attempts a
    WHERE a.workflow_instance_id = instance_id AND a.task_id = _latest_state.task_id AND a.run = _latest_state.run
    ORDER BY a.id DESC LIMIT 1
$$;
COMMENT ON FUNCTION sched._latest_state(bigint, integer, bigint) IS
    'Internal: the state of a task''s latest attempt in a run of an instance, live or in the history; NULL for none.';

-- One DEPENDENT item for an instance: succeeded, failed or waiting, and the upstream instance
-- it looked at last. In each period the latest instance (highest id; its business time is its
-- schedule time, or its start for a manual run) decides; every period must succeed.
CREATE FUNCTION sched._dependent_item(instance_id bigint, item jsonb, OUT result text, OUT upstream bigint, OUT workflow_id bigint)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    wi     sched.workflow_instance;
    dep_id bigint;
    p      record;
    cand   record;
    st     sched.task_state;
    found_attempt boolean;
BEGIN
    SELECT * INTO wi FROM sched.workflow_instance i WHERE i.id = instance_id;
    -- Read as the owner, checked again at every look: a right revoked since the definition (or
    -- a name dropped and taken by another role) reads as a failure, never as their runs.
    SELECT up.id INTO dep_id
    FROM sched.workflow up, sched.workflow mine
    WHERE up.name = item->>'workflow' AND mine.id = wi.workflow_id
      AND (pg_catalog.pg_has_role(mine.owner, up.owner, 'MEMBER')
           OR pg_catalog.pg_has_role(mine.owner, 'sched_admin', 'MEMBER'));
    workflow_id := dep_id;
    IF dep_id IS NULL THEN
        result := 'failed';
        RETURN;
    END IF;
    -- A workflow's very first instance does not wait on itself (DolphinScheduler).
    IF dep_id = wi.workflow_id AND NOT EXISTS (
        SELECT 1 FROM sched.workflow_instance o WHERE o.workflow_id = dep_id AND o.id < wi.id) THEN
        result := 'succeeded';
        RETURN;
    END IF;
    FOR p IN
        SELECT d.lo::timestamp AT TIME ZONE wi.time_zone AS lo, d.hi::timestamp AT TIME ZONE wi.time_zone AS hi
        FROM sched._dependent_periods(item->>'cycle', item->>'date_value',
                                      to_char(wi.business_time AT TIME ZONE wi.time_zone, 'YYYY-MM-DD HH24:MI:SS')) d
    LOOP
        SELECT u.id, u.state, u.run, u.workflow_version_id INTO cand
        FROM sched.workflow_instance u
        WHERE u.workflow_id = dep_id AND u.business_time >= p.lo AND u.business_time < p.hi AND u.id <> wi.id
        ORDER BY u.id DESC LIMIT 1;
        IF NOT FOUND THEN
            result := 'waiting';
            RETURN;
        END IF;
        upstream := cand.id;
        IF NOT item ? 'task' THEN
            result := CASE WHEN cand.state = 'succeeded' THEN 'succeeded'
                           WHEN cand.state = ANY (sched._workflow_states_unsuccessful()) THEN 'failed' ELSE 'waiting' END;
        ELSIF item->>'task' = '*' THEN
            result := CASE WHEN cand.state <> ALL (sched._workflow_states_finished()) THEN 'waiting'
                           WHEN cand.state <> 'succeeded' THEN 'failed'
                           WHEN EXISTS (
                               SELECT 1 FROM sched.task_definition td
                               WHERE td.workflow_version_id = cand.workflow_version_id
                                 AND td.logic IS DISTINCT FROM 'forbidden'
                                 AND coalesce(sched._latest_state(cand.id, cand.run, td.id), 'failed')
                                     <> ALL (sched._task_states_passed()))
                           THEN 'failed' ELSE 'succeeded' END;
        ELSE
            st := sched._latest_state(cand.id, cand.run,
                                      (SELECT td.id FROM sched.task_definition td
                                       WHERE td.workflow_version_id = cand.workflow_version_id AND td.name = item->>'task'));
            found_attempt := st IS NOT NULL;
            result := CASE WHEN found_attempt THEN
                               CASE WHEN st = ANY (sched._task_states_dependent_success()) THEN 'succeeded'
                                    WHEN st = ANY (sched._task_states_active()) THEN 'waiting'
                                    ELSE 'failed' END
                           WHEN EXISTS (SELECT 1 FROM sched.task_definition td
                                        WHERE td.workflow_version_id = cand.workflow_version_id
                                          AND td.name = item->>'task' AND td.logic = 'forbidden') THEN 'succeeded'
                           WHEN cand.state <> ALL (sched._workflow_states_finished()) THEN 'waiting'
                           ELSE 'failed' END;
        END IF;
        EXIT WHEN result <> 'succeeded';
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._dependent_item(bigint, jsonb) IS
    'Internal: the result (succeeded, failed, waiting) of one DEPENDENT item for an instance, with the upstream instance it looked at last.';

-- Looks at a running DEPENDENT attempt: ends it succeeded or failed (advancing the instance),
-- or leaves it waiting, watched, until an instance it waits on ends or check_interval passes.
CREATE FUNCTION sched._check_dependent(task_instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t       record;
    grp     jsonb;
    item    jsonb;
    overall text;
    part    text;
    one     record;
    outs    jsonb := '{}';
    waits   bigint[];
    lines   text[];
BEGIN
    SELECT ti.id, ti.workflow_instance_id, ti.started_at, ti.recheck_at, td.settings INTO t
    FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
    WHERE ti.id = task_instance_id;
    <<groups>>
    FOR grp IN SELECT g FROM jsonb_array_elements(t.settings->'groups') g LOOP
        part := NULL;
        FOR item IN SELECT i FROM jsonb_array_elements(grp->'items') i LOOP
            SELECT * INTO one FROM sched._dependent_item(t.workflow_instance_id, item);
            lines := lines || format('%s%s %s %s: %s', item->>'workflow', coalesce('.' || (item->>'task'), ''),
                                     item->>'cycle', item->>'date_value',
                                     one.result || coalesce(' (instance ' || one.upstream || ')', ''));
            IF one.result = 'waiting' AND one.workflow_id IS NOT NULL THEN
                waits := waits || one.workflow_id;
            END IF;
            IF one.result = 'succeeded' AND (item->>'parameter_passing')::boolean AND one.upstream IS NOT NULL THEN
                -- The earliest upstream wins a name, as in DolphinScheduler.
                outs := coalesce((SELECT wi.out_params FROM sched.workflow_instance wi WHERE wi.id = one.upstream), '{}') || outs;
            END IF;
            part := sched._combine(grp->>'relation', part, one.result);
            EXIT WHEN (grp->>'relation' = 'or' AND part = 'succeeded') OR (grp->>'relation' <> 'or' AND part = 'failed');
        END LOOP;
        overall := sched._combine(t.settings->>'relation', overall, part);
        EXIT groups WHEN (t.settings->>'relation' = 'or' AND overall = 'succeeded')
                      OR (t.settings->>'relation' <> 'or' AND overall = 'failed');
    END LOOP;

    IF overall = 'failed' AND t.settings->>'on_failure' = 'wait'
       AND now() < t.started_at + (t.settings->>'wait_for')::interval THEN
        overall := 'waiting';
    END IF;
    IF overall = 'waiting' THEN
        IF t.recheck_at IS NULL THEN
            PERFORM sched._logic_log(t.id, 'dependent: waiting: ' || l) FROM unnest(lines) l;
        END IF;
        -- A wake that came in since this look read the row (an upstream that ended) stands.
        UPDATE sched.task_instance ti
           SET recheck_at = CASE WHEN ti.recheck_at IS DISTINCT FROM t.recheck_at THEN ti.recheck_at
                                 ELSE least(now() + (t.settings->>'check_interval')::interval,
                                            CASE WHEN t.settings->>'on_failure' = 'wait'
                                                 THEN t.started_at + (t.settings->>'wait_for')::interval END) END
         WHERE ti.id = t.id;
        INSERT INTO sched.dependent_watch (workflow_id, task_instance_id)
        SELECT DISTINCT w, t.id FROM unnest(waits) w
        ON CONFLICT DO NOTHING;
        PERFORM sched._wake_master();
        RETURN;
    END IF;
    PERFORM sched._logic_log(t.id, 'dependent: ' || overall || ': ' || l) FROM unnest(lines) l;
    UPDATE sched.task_instance ti
       SET state = overall::sched.task_state, ended_at = now(), recheck_at = NULL,
           out_params = CASE WHEN overall = 'succeeded' AND outs <> '{}' THEN outs END
     WHERE ti.id = t.id;
    DELETE FROM sched.dependent_watch dw WHERE dw.task_instance_id = t.id;
    PERFORM sched._notify_ready(sched._advance(ARRAY[t.id], '{}', overall = 'failed'));
END
$$;
COMMENT ON FUNCTION sched._check_dependent(bigint) IS
    'Internal: evaluates a DEPENDENT attempt (AND/OR short-circuit over its groups and items): succeeded or failed end it, waiting has it looked at again.';

-- An instance of workflow_id ended: the DEPENDENT attempts waiting on it are due now. Rows
-- are locked in id order; one being looked at this very moment is waited for, and its look
-- keeps this wake (_check_dependent).
CREATE FUNCTION sched._wake_dependents(workflow_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE sched.task_instance ti SET recheck_at = now()
    WHERE ti.id IN (SELECT t.id FROM sched.task_instance t
                    WHERE t.id IN (SELECT dw.task_instance_id FROM sched.dependent_watch dw
                                   WHERE dw.workflow_id = _wake_dependents.workflow_id)
                      AND t.state = 'running' AND t.recheck_at IS NOT NULL
                    ORDER BY t.id
                    FOR NO KEY UPDATE);
    PERFORM sched._wake_master();
END
$$;
COMMENT ON FUNCTION sched._wake_dependents(bigint) IS 'Internal: makes the DEPENDENT attempts waiting on a workflow due at once, and wakes the master.';
