-- Views for people and BI tools (see 6_views/task_groups.sql for what every view shows).
--
-- This file: the numbers of the console's home page, counted by the hour so that a chart
-- over any range reads few rows, and so that a BI tool draws the same charts.

CREATE VIEW sched.instance_states_hourly WITH (security_barrier) AS
SELECT date_trunc('hour', i.created_at) AS hour, w.name AS workflow, i.state::text AS state, count(*) AS instances
FROM sched.workflow_instance i
JOIN sched.workflow w ON w.id = i.workflow_id
WHERE sched._visible(w.owner)
GROUP BY 1, 2, 3;
COMMENT ON VIEW sched.instance_states_hourly IS 'Workflow instances created in each hour, by workflow and by the state they are in now.';
COMMENT ON COLUMN sched.instance_states_hourly.hour IS 'The hour they were created in (in the session''s time zone).';
COMMENT ON COLUMN sched.instance_states_hourly.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.instance_states_hourly.state IS 'Their state now.';
COMMENT ON COLUMN sched.instance_states_hourly.instances IS 'How many.';

CREATE VIEW sched.task_states_hourly WITH (security_barrier) AS
SELECT date_trunc('hour', ti.queued_at) AS hour, w.name AS workflow, ti.state::text AS state, count(*) AS attempts
FROM sched._attempts ti
JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
JOIN sched.workflow w ON w.id = i.workflow_id
WHERE sched._visible(w.owner)
GROUP BY 1, 2, 3;
COMMENT ON VIEW sched.task_states_hourly IS 'Task attempts queued in each hour, by workflow and by the state they are in now.';
COMMENT ON COLUMN sched.task_states_hourly.hour IS 'The hour they were queued in (in the session''s time zone).';
COMMENT ON COLUMN sched.task_states_hourly.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.task_states_hourly.state IS 'Their state now.';
COMMENT ON COLUMN sched.task_states_hourly.attempts IS 'How many.';

CREATE VIEW sched.schedule_lateness WITH (security_barrier) AS
SELECT i.id AS instance_id, i.schedule_id, w.name AS workflow, i.schedule_time, i.started_at,
       i.started_at - i.schedule_time AS lateness
FROM sched.workflow_instance i
JOIN sched.workflow w ON w.id = i.workflow_id
WHERE i.schedule_id IS NOT NULL AND i.started_at IS NOT NULL AND sched._visible(w.owner);
COMMENT ON VIEW sched.schedule_lateness IS 'How late each cron fire started: from its nominal fire time to the start of its instance (a misfire or a busy master shows here).';
COMMENT ON COLUMN sched.schedule_lateness.instance_id IS 'The instance the fire created.';
COMMENT ON COLUMN sched.schedule_lateness.schedule_id IS 'The schedule that fired.';
COMMENT ON COLUMN sched.schedule_lateness.workflow IS 'Workflow name.';
COMMENT ON COLUMN sched.schedule_lateness.schedule_time IS 'The nominal fire time.';
COMMENT ON COLUMN sched.schedule_lateness.started_at IS 'When its instance started.';
COMMENT ON COLUMN sched.schedule_lateness.lateness IS 'started_at - schedule_time.';

CREATE VIEW sched.worker_groups AS
SELECT g.worker_group,
       count(*) FILTER (WHERE wk.alive) AS workers,
       coalesce(sum(wk.slots) FILTER (WHERE wk.alive), 0) AS slots,
       coalesce(sum(wk.running) FILTER (WHERE wk.alive), 0) AS running,
       (SELECT count(*) FROM sched.task_instance ti
        JOIN sched.workflow_instance i ON i.id = ti.workflow_instance_id
        JOIN sched.workflow w ON w.id = i.workflow_id
        WHERE ti.worker_group = g.worker_group AND ti.state = ANY (sched._task_states_waiting())
          AND sched._visible(w.owner)) AS waiting
FROM sched.worker wk, unnest(wk.groups) AS g(worker_group)
WHERE wk.alive
GROUP BY g.worker_group;
COMMENT ON VIEW sched.worker_groups IS 'Worker groups that live workers serve: their live workers, slots and load, and the attempts waiting in each. A group tasks name that no live worker serves is in sched.unserved_tasks.';
COMMENT ON COLUMN sched.worker_groups.worker_group IS 'Worker group name.';
COMMENT ON COLUMN sched.worker_groups.workers IS 'Live workers serving it.';
COMMENT ON COLUMN sched.worker_groups.slots IS 'Their task slots.';
COMMENT ON COLUMN sched.worker_groups.running IS 'Their tasks running now (of every group they serve).';
COMMENT ON COLUMN sched.worker_groups.waiting IS 'Attempts of the group that you may see waiting to run (queued, delayed, waiting for a task group slot).';
