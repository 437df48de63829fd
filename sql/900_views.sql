-- Views for people and BI tools. Each shows only what the querying role may see: rows of
-- workflows owned by a role it is a member of, everything for sched_admin and superusers.
-- The querying role is current_user, the identity the API uses (100_access.sql): an index
-- expression or another role's SECURITY DEFINER function sees what its own role may see.
-- security_barrier: a caller's own functions in WHERE must not see rows before that filter.

CREATE FUNCTION sched._priority_name(rank smallint) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT (ARRAY['highest', 'high', 'medium', 'low', 'lowest'])[rank + 1] $$;
COMMENT ON FUNCTION sched._priority_name(smallint) IS 'Internal: priority rank to name.';

CREATE FUNCTION sched._visible(owner regrole) RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.pg_has_role(owner, 'MEMBER') OR pg_catalog.pg_has_role('sched_admin', 'MEMBER') $$;
COMMENT ON FUNCTION sched._visible(regrole) IS 'Internal: may the current role see things owned by owner.';

CREATE VIEW sched.workflows WITH (security_barrier) AS
SELECT w.name,
       w.current_version AS version,
       sched._role_name(w.owner) AS project,
       v.description,
       w.owner,
       (SELECT count(*) FROM sched.task_definition td WHERE td.workflow_version_id = v.id) AS task_count,
       v.failure_strategy::text AS failure_strategy,
       v.execution_type,
       sched._priority_name(v.priority) AS priority,
       v.worker_group,
       w.created_at,
       w.updated_at
FROM sched.workflow w
JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.version = w.current_version
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.workflows IS 'Defined workflows with their current version.';
COMMENT ON COLUMN sched.workflows.name IS 'Workflow name.';
COMMENT ON COLUMN sched.workflows.version IS 'Current version, the one start_workflow runs.';
COMMENT ON COLUMN sched.workflows.project IS 'Its project: the role that owns it (a group role whose members share its workflows, or the role that defined it).';
COMMENT ON COLUMN sched.workflows.description IS 'Description from the spec.';
COMMENT ON COLUMN sched.workflows.owner IS 'Owning role.';
COMMENT ON COLUMN sched.workflows.task_count IS 'Number of tasks in the current version.';
COMMENT ON COLUMN sched.workflows.failure_strategy IS 'Default failure strategy: continue or end.';
COMMENT ON COLUMN sched.workflows.execution_type IS 'How concurrent instances relate: parallel.';
COMMENT ON COLUMN sched.workflows.priority IS 'Default instance priority: highest, high, medium, low, lowest.';
COMMENT ON COLUMN sched.workflows.worker_group IS 'Default worker group.';
COMMENT ON COLUMN sched.workflows.created_at IS 'When version 1 was created.';
COMMENT ON COLUMN sched.workflows.updated_at IS 'When the current version was created.';

CREATE VIEW sched.workflow_instances WITH (security_barrier) AS
SELECT i.id,
       w.name AS workflow,
       v.version,
       i.state::text AS state,
       i.state IN ('paused', 'stopped', 'failed', 'succeeded') AS finished,
       i.failure_strategy::text AS failure_strategy,
       i.run,
       sched._priority_name(i.priority) AS priority,
       i.worker_group,
       i.param_values AS params,
       coalesce(i.out_params, '{}') AS out_params,
       i.schedule_time,
       (i.business_time AT TIME ZONE i.time_zone)::date AS business_date,
       i.time_zone,
       i.tenant,
       i.started_by,
       i.parent_instance_id,
       i.parent_task_instance_id,
       i.notify_strategy,
       i.alert_group,
       i.created_at,
       i.started_at,
       i.ended_at,
       i.ended_at - i.started_at AS duration
