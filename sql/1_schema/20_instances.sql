-- Runs: workflow instances, their task attempts, and the commands that created or changed them.
-- The tables a claim and a completion touch hold only what is running or just ended: the
-- master moves the attempts of finished instances to the history (50_history.sql).

CREATE TABLE sched.workflow_instance (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id         bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    workflow_version_id bigint NOT NULL REFERENCES sched.workflow_version ON DELETE CASCADE,
    state               sched.workflow_state NOT NULL,
    failure_strategy    sched.failure_strategy NOT NULL,
    priority            smallint NOT NULL,
    worker_group        text NOT NULL,
    params              jsonb NOT NULL DEFAULT '{}',
    -- Business time: the schedule time, or for a manual run its creation, fixed for the
    -- whole run (every task sees the same date, even across midnight), read in time_zone.
    schedule_time       timestamptz,
    business_time       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    time_zone           text NOT NULL DEFAULT 'UTC',
    param_values        jsonb NOT NULL DEFAULT '{}',
    out_params          jsonb,
    tenant              text,
    -- Set once any attempt fails or is killed with nothing left to replace it: decides the final
    -- state, and under failure strategy end it stops everything else.
    has_failure         boolean NOT NULL DEFAULT false,
    -- The workflow timeout, when it has one: when it strikes and what it does then.
    timeout_at          timestamptz,
    timeout_strategy    text,
    -- Run number: rerun_workflow runs the instance again from the start as run + 1.
    run                 integer NOT NULL DEFAULT 1,
    -- The tasks this run may run (start_tasks with task_scope, execute_task); NULL for all.
    scope               bigint[],
    -- The schedule whose fire at schedule_time created it, or the backfill it is a date of.
    schedule_id         bigint,
    backfill_id         bigint,
    -- A sub-process's instance: the parent instance and the SUB_PROCESS attempt it runs for,
    -- and every ancestor, root first. Locks are taken ancestors first (lower ids first), so
    -- that a child's end may lock its parent without risking a deadlock.
    parent_instance_id      bigint,
    parent_task_instance_id bigint,
    ancestors               bigint[],
    -- Of a root instance: how many sub-process instances its family created, bounded by
    -- sched.max_subprocess_instances.
    descendants             integer NOT NULL DEFAULT 0,
    -- Who hears of its end (none, success, failure, all), and the alert group that also
    -- hears of its timeouts and fault tolerance: the workflow's notify or the start's.
    notify_strategy     text NOT NULL DEFAULT 'none' CHECK (notify_strategy IN ('none', 'success', 'failure', 'all')),
    alert_group         text,
    started_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at          timestamptz,
    ended_at            timestamptz
    -- ended_at_set_exactly_when_finished: after sched.task_instance.
);
CREATE INDEX workflow_instance_by_workflow ON sched.workflow_instance (workflow_id, id);
-- History retention finds the oldest finished instances.
CREATE INDEX workflow_instance_finished ON sched.workflow_instance (ended_at) WHERE ended_at IS NOT NULL;
-- Deleting a workflow version cascades here.
CREATE INDEX workflow_instance_by_version ON sched.workflow_instance (workflow_version_id);
CREATE INDEX workflow_instance_unfinished ON sched.workflow_instance (workflow_id)
    WHERE state <> ALL (sched._workflow_states_finished());
