-- Logic tasks (reference §7, §8): SUB_PROCESS, CONDITIONS, SWITCH and DEPENDENT, and forbidden
-- tasks. No worker runs them: _new_attempts creates their attempts running, with no worker, and
-- _run_logic decides them in the same transaction. CONDITIONS, SWITCH and forbidden tasks end at
-- once; a SUB_PROCESS attempt ends in the transaction that ends its child instance; a DEPENDENT
-- attempt that has to wait is looked at again when an instance of a workflow it depends on
-- ends, and at its check_interval, by the master.
--
-- Lock order: a sub-process instance has a higher id than every instance above it, and every
-- path that locks an instance locks its ancestors with it, lowest id first (_lock_family, the
-- completion's lock in 140_worker_api.sql). A child's end then needs no new lock to end its
-- SUB_PROCESS attempt (the parent is locked already), and locks taken downwards (a parent's
-- stop or pause reaching its children) go to higher ids.

CREATE TABLE sched.dependent_watch (
    workflow_id      bigint NOT NULL,
    task_instance_id bigint NOT NULL,
    PRIMARY KEY (workflow_id, task_instance_id)
);
CREATE INDEX dependent_watch_by_task ON sched.dependent_watch (task_instance_id);
COMMENT ON TABLE sched.dependent_watch IS 'Waiting DEPENDENT attempts and the workflows they wait on: an instance of such a workflow that ends has them looked at again at once.';
COMMENT ON COLUMN sched.dependent_watch.workflow_id IS 'A workflow the attempt waits on.';
COMMENT ON COLUMN sched.dependent_watch.task_instance_id IS 'The waiting DEPENDENT attempt.';

-- Locks instances and everything above them, lowest id first; returns those of `ids` whose
-- whole family is locked (all of them when waiting; with wait false, the others are skipped).
CREATE FUNCTION sched._lock_family(ids bigint[], wait boolean) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    family bigint[];
    locked bigint[];
BEGIN
    SELECT array_agg(DISTINCT f.id ORDER BY f.id) INTO family
    FROM sched.workflow_instance wi CROSS JOIN LATERAL unnest(wi.ancestors || wi.id) AS f(id)
    WHERE wi.id = ANY(ids);
    IF wait THEN
        PERFORM 1 FROM sched.workflow_instance wi WHERE wi.id = ANY(family) ORDER BY wi.id FOR NO KEY UPDATE;
        locked := family;
    ELSE
        SELECT array_agg(l.id) INTO locked FROM (
            SELECT wi.id FROM sched.workflow_instance wi WHERE wi.id = ANY(family)
            ORDER BY wi.id FOR NO KEY UPDATE SKIP LOCKED) l;
    END IF;
    RETURN ARRAY(SELECT wi.id FROM sched.workflow_instance wi
                 WHERE wi.id = ANY(ids) AND (wi.ancestors || wi.id) <@ coalesce(locked, '{}'));
END
$$;
COMMENT ON FUNCTION sched._lock_family(bigint[], boolean) IS
    'Internal: locks these instances with the instances above them (sub-processes), lowest id first; returns those now locked with their whole family.';

-- What a logic task decided goes to its log, where a worker task's output would be.
CREATE FUNCTION sched._logic_log(task_instance_id bigint, line text) RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO sched.task_log_line (task_instance_id, line_no, day, line)
    SELECT ti.id,
           coalesce((SELECT max(l.line_no) FROM sched.task_log_line l WHERE l.task_instance_id = ti.id), 0) + 1,
           (ti.queued_at AT TIME ZONE 'UTC')::date, line
    FROM sched.task_instance ti WHERE ti.id = task_instance_id
$$;
COMMENT ON FUNCTION sched._logic_log(bigint, text) IS 'Internal: appends a line to a logic task attempt''s log.';

CREATE FUNCTION sched._task_ids(version_id bigint, names jsonb) RETURNS bigint[]
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(array_agg(td.id ORDER BY td.id), '{}') FROM sched.task_definition td
    WHERE td.workflow_version_id = version_id
      AND td.name IN (SELECT jsonb_array_elements_text(coalesce(names, '[]')))
$$;
COMMENT ON FUNCTION sched._task_ids(bigint, jsonb) IS 'Internal: ids of the named tasks of a workflow version.';

-- CONDITIONS: an item holds when its task's latest attempt in this run ended as it expects.
CREATE FUNCTION sched._condition_holds(instance_id bigint, run integer, version_id bigint, conditions jsonb)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN conditions->>'relation' = 'or' THEN bool_or(g.ok) ELSE bool_and(g.ok) END
    FROM (
        SELECT CASE WHEN grp->>'relation' = 'or' THEN bool_or(it.ok) ELSE bool_and(it.ok) END AS ok
        FROM jsonb_array_elements(conditions->'groups') WITH ORDINALITY AS x(grp, n)
        CROSS JOIN LATERAL (
            SELECT coalesce((
                SELECT CASE WHEN item->>'status' = 'failed' THEN l.state = 'failed'
                            ELSE l.state IN ('succeeded', 'forced_success') END
                FROM sched.task_instance l JOIN sched.task_definition td ON td.id = l.task_id
                WHERE l.workflow_instance_id = instance_id AND l.run = _condition_holds.run
                  AND td.workflow_version_id = version_id AND td.name = item->>'task'
                ORDER BY l.id DESC LIMIT 1), false) AS ok
            FROM jsonb_array_elements(x.grp->'items') AS item) it
        GROUP BY x.n, x.grp) g
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
-- recover, resume) and every SUB_PROCESS and DEPENDENT one, one by one: each decision is
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
        END CASE;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._run_logic(bigint[]) IS
    'Internal: decides new attempts of logic tasks: forbidden tasks pass, CONDITIONS and SWITCH choose their branch, a SUB_PROCESS starts (or continues) its child, a DEPENDENT task looks at what it depends on.';

