-- Schedules (a workflow fired on a cron expression in a time zone, 4_master/schedules.sql) and
-- backfills (a workflow run once per date of a range or a list, 3_engine/backfill.sql).

CREATE TABLE sched.schedule (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id      bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    cron             text NOT NULL,
    timezone         text NOT NULL,
    start_at         timestamptz,
    end_at           timestamptz,
    enabled          boolean NOT NULL,
    misfire          text NOT NULL CHECK (misfire IN ('all', 'latest', 'none')),
    run_options      jsonb NOT NULL,
    params           jsonb NOT NULL,
    owner            regrole NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    next_fire_at     timestamptz,
    last_fire_at     timestamptz,
    last_instance_id bigint,
    deadline         text,
    deadline_through timestamptz,
    deadline_next    timestamptz
);
-- The master reads only the schedules that have a deadline to watch.
CREATE INDEX schedule_deadline_due ON sched.schedule (deadline_next) WHERE deadline_next IS NOT NULL;
CREATE INDEX schedule_due ON sched.schedule (next_fire_at) WHERE enabled AND next_fire_at IS NOT NULL;
CREATE INDEX schedule_by_workflow ON sched.schedule (workflow_id);
COMMENT ON TABLE sched.schedule IS 'Cron schedules of workflows; read through sched.schedules.';
COMMENT ON COLUMN sched.schedule.id IS 'Schedule id, returned by sched.schedule.';
COMMENT ON COLUMN sched.schedule.workflow_id IS 'The workflow it starts.';
COMMENT ON COLUMN sched.schedule.cron IS 'Cron expression (Quartz or Unix; see sched.cron_next).';
COMMENT ON COLUMN sched.schedule.timezone IS 'IANA time zone the expression is read in.';
COMMENT ON COLUMN sched.schedule.start_at IS 'No fire before this; NULL for none.';
COMMENT ON COLUMN sched.schedule.end_at IS 'No fire after this; NULL for none.';
COMMENT ON COLUMN sched.schedule.enabled IS 'Online (true) or offline; an offline schedule fires nothing, and on going online it continues from now.';
COMMENT ON COLUMN sched.schedule.misfire IS 'Fires missed while the master was down or busy for more than sched.misfire_threshold: all (fired, each with its own time), latest (only the last) or none.';
COMMENT ON COLUMN sched.schedule.run_options IS 'Start options of its instances (failure_strategy, priority, worker_group).';
COMMENT ON COLUMN sched.schedule.params IS 'Start parameters of its instances.';
COMMENT ON COLUMN sched.schedule.owner IS 'Role it fires as.';
COMMENT ON COLUMN sched.schedule.created_at IS 'When it was created.';
COMMENT ON COLUMN sched.schedule.next_fire_at IS 'The next fire time; NULL when none is left (past end) or it is offline.';
COMMENT ON COLUMN sched.schedule.last_fire_at IS 'The last fire time fired.';
COMMENT ON COLUMN sched.schedule.last_instance_id IS 'The instance of the last fire.';
COMMENT ON COLUMN sched.schedule.deadline IS 'Its own deadline (options.deadline), over the workflow''s: when each fire''s run must have succeeded by; NULL for the workflow''s.';
COMMENT ON COLUMN sched.schedule.deadline_through IS 'Fires up to this time have their deadlines in sched.deadline_check; fires before the deadline was set have none.';
COMMENT ON COLUMN sched.schedule.deadline_next IS 'When the master next looks at its deadlines (a fire to record, a deadline due); NULL when neither it nor its workflow has one.';

