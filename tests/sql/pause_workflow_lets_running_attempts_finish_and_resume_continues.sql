-- _pause_workflow: the instance is ready_pause, what has not started is paused, what runs
-- finishes; once nothing runs the instance is paused. _resume_workflow (through _continue)
-- runs it again from where it stood: the paused tasks and the successors of those that
-- finished meanwhile.
BEGIN;
SELECT plan(9);

SELECT sched.create_workflow('{"name": "sqlt_pause", "tasks": [
    {"name": "a", "type": "shell", "script": "true"},
    {"name": "b", "type": "shell", "script": "true", "worker_group": "sqlt-nobody"},
    {"name": "after_a", "type": "shell", "script": "true", "deps": ["a"]}]}'::jsonb);
SELECT set_config('sqlt.inst', sched._start('postgres', 'sqlt_pause', '{}', '{}', 'start_process', NULL)::text, true);
SELECT set_config('sqlt.w', sched._register_worker('postgres', 'sqlt-w', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
SELECT count(*) FROM sched._claim(current_setting('sqlt.w')::bigint, '{default}', 10, NULL);
CREATE FUNCTION pg_temp.attempts() RETURNS text[] LANGUAGE sql
AS $$ SELECT array_agg(td.name || ' ' || ti.attempt || ' ' || ti.state ORDER BY ti.id)
      FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
      WHERE ti.workflow_instance_id = current_setting('sqlt.inst')::bigint $$;
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql
AS $$ SELECT state::text FROM sched.workflow_instance WHERE id = current_setting('sqlt.inst')::bigint $$;

SELECT sched._pause_workflow('postgres', current_setting('sqlt.inst')::bigint);
SELECT is(pg_temp.state(), 'ready_pause', 'a pause with a task running: ready_pause');
SELECT is(pg_temp.attempts(), '{"a 1 running","b 1 paused"}', 'the queued attempt is paused, the running one runs on');
SELECT is((SELECT command_type FROM sched.command WHERE workflow_instance_id = current_setting('sqlt.inst')::bigint
           ORDER BY id DESC LIMIT 1), 'pause', 'recorded as a pause command');

SELECT sched._complete(current_setting('sqlt.w')::bigint, ARRAY[id], '{0}', ARRAY[now()], ARRAY[now()], ARRAY[NULL::jsonb])
FROM sched.task_instance WHERE workflow_instance_id = current_setting('sqlt.inst')::bigint AND state = 'running';
SELECT is(pg_temp.state(), 'paused', 'once it ends, the instance is paused');
SELECT is(pg_temp.attempts(), '{"a 1 succeeded","b 1 paused"}', 'and its successor did not start');
SELECT throws_ok(format('SELECT sched._pause_workflow(%L, %s)', 'postgres', current_setting('sqlt.inst')),
                 '55000', NULL, 'a paused instance cannot be paused again');

SELECT sched._resume_workflow('postgres', current_setting('sqlt.inst')::bigint);
SELECT is(pg_temp.state(), 'running', 'resume: running again');
SELECT is(pg_temp.attempts(), '{"a 1 succeeded","b 1 paused","b 2 queued","after_a 1 queued"}',
          'the paused task gets a new attempt, and the finished task''s successor its first');
SELECT is((SELECT command_type FROM sched.command WHERE workflow_instance_id = current_setting('sqlt.inst')::bigint
           ORDER BY id DESC LIMIT 1), 'recover_suspended_process', 'recorded as recover_suspended_process');

SELECT * FROM finish();
ROLLBACK;
