-- Admission on live load: a task group or a workflow may declare admit_when, a SQL boolean
-- over sched.load that must hold before one of its attempts is queued. An attempt of a
-- workflow with admit_when is created delayed, with neither a time nor a task group, and waits
-- so until the expression holds: then it is queued, or waits for a slot of its task group. A
-- task group's own expression is asked before it hands out slots (3_engine/task_groups.sql).
-- The master asks again while attempts wait (4_master/admit_when.sql). Tasks of workflows and
-- groups without one touch none of this.

-- How often one expression is evaluated at most.
CREATE FUNCTION sched._admit_interval() RETURNS interval
LANGUAGE sql IMMUTABLE
AS $$ SELECT interval '1 s' $$;
COMMENT ON FUNCTION sched._admit_interval() IS 'Internal: an admit_when is evaluated at most once per this interval; in between its last result stands.';

-- NULL when the expression holds, else why not. Only the master evaluates: as the owner,
-- restricted (no SET ROLE, nothing left in the session), with the owner's login search_path and
-- a second at most, in a subtransaction that is always rolled back, so that nothing it does
-- stays; an error holds the attempts too, with the error as the reason. Elsewhere (a start, a
-- completion) the last result stands while it is fresh, else the attempt waits for the master.
-- Neither waits on a lock: a result another transaction is writing is read as it was.
CREATE FUNCTION sched._admit_reason(kind text, id bigint, label text, expr text, owner regrole) RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    last   sched.admit_check;
    result jsonb;
    value  text;
    why    text;
BEGIN
    SELECT * INTO last FROM sched.admit_check c WHERE c.gate = kind AND c.gate_id = id;
    IF last.checked_at > clock_timestamp() - sched._admit_interval() THEN
        RETURN last.reason;
    END IF;
    why := coalesce(last.reason, format('admit_when of %s: to be evaluated', label));
    IF NOT sched._in_master() THEN
        RETURN why;
    END IF;
    IF last.gate IS NULL THEN
        INSERT INTO sched.admit_check AS c (gate, gate_id) VALUES (kind, id)
        ON CONFLICT ON CONSTRAINT admit_check_pkey DO NOTHING;
    END IF;
    PERFORM 1 FROM sched.admit_check c WHERE c.gate = kind AND c.gate_id = id FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN why;
    END IF;
    PERFORM sched._sample_load();
    BEGIN
        result := sched._test_sql(owner::oid, true, sched._login_search_path(owner), 'sql',
                                  jsonb_build_object('bound', jsonb_build_object('main', jsonb_build_object(
                                                         'parts', jsonb_build_array(sched._admit_statement(expr, 'admit_when')),
                                                         'args', '[]'::jsonb)),
                                                     'query', true, 'limit_rows', 1),
                                  extract(epoch FROM sched._admit_interval())::integer * 1000);
        RAISE EXCEPTION 'rolled back' USING ERRCODE = 'SCA01';
    EXCEPTION WHEN SQLSTATE 'SCA01' THEN
        NULL;
    END;
    value := result #>> '{rows,0,0}';
    why := CASE WHEN result ? 'error' THEN format('admit_when of %s failed: %s', label, result->>'error')
                WHEN value = 't' THEN NULL
                ELSE format('admit_when of %s is %s: %s', label, CASE value WHEN 'f' THEN 'false' ELSE 'NULL' END, expr) END;
    UPDATE sched.admit_check c SET reason = why, checked_at = clock_timestamp() WHERE c.gate = kind AND c.gate_id = id;
    RETURN why;
END
$$;
COMMENT ON FUNCTION sched._admit_reason(text, bigint, text, text, regrole) IS
    'Internal: whether an admit_when holds (NULL), else why not: evaluated by the master as its owner and rolled back, at most once per sched._admit_interval(); elsewhere its last fresh result, else a reason to wait for the master.';

-- Attempts waiting for their workflow's admit_when: where it holds they are queued, or wait
-- for a slot of their task group.
CREATE FUNCTION sched._admit_held(ids bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v       record;
    groups  text[];
    tgroups bigint[];
BEGIN
    FOR v IN
        SELECT wv.id, w.name, wv.spec->>'admit_when' AS expr, w.owner, array_agg(ti.id) AS held
        FROM sched.task_instance ti
        JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
        JOIN sched.workflow_version wv ON wv.id = wi.workflow_version_id
        JOIN sched.workflow w ON w.id = wv.workflow_id
        WHERE ti.id = ANY(ids) AND ti.state = 'delayed' AND ti.not_before IS NULL AND ti.task_group_id IS NULL
        GROUP BY wv.id, w.name, w.owner
        ORDER BY wv.id
    LOOP
        CONTINUE WHEN sched._admit_reason('workflow', v.id, format('workflow "%s"', v.name), v.expr, v.owner) IS NOT NULL;
        WITH admitted AS (
            UPDATE sched.task_instance ti
               SET state = CASE WHEN td.task_group_id IS NULL THEN 'queued' ELSE 'delayed' END::sched.task_state,
                   task_group_id = td.task_group_id,
                   task_group_priority = CASE WHEN td.task_group_id IS NOT NULL THEN td.task_group_priority END
              FROM sched.task_definition td
             WHERE ti.id = ANY(v.held) AND td.id = ti.task_id
               AND ti.state = 'delayed' AND ti.not_before IS NULL AND ti.task_group_id IS NULL
            RETURNING ti.worker_group, ti.task_group_id)
        SELECT array_agg(DISTINCT a.worker_group) FILTER (WHERE a.task_group_id IS NULL),
               array_agg(DISTINCT a.task_group_id) FILTER (WHERE a.task_group_id IS NOT NULL)
          INTO groups, tgroups
          FROM admitted a;
        PERFORM sched._notify_ready(groups);
        IF tgroups IS NOT NULL THEN
            PERFORM sched._grant_slots(tgroups);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._admit_held(bigint[]) IS
    'Internal: queues (or hands to their task group) those of these attempts, waiting for their workflow''s admit_when, whose expression holds.';

-- Why an attempt waiting with no time waits: its workflow's admit_when, its task group's, or a
-- free slot of its group.
-- Called by sched.task_instances as the querying role: it reads the scheduler's tables as their
-- owner, and tells only about the attempt the view shows.
CREATE FUNCTION sched._waiting_for(task_group_id bigint, workflow_version_id bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN task_group_id IS NULL
                THEN coalesce((SELECT c.reason FROM sched.admit_check c
                               WHERE c.gate = 'workflow' AND c.gate_id = workflow_version_id),
                              'admit_when of its workflow: to be evaluated')
                ELSE (SELECT coalesce(c.reason, format('a free slot of task group "%s"', g.name))
                      FROM sched.task_group g
                      LEFT JOIN sched.admit_check c ON c.gate = 'task_group' AND c.gate_id = g.id AND g.admit_when IS NOT NULL
                      WHERE g.id = task_group_id) END
$$;
COMMENT ON FUNCTION sched._waiting_for(bigint, bigint) IS
    'Internal, for sched.task_instances: why an attempt delayed with no time waits (admit_when, or a task group slot).';