CREATE TABLE sched.backfill (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    mode        text NOT NULL CHECK (mode = ANY (sched._choices('backfill_modes'))),
    parallelism integer NOT NULL CHECK (parallelism >= 1),
    on_failure  text NOT NULL CHECK (on_failure = ANY (sched._choices('backfill_on_failure'))),
    run_options jsonb NOT NULL,
    params      jsonb NOT NULL,
    owner       regrole NOT NULL,
    state       text NOT NULL CHECK (state = ANY (sched._backfill_states())),
    -- A dependent backfill (options.dependents): the backfill it follows.
    triggered_by bigint REFERENCES sched.backfill ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ended_at    timestamptz
);
COMMENT ON TABLE sched.backfill IS 'Backfills: a workflow run once per date; read through sched.backfills.';
COMMENT ON COLUMN sched.backfill.id IS 'Backfill id, returned by sched.backfill.';
COMMENT ON COLUMN sched.backfill.workflow_id IS 'The workflow run.';
COMMENT ON COLUMN sched.backfill.mode IS 'serial (one date after another) or parallel.';
COMMENT ON COLUMN sched.backfill.parallelism IS 'Instances running at once at most (1 in serial mode).';
COMMENT ON COLUMN sched.backfill.on_failure IS 'stop (no date starts after one did not succeed) or continue.';
COMMENT ON COLUMN sched.backfill.run_options IS 'Start options of its instances (failure_strategy, priority, worker_group).';
COMMENT ON COLUMN sched.backfill.params IS 'Start parameters of its instances.';
COMMENT ON COLUMN sched.backfill.owner IS 'Role that asked for it; its instances start as it.';
COMMENT ON COLUMN sched.backfill.state IS 'running, succeeded (every date succeeded), failed or cancelled.';
COMMENT ON COLUMN sched.backfill.triggered_by IS 'For a backfill of a workflow with DEPENDENT tasks on another (options.dependents): the other workflow''s backfill; NULL otherwise.';
COMMENT ON COLUMN sched.backfill.created_at IS 'When it was asked for.';
COMMENT ON COLUMN sched.backfill.ended_at IS 'When its last instance ended, or it was cancelled.';

CREATE TABLE sched.backfill_date (
    backfill_id   bigint NOT NULL REFERENCES sched.backfill ON DELETE CASCADE,
    position      integer NOT NULL,
    schedule_time timestamptz NOT NULL,
    instance_id   bigint,
    cancelled     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (backfill_id, position),
    UNIQUE (backfill_id, schedule_time)
);
COMMENT ON TABLE sched.backfill_date IS 'The dates of a backfill, in the order they run, with their instances.';
COMMENT ON COLUMN sched.backfill_date.backfill_id IS 'The backfill.';
COMMENT ON COLUMN sched.backfill_date.position IS 'Order of the date in the backfill, from 1.';
COMMENT ON COLUMN sched.backfill_date.schedule_time IS 'The date (business time) of its instance.';
COMMENT ON COLUMN sched.backfill_date.instance_id IS 'Its workflow instance; NULL while pending.';
COMMENT ON COLUMN sched.backfill_date.cancelled IS 'Cancelled before it started.';

-- Deadlines (4_master/deadlines.sql): one row per fire of a schedule with a deadline, recorded
-- when the fire time comes whether or not an instance started, decided when the deadline comes.
-- Its instance is the schedule's for that fire time (workflow_instance_one_per_fire).
CREATE TABLE sched.deadline_check (
    schedule_id bigint NOT NULL REFERENCES sched.schedule ON DELETE CASCADE,
    fire_at     timestamptz NOT NULL,
    deadline_at timestamptz NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state = ANY (sched._deadline_states())),
    decided_at  timestamptz,
    PRIMARY KEY (schedule_id, fire_at)
);
CREATE INDEX deadline_check_pending ON sched.deadline_check (schedule_id, deadline_at) WHERE state = 'pending';
COMMENT ON TABLE sched.deadline_check IS 'The deadline of each fire of a schedule with a deadline (the schedule''s or its workflow''s), and whether its run met it; read through sched.deadlines.';
COMMENT ON COLUMN sched.deadline_check.schedule_id IS 'The schedule.';
COMMENT ON COLUMN sched.deadline_check.fire_at IS 'The nominal fire time (the run''s schedule_time), whether or not the schedule fired.';
COMMENT ON COLUMN sched.deadline_check.deadline_at IS 'When its run must have succeeded by.';
COMMENT ON COLUMN sched.deadline_check.state IS 'pending (the deadline has not come), met (its instance succeeded by then) or missed (it had not: an alert deadline_missed was raised).';
COMMENT ON COLUMN sched.deadline_check.decided_at IS 'When it was decided; NULL while pending.';
