-- Raising alerts. An alert is written in the transaction that caused it, with one delivery row
-- per channel of its group, copied from the group as it was then (1_schema/62_alerts.sql);
-- workers started with --alerts deliver them (5_protocol/alert_delivery.sql). Nothing here
-- runs for a workflow that names no alert group.

-- Raises one alert; with a group, queues it to each of the group's channels and wakes the
-- alert workers when the transaction commits. NULL when it was raised before (timeouts).
CREATE FUNCTION sched._raise_alert(event text, instance_id bigint, task_instance_id bigint, alert_group text,
                                   title text, message text, details jsonb) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO sched.alert (event, workflow_instance_id, task_instance_id, alert_group, title, message, details)
    VALUES (event, instance_id, task_instance_id, alert_group, title, message, coalesce(details, '{}'))
    ON CONFLICT DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NOT NULL AND alert_group IS NOT NULL THEN
        INSERT INTO sched.alert_delivery (alert_id, channel_no, channel)
        SELECT new_id, c.n, c.channel
        FROM sched.alert_group g CROSS JOIN LATERAL jsonb_array_elements(g.channels) WITH ORDINALITY AS c(channel, n)
        WHERE g.name = _raise_alert.alert_group;
        IF FOUND THEN
            PERFORM pg_notify('sched_alert', '');
        END IF;
    END IF;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched._raise_alert(text, bigint, bigint, text, text, text, jsonb) IS
    'Internal: records an alert and, when it names an alert group, queues it to each of the group''s channels.';

