-- Admission on live load (3_engine/admit_when.sql): the last evaluation of each task group's and
-- workflow version's admit_when, so that an expression is evaluated at most once per
-- sched._admit_interval(), and the WAL position sched.load's wal_rate is measured from.

CREATE TABLE sched.admit_check (
    gate       text NOT NULL CHECK (gate IN ('task_group', 'workflow')),
    gate_id    bigint NOT NULL,
    reason     text,
    checked_at timestamptz,
    PRIMARY KEY (gate, gate_id)
);
COMMENT ON TABLE sched.admit_check IS 'The last evaluation of each admit_when: whether it held, and why not; read through sched.task_groups and sched.task_instances.waiting_for.';
COMMENT ON COLUMN sched.admit_check.gate IS 'What declares it: task_group or workflow.';
COMMENT ON COLUMN sched.admit_check.gate_id IS 'The task group''s id, or the workflow version''s.';
COMMENT ON COLUMN sched.admit_check.reason IS 'NULL when it held (or was never evaluated); else that it was false or NULL, or the error it raised.';
COMMENT ON COLUMN sched.admit_check.checked_at IS 'When the master last evaluated it; NULL before the first time.';

CREATE TABLE sched.load_sample (
    id         integer PRIMARY KEY CHECK (id = 1),
    sampled_at timestamptz NOT NULL,
    wal_lsn    pg_lsn NOT NULL,
    wal_rate   double precision NOT NULL
);
COMMENT ON TABLE sched.load_sample IS 'One row: the WAL position when an admit_when was last evaluated, and the WAL rate since the sample before.';
COMMENT ON COLUMN sched.load_sample.id IS 'Always 1.';
COMMENT ON COLUMN sched.load_sample.sampled_at IS 'When the position was read.';
COMMENT ON COLUMN sched.load_sample.wal_lsn IS 'The WAL insert position then.';
COMMENT ON COLUMN sched.load_sample.wal_rate IS 'Bytes of WAL per second between the two latest samples.';