CREATE INDEX workflow_instance_timeout ON sched.workflow_instance (timeout_at) WHERE timeout_at IS NOT NULL;
CREATE INDEX workflow_instance_children ON sched.workflow_instance (parent_task_instance_id) WHERE parent_task_instance_id IS NOT NULL;
CREATE INDEX workflow_instance_by_parent ON sched.workflow_instance (parent_instance_id) WHERE parent_instance_id IS NOT NULL;
-- The runs list (sched.list_workflow_instances) by state, newest first, a rare state too. A
-- state change is no HOT update anyway (workflow_instance_unfinished's predicate reads it).
CREATE INDEX workflow_instance_by_state ON sched.workflow_instance (state, id);
-- The home page's counts over a range (sched.hourly_instance_states); a run's created_at never
-- changes, so no update pays for it.
CREATE INDEX workflow_instance_created ON sched.workflow_instance (created_at);
-- DEPENDENT tasks look for the latest instance of a workflow in a period of business time.
CREATE INDEX workflow_instance_by_business_time ON sched.workflow_instance (workflow_id, business_time, id);
-- A schedule fires once per fire time, whatever restarts, crashes or promotions happen.
CREATE UNIQUE INDEX workflow_instance_one_per_fire ON sched.workflow_instance (schedule_id, schedule_time)
    WHERE schedule_id IS NOT NULL;
COMMENT ON TABLE sched.workflow_instance IS 'One run of one workflow version.';
COMMENT ON COLUMN sched.workflow_instance.id IS 'Instance id, returned by start_workflow.';
COMMENT ON COLUMN sched.workflow_instance.workflow_id IS 'The workflow that was started.';
COMMENT ON COLUMN sched.workflow_instance.workflow_version_id IS 'The exact version it runs; replacing the workflow does not change it.';
COMMENT ON COLUMN sched.workflow_instance.state IS 'Current state (sched.workflow_state).';
COMMENT ON COLUMN sched.workflow_instance.failure_strategy IS 'Failure strategy in force for this run.';
COMMENT ON COLUMN sched.workflow_instance.priority IS 'Instance priority, 0 = highest .. 4 = lowest; orders the task queue first.';
COMMENT ON COLUMN sched.workflow_instance.worker_group IS 'Worker group of tasks that do not name their own.';
COMMENT ON COLUMN sched.workflow_instance.params IS 'Start parameters given to start_workflow.';
COMMENT ON COLUMN sched.workflow_instance.schedule_time IS 'The schedule time it runs for (start option schedule_time); NULL for a manual run.';
COMMENT ON COLUMN sched.workflow_instance.business_time IS 'Business time of the run: schedule_time, else when it was created; $[...] and system.biz.* are computed from it.';
COMMENT ON COLUMN sched.workflow_instance.time_zone IS 'IANA zone business_time is read in for business values: the schedule''s, the backfill''s, the start option timezone, else the workflow''s timezone, else UTC.';
COMMENT ON COLUMN sched.workflow_instance.param_values IS 'Parameter values of the run, resolved once at its start: built-ins, the workflow''s globals and the start parameters over them.';
COMMENT ON COLUMN sched.workflow_instance.out_params IS 'Output parameters of the run, set when it finishes: the OUT values of its succeeded tasks, the last finished winning a name; NULL when none.';
COMMENT ON COLUMN sched.workflow_instance.tenant IS 'OS user its shell tasks run as (start option or spec); NULL runs them as the worker''s user.';
COMMENT ON COLUMN sched.workflow_instance.has_failure IS 'True once a task failed or was killed for good.';
COMMENT ON COLUMN sched.workflow_instance.timeout_at IS 'When the workflow timeout strikes (warn: an alert; stop: the instance is stopped); NULL for none or once it struck.';
COMMENT ON COLUMN sched.workflow_instance.timeout_strategy IS 'What the workflow timeout does: warn or stop.';
COMMENT ON COLUMN sched.workflow_instance.run IS 'Run number, 1 for the first; rerun_workflow adds one. Attempts carry the run they belong to.';
COMMENT ON COLUMN sched.workflow_instance.scope IS 'Ids of the task definitions this run may run (start_tasks and task_scope, execute_task); NULL for every task.';
COMMENT ON COLUMN sched.workflow_instance.schedule_id IS 'The schedule whose fire created it (its schedule_time is the fire time); NULL otherwise.';
COMMENT ON COLUMN sched.workflow_instance.backfill_id IS 'The backfill it runs a date of; NULL otherwise.';
COMMENT ON COLUMN sched.workflow_instance.parent_instance_id IS 'For the instance of a sub_process task: the instance it runs in; NULL otherwise.';
COMMENT ON COLUMN sched.workflow_instance.parent_task_instance_id IS 'For the instance of a sub_process task: the attempt of that task it runs for (the latest, after a resume or recover); NULL otherwise.';
COMMENT ON COLUMN sched.workflow_instance.ancestors IS 'Ids of the instances above a sub-process instance, the top one first; NULL for a top-level instance.';
COMMENT ON COLUMN sched.workflow_instance.descendants IS 'Of a top-level instance: the sub-process instances its family has created (at most sched.max_subprocess_instances); 0 for others.';
COMMENT ON COLUMN sched.workflow_instance.notify_strategy IS 'Which ends alert its alert group: none, success, failure (a stop is not a failure) or all (any end, stops and pauses too).';
COMMENT ON COLUMN sched.workflow_instance.alert_group IS 'Alert group of its end (by notify_strategy), timeout and fault-tolerance alerts; NULL for none.';
COMMENT ON COLUMN sched.workflow_instance.started_by IS 'Name of the role that started the instance (for a schedule: its owner).';
COMMENT ON COLUMN sched.workflow_instance.created_at IS 'When the instance was created.';
COMMENT ON COLUMN sched.workflow_instance.started_at IS 'When its first tasks became ready.';
COMMENT ON COLUMN sched.workflow_instance.ended_at IS 'When it reached a finished state; NULL while unfinished.';

CREATE TABLE sched.task_instance (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_instance_id bigint NOT NULL,
    task_id              bigint NOT NULL,
    attempt              integer NOT NULL DEFAULT 1,
    run                  integer NOT NULL DEFAULT 1,
    -- Retries so far of this task in this instance (0 for a first attempt or a failover).
    retry                integer NOT NULL DEFAULT 0,
    state                sched.task_state NOT NULL,
    worker_group         text NOT NULL,
    -- Copied from the instance and the task so that the claim query reads one index.
    workflow_priority    smallint NOT NULL,
    task_priority        smallint NOT NULL,
    tenant               text,
    worker_id            bigint,
    claim_token          bigint,
    exit_code            integer,
    kill_requested       boolean NOT NULL DEFAULT false,
    -- Why it was killed or asked to be: stop, failure_strategy_end, timeout, workflow_timeout, failover.
    kill_reason          text,
    -- A delayed attempt becomes queued at this time (delay, retry interval).
    not_before           timestamptz,
    -- A task of a task group: its group, its rank there, and whether it holds one of the
    -- group's slots (from being queued to its end). Without a slot it waits in delayed.
    task_group_id        bigint,
    task_group_priority  integer,
    holds_slot           boolean NOT NULL DEFAULT false,
    -- Set by the claim for a task with a timeout: when it strikes, and when the master looks
    -- next (the alert, then the backstop kill).
    timeout_at           timestamptz,
    check_at             timestamptz,
    -- Only for tasks with parameters: what the claim resolved, {"params": ..., "settings": ...}.
    resolved             jsonb,
    out_params           jsonb,
    -- A CONDITIONS or SWITCH attempt: the successors on the branch it took; the others are
    -- skipped. NULL for every other attempt.
    branch               bigint[],
    -- A waiting DEPENDENT attempt: when the master looks again.
    recheck_at           timestamptz,
    queued_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at           timestamptz,
    ended_at             timestamptz,
    -- An element of a DYNAMIC task: its index (its values are in sched.dynamic_element).
    element              integer,
    -- ended_at_set_exactly_when_final: below.
    -- Logic tasks run with no worker, in the scheduler.
    CONSTRAINT worker_set_when_claimed
        CHECK (worker_id IS NOT NULL OR state <> 'dispatched')
);
-- The instances' constraints on ended_at spell out their sets of states, read from the
-- vocabulary as the schema is made. A check that called the vocabulary's function would be
-- planned again by every statement that writes the table, and planning an IMMUTABLE SQL
-- function runs it: a fifth of each claim's time went there.
DO $constraints$
BEGIN
    EXECUTE pg_catalog.format(
        'ALTER TABLE sched.workflow_instance ADD CONSTRAINT ended_at_set_exactly_when_finished
             CHECK ((ended_at IS NOT NULL) = (state = ANY (%L::sched.workflow_state[])))',
        sched._workflow_states_finished());
    EXECUTE pg_catalog.format(
        'ALTER TABLE sched.task_instance ADD CONSTRAINT ended_at_set_exactly_when_final
             CHECK ((ended_at IS NOT NULL) = (state <> ALL (%L::sched.task_state[])))',
        sched._task_states_active());
END
$constraints$;
-- Every task passes through queued and running and leaves dead entries in the partial indexes
-- below; vacuum them long before the default 20 % of the table.
ALTER TABLE sched.task_instance SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
-- The ready queue: only queued rows are in it, per worker group in claim order (docs/architecture.md, "The worker protocol"),
-- so that a backlog in a group nobody serves costs other groups' claims nothing.
CREATE INDEX task_instance_ready ON sched.task_instance (worker_group, workflow_priority, task_priority, id)
    WHERE state = 'queued';
-- Finishing an instance asks "is anything still active?", newest attempt first: the entries of
-- attempts that ended stay in the index until vacuum, and the oldest are the most likely to
-- have ended (see _finish_if_done).
CREATE INDEX task_instance_active ON sched.task_instance (workflow_instance_id, id)
    WHERE state = ANY (sched._task_states_active());
CREATE INDEX task_instance_by_instance ON sched.task_instance (workflow_instance_id, task_id);
-- With the claim token, so that every claim's check for an earlier try of itself (_claim)
-- finds that try's tasks by key instead of reading every task the worker is running.
CREATE INDEX task_instance_claimed ON sched.task_instance (worker_id, claim_token)
    WHERE state = ANY (sched._task_states_claimed());
-- The master's clock: attempts waiting for their time, running attempts with a timeout. Rows
-- without either are in neither index.
CREATE INDEX task_instance_delayed ON sched.task_instance (not_before) WHERE state = 'delayed';
-- Task groups: who holds a slot, who waits for one (in the order slots are handed out).
CREATE INDEX task_instance_slot_holders ON sched.task_instance (task_group_id) WHERE holds_slot;
CREATE INDEX task_instance_slot_waiters ON sched.task_instance
    (task_group_id, task_group_priority DESC, workflow_priority, task_priority, id)
    WHERE state = 'delayed' AND not_before IS NULL AND task_group_id IS NOT NULL;
-- Attempts waiting for their workflow's admit_when (3_engine/admit_when.sql), which the master
-- asks again.
CREATE INDEX task_instance_admit_held ON sched.task_instance (id)
    WHERE state = 'delayed' AND not_before IS NULL AND task_group_id IS NULL;
CREATE INDEX task_instance_recheck ON sched.task_instance (recheck_at) WHERE recheck_at IS NOT NULL;
CREATE INDEX task_instance_check ON sched.task_instance (check_at)
    WHERE check_at IS NOT NULL AND state = ANY (sched._task_states_claimed());
COMMENT ON TABLE sched.task_instance IS 'One attempt of one task in one workflow instance.';
COMMENT ON COLUMN sched.task_instance.id IS 'Task instance id; with worker_id it is the lease a worker presents.';
COMMENT ON COLUMN sched.task_instance.workflow_instance_id IS 'The workflow instance.';
COMMENT ON COLUMN sched.task_instance.task_id IS 'The task definition.';
COMMENT ON COLUMN sched.task_instance.attempt IS 'Attempt number, 1 for the first run; a retry or a failover adds one.';
COMMENT ON COLUMN sched.task_instance.run IS 'The run of its instance it belongs to (rerun_workflow starts a new one); earlier runs'' attempts are history.';
COMMENT ON COLUMN sched.task_instance.task_group_id IS 'Task group of its task, copied; NULL for none.';
COMMENT ON COLUMN sched.task_instance.task_group_priority IS 'Rank among the group''s waiting attempts, larger first.';
COMMENT ON COLUMN sched.task_instance.holds_slot IS 'It holds a slot of its task group: from when it is queued until it ends.';
COMMENT ON COLUMN sched.task_instance.retry IS 'Retry number: 0 for a first attempt (or its failover), n for the n-th retry after a failure.';
COMMENT ON COLUMN sched.task_instance.kill_reason IS 'Why it was killed or asked to be: stop (its instance, or a parent, was stopped), failure_strategy_end, timeout (its own), workflow_timeout, failover, user (sched.kill_task), forced_success (a later attempt made moot by sched.force_success), element_failed (an element of the same DYNAMIC task failed under on_failure stop) or snapshot_max_age (its instance held its consistent snapshot longer than sched.snapshot_max_age); NULL otherwise.';
COMMENT ON COLUMN sched.task_instance.not_before IS 'For a delayed attempt, when it becomes queued.';
COMMENT ON COLUMN sched.task_instance.timeout_at IS 'For an attempt of a task with a timeout, when the timeout strikes (from its start).';
COMMENT ON COLUMN sched.task_instance.check_at IS 'When the master next looks at its timeout: to alert (warn), to kill what the worker has not (fail); NULL once done.';
COMMENT ON COLUMN sched.task_instance.state IS 'Current state (sched.task_state).';
COMMENT ON COLUMN sched.task_instance.worker_group IS 'Only workers of this group may claim it.';
COMMENT ON COLUMN sched.task_instance.workflow_priority IS 'Priority of the instance, 0 = highest.';
COMMENT ON COLUMN sched.task_instance.task_priority IS 'Priority of the task, 0 = highest.';
COMMENT ON COLUMN sched.task_instance.tenant IS 'OS user the worker runs it as, copied from the instance; NULL is the worker''s user.';
COMMENT ON COLUMN sched.task_instance.worker_id IS 'Worker that claimed it; NULL until claimed.';
COMMENT ON COLUMN sched.task_instance.claim_token IS 'Token of the claim call that took it: a retried call returns the same tasks instead of claiming others.';
COMMENT ON COLUMN sched.task_instance.exit_code IS 'Exit code the worker reported for the process (128 + the signal when a signal ended it); the attempt''s state comes from the outcome it reported with it.';
COMMENT ON COLUMN sched.task_instance.kill_requested IS 'Set by stop or failure strategy end; the worker kills the process group.';
COMMENT ON COLUMN sched.task_instance.resolved IS 'For a task with parameters, what its claim resolved: params (its own layer: task facts, upstream OUT values, local params) and settings (with ${...} and $[...] substituted). NULL for other tasks.';
COMMENT ON COLUMN sched.task_instance.out_params IS 'The declared OUT params as the attempt exported them (printed with setValue, else the default); NULL when it declares none.';
COMMENT ON COLUMN sched.task_instance.branch IS 'For a CONDITIONS or SWITCH attempt: ids of the successors on the branch it took (the others are skipped); NULL otherwise.';
COMMENT ON COLUMN sched.task_instance.recheck_at IS 'For a waiting DEPENDENT attempt: when the master evaluates it again (sooner when an instance it depends on ends); NULL otherwise.';
COMMENT ON COLUMN sched.task_instance.queued_at IS 'When the attempt became ready.';
COMMENT ON COLUMN sched.task_instance.started_at IS 'When a worker claimed it and started it.';
COMMENT ON COLUMN sched.task_instance.ended_at IS 'When the attempt reached a final state.';
COMMENT ON COLUMN sched.task_instance.element IS 'For an attempt of a DYNAMIC task''s element task: the element''s index, from 0 (its values: sched.dynamic_element); NULL otherwise.';

-- Locks the engine takes for the transaction, as row locks: advisory locks would be open to
-- anyone who can call pg_advisory_lock, and a user holding one could stall every start.
-- Nobody else can lock these rows (FOR UPDATE needs UPDATE privilege on the table).
CREATE TABLE sched.engine_lock (
    name text PRIMARY KEY
);
INSERT INTO sched.engine_lock VALUES ('running_limit'), ('role_anchor');
COMMENT ON TABLE sched.engine_lock IS 'One row per lock the engine takes for a transaction (running_limit: admission under sched.max_running_instances; role_anchor: granting the DROP ROLE anchor).';
COMMENT ON COLUMN sched.engine_lock.name IS 'The lock.';

CREATE TABLE sched.join_progress (
    workflow_instance_id bigint NOT NULL,
    task_id              bigint NOT NULL,
    deps_done            integer NOT NULL,
    deps_skipped         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_instance_id, task_id)
);
COMMENT ON TABLE sched.join_progress IS
    'For tasks with several upstream tasks: how many have succeeded so far in an instance. A counter keeps readiness O(1) per completion in wide DAGs.';
