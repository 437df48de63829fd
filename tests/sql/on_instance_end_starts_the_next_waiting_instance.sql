-- When an instance ends, _on_instance_end (through _finish_if_done) starts the one that waited
-- for it: the oldest serial_wait instance of the same workflow, or, under
-- sched.max_running_instances, the first waiting_thread instance by priority.
BEGIN;
SELECT plan(9);

SELECT sched.create_workflow('{"name": "sqlt_serial", "execution_type": "serial_wait",
                               "tasks": [{"name": "a", "type": "shell", "script": "true"}]}'::jsonb);
SELECT sched.create_workflow('{"name": "sqlt_par", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}'::jsonb);
CREATE TEMP TABLE inst (name text PRIMARY KEY, id bigint);
CREATE FUNCTION pg_temp.state(name text) RETURNS text LANGUAGE sql
AS $$ SELECT wi.state::text FROM sched.workflow_instance wi JOIN inst ON inst.id = wi.id WHERE inst.name = state.name $$;
CREATE FUNCTION pg_temp.id(name text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM inst WHERE inst.name = id.name $$;
-- Ends an instance without a worker: its attempts are only queued, so a stop ends it at once.
CREATE FUNCTION pg_temp.stop(name text) RETURNS void LANGUAGE sql
AS $$ SELECT sched._stop_workflow('postgres', pg_temp.id(name)) $$;

INSERT INTO inst SELECT 'first', sched._start('postgres', 'sqlt_serial', '{}', '{}', 'start_process', NULL);
INSERT INTO inst SELECT 'second', sched._start('postgres', 'sqlt_serial', '{}', '{}', 'start_process', NULL);
INSERT INTO inst SELECT 'third', sched._start('postgres', 'sqlt_serial', '{}', '{}', 'start_process', NULL);
SELECT is(ARRAY[pg_temp.state('first'), pg_temp.state('second'), pg_temp.state('third')],
          '{running,serial_wait,serial_wait}', 'one serial_wait instance runs, the others wait');
SELECT is((SELECT count(*) FROM sched.task_instance WHERE workflow_instance_id IN (pg_temp.id('second'), pg_temp.id('third'))),
          0::bigint, 'a waiting instance has no attempt');

SELECT pg_temp.stop('first');
SELECT is(ARRAY[pg_temp.state('first'), pg_temp.state('second'), pg_temp.state('third')],
          '{stopped,running,serial_wait}', 'the end of the first starts the oldest waiting one, only that one');
SELECT is((SELECT array_agg(state::text) FROM sched.task_instance WHERE workflow_instance_id = pg_temp.id('second')),
          '{queued}', 'its root task is queued');
SELECT is((SELECT command_type FROM sched.command WHERE workflow_instance_id = pg_temp.id('second') ORDER BY id DESC LIMIT 1),
          'recover_serial_wait', 'recorded as recover_serial_wait');

-- The running limit: with one instance allowed, a parallel start waits for a thread.
SET LOCAL sched.max_running_instances = 1;
INSERT INTO inst SELECT 'par', sched._start('postgres', 'sqlt_par', '{}', '{}', 'start_process', NULL);
SELECT is(pg_temp.state('par'), 'waiting_thread', 'past the running limit a start waits for a thread');
SELECT pg_temp.stop('second');
SELECT is(ARRAY[pg_temp.state('second'), pg_temp.state('third'), pg_temp.state('par')],
          '{stopped,running,waiting_thread}',
          'the workflow''s own serial_wait instance goes first, taking the free thread');
SELECT pg_temp.stop('third');
SELECT is(pg_temp.state('par'), 'running', 'the next end starts the waiting_thread instance');
SELECT is((SELECT command_type FROM sched.command WHERE workflow_instance_id = pg_temp.id('par') ORDER BY id DESC LIMIT 1),
          'recover_waiting_thread', 'recorded as recover_waiting_thread');

SELECT * FROM finish();
ROLLBACK;