-- ---------- SUB_PROCESS ----------

-- A sub_process attempt's child: a new instance of the workflow's current version as the parent
-- workflow's owner, or (after a resume, recover or rerun of the parent) the child it had,
-- continued the same way.
CREATE FUNCTION sched._start_child(task_instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t        record;
    parent   sched.workflow_instance;
    child    sched.workflow_instance;
    owner    regrole;
    ctx      jsonb;
    params   jsonb;
    child_id bigint;
    rerun    boolean;
BEGIN
    SELECT ti.id, ti.task_id, ti.run, ti.workflow_instance_id, td.settings, td.params AS local_params, td.inputs_from, td.name
    INTO t
    FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
    WHERE ti.id = task_instance_id;
    SELECT * INTO parent FROM sched.workflow_instance wi WHERE wi.id = t.workflow_instance_id;
    SELECT c.* INTO child FROM sched.workflow_instance c
    WHERE c.parent_instance_id = parent.id
      AND c.parent_task_instance_id IN (SELECT p.id FROM sched.task_instance p
                                        WHERE p.workflow_instance_id = parent.id AND p.task_id = t.task_id)
    ORDER BY c.id DESC LIMIT 1
    FOR NO KEY UPDATE;

    IF FOUND THEN
        -- The child runs again from the start when its parent does: a new run of the parent
        -- (rerun_workflow, however it was paused or recovered since) or execute_task.
        rerun := (SELECT c.command_type FROM sched.command c
                  WHERE c.workflow_instance_id = parent.id ORDER BY c.id DESC LIMIT 1) = 'execute_task'
                 OR (SELECT p.run FROM sched.task_instance p WHERE p.id = child.parent_task_instance_id) < t.run;
        UPDATE sched.workflow_instance SET parent_task_instance_id = t.id WHERE id = child.id;
        PERFORM sched._logic_log(t.id, format('sub_process: continues instance %s (%s) of workflow "%s"',
                                              child.id, child.state, t.settings->>'workflow'));
        -- As the parent workflow's owner, who runs its children, through the commands a user
        -- would issue (which check that right again, and record them).
        owner := (SELECT w.owner FROM sched.workflow w WHERE w.id = parent.workflow_id);
        IF rerun THEN
            PERFORM sched._rerun_workflow(owner, child.id);
        ELSIF child.state IN ('paused', 'stopped') THEN
            PERFORM sched._resume_workflow(owner, child.id);
        ELSIF child.state = 'failed' THEN
            PERFORM sched._recover_workflow(owner, child.id);
        ELSIF child.state = 'succeeded' THEN
            PERFORM sched._end_parent_task(child.id, false);
        END IF;
        RETURN;
    END IF;

    -- The child's start parameters: the parent's globals and start parameters, under the task's
    -- own (upstream OUT values, its local params), so that they override the child's globals.
    ctx := sched._task_context(t.settings, t.local_params, t.inputs_from, t.name, t.task_id, t.id, parent.id);
    SELECT coalesce(jsonb_object_agg(k, parent.param_values->k), '{}') INTO params
    FROM (SELECT jsonb_object_keys(coalesce(v.spec->'params', '{}')) AS k
          FROM sched.workflow_version v WHERE v.id = parent.workflow_version_id
          UNION SELECT jsonb_object_keys(parent.params)) keys
    WHERE parent.param_values ? k;
    SELECT params || coalesce(jsonb_object_agg(p.key, p.value), '{}') INTO params
    FROM jsonb_each(coalesce(ctx->'params', '{}')) p WHERE p.key NOT LIKE 'system.%';
    BEGIN
        IF ctx->'settings' ? 'resolve_error' THEN
            RAISE EXCEPTION 'cannot resolve parameters: %', ctx#>>'{settings,resolve_error}';
        END IF;
        child_id := sched._start((SELECT w.owner FROM sched.workflow w WHERE w.id = parent.workflow_id),
                                 t.settings->>'workflow', params, '{}',
                                 (SELECT c.command_type FROM sched.command c WHERE c.workflow_instance_id = parent.id
                                  ORDER BY c.id LIMIT 1),
                                 NULL, t.id);
    EXCEPTION WHEN others THEN
        -- One child that cannot start fails its task, not the transaction that made it ready.
        UPDATE sched.task_instance ti SET state = 'failed', ended_at = now() WHERE ti.id = t.id;
        PERFORM sched._logic_log(t.id, format('sub_process: cannot start workflow "%s": %s', t.settings->>'workflow', SQLERRM));
        PERFORM sched._notify_ready(sched._advance(ARRAY[t.id], '{}', true));
        RETURN;
    END;
    PERFORM sched._logic_log(t.id, format('sub_process: started instance %s of workflow "%s"', child_id, t.settings->>'workflow'));
END
$$;
COMMENT ON FUNCTION sched._start_child(bigint) IS
    'Internal: gives a SUB_PROCESS attempt its child instance: a new one, or the one it had, resumed, recovered or rerun as its parent was.';

-- A child instance ended: its SUB_PROCESS attempt ends as it did (stopped is killed) and, if it
-- succeeded, with its OUT params. finish_parent false leaves finishing the parent to the caller.
CREATE FUNCTION sched._end_parent_task(child_id bigint, finish_parent boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    c     sched.workflow_instance;
    ended sched.task_state;
    ptask bigint;
BEGIN
    SELECT * INTO c FROM sched.workflow_instance wi WHERE wi.id = child_id;
    ended := CASE c.state WHEN 'succeeded' THEN 'succeeded' WHEN 'failed' THEN 'failed'
                          WHEN 'stopped' THEN 'killed' WHEN 'paused' THEN 'paused' END;
    UPDATE sched.task_instance ti
       SET state = ended, ended_at = now(),
           out_params = CASE WHEN ended = 'succeeded' THEN c.out_params END,
           kill_reason = CASE WHEN ended = 'killed' THEN coalesce(ti.kill_reason, 'stop') ELSE ti.kill_reason END
     WHERE ti.id = c.parent_task_instance_id AND ti.state = 'running'
    RETURNING ti.id INTO ptask;
    IF ptask IS NOT NULL THEN
        PERFORM sched._logic_log(ptask, format('sub_process: instance %s %s', c.id, c.state));
        PERFORM sched._notify_ready(sched._advance(ARRAY[ptask],
            CASE WHEN finish_parent THEN ARRAY[c.parent_instance_id] ELSE '{}' END, ended IN ('failed', 'killed')));
    END IF;
END
$$;
COMMENT ON FUNCTION sched._end_parent_task(bigint, boolean) IS
    'Internal: ends the SUB_PROCESS attempt of a child instance that ended, as the child ended: succeeded (with its OUT params), failed, killed (stopped) or paused.';

-- Logic attempts that a stop, a failure strategy end or kill_task ends: a sub-process's child is
-- stopped (its end then kills the attempt); any other just ends, killed. Returns those.
CREATE FUNCTION sched._kill_logic(instances bigint[], only_task bigint, reason text) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    c      record;
    killed bigint[];
BEGIN
    FOR c IN
        SELECT ch.id, ch.workflow_id, ti.id AS attempt FROM sched.workflow_instance ch
        JOIN sched.task_instance ti ON ti.id = ch.parent_task_instance_id
        WHERE ch.parent_instance_id = ANY(instances) AND ti.state = 'running'
          AND (only_task IS NULL OR ti.id = only_task)
          AND ch.state NOT IN ('ready_stop', 'paused', 'stopped', 'failed', 'succeeded')
        ORDER BY ch.id
        FOR NO KEY UPDATE OF ch
    LOOP
        -- The attempt ends killed, for this reason, once its child has stopped.
        UPDATE sched.task_instance ti SET kill_requested = true, kill_reason = reason WHERE ti.id = c.attempt;
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        VALUES ('stop', c.workflow_id, c.id, 'pg_sched', jsonb_build_object('reason', reason));
        UPDATE sched.workflow_instance SET state = 'ready_stop' WHERE id = c.id;
        PERFORM sched._kill_active(ARRAY[c.id], reason);
        PERFORM sched._finish_if_done(ARRAY[c.id]);
    END LOOP;
    WITH ended AS (
        UPDATE sched.task_instance ti SET state = 'killed', ended_at = now(), kill_reason = reason, recheck_at = NULL
        WHERE ti.workflow_instance_id = ANY(instances) AND ti.state = 'running' AND ti.worker_id IS NULL
          AND (only_task IS NULL OR ti.id = only_task)
          AND NOT EXISTS (SELECT 1 FROM sched.workflow_instance ch
                          WHERE ch.parent_task_instance_id = ti.id AND ch.parent_instance_id = ti.workflow_instance_id
                            AND ch.state NOT IN ('paused', 'stopped', 'failed', 'succeeded'))
        RETURNING ti.id)
    SELECT array_agg(id) INTO killed FROM ended;
    DELETE FROM sched.dependent_watch dw WHERE dw.task_instance_id = ANY(killed);
    RETURN killed;
END
$$;
COMMENT ON FUNCTION sched._kill_logic(bigint[], bigint, text) IS
    'Internal: ends running logic attempts of these instances (or just only_task): stops sub-process children, kills the rest; returns those killed at once.';

-- Pausing reaches logic attempts too: a sub-process pauses its child (which ends the attempt
-- paused once it has), a waiting DEPENDENT task ends paused and looks again after resume.
CREATE FUNCTION sched._pause_instance(instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    slots bigint[];
    c     record;
BEGIN
    UPDATE sched.workflow_instance SET state = 'ready_pause' WHERE id = instance_id;
    -- What has not started waits, paused; what runs finishes.
    WITH paused AS (
        UPDATE sched.task_instance ti SET state = 'paused', ended_at = now(), not_before = NULL
        WHERE ti.workflow_instance_id = instance_id AND ti.state IN ('delayed', 'queued')
        RETURNING ti.id, ti.holds_slot)
    SELECT array_agg(id) FILTER (WHERE holds_slot) INTO slots FROM paused;
    IF slots IS NOT NULL THEN
        PERFORM sched._release_slots(slots);
    END IF;
    FOR c IN
        SELECT ch.id, ch.workflow_id FROM sched.workflow_instance ch
        JOIN sched.task_instance ti ON ti.id = ch.parent_task_instance_id
        WHERE ch.parent_instance_id = instance_id AND ti.state = 'running' AND ch.state = 'running'
        ORDER BY ch.id
        FOR NO KEY UPDATE OF ch
    LOOP
        INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by, params)
        VALUES ('pause', c.workflow_id, c.id, 'pg_sched', jsonb_build_object('parent_instance_id', instance_id));
        PERFORM sched._pause_instance(c.id);
    END LOOP;
    WITH paused AS (
        UPDATE sched.task_instance ti SET state = 'paused', ended_at = now(), recheck_at = NULL
        WHERE ti.workflow_instance_id = instance_id AND ti.state = 'running' AND ti.worker_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM sched.workflow_instance ch
                          WHERE ch.parent_task_instance_id = ti.id AND ch.parent_instance_id = instance_id
                            AND ch.state NOT IN ('paused', 'stopped', 'failed', 'succeeded'))
        RETURNING ti.id)
    DELETE FROM sched.dependent_watch dw WHERE dw.task_instance_id IN (SELECT id FROM paused);
    PERFORM sched._finish_if_done(ARRAY[instance_id]);
END
$$;
COMMENT ON FUNCTION sched._pause_instance(bigint) IS
    'Internal: puts an instance in ready_pause: queued and delayed attempts pause, sub-process children pause with it, waiting DEPENDENT attempts pause; paused once nothing runs.';

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
    SELECT a.state FROM (
        SELECT l.id, l.state FROM sched.task_instance l
        WHERE l.workflow_instance_id = instance_id AND l.task_id = _latest_state.task_id AND l.run = _latest_state.run
        UNION ALL
        SELECT h.id, h.state FROM sched.task_instance_history h
        WHERE h.workflow_instance_id = instance_id AND h.task_id = _latest_state.task_id AND h.run = _latest_state.run) a
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
                           WHEN cand.state IN ('paused', 'stopped', 'failed') THEN 'failed' ELSE 'waiting' END;
        ELSIF item->>'task' = '*' THEN
            result := CASE WHEN cand.state NOT IN ('paused', 'stopped', 'failed', 'succeeded') THEN 'waiting'
                           WHEN cand.state <> 'succeeded' THEN 'failed'
                           WHEN EXISTS (
                               SELECT 1 FROM sched.task_definition td
                               WHERE td.workflow_version_id = cand.workflow_version_id
                                 AND td.logic IS DISTINCT FROM 'forbidden'
                                 AND coalesce(sched._latest_state(cand.id, cand.run, td.id), 'failed')
                                     NOT IN ('succeeded', 'forced_success', 'skipped', 'forbidden'))
                           THEN 'failed' ELSE 'succeeded' END;
        ELSE
            st := sched._latest_state(cand.id, cand.run,
                                      (SELECT td.id FROM sched.task_definition td
                                       WHERE td.workflow_version_id = cand.workflow_version_id AND td.name = item->>'task'));
            found_attempt := st IS NOT NULL;
            result := CASE WHEN found_attempt THEN
                               CASE WHEN st IN ('succeeded', 'forced_success', 'forbidden') THEN 'succeeded'
                                    WHEN st IN ('delayed', 'queued', 'dispatched', 'running') THEN 'waiting'
                                    ELSE 'failed' END
                           WHEN EXISTS (SELECT 1 FROM sched.task_definition td
                                        WHERE td.workflow_version_id = cand.workflow_version_id
                                          AND td.name = item->>'task' AND td.logic = 'forbidden') THEN 'succeeded'
                           WHEN cand.state NOT IN ('paused', 'stopped', 'failed', 'succeeded') THEN 'waiting'
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

-- Run by the master: due DEPENDENT attempts, each under its family's locks (skipped when busy;
-- the next tick takes them), a few dozen per tick so that the tick's subtransactions stay
-- within PostgreSQL's cache of them. One that errs is logged and looked at again later: it
-- must not stop the master. Returns when the next one is due.
CREATE FUNCTION sched._dependent_tick() RETURNS timestamptz
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT ti.id, ti.workflow_instance_id FROM sched.task_instance ti
        WHERE ti.recheck_at <= now() AND ti.recheck_at IS NOT NULL
        ORDER BY ti.recheck_at LIMIT 50
    LOOP
        CONTINUE WHEN cardinality(sched._lock_family(ARRAY[r.workflow_instance_id], false)) = 0;
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM sched.task_instance t
                                  WHERE t.id = r.id AND t.state = 'running' AND t.recheck_at <= now());
        BEGIN
            PERFORM sched._check_dependent(r.id);
            PERFORM sched._finish_if_done(ARRAY[r.workflow_instance_id]);
        EXCEPTION WHEN others THEN
            RAISE WARNING 'pg_sched: DEPENDENT task instance %: %', r.id, SQLERRM;
            UPDATE sched.task_instance t SET recheck_at = now() + interval '1 min' WHERE t.id = r.id;
        END;
    END LOOP;
    DELETE FROM sched.dependent_watch dw
    WHERE NOT EXISTS (SELECT 1 FROM sched.task_instance t WHERE t.id = dw.task_instance_id AND t.state = 'running');
    RETURN (SELECT min(ti.recheck_at) FROM sched.task_instance ti WHERE ti.recheck_at IS NOT NULL);