-- How to look at an instance, for the end of a message.
CREATE FUNCTION sched._alert_look(instance_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT pg_catalog.format(E'See it: psql -c "SELECT * FROM sched.task_instances WHERE workflow_instance_id = %s ORDER BY id"', instance_id)
$$;
COMMENT ON FUNCTION sched._alert_look(bigint) IS 'Internal: the psql line an alert gives to look at its instance.';

-- The end of an instance, alerted as its notify strategy says (as in DolphinScheduler: success only
-- for succeeded, failure only for failed, all for any end). Never for a sub-process's
-- instance, whose notify is always none.
CREATE FUNCTION sched._alert_workflow_end(instance_id bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    inst  record;
    tasks jsonb;
    listed text;
BEGIN
    SELECT wi.id, wi.state::text AS state, wi.notify_strategy, wi.alert_group, wi.started_at, wi.ended_at,
           wi.started_by, wi.run, wi.schedule_time, w.name AS workflow, sched._role_name(w.owner) AS project,
           (SELECT c.command_type FROM sched.command c WHERE c.workflow_instance_id = wi.id ORDER BY c.id DESC LIMIT 1) AS command
      INTO inst
      FROM sched.workflow_instance wi
      JOIN sched.workflow w ON w.id = wi.workflow_id
      JOIN sched.workflow_version v ON v.id = wi.workflow_version_id
     WHERE wi.id = instance_id;
    IF NOT (inst.notify_strategy = 'all'
            OR (inst.notify_strategy = 'success' AND inst.state = 'succeeded')
            OR (inst.notify_strategy = 'failure' AND inst.state = 'failed')) THEN
        RETURN;
    END IF;
    -- The attempts of this run that did not succeed, the last of each task.
    SELECT jsonb_agg(jsonb_build_object('task', t.name, 'task_instance_id', t.id, 'state', t.state,
                                        'exit_code', t.exit_code, 'worker', t.worker, 'started_at', t.started_at,
                                        'ended_at', t.ended_at) ORDER BY t.id),
           string_agg(pg_catalog.format('%s (attempt %s, %s%s%s)', t.name, t.id, t.state,
                                        CASE WHEN t.exit_code IS NOT NULL THEN ', exit code ' || t.exit_code END,
                                        CASE WHEN t.worker IS NOT NULL THEN ', worker ' || t.worker END), ', ' ORDER BY t.id)
      INTO tasks, listed
      FROM (SELECT DISTINCT ON (ti.task_id) ti.id, td.name, ti.state::text AS state, ti.exit_code,
                   ti.started_at, ti.ended_at, wk.name AS worker
              FROM sched.task_instance ti
              JOIN sched.task_definition td ON td.id = ti.task_id
              LEFT JOIN sched.worker wk ON wk.id = ti.worker_id
             WHERE ti.workflow_instance_id = instance_id AND ti.run = inst.run
             ORDER BY ti.task_id, ti.id DESC) t
     WHERE t.state = ANY (sched._task_states_alerted()::text[]);
    PERFORM sched._raise_alert(
        'workflow_' || inst.state, instance_id, NULL, inst.alert_group,
        pg_catalog.format('pg_sched: workflow %s %s (instance %s)', inst.workflow, inst.state, instance_id),
        pg_catalog.format(E'Workflow %s (project %s), instance %s, %s at %s.\nStarted at %s by %s (%s, run %s)%s.%s\n%s',
                          inst.workflow, inst.project, instance_id, inst.state, inst.ended_at,
                          inst.started_at, inst.started_by, coalesce(inst.command, 'start_process'), inst.run,
                          CASE WHEN inst.schedule_time IS NOT NULL THEN ', schedule time ' || inst.schedule_time ELSE '' END,
                          CASE WHEN listed IS NOT NULL THEN E'\nTasks that did not succeed: ' || listed || '.' ELSE '' END,
                          sched._alert_look(instance_id)),
        jsonb_build_object('workflow', inst.workflow, 'project', inst.project, 'workflow_instance_id', instance_id,
                           'state', inst.state, 'command_type', coalesce(inst.command, 'start_process'), 'run', inst.run,
                           'started_by', inst.started_by, 'started_at', inst.started_at, 'ended_at', inst.ended_at,
                           'schedule_time', inst.schedule_time, 'tasks', coalesce(tasks, '[]')));
END
$$;
COMMENT ON FUNCTION sched._alert_workflow_end(bigint) IS
    'Internal: alerts the end of an instance to its alert group when its notify strategy asks for it.';

-- Fault tolerance: the attempts of a dead worker that were failed over,
-- one alert per instance, listing them.
CREATE FUNCTION sched._alert_fault_tolerance(lost bigint[]) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    inst record;
BEGIN
    FOR inst IN
        SELECT wi.id, wi.alert_group, w.name AS workflow, min(ti.id) AS first_attempt,
               jsonb_agg(jsonb_build_object('task', td.name, 'task_instance_id', ti.id, 'worker', wk.name,
                                            'worker_id', ti.worker_id) ORDER BY ti.id) AS tasks,
               string_agg(pg_catalog.format('%s (attempt %s on worker %s)', td.name, ti.id, coalesce(wk.name, ti.worker_id::text)),
                          ', ' ORDER BY ti.id) AS listed,
               string_agg(DISTINCT coalesce(wk.name, ti.worker_id::text), ', ') AS workers
          FROM sched.task_instance ti
          JOIN sched.task_definition td ON td.id = ti.task_id
          JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
          JOIN sched.workflow w ON w.id = wi.workflow_id
          LEFT JOIN sched.worker wk ON wk.id = ti.worker_id
         WHERE ti.id = ANY(lost)
         GROUP BY wi.id, wi.alert_group, w.name
         ORDER BY wi.id
    LOOP
        PERFORM sched._raise_alert(
            'fault_tolerance', inst.id, inst.first_attempt, inst.alert_group,
            pg_catalog.format('pg_sched: worker %s declared dead; workflow %s (instance %s) failed over', inst.workers, inst.workflow, inst.id),
            pg_catalog.format(E'Worker %s stopped heartbeating and was declared dead at %s.\nIn workflow %s, instance %s, these attempts were failed over (need_fault_tolerance; a new attempt runs unless the instance was ending): %s.\n%s',
                              inst.workers, now(), inst.workflow, inst.id, inst.listed, sched._alert_look(inst.id)),
            jsonb_build_object('workflow', inst.workflow, 'workflow_instance_id', inst.id, 'tasks', inst.tasks));
    END LOOP;
END
$$;
COMMENT ON FUNCTION sched._alert_fault_tolerance(bigint[]) IS
    'Internal: alerts, once per instance, the attempts of dead workers that were failed over.';

-- A sql or procedure task's result, for its send_result: the first rows as a table and all
-- kept rows (at most 1,000) as a CSV attachment, to the group it names.
CREATE FUNCTION sched._alert_sql_result(task_instance_id bigint, send jsonb) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
    shown integer := coalesce((send->>'rows')::integer, 20);
BEGIN
    SELECT res.columns, res.row_count, res.truncated, td.name AS task, w.name AS workflow, ti.workflow_instance_id,
           (SELECT jsonb_agg(x.row ORDER BY x.n) FROM jsonb_array_elements(res.rows) WITH ORDINALITY AS x(row, n)
             WHERE x.n <= 1000) AS rows,
           jsonb_array_length(res.rows) AS kept
      INTO r
      FROM sched.task_result res
      JOIN sched.task_instance ti ON ti.id = res.task_instance_id
      JOIN sched.task_definition td ON td.id = ti.task_id
      JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
      JOIN sched.workflow w ON w.id = wi.workflow_id
     WHERE res.task_instance_id = _alert_sql_result.task_instance_id;
    PERFORM sched._raise_alert(
        'sql_result', r.workflow_instance_id, task_instance_id, send->>'alert_group',
        coalesce(send->>'title', pg_catalog.format('%s query result sets', r.task)),
        pg_catalog.format(E'Task %s of workflow %s (instance %s, attempt %s) returned %s rows%s.\n%s',
                          r.task, r.workflow, r.workflow_instance_id, task_instance_id, r.row_count,
                          CASE WHEN r.row_count > least(r.kept, 1000) THEN pg_catalog.format('; the first %s are attached', least(r.kept, 1000)) ELSE '' END,
                          pg_catalog.format(E'See it: psql -c "SELECT * FROM sched.task_results WHERE task_instance_id = %s"', task_instance_id)),
        jsonb_build_object('workflow', r.workflow, 'workflow_instance_id', r.workflow_instance_id, 'task', r.task,
                           'task_instance_id', task_instance_id, 'columns', to_jsonb(r.columns),
                           'rows', coalesce(r.rows, '[]'), 'row_count', r.row_count, 'table_rows', shown));
END
$$;
COMMENT ON FUNCTION sched._alert_sql_result(bigint, jsonb) IS
    'Internal: alerts a sql or procedure task''s stored result to the alert group its send_result names.';

-- The timeout alert of these attempts, once each. Raised by the master when the timeout
-- strikes, or by the completion of an attempt its worker killed for it first.
CREATE FUNCTION sched._alert_task_timeouts(task_instance_ids bigint[]) RETURNS void
LANGUAGE sql
AS $$
    SELECT count(sched._raise_alert(
               'task_timeout', ti.workflow_instance_id, ti.id, wi.alert_group,
               pg_catalog.format('pg_sched: task %s of workflow %s timed out (instance %s)', td.name, w.name, wi.id),
               pg_catalog.format(E'Task %s of workflow %s (instance %s, attempt %s, started at %s) has run longer than its timeout of %s; its timeout strategy is %s.\n%s',
                                 td.name, w.name, wi.id, ti.id, ti.started_at, td.timeout_after, td.timeout_strategy,
                                 sched._alert_look(wi.id)),
               jsonb_build_object('workflow', w.name, 'workflow_instance_id', wi.id, 'task', td.name,
                                  'task_instance_id', ti.id, 'timeout', td.timeout_after::text,
                                  'timeout_strategy', td.timeout_strategy, 'started_at', ti.started_at)))
    FROM sched.task_instance ti
    JOIN sched.task_definition td ON td.id = ti.task_id
    JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
    JOIN sched.workflow w ON w.id = wi.workflow_id
    WHERE ti.id = ANY(task_instance_ids) AND td.timeout_strategy IN ('warn', 'warn_fail')
$$;
COMMENT ON FUNCTION sched._alert_task_timeouts(bigint[]) IS 'Internal: raises the task_timeout alerts of these attempts (of warn and warn_fail timeouts), once each.';

-- How long a worker may hold a claimed delivery before another may try it.
CREATE FUNCTION sched._alert_claim_lapse() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '2 minutes' $$;
COMMENT ON FUNCTION sched._alert_claim_lapse() IS 'Internal: how long a claimed delivery is a worker''s before another may try it.';