FROM sched.workflow_instance i
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN sched.workflow_version v ON v.id = i.workflow_version_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.workflow_instances IS 'Runs of workflows.';
COMMENT ON COLUMN sched.workflow_instances.id IS 'Instance id (start_workflow''s result).';
COMMENT ON COLUMN sched.workflow_instances.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.workflow_instances.version IS 'Workflow version it runs.';
COMMENT ON COLUMN sched.workflow_instances.state IS 'submitted, serial_wait, waiting_thread, running, ready_pause, paused, ready_stop, stopped, failed or succeeded.';
COMMENT ON COLUMN sched.workflow_instances.finished IS 'State is paused, stopped, failed or succeeded. Filter on NOT finished to list unfinished runs through an index.';
COMMENT ON COLUMN sched.workflow_instances.failure_strategy IS 'continue or end.';
COMMENT ON COLUMN sched.workflow_instances.run IS 'Run number: 1, then one more per rerun_workflow.';
COMMENT ON COLUMN sched.workflow_instances.priority IS 'Instance priority.';
COMMENT ON COLUMN sched.workflow_instances.worker_group IS 'Worker group of tasks that name none.';
COMMENT ON COLUMN sched.workflow_instances.params IS 'Parameter values of the run as resolved at its start: built-ins, the workflow''s globals, start parameters over them.';
COMMENT ON COLUMN sched.workflow_instances.out_params IS 'Output parameters of the finished run: its succeeded tasks'' OUT values, the last finished winning a name; {} while it runs.';
COMMENT ON COLUMN sched.workflow_instances.schedule_time IS 'Schedule time it runs for; NULL for a manual run.';
COMMENT ON COLUMN sched.workflow_instances.business_date IS 'Day of its business time (schedule time, else start) in time_zone; system.biz.date is the day before.';
COMMENT ON COLUMN sched.workflow_instances.time_zone IS 'IANA zone its business values (system.biz.date, $[...]) are computed in: its schedule''s, its backfill''s, the start option timezone, else the workflow''s timezone, else UTC.';
COMMENT ON COLUMN sched.workflow_instances.notify_strategy IS 'Which ends alert its alert group: none, success, failure or all.';
COMMENT ON COLUMN sched.workflow_instances.alert_group IS 'Alert group of its end, timeout and fault-tolerance alerts; NULL for none.';
COMMENT ON COLUMN sched.workflow_instances.tenant IS 'OS user its shell tasks run as on workers; NULL is the worker''s user.';
COMMENT ON COLUMN sched.workflow_instances.started_by IS 'Role that started it (for a schedule, its owner).';
COMMENT ON COLUMN sched.workflow_instances.parent_instance_id IS 'For a sub-process''s instance: the instance whose SUB_PROCESS task runs it; NULL otherwise.';
COMMENT ON COLUMN sched.workflow_instances.parent_task_instance_id IS 'For a sub-process''s instance: the SUB_PROCESS attempt it runs for (the latest); NULL otherwise.';
COMMENT ON COLUMN sched.workflow_instances.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.workflow_instances.started_at IS 'When it started running.';
COMMENT ON COLUMN sched.workflow_instances.ended_at IS 'When it finished; NULL while unfinished.';
COMMENT ON COLUMN sched.workflow_instances.duration IS 'ended_at - started_at.';

CREATE VIEW sched.task_instances WITH (security_barrier) AS
SELECT ti.id,
       ti.workflow_instance_id,
       w.name AS workflow,
       td.name AS task,
       td.task_type AS type,
       ti.state::text AS state,
       ti.state NOT IN ('delayed', 'queued', 'dispatched', 'running') AS finished,
       ti.started_at IS NOT NULL AS started,
       ti.attempt,
       ti.run,
       ti.retry,
       wk.name AS worker,
       ti.worker_group,
       ti.exit_code,
       ti.kill_requested,
       ti.kill_reason,
       ti.not_before,
       -- Set by the claim; an attempt not yet claimed has seen nothing.
       CASE WHEN ti.started_at IS NOT NULL OR ti.resolved IS NOT NULL
            THEN i.param_values || coalesce(ti.resolved->'params', '{}') END AS params,
       ti.out_params,
       CASE WHEN td.logic = 'sub_process' THEN (
           SELECT c.id FROM sched.workflow_instance c
           WHERE c.parent_task_instance_id = ti.id AND c.parent_instance_id = ti.workflow_instance_id) END AS child_instance_id,
       CASE WHEN ti.branch IS NOT NULL THEN (
           SELECT coalesce(array_agg(b.name ORDER BY b.name), '{}') FROM sched.task_definition b WHERE b.id = ANY(ti.branch)) END AS branch,
       ti.queued_at,
       ti.started_at,
       ti.ended_at,
       ti.ended_at - ti.started_at AS duration,
       (SELECT lr.exit_code FROM sched.late_report lr WHERE lr.task_instance_id = ti.id) AS late_exit_code
FROM (SELECT * FROM sched.task_instance
      UNION ALL
      SELECT * FROM sched.task_instance_history) ti
JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN sched.task_definition td ON td.id = ti.task_id
LEFT JOIN sched.worker wk ON wk.id = ti.worker_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.task_instances IS 'Task attempts, running and past (sched.task_instance and sched.task_instance_history); a task that never became ready has no row.';
COMMENT ON COLUMN sched.task_instances.id IS 'Task instance id (for sched.task_log).';
COMMENT ON COLUMN sched.task_instances.workflow_instance_id IS 'Workflow instance id.';
COMMENT ON COLUMN sched.task_instances.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.task_instances.task IS 'Task name.';
COMMENT ON COLUMN sched.task_instances.type IS 'Task type.';
COMMENT ON COLUMN sched.task_instances.state IS 'delayed, queued, dispatched, running, succeeded, failed, killed, paused, forced_success, need_fault_tolerance, skipped (on a branch not taken, or after only skipped tasks) or forbidden (enabled false: passed through).';
COMMENT ON COLUMN sched.task_instances.child_instance_id IS 'For a SUB_PROCESS attempt: the instance of its workflow it runs; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.branch IS 'For a CONDITIONS or SWITCH attempt: the names of the tasks on the branch it took; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.finished IS 'The attempt reached a final state. Filter on NOT finished to list active attempts through an index.';
COMMENT ON COLUMN sched.task_instances.started IS 'A worker started it (the scheduler, for a logic task); false for an attempt still waiting, one that ended in the queue (killed or paused before it ran), or a skipped or forbidden one.';
COMMENT ON COLUMN sched.task_instances.attempt IS 'Attempt number from 1; each retry and failover adds one.';
COMMENT ON COLUMN sched.task_instances.run IS 'Run of the instance the attempt belongs to: 1, then one more per rerun_workflow.';
COMMENT ON COLUMN sched.task_instances.retry IS 'Retry number: 0 for a first attempt, n for the n-th retry after a failure.';
COMMENT ON COLUMN sched.task_instances.kill_reason IS 'Why it was killed or asked to be: stop, failure_strategy_end, timeout (its own), workflow_timeout or failover; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.not_before IS 'For a delayed attempt (delay, retry interval), when it becomes queued.';
COMMENT ON COLUMN sched.task_instances.worker IS 'Name of the worker that ran it.';
COMMENT ON COLUMN sched.task_instances.worker_group IS 'Worker group it was queued for.';
COMMENT ON COLUMN sched.task_instances.exit_code IS 'Exit code (0 succeeded, 137 killed).';
COMMENT ON COLUMN sched.task_instances.kill_requested IS 'A kill was requested (stop or failure strategy end).';
COMMENT ON COLUMN sched.task_instances.params IS 'Parameter values the attempt ran with: the instance''s (built-ins, globals, start parameters), its task facts, upstream OUT values and local params; NULL before it is claimed.';
COMMENT ON COLUMN sched.task_instances.out_params IS 'OUT params the attempt exported (printed with ${setValue(name=value)}, else the declared default); NULL when the task declares none.';
COMMENT ON COLUMN sched.task_instances.queued_at IS 'When it became ready.';
COMMENT ON COLUMN sched.task_instances.started_at IS 'When a worker started it.';
COMMENT ON COLUMN sched.task_instances.ended_at IS 'When it ended.';
COMMENT ON COLUMN sched.task_instances.duration IS 'ended_at - started_at.';
COMMENT ON COLUMN sched.task_instances.late_exit_code IS 'For a failed-over attempt (need_fault_tolerance) whose worker finished it after all and reported it late: the exit code it reported. NULL otherwise.';

-- A security barrier, so that a reader's own conditions on the lines run only on the lines
-- of attempts it may see.
CREATE VIEW sched.task_logs WITH (security_barrier) AS
SELECT l.task_instance_id,
       ti.workflow_instance_id,
       ti.workflow,
       ti.task,
       ti.attempt,
       l.line_no,
       l.stream::text AS stream,
       l.line,
       l.logged_at
FROM sched.task_log_line l
JOIN sched.task_instances ti ON ti.id = l.task_instance_id;
COMMENT ON VIEW sched.task_logs IS 'Task output, a row per line, of the attempts you may see (sched.task_log and sched.task_log_lines page one attempt''s). Filter on task_instance_id or workflow_instance_id.';
COMMENT ON COLUMN sched.task_logs.task_instance_id IS 'The attempt (sched.task_instances.id).';
COMMENT ON COLUMN sched.task_logs.workflow_instance_id IS 'Its workflow instance.';
COMMENT ON COLUMN sched.task_logs.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.task_logs.task IS 'Task name.';
COMMENT ON COLUMN sched.task_logs.attempt IS 'Attempt number of the task.';
COMMENT ON COLUMN sched.task_logs.line_no IS 'Line number in the attempt''s output, from 1, in the order the worker read the lines.';
COMMENT ON COLUMN sched.task_logs.stream IS 'out (stdout; a SQL task''s statement lines; a logic task''s decisions) or err (stderr, and the worker''s own lines about the attempt).';
COMMENT ON COLUMN sched.task_logs.line IS 'The line, without its line break.';
COMMENT ON COLUMN sched.task_logs.logged_at IS 'When the database stored it.';

