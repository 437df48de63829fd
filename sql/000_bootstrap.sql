-- pg_sched: a DAG workflow scheduler inside PostgreSQL.
--
-- Vocabulary (DolphinScheduler's names in brackets):
--   workflow          a named DAG of tasks; every create_workflow(replace) adds a version [process definition]
--   task definition   one node of one workflow version [task node]
--   workflow instance one run of one workflow version [process instance]
--   task instance     one attempt of one task inside one workflow instance; retries and failovers
--                     append new attempts instead of rewriting the old one [task instance]
--   command           a recorded request that created or changed a workflow instance [command]
--   worker            an external sched-worker process that claims and runs task instances [worker]
--
-- State changes happen in the transaction of whoever causes them (a user's start or stop, a
-- worker's completion, the master's failover); the master background worker only reacts to time.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sched_admin') THEN
        CREATE ROLE sched_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sched_user') THEN
        CREATE ROLE sched_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sched_worker') THEN
        CREATE ROLE sched_worker NOLOGIN;
    END IF;
END
$roles$;

CREATE TYPE sched.workflow_state AS ENUM (
    'submitted', 'serial_wait', 'waiting_thread', 'running', 'ready_pause', 'paused',
    'ready_stop', 'stopped', 'failed', 'succeeded'
);
COMMENT ON TYPE sched.workflow_state IS
    'State of a workflow instance. Finished states: paused, stopped, failed, succeeded.';

CREATE TYPE sched.task_state AS ENUM (
    'delayed', 'queued', 'dispatched', 'running', 'succeeded', 'failed', 'killed', 'paused',
    'forced_success', 'need_fault_tolerance', 'skipped', 'forbidden'
);
COMMENT ON TYPE sched.task_state IS
    'State of one task attempt. Active: delayed, queued, dispatched, running; every other state is final for that attempt. skipped: on a branch a CONDITIONS or SWITCH task did not take (or all its upstream tasks were skipped); forbidden: a task with enabled false, passed through. Neither counts for or against the instance.';

-- The state sets, named once. Immutable, so a query is planned with the constant array and an
-- index whose predicate lists the same states still serves it.
CREATE FUNCTION sched._task_states_active() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{delayed,queued,dispatched,running}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_active() IS
    'Internal: the states of an attempt that is not over (task_instance_active''s predicate).';
CREATE FUNCTION sched._task_states_claimed() RETURNS sched.task_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{dispatched,running}'::sched.task_state[] $$;
COMMENT ON FUNCTION sched._task_states_claimed() IS
    'Internal: the states of an attempt a worker holds (task_instance_claimed''s predicate).';
CREATE FUNCTION sched._workflow_states_finished() RETURNS sched.workflow_state[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{paused,stopped,failed,succeeded}'::sched.workflow_state[] $$;
COMMENT ON FUNCTION sched._workflow_states_finished() IS
    'Internal: the states of a workflow instance that has ended (workflow_instance_unfinished excludes them).';

CREATE TYPE sched.failure_strategy AS ENUM ('continue', 'end');
COMMENT ON TYPE sched.failure_strategy IS
    'What a failed task does to the rest of its workflow instance: continue lets independent branches finish, end kills running tasks and starts nothing new.';
