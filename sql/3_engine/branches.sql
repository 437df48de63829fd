-- CONDITIONS, SWITCH and forbidden tasks: no worker runs them; _new_attempts creates their
-- attempts running, with no worker, and _run_logic decides them in the same transaction, which
-- skips the branches not taken.

CREATE FUNCTION sched._task_ids(version_id bigint, names jsonb) RETURNS bigint[]
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(array_agg(td.id ORDER BY td.id), '{}') FROM sched.task_definition td
    WHERE td.workflow_version_id = version_id
      AND td.name IN (SELECT jsonb_array_elements_text(coalesce(names, '[]')))
$$;
COMMENT ON FUNCTION sched._task_ids(bigint, jsonb) IS 'Internal: ids of the named tasks of a workflow version.';

-- CONDITIONS' two-level AND/OR over {task, status} items, given what each named task came to:
-- outcomes maps a task's name to success or failed (anything else, or nothing, meets neither).
-- The engine and test runs decide conditions with it.
CREATE FUNCTION sched._conditions_hold(conditions jsonb, outcomes jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(CASE WHEN conditions->>'relation' = 'or' THEN bool_or(g.ok) ELSE bool_and(g.ok) END, false)
    FROM (
        SELECT CASE WHEN grp->>'relation' = 'or' THEN bool_or(it.ok) ELSE bool_and(it.ok) END AS ok
        FROM jsonb_array_elements(conditions->'groups') WITH ORDINALITY AS x(grp, n)
        CROSS JOIN LATERAL (
            SELECT coalesce(outcomes->>(item->>'task')
                            = CASE WHEN item->>'status' = 'failed' THEN 'failed' ELSE 'success' END, false) AS ok
            FROM jsonb_array_elements(x.grp->'items') AS item) it
        GROUP BY x.n, x.grp) g
$$;
COMMENT ON FUNCTION sched._conditions_hold(jsonb, jsonb) IS
    'Internal: whether a CONDITIONS task''s two-level AND/OR over {task, status} items holds, given each task''s outcome (success or failed).';

-- CONDITIONS in an instance's run: an item holds when its task's latest attempt ended as it
-- expects.
CREATE FUNCTION sched._condition_holds(instance_id bigint, run integer, version_id bigint, conditions jsonb)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT sched._conditions_hold(conditions, (
        SELECT jsonb_object_agg(n.name, CASE WHEN l.state = 'failed' THEN 'failed'
                                             WHEN l.state = ANY (sched._task_states_success()) THEN 'success' END)
        FROM (SELECT DISTINCT item->>'task' AS name
              FROM jsonb_array_elements(conditions->'groups') AS grp
              CROSS JOIN LATERAL jsonb_array_elements(grp->'items') AS item) n
        CROSS JOIN LATERAL (
            SELECT a.state FROM sched.task_instance a JOIN sched.task_definition td ON td.id = a.task_id
            WHERE a.workflow_instance_id = instance_id AND a.run = _condition_holds.run
              AND td.workflow_version_id = version_id AND td.name = n.name
            ORDER BY a.id DESC LIMIT 1) l))
$$;
COMMENT ON FUNCTION sched._condition_holds(bigint, integer, bigint, jsonb) IS
    'Internal: whether a CONDITIONS task''s two-level AND/OR over {task, status} items holds in an instance''s run.';

-- CONDITIONS and SWITCH attempts (running, just created) choose their branch and end. They
-- are decided where they become ready, inside _advance's loop, so that a chain of them is a
-- loop and not a recursion. Nothing here raises: _task_context and _switch_choose report
-- their failures as values. Returns whether one failed (a SWITCH whose parameters do not
-- resolve).
CREATE FUNCTION sched._decide_branches(ids bigint[]) RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    r       record;
    holds   boolean;
    ctx     jsonb;
    choice  jsonb;
    taken   jsonb;
    outcome text;
    chosen  bigint[];
    note    jsonb;
    failed  boolean := false;
BEGIN
    FOR r IN
        SELECT ti.id, ti.workflow_instance_id AS inst, ti.task_id, ti.run, td.logic, td.settings,
               td.params AS local_params, td.inputs_from, td.name, td.workflow_version_id AS version_id
        FROM unnest(ids) AS i(id)
        JOIN sched.task_instance ti ON ti.id = i.id
        JOIN sched.task_definition td ON td.id = ti.task_id
        ORDER BY ti.id
    LOOP
        chosen := NULL;
        note := NULL;
        IF r.logic = 'conditions' THEN
            holds := coalesce(sched._condition_holds(r.inst, r.run, r.version_id, r.settings->'conditions'), false);
            taken := r.settings->CASE WHEN holds THEN 'on_success' ELSE 'on_failure' END;
            chosen := sched._task_ids(r.version_id, taken);
            outcome := 'succeeded';
            note := jsonb_build_object('condition', holds);
            PERFORM sched._logic_log(r.id, format('conditions %s: runs %s', CASE WHEN holds THEN 'hold' ELSE 'do not hold' END,
                                                  CASE WHEN holds THEN 'on_success ' ELSE 'on_failure ' END || taken::text));
        ELSE
            ctx := sched._task_context(r.settings, r.local_params, r.inputs_from, r.name, r.task_id, r.id, r.inst);
            IF ctx->'settings' ? 'resolve_error' THEN
                outcome := 'failed';
                PERFORM sched._logic_log(r.id, 'switch: cannot resolve parameters: ' || (ctx#>>'{settings,resolve_error}'));
            ELSE
                choice := sched._switch_choose(r.settings->'cases',
                    (SELECT wi.param_values FROM sched.workflow_instance wi WHERE wi.id = r.inst) || (ctx->'params'));
                taken := CASE WHEN jsonb_typeof(choice->'case') = 'number'
                              THEN r.settings->'cases'->((choice->>'case')::integer)->'then'
                              ELSE r.settings->'default' END;
                chosen := sched._task_ids(r.version_id, taken);
                outcome := 'succeeded';
                note := jsonb_build_object('case', choice->'case', 'params', ctx->'params');
                PERFORM sched._logic_log(r.id, format('switch: %s', e)) FROM jsonb_array_elements_text(choice->'errors') e;
                PERFORM sched._logic_log(r.id, CASE WHEN jsonb_typeof(choice->'case') = 'number'
                    THEN format('switch: cases[%s] (%s) holds: runs %s', choice->>'case',
                                r.settings->'cases'->((choice->>'case')::integer)->>'when', taken::text)
                    ELSE format('switch: no case holds: runs default %s', taken::text) END);
            END IF;
        END IF;
        UPDATE sched.task_instance t
           SET state = outcome::sched.task_state, ended_at = now(), branch = chosen, resolved = note
         WHERE t.id = r.id;
        failed := failed OR outcome = 'failed';
    END LOOP;
    RETURN failed;
END
$$;
COMMENT ON FUNCTION sched._decide_branches(bigint[]) IS
    'Internal: ends new CONDITIONS and SWITCH attempts with the branch each chose; returns whether one failed.';

-- Decides new logic attempts (running, no worker) created outside _advance's loop (first tasks,
-- recover, resume) and every SUB_PROCESS, DEPENDENT and DYNAMIC one, one by one: each decision is
-- advanced at once, so that nothing decided waits unadvanced while a later one may end the
-- instance.
CREATE FUNCTION sched._run_logic(ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r      record;
    failed boolean;
BEGIN
    FOR r IN
        SELECT ti.id, td.logic
        FROM unnest(ids) AS i(id)
        JOIN sched.task_instance ti ON ti.id = i.id
        JOIN sched.task_definition td ON td.id = ti.task_id
        ORDER BY ti.id
    LOOP
        -- An earlier decision may have ended it already (failure strategy end).
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM sched.task_instance t WHERE t.id = r.id AND t.state = 'running');
        CASE r.logic
        WHEN 'forbidden' THEN
            UPDATE sched.task_instance t SET state = 'forbidden', ended_at = now() WHERE t.id = r.id;
            PERFORM sched._notify_ready(sched._advance(ARRAY[r.id], '{}', false));
        WHEN 'conditions', 'switch' THEN
            failed := sched._decide_branches(ARRAY[r.id]);
            PERFORM sched._notify_ready(sched._advance(ARRAY[r.id], '{}', failed));
        WHEN 'sub_process' THEN
            PERFORM sched._start_child(r.id);
        WHEN 'dependent' THEN
            PERFORM sched._check_dependent(r.id);
        WHEN 'dynamic' THEN
            PERFORM sched._expand(r.id);
        END CASE;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._run_logic(bigint[]) IS
    'Internal: decides new attempts of logic tasks: forbidden tasks pass, CONDITIONS and SWITCH choose their branch, a SUB_PROCESS starts (or continues) its child, a DEPENDENT task looks at what it depends on, a DYNAMIC task expands its elements.';