CREATE VIEW sched.task_results WITH (security_barrier) AS
SELECT r.task_instance_id,
       r.workflow_instance_id,
       w.name AS workflow,
       td.name AS task,
       r.columns,
       r.rows,
       r.row_count,
       r.truncated,
       r.stored_at
FROM sched.task_result r
JOIN sched.workflow_instance i ON i.id = r.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN (SELECT id, task_id FROM sched.task_instance
      UNION ALL
      SELECT id, task_id FROM sched.task_instance_history) ti ON ti.id = r.task_instance_id
JOIN sched.task_definition td ON td.id = ti.task_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.task_results IS 'What sql and procedure tasks returned, one row per attempt: the first limit_rows rows of the statement''s result (of the CALL''s out values for a procedure).';
COMMENT ON COLUMN sched.task_results.task_instance_id IS 'The task attempt (sched.task_instances.id).';
COMMENT ON COLUMN sched.task_results.workflow_instance_id IS 'Workflow instance id.';
COMMENT ON COLUMN sched.task_results.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.task_results.task IS 'Task name.';
COMMENT ON COLUMN sched.task_results.columns IS 'Column names, in order.';
COMMENT ON COLUMN sched.task_results.rows IS 'The rows kept, each a JSON array of values as text (null for NULL), in column order.';
COMMENT ON COLUMN sched.task_results.row_count IS 'Rows the statement returned, kept or not.';
COMMENT ON COLUMN sched.task_results.truncated IS 'Fewer rows were kept than returned.';
COMMENT ON COLUMN sched.task_results.stored_at IS 'When it was stored.';

CREATE VIEW sched.workers AS
SELECT wk.id,
       wk.name,
       wk.host,
       wk.groups,
       wk.slots,
       wk.running,
       wk.status,
       wk.last_heartbeat,
       wk.alive,
       wk.registered_at,
       wk.ended_at,
       wk.ended_why
FROM sched.worker wk;
COMMENT ON VIEW sched.workers IS 'Registered workers, live and gone.';
COMMENT ON COLUMN sched.workers.id IS 'Worker id.';
COMMENT ON COLUMN sched.workers.name IS 'Worker name (default: host name and pid).';
COMMENT ON COLUMN sched.workers.host IS 'Host it runs on.';
COMMENT ON COLUMN sched.workers.groups IS 'Worker groups it serves.';
COMMENT ON COLUMN sched.workers.slots IS 'Tasks it runs at once at most.';
COMMENT ON COLUMN sched.workers.running IS 'Tasks running at its last heartbeat.';
COMMENT ON COLUMN sched.workers.status IS 'NULL when healthy; else why it takes no tasks (e.g. backing off after tasks could not be started).';
COMMENT ON COLUMN sched.workers.last_heartbeat IS 'Last heartbeat.';
COMMENT ON COLUMN sched.workers.alive IS 'False once it shut down or missed heartbeats for sched.worker_timeout.';
COMMENT ON COLUMN sched.workers.registered_at IS 'When it registered.';
COMMENT ON COLUMN sched.workers.ended_at IS 'When it shut down or was declared dead.';
COMMENT ON COLUMN sched.workers.ended_why IS 'How it ended: shutdown, fenced (it killed its tasks when its heartbeats did not get through), timed_out (declared dead by the master), replaced (by a worker of the same name). NULL while alive.';

CREATE VIEW sched.commands WITH (security_barrier) AS
SELECT c.id,
       c.command_type,
       w.name AS workflow,
       c.workflow_instance_id,
       c.issued_by,
       c.issued_at,
       c.params
FROM sched.command c
JOIN sched.workflow w ON w.id = c.workflow_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.commands IS 'Requests that created or changed workflow instances.';
COMMENT ON COLUMN sched.commands.id IS 'Command id.';
COMMENT ON COLUMN sched.commands.command_type IS 'DolphinScheduler command type, e.g. start_process, stop.';
COMMENT ON COLUMN sched.commands.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.commands.workflow_instance_id IS 'Instance created or changed.';
COMMENT ON COLUMN sched.commands.issued_by IS 'Role that issued it.';
COMMENT ON COLUMN sched.commands.issued_at IS 'When.';
COMMENT ON COLUMN sched.commands.params IS 'Parameters of the request.';

CREATE VIEW sched.tenants WITH (security_barrier) AS
SELECT g.role,
       g.os_user,
       g.granted_by,
       g.granted_at
