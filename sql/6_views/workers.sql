-- Views for people and BI tools. Each shows only what the querying role may see: rows of
-- workflows owned by a role it is a member of, everything for sched_admin and superusers.
-- The querying role is current_user, the identity the API uses (2_kernel/access.sql): an index
-- expression or another role's SECURITY DEFINER function sees what its own role may see.
-- security_barrier: a caller's own functions in WHERE must not see rows before that filter.
--
-- This file: workers.

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
       wk.ended_why,
       wk.protocol
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
COMMENT ON COLUMN sched.workers.protocol IS 'The worker protocol it speaks: during a rolling upgrade, the workers still of the release before show the older one.';
COMMENT ON COLUMN sched.workers.ended_why IS 'How it ended: shutdown, fenced (it killed its tasks when its heartbeats did not get through), timed_out (declared dead by the master), replaced (by a worker of the same name). NULL while alive.';