END
$$;
COMMENT ON FUNCTION sched._dependent_tick() IS 'Internal, run by the master: evaluates the DEPENDENT attempts that are due; returns when the next is.';

-- ---------- Definitions ----------

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
        SELECT t.i - 1 AS i, x.field, x.name, x.task
        FROM jsonb_array_elements(norm->'tasks') WITH ORDINALITY AS t(task, i)
        CROSS JOIN LATERAL (
            SELECT 'workflow' AS field, t.task->>'workflow' AS name, NULL::text AS task
            WHERE t.task->>'type' = 'sub_process'
            UNION ALL
            SELECT format('groups[%s].items[%s].workflow', g.n - 1, it.k - 1), it.item->>'workflow', it.item->>'task'
            FROM jsonb_array_elements(CASE WHEN t.task->>'type' = 'dependent' THEN t.task->'groups' ELSE '[]' END)
                 WITH ORDINALITY AS g(grp, n)
            CROSS JOIN LATERAL jsonb_array_elements(g.grp->'items') WITH ORDINALITY AS it(item, k)) x
        ORDER BY t.i
    LOOP
        IF r.name = wf_name THEN
            IF r.field = 'workflow' THEN
                RAISE EXCEPTION 'tasks[%].workflow: workflow "%" cannot run itself as a sub-process', r.i, wf_name
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
        IF r.field = 'workflow' THEN
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
    WHERE wf.name IN (SELECT t->>'workflow' FROM jsonb_array_elements(norm->'tasks') t WHERE t->>'type' = 'sub_process')
    ORDER BY wf.id FOR SHARE;
    SELECT s.i, array_to_string(s.path, ' -> ') AS path INTO r FROM (
        WITH RECURSIVE sub(i, path, wf) AS (
            SELECT t.i - 1, ARRAY[wf_name, t.task->>'workflow'], t.task->>'workflow'
            FROM jsonb_array_elements(norm->'tasks') WITH ORDINALITY AS t(task, i)
            WHERE t.task->>'type' = 'sub_process'
          UNION ALL
            SELECT s.i, s.path || (t.task->>'workflow'), t.task->>'workflow'
            FROM sub s
            JOIN sched.workflow up ON up.name = s.wf AND s.wf <> wf_name
            JOIN sched.workflow_version v ON v.workflow_id = up.id AND v.version = up.current_version
            CROSS JOIN LATERAL jsonb_array_elements(v.spec->'tasks') AS t(task)
            WHERE t.task->>'type' = 'sub_process' AND NOT (t.task->>'workflow') = ANY(s.path[2:])
        )
        SELECT sub.i, sub.path FROM sub WHERE sub.wf = wf_name ORDER BY sub.i, cardinality(sub.path) LIMIT 1) s;
    IF FOUND THEN
        RAISE EXCEPTION 'tasks[%].workflow: workflow "%" would include itself as a sub-process: %', r.i, wf_name, r.path
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION sched._check_logic_refs(regrole, text, jsonb) IS
    'Internal: refuses logic tasks naming workflows (or tasks) that do not exist or that the owner may not run, and sub-process cycles, naming the path.';
