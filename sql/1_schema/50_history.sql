-- The attempts of finished instances, partitioned by the UTC day they ended; the master moves
-- them here a minute after their instance ends and drops days past sched.history_retention
-- (4_master/retention.sql). sched._attempts (2_kernel/attempts.sql) reads both tables.

CREATE TABLE sched.task_instance_history (
    LIKE sched.task_instance INCLUDING DEFAULTS INCLUDING COMMENTS,
    PRIMARY KEY (id, ended_at)
) PARTITION BY RANGE (ended_at);
CREATE TABLE sched.task_instance_history_default PARTITION OF sched.task_instance_history DEFAULT;
-- An instance's attempts, and a task's latest among them (sched.instance_tasks), as in task_instance.
CREATE INDEX task_instance_history_by_instance ON sched.task_instance_history (workflow_instance_id, task_id);
COMMENT ON TABLE sched.task_instance_history IS
    'Task attempts of finished instances, moved here from sched.task_instance a minute after the instance ended; one partition per UTC day of ended_at (task_instance_history_YYYYMMDD), kept for sched.history_retention. Read both through sched.task_instances.';
COMMENT ON TABLE sched.task_instance_history_default IS
    'Attempts of days that have no partition of their own: a day that began while no master ran (a fresh install) keeps its attempts here until their instances expire.';
