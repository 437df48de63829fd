-- Views for people and BI tools. Each shows only what the querying role may see: rows of
-- workflows owned by a role it is a member of, everything for sched_admin and superusers.
-- The querying role is current_user, the identity the API uses (2_kernel/access.sql): an index
-- expression or another role's SECURITY DEFINER function sees what its own role may see.
-- security_barrier: a caller's own functions in WHERE must not see rows before that filter.
--
-- This file: task groups.

CREATE VIEW sched.task_groups AS
SELECT g.name, g.size, g.description, g.owner::text AS owner,
       (SELECT count(*) FROM sched.task_instance h WHERE h.task_group_id = g.id AND h.holds_slot) AS in_use,
       (SELECT count(*) FROM sched.task_instance w
        WHERE w.task_group_id = g.id AND w.state = 'delayed' AND w.not_before IS NULL) AS waiting,
       g.created_at,
       g.admit_when,
       (SELECT c.reason FROM sched.admit_check c
        WHERE c.gate = 'task_group' AND c.gate_id = g.id AND g.admit_when IS NOT NULL) AS admit_reason
FROM sched.task_group g;
COMMENT ON VIEW sched.task_groups IS 'Task groups, with how many of their slots are in use and how many attempts wait for one.';
COMMENT ON COLUMN sched.task_groups.name IS 'Task group name.';
COMMENT ON COLUMN sched.task_groups.size IS 'Slots: tasks of the group that run at once at most.';
COMMENT ON COLUMN sched.task_groups.description IS 'Free text.';
COMMENT ON COLUMN sched.task_groups.owner IS 'Role that created it.';
COMMENT ON COLUMN sched.task_groups.in_use IS 'Attempts holding a slot (queued or running).';
COMMENT ON COLUMN sched.task_groups.waiting IS 'Attempts waiting for a slot.';
COMMENT ON COLUMN sched.task_groups.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.task_groups.admit_when IS 'SQL boolean over sched.load that must hold before a waiting attempt gets a slot; NULL for none.';
COMMENT ON COLUMN sched.task_groups.admit_reason IS 'Why admit_when did not hold when last evaluated (false, NULL, or its error); NULL when it held or has not been evaluated.';
