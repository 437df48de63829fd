-- Alerts (reference §11): alert groups and their channels, the alerts the engine raises, and
-- their outbox. An alert is written in the transaction that caused it, with one delivery row
-- per channel of its group, copied from the group as it was then; workers started with
-- --alerts claim deliveries with SKIP LOCKED, send them, and report, retrying failures with
-- a doubling delay up to sched.alert_max_attempts. Nothing here runs for a workflow that
-- names no alert group, and no worker's task loop waits for any of it.

CREATE TABLE sched.alert_group (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    channels    jsonb NOT NULL,
    description text NOT NULL DEFAULT '',
    owner       regrole NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sched.alert_group IS 'Alert groups: where alerts go, as channels (email, webhook, script); read through sched.alert_groups. Secrets (SMTP credentials, webhook tokens) are never here: they are in the alert workers'' configuration.';
COMMENT ON COLUMN sched.alert_group.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.alert_group.name IS 'Name that notify and send_result refer to (alert_group).';
COMMENT ON COLUMN sched.alert_group.channels IS 'The channels, normalised: {"type": "email", "to", "cc"}, {"type": "webhook", "url" or "endpoint", "format"}, {"type": "script", "command"}.';
COMMENT ON COLUMN sched.alert_group.description IS 'Free text.';
COMMENT ON COLUMN sched.alert_group.owner IS 'Role that created it; it (or sched_admin) may change or drop it.';
COMMENT ON COLUMN sched.alert_group.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.alert_group.updated_at IS 'When its channels or description last changed.';

CREATE TABLE sched.alert (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event                text NOT NULL CHECK (event IN ('workflow_succeeded', 'workflow_failed', 'workflow_stopped',
                                                        'workflow_paused', 'task_timeout', 'workflow_timeout',
                                                        'fault_tolerance', 'sql_result')),
    workflow_instance_id bigint NOT NULL,
    task_instance_id     bigint,
    alert_group          text,
    title                text NOT NULL,
    message              text NOT NULL,
    details              jsonb NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now()
);
-- A timeout strikes once; the master and a worker's completion may both notice it.
CREATE UNIQUE INDEX alert_once ON sched.alert (event, workflow_instance_id, coalesce(task_instance_id, 0))
    WHERE event IN ('task_timeout', 'workflow_timeout');
CREATE INDEX alert_by_instance ON sched.alert (workflow_instance_id);
COMMENT ON TABLE sched.alert IS 'Alerts the engine raised, one per event, written in the transaction that caused it; read through sched.alerts. Deleted with their workflow instance.';
COMMENT ON COLUMN sched.alert.id IS 'Alert id.';
COMMENT ON COLUMN sched.alert.event IS 'The event: workflow_succeeded, workflow_failed, workflow_stopped, workflow_paused, task_timeout, workflow_timeout, fault_tolerance or sql_result.';
COMMENT ON COLUMN sched.alert.workflow_instance_id IS 'The workflow instance concerned.';
COMMENT ON COLUMN sched.alert.task_instance_id IS 'The task attempt concerned (the first one, for fault tolerance); NULL for a workflow alert.';
COMMENT ON COLUMN sched.alert.alert_group IS 'The alert group it went to; NULL when the instance names none (the alert is only recorded).';
COMMENT ON COLUMN sched.alert.title IS 'One line: the subject of its email.';
COMMENT ON COLUMN sched.alert.message IS 'What happened, where, when, and how to look, in words.';
COMMENT ON COLUMN sched.alert.details IS 'The same as data (instance, state, the tasks concerned); for sql_result the columns and rows.';
COMMENT ON COLUMN sched.alert.created_at IS 'When it was raised.';

CREATE TABLE sched.alert_delivery (
    alert_id        bigint NOT NULL REFERENCES sched.alert ON DELETE CASCADE,
    channel_no      integer NOT NULL,
    channel         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_error      text,
    worker_id       bigint,
    sent_at         timestamptz,
    PRIMARY KEY (alert_id, channel_no)
);
CREATE INDEX alert_delivery_due ON sched.alert_delivery (next_attempt_at) WHERE state = 'pending';
COMMENT ON TABLE sched.alert_delivery IS 'The outbox: one row per alert and channel of its group; read through sched.alerts.';
COMMENT ON COLUMN sched.alert_delivery.alert_id IS 'The alert.';
COMMENT ON COLUMN sched.alert_delivery.channel_no IS 'Position of the channel in its group, from 1.';
COMMENT ON COLUMN sched.alert_delivery.channel IS 'The channel as the group had it when the alert was raised.';
COMMENT ON COLUMN sched.alert_delivery.state IS 'pending (not yet sent, or to be retried), sent, or failed (sched.alert_max_attempts attempts failed).';
COMMENT ON COLUMN sched.alert_delivery.attempts IS 'Attempts to send it so far.';
COMMENT ON COLUMN sched.alert_delivery.next_attempt_at IS 'When a worker may next try it: the retry time, or while one tries it, when its claim lapses.';
COMMENT ON COLUMN sched.alert_delivery.last_error IS 'Why the last attempt failed; NULL once sent.';
COMMENT ON COLUMN sched.alert_delivery.worker_id IS 'The worker that last tried it.';
COMMENT ON COLUMN sched.alert_delivery.sent_at IS 'When it was sent.';

-- How long a worker may hold a claimed delivery before another may try it.
CREATE FUNCTION sched._alert_claim_lapse() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '2 minutes' $$;
COMMENT ON FUNCTION sched._alert_claim_lapse() IS 'Internal: how long a claimed delivery is a worker''s before another may try it.';

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

-- The end of an instance, alerted as its notify strategy says (reference §11: success only
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
     WHERE t.state IN ('failed', 'killed', 'paused', 'need_fault_tolerance');
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

-- Fault tolerance (reference §10.3): the attempts of a dead worker that were failed over,
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

-- An alert group's channels, checked and normalised; a script channel runs a command on the
-- alert workers' hosts, so only sched_admin may set one.
CREATE FUNCTION sched._check_channels(principal regrole, channels jsonb) RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    norm jsonb;
BEGIN
    IF channels IS NULL THEN
        RAISE EXCEPTION 'channels: required, an array of channels' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    norm := sched._normalize_channels(channels);
    IF jsonb_path_exists(norm, '$[*] ? (@.type == "script")') THEN
        PERFORM sched._require_admin(principal, 'an alert group with a script channel (it runs a command on the alert workers)');
    END IF;
    RETURN norm;
END
$$;
COMMENT ON FUNCTION sched._check_channels(regrole, jsonb) IS 'Internal: an alert group''s channels, normalised; script channels need sched_admin.';

CREATE FUNCTION sched.create_alert_group(name text, channels jsonb, description text DEFAULT '') RETURNS bigint
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._create_alert_group(principal regrole, name text, channels jsonb, description text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    norm   jsonb := sched._check_channels(principal, channels);
    new_id bigint;
BEGIN
    INSERT INTO sched.alert_group (name, channels, description, owner)
    VALUES (sched._check_name(name, 'name', 'alert group name'), norm, coalesce(description, ''), principal)
    ON CONFLICT ON CONSTRAINT alert_group_name_key DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'name: alert group "%" already exists', name
            USING ERRCODE = 'duplicate_object', HINT = 'Change it with sched.alter_alert_group.';
    END IF;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION sched.create_alert_group(text, jsonb, text) IS
    'Creates an alert group and returns its id. channels: an array of {"type": "email", "to": [...], "cc": [...]}, {"type": "webhook", "url": ... or "endpoint": name, "format": "json" | "slack" | "feishu" | "dingtalk"}, {"type": "script", "command": ...} (sched_admin only; gets the alert as JSON on stdin). SMTP settings and webhook endpoints with tokens live in the alert workers'' configuration.';

CREATE FUNCTION sched.alter_alert_group(name text, channels jsonb DEFAULT NULL, description text DEFAULT NULL) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._alter_alert_group(principal regrole, name text, channels jsonb, description text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g sched.alert_group;
BEGIN
    SELECT * INTO g FROM sched.alert_group ag WHERE ag.name = _alter_alert_group.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name: alert group "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, g.owner, pg_catalog.format('alert group "%s"', name));
    UPDATE sched.alert_group ag
       SET channels = CASE WHEN _alter_alert_group.channels IS NULL THEN ag.channels
                           ELSE sched._check_channels(principal, _alter_alert_group.channels) END,
           description = coalesce(_alter_alert_group.description, ag.description),
           updated_at = now()
     WHERE ag.id = g.id;
END
$$;
COMMENT ON FUNCTION sched.alter_alert_group(text, jsonb, text) IS
    'Changes an alert group''s channels and/or description (its owner or sched_admin); alerts raised from then on go to the new channels.';

CREATE FUNCTION sched.drop_alert_group(name text) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._drop_alert_group(principal regrole, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g    sched.alert_group;
    user_of text;
BEGIN
    SELECT * INTO g FROM sched.alert_group ag WHERE ag.name = _drop_alert_group.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'name: alert group "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM sched._check_owner(principal, g.owner, pg_catalog.format('alert group "%s"', name));
    -- The row lock above makes a concurrent definition naming it wait, then see it gone.
    SELECT sched._workflow_label(principal, w.name, w.owner) INTO user_of
      FROM sched.workflow w JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
     WHERE v.spec->'notify'->>'alert_group' = g.name
        OR jsonb_path_exists(v.spec, '$.tasks[*].send_result ? (@.alert_group == $g)', jsonb_build_object('g', g.name))
     LIMIT 1;
    IF user_of IS NULL THEN
        SELECT CASE WHEN sched._may_see(principal, s.owner) THEN pg_catalog.format('schedule %s', s.id)
                    ELSE 'a schedule of another role' END INTO user_of FROM sched.schedule s
         WHERE s.run_options->'notify'->>'alert_group' = g.name LIMIT 1;
    END IF;
    IF user_of IS NULL THEN
        SELECT CASE WHEN sched._may_see(principal, w.owner) THEN pg_catalog.format('instance %s', wi.id)
                    ELSE 'an instance of another role' END INTO user_of
          FROM sched.workflow_instance wi JOIN sched.workflow w ON w.id = wi.workflow_id
         WHERE wi.alert_group = g.name AND wi.state NOT IN ('paused', 'stopped', 'failed', 'succeeded') LIMIT 1;
    END IF;
    IF user_of IS NOT NULL THEN
        RAISE EXCEPTION 'alert group "%" is in use by %', name, user_of
            USING ERRCODE = 'object_in_use',
                  HINT = 'Change what names it (or let the instance end) first.';
    END IF;
    DELETE FROM sched.alert_group ag WHERE ag.id = g.id;
END
$$;
COMMENT ON FUNCTION sched.drop_alert_group(text) IS
    'Drops an alert group (its owner or sched_admin); refused while a workflow, a schedule or an unfinished instance names it. Alerts already raised keep their channels.';

-- Worker protocol. Claims due deliveries for a worker started with --alerts: each becomes
-- this worker's until its claim lapses, and counts an attempt.
CREATE FUNCTION sched.claim_alerts(worker_id bigint, max_alerts integer DEFAULT 10)
RETURNS TABLE (alert_id bigint, channel_no integer, channel jsonb, attempt integer, event text,
               workflow_instance_id bigint, task_instance_id bigint, title text, message text, details jsonb,
               created_at timestamptz)
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._claim_alerts(principal regrole, worker_id bigint, max_alerts integer)
RETURNS TABLE (alert_id bigint, channel_no integer, channel jsonb, attempt integer, event text,
               workflow_instance_id bigint, task_instance_id bigint, title text, message text, details jsonb,
               created_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    most integer := current_setting('sched.alert_max_attempts')::integer;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    -- A claim that lapsed after the last attempt: its worker went away mid-send.
    UPDATE sched.alert_delivery d
       SET state = 'failed', last_error = coalesce(d.last_error || '; ', '') || 'the worker sending the last attempt went away'
     WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND d.attempts >= most;
    RETURN QUERY
    WITH due AS (
        SELECT d.alert_id, d.channel_no FROM sched.alert_delivery d
         WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND d.attempts < most
         ORDER BY d.next_attempt_at
         LIMIT greatest(1, least(coalesce(max_alerts, 10), 1000))
         FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE sched.alert_delivery d
           SET attempts = d.attempts + 1, next_attempt_at = now() + sched._alert_claim_lapse(),
               worker_id = _claim_alerts.worker_id
          FROM due
         WHERE d.alert_id = due.alert_id AND d.channel_no = due.channel_no
        RETURNING d.alert_id, d.channel_no, d.channel, d.attempts)
    SELECT c.alert_id, c.channel_no, c.channel, c.attempts, a.event, a.workflow_instance_id, a.task_instance_id,
           a.title, a.message, a.details, a.created_at
      FROM claimed c JOIN sched.alert a ON a.id = c.alert_id
     ORDER BY c.alert_id, c.channel_no;
END
$$;
COMMENT ON FUNCTION sched.claim_alerts(bigint, integer) IS
    'Worker protocol: claims up to max_alerts due alert deliveries (SKIP LOCKED), each with its channel and content; a claim lapses after 2 minutes.';

CREATE FUNCTION sched.report_alerts(worker_id bigint, alert_ids bigint[], channel_nos integer[], errors text[])
RETURNS timestamptz
LANGUAGE c AS 'MODULE_PATHNAME', 'sched_as_caller';

CREATE FUNCTION sched._report_alerts(principal regrole, worker_id bigint, alert_ids bigint[], channel_nos integer[], errors text[])
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    most  integer := current_setting('sched.alert_max_attempts')::integer;
    delay interval := current_setting('sched.alert_retry_delay')::interval;
BEGIN
    PERFORM sched._worker_guard(principal, worker_id);
    IF cardinality(alert_ids) IS DISTINCT FROM cardinality(channel_nos)
       OR cardinality(alert_ids) IS DISTINCT FROM cardinality(errors) THEN
        RAISE EXCEPTION 'alert_ids, channel_nos and errors must have the same length' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE sched.alert_delivery d
       SET state = CASE WHEN r.error IS NULL THEN 'sent' WHEN d.attempts >= most THEN 'failed' ELSE 'pending' END,
           sent_at = CASE WHEN r.error IS NULL THEN now() END,
           last_error = left(r.error, 2000),
           -- 1, 2, 4, ... times the delay, at most an hour.
           next_attempt_at = CASE WHEN r.error IS NULL OR d.attempts >= most THEN d.next_attempt_at
                                  ELSE now() + least(delay * power(2, d.attempts - 1), interval '1 hour') END
      FROM unnest(alert_ids, channel_nos, errors) AS r(alert_id, channel_no, error)
     WHERE d.alert_id = r.alert_id AND d.channel_no = r.channel_no
       AND d.worker_id = _report_alerts.worker_id AND d.state = 'pending';
    RETURN (SELECT min(d.next_attempt_at) FROM sched.alert_delivery d WHERE d.state = 'pending');
END
$$;
COMMENT ON FUNCTION sched.report_alerts(bigint, bigint[], integer[], text[]) IS
    'Worker protocol: reports claimed deliveries sent (error NULL) or failed (the error); a failure is retried after sched.alert_retry_delay, doubling per attempt, until sched.alert_max_attempts. Returns when the next pending delivery is due (NULL for none).';