FROM sched.tenant_grant g
WHERE sched._visible(g.role);
COMMENT ON VIEW sched.tenants IS 'Which roles may run tasks as which OS users (sched.grant_tenant); members of a role may use its grants.';
COMMENT ON COLUMN sched.tenants.role IS 'Role allowed to use the OS user.';
COMMENT ON COLUMN sched.tenants.os_user IS 'OS user that shell tasks run as on workers.';
COMMENT ON COLUMN sched.tenants.granted_by IS 'Role that granted it.';
COMMENT ON COLUMN sched.tenants.granted_at IS 'When.';

CREATE VIEW sched.task_types AS
SELECT b.name, true AS builtin, b.description, b.fields, b.command,
       NULL::text AS interpreter, NULL::text AS created_by, NULL::timestamptz AS created_at
FROM sched._builtin_task_types() b
UNION ALL
SELECT tt.name, false, tt.definition->>'description', tt.definition->'fields', tt.definition->>'command',
       tt.definition->>'interpreter', tt.created_by, tt.created_at
FROM sched.task_type tt;
COMMENT ON VIEW sched.task_types IS 'Every task type a spec may use: the built-in ones and those registered with sched.register_task_type.';
COMMENT ON COLUMN sched.task_types.name IS 'Type name, as a task''s "type" gives it (any case).';
COMMENT ON COLUMN sched.task_types.builtin IS 'Part of pg_sched (false: registered).';
COMMENT ON COLUMN sched.task_types.description IS 'What it runs.';
COMMENT ON COLUMN sched.task_types.fields IS 'Its fields: {name: {kind, required, default, values}}.';
COMMENT ON COLUMN sched.task_types.command IS 'Command template of a command type ({field} is the value shell-quoted, [...] is left out unless its fields have values); NULL for types built into the worker.';
COMMENT ON COLUMN sched.task_types.interpreter IS 'Program that runs the command with -c; NULL is bash.';
COMMENT ON COLUMN sched.task_types.created_by IS 'Role that registered it; NULL for built-in types.';
COMMENT ON COLUMN sched.task_types.created_at IS 'When it was registered; NULL for built-in types.';

CREATE VIEW sched.alerts WITH (security_barrier) AS
SELECT a.id, a.event, a.workflow_instance_id, w.name AS workflow, a.task_instance_id, a.alert_group,
       d.channel_no, d.channel->>'type' AS channel,
       CASE WHEN NOT coalesce(sched._visible(g.owner), false) THEN NULL
            -- -> and || bind alike, left to right: unparenthesised this read ((to || channel) -> 'cc').
            WHEN d.channel->>'type' = 'email' THEN array_to_string(ARRAY(SELECT jsonb_array_elements_text((d.channel->'to') || coalesce(d.channel->'cc', '[]'))), ', ')
            WHEN d.channel->>'type' = 'webhook' THEN coalesce(d.channel->>'url', 'endpoint ' || (d.channel->>'endpoint'))
            ELSE d.channel->>'command' END AS target,
       d.state, d.attempts, d.last_error, a.title, a.message, a.details,
       a.created_at, CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at, d.sent_at
FROM sched.alert a
JOIN sched.workflow_instance i ON i.id = a.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
LEFT JOIN sched.alert_delivery d ON d.alert_id = a.id
-- Addresses, URLs and commands are for the group's owner and sched_admin to see.
LEFT JOIN sched.alert_group g ON g.name = a.alert_group
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.alerts IS 'Alerts the engine raised, for the workflows you may see: one row per alert and channel of its group (the outbox), or one row with no channel when the instance names no alert group.';
COMMENT ON COLUMN sched.alerts.id IS 'Alert id.';
COMMENT ON COLUMN sched.alerts.event IS 'workflow_succeeded, workflow_failed, workflow_stopped, workflow_paused (by the notify strategy), task_timeout, workflow_timeout, fault_tolerance or sql_result.';
COMMENT ON COLUMN sched.alerts.workflow_instance_id IS 'Workflow instance id.';
COMMENT ON COLUMN sched.alerts.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.alerts.task_instance_id IS 'The task attempt; NULL for a workflow alert.';
COMMENT ON COLUMN sched.alerts.alert_group IS 'Alert group it went to; NULL when none was named.';
COMMENT ON COLUMN sched.alerts.channel_no IS 'Position of the channel in the group, from 1; NULL without a group.';
COMMENT ON COLUMN sched.alerts.channel IS 'email, webhook or script; NULL without a group.';
COMMENT ON COLUMN sched.alerts.target IS 'Recipients, URL (or the configured endpoint''s name) or command; shown to the alert group''s owner and sched_admin only, NULL for others.';
COMMENT ON COLUMN sched.alerts.state IS 'pending, sent or failed (after sched.alert_max_attempts attempts); NULL without a group.';
COMMENT ON COLUMN sched.alerts.attempts IS 'Attempts to send it so far.';
COMMENT ON COLUMN sched.alerts.last_error IS 'Why the last attempt failed.';
COMMENT ON COLUMN sched.alerts.title IS 'Subject line.';
COMMENT ON COLUMN sched.alerts.message IS 'What happened, where, when and how to look.';
COMMENT ON COLUMN sched.alerts.details IS 'The same as data; for sql_result the columns and rows.';
COMMENT ON COLUMN sched.alerts.created_at IS 'When it was raised.';
COMMENT ON COLUMN sched.alerts.next_attempt_at IS 'When it is next tried, while pending.';
COMMENT ON COLUMN sched.alerts.sent_at IS 'When it was sent.';