COMMENT ON COLUMN sched.join_progress.workflow_instance_id IS 'The workflow instance.';
COMMENT ON COLUMN sched.join_progress.task_id IS 'The downstream task definition.';
COMMENT ON COLUMN sched.join_progress.deps_done IS 'Upstream tasks that are done (succeeded, skipped, forbidden; for a CONDITIONS task also failed); the task is ready at dep_count.';
COMMENT ON COLUMN sched.join_progress.deps_skipped IS 'Of those, how many were skipped (or are successors a CONDITIONS or SWITCH task did not choose): at dep_count the task is skipped too.';

CREATE TABLE sched.command (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command_type         text NOT NULL CHECK (command_type IN (
        'start_process', 'start_current_task_process', 'recover_tolerance_fault_process',
        'recover_suspended_process', 'start_failure_task_process', 'complement_data', 'scheduler',
        'repeat_running', 'pause', 'stop', 'recover_waiting_thread', 'recover_serial_wait',
        'execute_task', 'force_success', 'kill_task', 'trigger')),
    workflow_id          bigint NOT NULL REFERENCES sched.workflow ON DELETE CASCADE,
    workflow_instance_id bigint REFERENCES sched.workflow_instance ON DELETE CASCADE,
    issued_by            text NOT NULL,
    issued_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    params               jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX command_by_instance ON sched.command (workflow_instance_id);
-- Deleting a workflow cascades here.
CREATE INDEX command_by_workflow ON sched.command (workflow_id);
COMMENT ON TABLE sched.command IS 'Every request that created or changed a workflow instance, with DolphinScheduler''s command type.';
COMMENT ON COLUMN sched.command.id IS 'Command id.';
COMMENT ON COLUMN sched.command.command_type IS 'DolphinScheduler command type in lower case, e.g. start_process, stop; force_success and kill_task (task operations DolphinScheduler records no command for) and trigger (a start by sched.triggers) are pg_sched''s.';
COMMENT ON COLUMN sched.command.workflow_id IS 'The workflow concerned.';
COMMENT ON COLUMN sched.command.workflow_instance_id IS 'The instance created or changed.';
COMMENT ON COLUMN sched.command.issued_by IS 'Name of the role that issued it.';
COMMENT ON COLUMN sched.command.issued_at IS 'When it was issued.';
COMMENT ON COLUMN sched.command.params IS 'Its parameters (start params and options, ...).';

-- Which instances' attempts have moved to the history.
ALTER TABLE sched.workflow_instance ADD COLUMN archived boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN sched.workflow_instance.archived IS 'Its task attempts were moved to sched.task_instance_history.';
CREATE INDEX workflow_instance_to_archive ON sched.workflow_instance (ended_at)
    WHERE ended_at IS NOT NULL AND NOT archived;
