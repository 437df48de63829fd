-- Views for people and BI tools. Each shows only what the querying role may see: rows of
-- workflows owned by a role it is a member of, everything for sched_admin and superusers.
-- The querying role is current_user, the identity the API uses (2_kernel/access.sql): an index
-- expression or another role's SECURITY DEFINER function sees what its own role may see.
-- security_barrier: a caller's own functions in WHERE must not see rows before that filter.
--
-- This file: instances, attempts, their output and results, commands, and the tasks no worker serves.

-- Every row of each view, for everyone, with the owner its visibility is decided by: the
-- views below filter them; the list functions (7_api/lists.sql) filter them for their caller,
-- in a plan that can read the newest first through an index (a security_barrier view is
-- planned on its own, so an ORDER BY ... LIMIT outside it sorts every row it can see).
CREATE VIEW sched._workflow_instance_rows AS
SELECT i.id,
       w.name AS workflow,
       v.version,
       i.state::text AS state,
       i.state = ANY (sched._workflow_states_finished()) AS finished,
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
       i.ended_at - i.started_at AS duration,
       (SELECT c.command_type FROM sched.command c
        WHERE c.workflow_instance_id = i.id ORDER BY c.id LIMIT 1) AS command_type,
       w.owner
FROM sched.workflow_instance i
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN sched.workflow_version v ON v.id = i.workflow_version_id;
COMMENT ON VIEW sched._workflow_instance_rows IS 'Internal: the rows of sched.workflow_instances, of every owner; its columns mean the same.';

CREATE VIEW sched.workflow_instances WITH (security_barrier) AS
SELECT r.* FROM sched._workflow_instance_rows r
WHERE sched._visible(r.owner);

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
COMMENT ON COLUMN sched.workflow_instances.command_type IS 'How it was created, as DolphinScheduler names it: start_process, scheduler (a cron fire), complement_data (a backfill), start_current_task_process (execute_task), ...; see sched.commands for what changed it since.';
COMMENT ON COLUMN sched.workflow_instances.owner IS 'The role that owns its workflow (its project).';

CREATE VIEW sched._task_instance_rows AS
SELECT ti.id,
       ti.workflow_instance_id,
       w.name AS workflow,
       td.name AS task,
       td.task_type AS type,
       ti.state::text AS state,
       ti.state <> ALL (sched._task_states_active()) AS finished,
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
       (SELECT lr.exit_code FROM sched.late_report lr WHERE lr.task_instance_id = ti.id) AS late_exit_code,
       w.owner,
       ti.element,
       CASE WHEN ti.element IS NOT NULL THEN (
           SELECT e."values" FROM sched.dynamic_element e
           WHERE e.workflow_instance_id = ti.workflow_instance_id AND e.task_id = ti.task_id
             AND e.run = ti.run AND e.element = ti.element) END AS element_values,
       -- A dynamic attempt's run: how many elements its lists made, and how many are in each
       -- state of their latest attempt.
       CASE WHEN td.logic = 'dynamic' THEN (
           SELECT count(*)::integer FROM sched.dynamic_element e JOIN sched.task_definition et ON et.id = e.task_id
           WHERE et.element_of = ti.task_id AND e.workflow_instance_id = ti.workflow_instance_id AND e.run = ti.run) END AS element_count,
       CASE WHEN td.logic = 'dynamic' THEN (
           SELECT coalesce(jsonb_object_agg(l.state, l.n), '{}') FROM (
               SELECT s.state, count(*) AS n FROM (
                   SELECT DISTINCT ON (a.element) a.state::text AS state
                   FROM sched._attempts a JOIN sched.task_definition et ON et.id = a.task_id
                   WHERE et.element_of = ti.task_id AND a.workflow_instance_id = ti.workflow_instance_id AND a.run = ti.run
                   ORDER BY a.element, a.id DESC) s
               GROUP BY s.state) l) END AS element_states,
       CASE WHEN ti.state = 'delayed' AND ti.not_before IS NULL
            THEN sched._waiting_for(ti.task_group_id, i.workflow_version_id) END AS waiting_for
FROM sched._attempts ti
JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
JOIN sched.task_definition td ON td.id = ti.task_id
LEFT JOIN sched.worker wk ON wk.id = ti.worker_id;
COMMENT ON VIEW sched._task_instance_rows IS 'Internal: the rows of sched.task_instances, of every owner; its columns mean the same.';

CREATE VIEW sched.task_instances WITH (security_barrier) AS
SELECT r.* FROM sched._task_instance_rows r
WHERE sched._visible(r.owner);

