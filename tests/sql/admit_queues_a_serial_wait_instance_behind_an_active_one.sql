-- _admit decides the first state of a new instance from its workflow's execution type and the
-- running limit: serial_wait waits behind an active instance, serial_discard is stopped,
-- serial_priority stops the active ones and runs, and past sched.max_running_instances an
-- instance waits for a thread.
BEGIN;
SELECT plan(10);

SELECT sched.create_workflow(format('{"name": "sqlt_%s", "execution_type": "%s",
                                      "tasks": [{"name": "a", "type": "shell", "script": "true"}]}', t, t)::jsonb)
FROM unnest(ARRAY['serial_wait', 'serial_discard', 'serial_priority', 'parallel']) t;
CREATE FUNCTION pg_temp.wf(name text) RETURNS bigint LANGUAGE sql
AS $$ SELECT id FROM sched.workflow WHERE workflow.name = 'sqlt_' || wf.name $$;
CREATE FUNCTION pg_temp.start(name text) RETURNS bigint LANGUAGE sql
AS $$ SELECT sched._start('postgres', 'sqlt_' || name, '{}', '{}', 'start_process', NULL) $$;

SELECT is(sched._admit(pg_temp.wf('serial_wait'), 'serial_wait', 'postgres'), 'running',
          'serial_wait with nothing active runs');
SELECT pg_temp.start('serial_wait');
SELECT is(sched._admit(pg_temp.wf('serial_wait'), 'serial_wait', 'postgres'), 'serial_wait',
          'serial_wait behind an active instance waits');
SELECT is((SELECT array_agg(state::text ORDER BY id) FROM sched.workflow_instance WHERE workflow_id = pg_temp.wf('serial_wait')),
          '{running}', '_admit alone creates nothing');

SELECT pg_temp.start('serial_discard');
SELECT is(sched._admit(pg_temp.wf('serial_discard'), 'serial_discard', 'postgres'), 'stopped',
          'serial_discard behind an active instance is stopped');

SELECT pg_temp.start('parallel');
SELECT is(sched._admit(pg_temp.wf('parallel'), 'parallel', 'postgres'), 'running',
          'parallel runs beside an active instance');

SELECT pg_temp.start('serial_priority');
SELECT is(sched._admit(pg_temp.wf('serial_priority'), 'serial_priority', 'postgres'), 'running',
          'serial_priority runs');
SELECT is((SELECT state::text FROM sched.workflow_instance WHERE workflow_id = pg_temp.wf('serial_priority')), 'stopped',
          'and the active instance, which had only a queued attempt, is stopped at once');
SELECT is((SELECT array_agg(ti.state::text || '/' || ti.kill_reason) FROM sched.task_instance ti
           JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id WHERE wi.workflow_id = pg_temp.wf('serial_priority')),
          '{killed/stop}', 'its queued attempt is killed for the stop');
SELECT is((SELECT params->>'reason' FROM sched.command WHERE workflow_id = pg_temp.wf('serial_priority') AND command_type = 'stop'),
          'serial_priority', 'with a stop command saying why');

-- Three instances run (serial_wait, serial_discard, parallel); the limit is three.
SET LOCAL sched.max_running_instances = 3;
SELECT is(sched._admit(pg_temp.wf('parallel'), 'parallel', 'postgres'), 'waiting_thread',
          'past sched.max_running_instances an instance waits for a thread');

SELECT * FROM finish();
ROLLBACK;