CREATE VIEW sched.alert_groups AS
SELECT g.name,
       CASE WHEN sched._visible(g.owner) THEN g.channels
            ELSE (SELECT jsonb_agg(jsonb_build_object('type', c->'type') ORDER BY n)
                  FROM jsonb_array_elements(g.channels) WITH ORDINALITY AS x(c, n)) END AS channels,
       g.description, g.owner::text AS owner,
       sched._visible(g.owner) OR EXISTS (SELECT 1 FROM sched.use_grant u
                                          WHERE u.kind = 'alert_group' AND u.name = g.name
                                            AND pg_catalog.pg_has_role(u.role, 'MEMBER')) AS usable,
       g.created_at, g.updated_at
FROM sched.alert_group g;
COMMENT ON VIEW sched.alert_groups IS 'Alert groups, for every user; their addresses, URLs and commands only for their owner and sched_admin.';
COMMENT ON COLUMN sched.alert_groups.name IS 'Name notify.alert_group and send_result.alert_group refer to.';
COMMENT ON COLUMN sched.alert_groups.channels IS 'Its channels (email, webhook, script), normalised; for others than its owner and sched_admin only their types.';
COMMENT ON COLUMN sched.alert_groups.usable IS 'Whether you may name it (you own it, are in sched_admin, or were granted it with sched.grant_alert_group).';
COMMENT ON COLUMN sched.alert_groups.description IS 'Free text.';
COMMENT ON COLUMN sched.alert_groups.owner IS 'Role that may change or drop it (with sched_admin).';
COMMENT ON COLUMN sched.alert_groups.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.alert_groups.updated_at IS 'When it last changed.';

CREATE VIEW sched.unserved_tasks WITH (security_barrier) AS
SELECT ti.id AS task_instance_id, ti.workflow_instance_id, w.name AS workflow, td.name AS task,
       ti.worker_group, ti.queued_at
FROM sched.task_instance ti
JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN sched.task_definition td ON td.id = ti.task_id
WHERE ti.state = 'queued'
  AND NOT EXISTS (SELECT 1 FROM sched.worker wk WHERE wk.alive AND ti.worker_group = ANY(wk.groups))
  AND sched._visible(w.owner);
COMMENT ON VIEW sched.unserved_tasks IS 'Ready attempts that no live worker serves: their worker group has no worker (a typo in worker_group, a group whose workers are all down).';
COMMENT ON COLUMN sched.unserved_tasks.task_instance_id IS 'The waiting attempt.';
COMMENT ON COLUMN sched.unserved_tasks.workflow_instance_id IS 'Workflow instance id.';
COMMENT ON COLUMN sched.unserved_tasks.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.unserved_tasks.task IS 'Task name.';
COMMENT ON COLUMN sched.unserved_tasks.worker_group IS 'The worker group no live worker serves.';
COMMENT ON COLUMN sched.unserved_tasks.queued_at IS 'When it became ready.';

CREATE VIEW sched.task_groups AS
SELECT g.name, g.size, g.description, g.owner::text AS owner,
       (SELECT count(*) FROM sched.task_instance h WHERE h.task_group_id = g.id AND h.holds_slot) AS in_use,
       (SELECT count(*) FROM sched.task_instance w
        WHERE w.task_group_id = g.id AND w.state = 'delayed' AND w.not_before IS NULL) AS waiting,
       g.created_at
FROM sched.task_group g;
COMMENT ON VIEW sched.task_groups IS 'Task groups, with how many of their slots are in use and how many attempts wait for one.';
COMMENT ON COLUMN sched.task_groups.name IS 'Task group name.';
COMMENT ON COLUMN sched.task_groups.size IS 'Slots: tasks of the group that run at once at most.';
COMMENT ON COLUMN sched.task_groups.description IS 'Free text.';
COMMENT ON COLUMN sched.task_groups.owner IS 'Role that created it.';
COMMENT ON COLUMN sched.task_groups.in_use IS 'Attempts holding a slot (queued or running).';
COMMENT ON COLUMN sched.task_groups.waiting IS 'Attempts waiting for a slot.';
COMMENT ON COLUMN sched.task_groups.created_at IS 'When it was created.';