COMMENT ON VIEW sched.task_instances IS 'Task attempts, running and past (sched.task_instance and sched.task_instance_history); a task that never became ready has no row.';
COMMENT ON COLUMN sched.task_instances.id IS 'Task instance id (for sched.task_log).';
COMMENT ON COLUMN sched.task_instances.workflow_instance_id IS 'Workflow instance id.';
COMMENT ON COLUMN sched.task_instances.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.task_instances.task IS 'Task name.';
COMMENT ON COLUMN sched.task_instances.type IS 'Task type.';
COMMENT ON COLUMN sched.task_instances.state IS 'delayed, queued, dispatched, running, succeeded, failed, killed, paused, forced_success, need_fault_tolerance, skipped (on a branch not taken, or after only skipped tasks) or forbidden (enabled false: passed through).';
COMMENT ON COLUMN sched.task_instances.element IS 'For an attempt of a DYNAMIC task''s element (its task is named after the dynamic task, with []): the element''s index from 0; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.element_values IS 'For an attempt of a DYNAMIC task''s element: the values it runs with, {"name": "value"}; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.element_count IS 'For a DYNAMIC attempt: how many elements its lists expanded into (NULL until they did, or for other tasks).';
COMMENT ON COLUMN sched.task_instances.element_states IS 'For a DYNAMIC attempt: its elements by the state of their latest attempt, {"succeeded": n, "running": n, ...}; elements not started yet have none. NULL for other tasks.';
COMMENT ON COLUMN sched.task_instances.child_instance_id IS 'For a SUB_PROCESS attempt: the instance of its workflow it runs; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.branch IS 'For a CONDITIONS or SWITCH attempt: the names of the tasks on the branch it took; NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.finished IS 'The attempt reached a final state. Filter on NOT finished to list active attempts through an index.';
COMMENT ON COLUMN sched.task_instances.started IS 'A worker started it (the scheduler, for a logic task); false for an attempt still waiting, one that ended in the queue (killed or paused before it ran), or a skipped or forbidden one.';
COMMENT ON COLUMN sched.task_instances.attempt IS 'Attempt number from 1; each retry and failover adds one.';
COMMENT ON COLUMN sched.task_instances.run IS 'Run of the instance the attempt belongs to: 1, then one more per rerun_workflow.';
COMMENT ON COLUMN sched.task_instances.retry IS 'Retry number: 0 for a first attempt, n for the n-th retry after a failure.';
COMMENT ON COLUMN sched.task_instances.kill_reason IS 'Why it was killed or asked to be: stop (its instance, or a parent, was stopped), failure_strategy_end, timeout (its own), workflow_timeout, failover, user (sched.kill_task), forced_success (a later attempt made moot by sched.force_success) or snapshot_max_age (its instance held its consistent snapshot longer than sched.snapshot_max_age); NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.waiting_for IS 'For an attempt delayed with no time: why it waits (its workflow''s or its task group''s admit_when, with the reason it does not hold, or a free slot of its task group); NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.not_before IS 'For a delayed attempt (delay, retry interval), when it becomes queued.';
COMMENT ON COLUMN sched.task_instances.worker IS 'Name of the worker that ran it.';
COMMENT ON COLUMN sched.task_instances.worker_group IS 'Worker group it was queued for.';
COMMENT ON COLUMN sched.task_instances.exit_code IS 'Exit code of the process (128 + the signal when a signal ended it).';
COMMENT ON COLUMN sched.task_instances.kill_requested IS 'A kill was requested (stop or failure strategy end).';
COMMENT ON COLUMN sched.task_instances.params IS 'Parameter values the attempt ran with: the instance''s (built-ins, globals, start parameters), its task facts, upstream OUT values and local params; NULL before it is claimed.';
COMMENT ON COLUMN sched.task_instances.out_params IS 'OUT params the attempt exported (printed with ${setValue(name=value)}, else the declared default); NULL when the task declares none.';
COMMENT ON COLUMN sched.task_instances.queued_at IS 'When it became ready.';
COMMENT ON COLUMN sched.task_instances.started_at IS 'When a worker started it.';
COMMENT ON COLUMN sched.task_instances.ended_at IS 'When it ended.';
COMMENT ON COLUMN sched.task_instances.duration IS 'ended_at - started_at.';
COMMENT ON COLUMN sched.task_instances.late_exit_code IS 'For a failed-over attempt (need_fault_tolerance) whose worker finished it after all and reported it late: the exit code it reported. NULL otherwise.';
COMMENT ON COLUMN sched.task_instances.owner IS 'The role that owns its workflow (its project).';

-- The internal views' columns mean what the public ones' do.
DO $columns$
DECLARE
    col record;
BEGIN
    FOR col IN SELECT c.relname, a.attname, pg_catalog.col_description(a.attrelid, a.attnum) AS doc
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
               WHERE c.relnamespace = 'sched'::regnamespace AND c.relname IN ('workflow_instances', 'task_instances')
                 AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        EXECUTE pg_catalog.format('COMMENT ON COLUMN sched.%I.%I IS %L',
                                  CASE col.relname WHEN 'workflow_instances' THEN '_workflow_instance_rows'
                                                   ELSE '_task_instance_rows' END,
                                  col.attname, col.doc);
    END LOOP;
END
$columns$;

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
JOIN sched._attempts ti ON ti.id = r.task_instance_id
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
