-- pg_sched: a DAG workflow scheduler inside PostgreSQL. docs/architecture.md is the map: the
-- layers of sql/ (this folder holds the types and tables, 2_kernel the helpers every layer
-- uses, 3_engine the state transitions, 4_master what the master does on time, 5_protocol
-- what workers call, 6_views what people and BI tools read, 7_api what users call, 8_grants
-- who may call what), the vocabulary, and the life of a task and of a cron fire.
--
-- State changes happen in the transaction of whoever causes them (a user's start or stop, a
-- worker's completion, the master's failover); the master background worker only reacts to time.
--
-- This file: the four roles the extension's privileges are granted to, and the types that
-- are not states (states, priorities and the name rule are in 01_vocabulary.sql, generated
-- from core).

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
    -- The role of the console's connection for API tokens (7_api/api_tokens.sql): it may turn a
    -- valid token into its creator's identity, and nothing else.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sched_api') THEN
        CREATE ROLE sched_api NOLOGIN;
    END IF;
END
$roles$;

CREATE TYPE sched.failure_strategy AS ENUM ('continue', 'end');
COMMENT ON TYPE sched.failure_strategy IS
    'What a failed task does to the rest of its workflow instance: continue lets independent branches finish, end kills running tasks and starts nothing new.';
