-- Workers, the reports that arrived after their attempt was failed over, and the log lines
-- workers stream, partitioned by the UTC day their attempt was queued.

CREATE TABLE sched.worker (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL,
    host           text NOT NULL,
    groups         text[] NOT NULL,
    slots          integer NOT NULL CHECK (slots > 0),
    login_role     regrole NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_heartbeat timestamptz NOT NULL DEFAULT pg_catalog.now(),
    running        integer NOT NULL DEFAULT 0,
    status         text,
    alive          boolean NOT NULL DEFAULT true,
    registration_token bigint,
    ended_at       timestamptz,
    ended_why      text CHECK (ended_why IN ('shutdown', 'fenced', 'timed_out', 'replaced')),
    CONSTRAINT ended_at_set_exactly_when_dead CHECK ((ended_at IS NULL) = alive),
    CONSTRAINT ended_why_set_exactly_when_dead CHECK ((ended_why IS NULL) = alive),
    protocol       integer NOT NULL
);
CREATE UNIQUE INDEX worker_alive_name ON sched.worker (name) WHERE alive;
COMMENT ON TABLE sched.worker IS 'Registered sched-worker processes; a restart registers a new row.';
COMMENT ON COLUMN sched.worker.id IS 'Worker id; part of every lease.';
COMMENT ON COLUMN sched.worker.name IS 'Worker name, unique among live workers.';
COMMENT ON COLUMN sched.worker.host IS 'Host it runs on.';
COMMENT ON COLUMN sched.worker.groups IS 'Worker groups it serves.';
COMMENT ON COLUMN sched.worker.slots IS 'Tasks it runs at once at most.';
COMMENT ON COLUMN sched.worker.login_role IS 'Role that registered it; only that role may act for it.';
COMMENT ON COLUMN sched.worker.registered_at IS 'When it registered.';
COMMENT ON COLUMN sched.worker.last_heartbeat IS 'Last heartbeat.';
COMMENT ON COLUMN sched.worker.running IS 'Tasks running at its last heartbeat.';
COMMENT ON COLUMN sched.worker.status IS 'NULL when healthy; else what keeps it from taking tasks (e.g. backing off after tasks could not be started), as of its last heartbeat.';
COMMENT ON COLUMN sched.worker.registration_token IS 'Drawn by the worker process; a registration retried with it (after its answer was lost) returns this row instead of making another.';
COMMENT ON COLUMN sched.worker.alive IS 'False once it shut down or missed heartbeats for sched.worker_timeout.';
COMMENT ON COLUMN sched.worker.ended_at IS 'When it shut down or was declared dead.';
COMMENT ON COLUMN sched.worker.protocol IS 'The worker protocol it speaks (core/src/protocol.rs); 1 for the workers of release 0.2.0, which did not say.';
COMMENT ON COLUMN sched.worker.ended_why IS 'How it ended: shutdown (the worker deregistered), fenced (the worker ended it after it had killed its tasks for want of heartbeats), timed_out (silent for sched.worker_timeout, declared dead by the master), replaced (a worker of the same name registered after 10 s of its silence). NULL while alive.';

-- An outcome that reached the database after its attempt was failed over: the task did finish
-- (a worker cut off from the database kept it), but its new attempt had already been queued.
-- Kept beside the attempt so that an operator sees what ran twice and why.
CREATE TABLE sched.late_report (
    task_instance_id     bigint PRIMARY KEY,
    workflow_instance_id bigint NOT NULL,
    worker_id            bigint NOT NULL,
    exit_code            integer NOT NULL,
    started_at           timestamptz,
    ended_at             timestamptz,
    reported_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE sched.late_report IS 'Outcomes reported under a lease after the attempt was failed over; the attempt stays need_fault_tolerance and its new attempt stands. Shown as sched.task_instances.late_exit_code.';
COMMENT ON COLUMN sched.late_report.task_instance_id IS 'The failed-over attempt the outcome belongs to.';
COMMENT ON COLUMN sched.late_report.workflow_instance_id IS 'Its workflow instance (for retention).';
COMMENT ON COLUMN sched.late_report.worker_id IS 'The registration that ran it and reported late.';
COMMENT ON COLUMN sched.late_report.exit_code IS 'The exit code the worker reported.';
COMMENT ON COLUMN sched.late_report.started_at IS 'When the process started, by the worker''s clock.';
COMMENT ON COLUMN sched.late_report.ended_at IS 'When the process ended, by the worker''s clock.';
COMMENT ON COLUMN sched.late_report.reported_at IS 'When the report arrived.';

-- A type rather than a CHECK: the master's day partitions are made LIKE the parent, without
-- its constraints, and attaching one requires them.
CREATE TYPE sched.log_stream AS ENUM ('out', 'err');
COMMENT ON TYPE sched.log_stream IS
    'Where a task''s log line came from: out (stdout) or err (stderr, and the worker''s own lines about the attempt).';

-- Partitioned by day so that retention drops whole partitions (the master creates them ahead
-- and drops those past sched.log_retention, 4_master/retention.sql). The key is the UTC day the
-- attempt was queued, not the time of the line, so that every line of an attempt lands in one
-- partition and a retried batch meets its first copy there.
CREATE TABLE sched.task_log_line (
    task_instance_id bigint NOT NULL,
    line_no          integer NOT NULL,
    day              date NOT NULL,
    logged_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    line             text NOT NULL,
    stream           sched.log_stream NOT NULL DEFAULT 'out',
    PRIMARY KEY (task_instance_id, line_no, day)
) PARTITION BY RANGE (day);
CREATE TABLE sched.task_log_line_default PARTITION OF sched.task_log_line DEFAULT;
COMMENT ON TABLE sched.task_log_line IS 'Output of task attempts (stdout and stderr), one row per line; read with sched.task_log. One partition per day (task_log_line_YYYYMMDD), kept for sched.log_retention.';
COMMENT ON TABLE sched.task_log_line_default IS 'Lines of days that have no partition of their own: a day that began while no master ran (a fresh install) keeps its lines here until retention.';
COMMENT ON COLUMN sched.task_log_line.task_instance_id IS 'The task attempt.';
COMMENT ON COLUMN sched.task_log_line.day IS 'UTC day the attempt was queued; the partition key.';
COMMENT ON COLUMN sched.task_log_line.line_no IS 'Line number from 1, in output order.';
COMMENT ON COLUMN sched.task_log_line.logged_at IS 'When the worker stored the line.';
COMMENT ON COLUMN sched.task_log_line.line IS 'The line, without its newline.';
COMMENT ON COLUMN sched.task_log_line.stream IS 'Where the task wrote it: out (stdout; also a SQL task''s statement lines and what a logic task decided) or err (stderr; also the worker''s own lines about the attempt: why it did not start, timed out, failed to export, had output dropped).';