CREATE VIEW sched.schedules WITH (security_barrier) AS
SELECT s.id, w.name AS workflow, s.cron, s.timezone, s.enabled, s.owner::text AS owner,
       s.start_at, s.end_at, s.misfire, s.run_options, s.params,
       s.next_fire_at, s.last_fire_at, s.last_instance_id, s.created_at
FROM sched.schedule s
JOIN sched.workflow w ON w.id = s.workflow_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.schedules IS 'Cron schedules of the workflows you may see.';
COMMENT ON COLUMN sched.schedules.id IS 'Schedule id.';
COMMENT ON COLUMN sched.schedules.workflow IS 'The workflow it starts.';
COMMENT ON COLUMN sched.schedules.cron IS 'Cron expression (sched.cron_describe says it in words).';
COMMENT ON COLUMN sched.schedules.timezone IS 'IANA time zone of the expression.';
COMMENT ON COLUMN sched.schedules.enabled IS 'Online (true) or offline.';
COMMENT ON COLUMN sched.schedules.owner IS 'Role it fires as.';
COMMENT ON COLUMN sched.schedules.start_at IS 'No fire before this.';
COMMENT ON COLUMN sched.schedules.end_at IS 'No fire after this.';
COMMENT ON COLUMN sched.schedules.misfire IS 'all, latest or none: fires missed for longer than sched.misfire_threshold.';
COMMENT ON COLUMN sched.schedules.run_options IS 'Start options of its instances.';
COMMENT ON COLUMN sched.schedules.params IS 'Start parameters of its instances.';
COMMENT ON COLUMN sched.schedules.next_fire_at IS 'Next fire time; NULL when offline or past its end.';
COMMENT ON COLUMN sched.schedules.last_fire_at IS 'Last fire time fired.';
COMMENT ON COLUMN sched.schedules.last_instance_id IS 'Instance of the last fire.';
COMMENT ON COLUMN sched.schedules.created_at IS 'When it was created.';

CREATE VIEW sched.backfills WITH (security_barrier) AS
SELECT b.id, w.name AS workflow, b.mode, b.parallelism, b.on_failure,
       count(d.*) AS total,
       count(*) FILTER (WHERE wi.state = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE wi.state IN ('failed', 'stopped', 'paused')) AS failed,
       count(*) FILTER (WHERE wi.state NOT IN ('succeeded', 'failed', 'stopped', 'paused')) AS running,
       count(*) FILTER (WHERE d.instance_id IS NULL AND NOT d.cancelled) AS pending,
       b.state, b.run_options->>'timezone' AS time_zone, b.owner::text AS owner, b.triggered_by, b.created_at, b.ended_at
FROM sched.backfill b
JOIN sched.workflow w ON w.id = b.workflow_id
LEFT JOIN sched.backfill_date d ON d.backfill_id = b.id
LEFT JOIN sched.workflow_instance wi ON wi.id = d.instance_id
WHERE sched._visible(w.owner)
GROUP BY b.id, w.name;
COMMENT ON VIEW sched.backfills IS 'Backfills and how far they got.';
COMMENT ON COLUMN sched.backfills.id IS 'Backfill id.';
COMMENT ON COLUMN sched.backfills.workflow IS 'The workflow run.';
COMMENT ON COLUMN sched.backfills.mode IS 'serial or parallel.';
COMMENT ON COLUMN sched.backfills.parallelism IS 'Instances at once at most.';
COMMENT ON COLUMN sched.backfills.on_failure IS 'stop or continue.';
COMMENT ON COLUMN sched.backfills.total IS 'Dates.';
COMMENT ON COLUMN sched.backfills.succeeded IS 'Dates whose instance succeeded.';
COMMENT ON COLUMN sched.backfills.failed IS 'Dates whose instance failed, was stopped or paused.';
COMMENT ON COLUMN sched.backfills.running IS 'Dates whose instance is unfinished.';
COMMENT ON COLUMN sched.backfills.pending IS 'Dates not started yet (and not cancelled).';
COMMENT ON COLUMN sched.backfills.state IS 'running, succeeded, failed or cancelled.';
COMMENT ON COLUMN sched.backfills.time_zone IS 'IANA zone its range was read in and its instances'' business values are computed in.';
COMMENT ON COLUMN sched.backfills.owner IS 'Role that asked for it.';
COMMENT ON COLUMN sched.backfills.triggered_by IS 'For the backfill of a workflow that DEPENDENT-depends on another (options.dependents): the backfill of that other workflow; NULL otherwise.';
COMMENT ON COLUMN sched.backfills.created_at IS 'When it was asked for.';
COMMENT ON COLUMN sched.backfills.ended_at IS 'When it ended.';

