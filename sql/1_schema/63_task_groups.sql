-- Task groups: a named number of slots that caps how many tasks of the group run at once,
-- across all workflows (3_engine/task_groups.sql hands the slots out).

CREATE TABLE sched.task_group (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    size        integer NOT NULL CHECK (size >= 1),
    description text NOT NULL DEFAULT '',
    owner       regrole NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    admit_when  text
);
COMMENT ON TABLE sched.task_group IS 'Task groups: how many tasks of each may run at once; read through sched.task_groups.';
COMMENT ON COLUMN sched.task_group.id IS 'Surrogate key.';
COMMENT ON COLUMN sched.task_group.name IS 'Name tasks refer to (task_group).';
COMMENT ON COLUMN sched.task_group.size IS 'Slots: tasks of the group that run at once at most.';
COMMENT ON COLUMN sched.task_group.description IS 'Free text.';
COMMENT ON COLUMN sched.task_group.owner IS 'Role that created it; it (or sched_admin) may change or drop it.';
COMMENT ON COLUMN sched.task_group.admit_when IS 'SQL boolean over sched.load that must hold, evaluated as the owner, before a waiting attempt of the group gets a slot; NULL for none.';
COMMENT ON COLUMN sched.task_group.created_at IS 'When it was created.';