CREATE VIEW sched.backfill_dates WITH (security_barrier) AS
SELECT d.backfill_id, d.position, d.schedule_time, d.instance_id,
       CASE WHEN d.cancelled THEN 'cancelled' WHEN d.instance_id IS NULL THEN 'pending' ELSE wi.state::text END AS state
FROM sched.backfill_date d
JOIN sched.backfill b ON b.id = d.backfill_id
JOIN sched.workflow w ON w.id = b.workflow_id
LEFT JOIN sched.workflow_instance wi ON wi.id = d.instance_id
WHERE sched._visible(w.owner);
COMMENT ON VIEW sched.backfill_dates IS 'The dates of each backfill, in the order they run, with their instances.';
COMMENT ON COLUMN sched.backfill_dates.backfill_id IS 'The backfill.';
COMMENT ON COLUMN sched.backfill_dates.position IS 'Order, from 1.';
COMMENT ON COLUMN sched.backfill_dates.schedule_time IS 'The date (business time of its instance).';
COMMENT ON COLUMN sched.backfill_dates.instance_id IS 'Its instance; NULL while pending.';
COMMENT ON COLUMN sched.backfill_dates.state IS 'pending, cancelled, or its instance''s state.';

CREATE VIEW sched.datasources WITH (security_barrier) AS
SELECT d.name, d.kind, d.description, d.created_by, d.created_at
FROM sched.datasource d
WHERE pg_catalog.pg_has_role('sched_admin', 'MEMBER')
   OR EXISTS (SELECT 1 FROM sched.use_grant u
              WHERE u.kind = 'datasource' AND u.name = d.name AND pg_catalog.pg_has_role(u.role, 'MEMBER'));
COMMENT ON VIEW sched.datasources IS 'Datasources you may name in sql and procedure tasks (sched_admin sees all); their connections are in the workers'' --datasources files.';
COMMENT ON COLUMN sched.datasources.name IS 'Name a task''s datasource refers to.';
COMMENT ON COLUMN sched.datasources.kind IS 'postgresql or mysql.';
COMMENT ON COLUMN sched.datasources.description IS 'Free text.';
COMMENT ON COLUMN sched.datasources.created_by IS 'Role that declared it.';
COMMENT ON COLUMN sched.datasources.created_at IS 'When.';

CREATE VIEW sched.use_grants WITH (security_barrier) AS
SELECT u.kind, u.name, u.role, u.granted_by, u.granted_at
FROM sched.use_grant u
LEFT JOIN sched.alert_group ag ON u.kind = 'alert_group' AND ag.name = u.name
LEFT JOIN sched.task_group tg ON u.kind = 'task_group' AND tg.name = u.name
WHERE sched._visible(u.role) OR coalesce(sched._visible(coalesce(ag.owner, tg.owner)), false);
COMMENT ON VIEW sched.use_grants IS 'Which roles may name which worker groups, datasources, alert groups and task groups (sched.grant_worker_group, grant_datasource, grant_alert_group, grant_task_group), for the grantee, the group''s owner and sched_admin.';
COMMENT ON COLUMN sched.use_grants.kind IS 'worker_group, datasource, alert_group or task_group.';
COMMENT ON COLUMN sched.use_grants.name IS 'Its name.';
COMMENT ON COLUMN sched.use_grants.role IS 'Role allowed (and its members).';
COMMENT ON COLUMN sched.use_grants.granted_by IS 'Role that granted it.';
COMMENT ON COLUMN sched.use_grants.granted_at IS 'When.';

CREATE VIEW sched.project_params WITH (security_barrier) AS
SELECT sched._role_name(pp.role) AS project, pp.params, pp.updated_by, pp.updated_at
FROM sched.project_param pp
WHERE sched._visible(pp.role);
COMMENT ON VIEW sched.project_params IS 'Project parameters (sched.set_project_params), for the project''s members and sched_admin.';
COMMENT ON COLUMN sched.project_params.project IS 'The project: the role owning the workflows that see them.';
COMMENT ON COLUMN sched.project_params.params IS 'The parameters: plain values or {"value", "type"}; a workflow''s globals, upstream OUT values, local and start parameters win over them.';
COMMENT ON COLUMN sched.project_params.updated_by IS 'Role that set them last.';
COMMENT ON COLUMN sched.project_params.updated_at IS 'When they were set last.';
