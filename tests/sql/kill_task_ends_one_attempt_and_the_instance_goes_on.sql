-- _kill_task: a queued attempt is killed at once and counts as a failure of the instance; a
-- running one is asked to die; an attempt that is not active refuses.
BEGIN;
SELECT plan(7);

SELECT sched.create_workflow('{"name": "sqlt_kill", "tasks": [
    {"name": "a", "type": "shell", "script": "true"},
    {"name": "b", "type": "shell", "script": "true", "worker_group": "sqlt-nobody"},
    {"name": "after_b", "type": "shell", "script": "true", "deps": ["b"]}]}'::jsonb);
SELECT set_config('sqlt.inst', sched._start('postgres', 'sqlt_kill', '{}', '{}', 'start_process', NULL)::text, true);
SELECT set_config('sqlt.w', sched._register_worker('postgres', 'sqlt-w', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
SELECT count(*) FROM sched._claim(current_setting('sqlt.w')::bigint, '{default}', 10, NULL);
CREATE FUNCTION pg_temp.attempt(task text) RETURNS sched.task_instance LANGUAGE sql
AS $$ SELECT ti.* FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
      WHERE ti.workflow_instance_id = current_setting('sqlt.inst')::bigint AND td.name = task ORDER BY ti.id DESC LIMIT 1 $$;

SELECT sched._kill_task('postgres', (pg_temp.attempt('b')).id);
SELECT is(ARRAY[(pg_temp.attempt('b')).state::text, (pg_temp.attempt('b')).kill_reason], '{killed,user}',
          'a queued attempt is killed at once, by the user');
SELECT is((SELECT has_failure FROM sched.workflow_instance WHERE id = current_setting('sqlt.inst')::bigint), true,
          'a killed task is a failure of the instance');
SELECT is((SELECT state::text FROM sched.workflow_instance WHERE id = current_setting('sqlt.inst')::bigint), 'running',
          'the instance goes on with its other tasks');
SELECT is((pg_temp.attempt('after_b')).id, NULL, 'the killed task''s successor does not run');

SELECT sched._kill_task('postgres', (pg_temp.attempt('a')).id);
SELECT is(ARRAY[(pg_temp.attempt('a')).state::text, (pg_temp.attempt('a')).kill_requested::text], '{running,true}',
          'a running attempt is asked to die');
SELECT is((SELECT count(*) FROM sched.command WHERE workflow_instance_id = current_setting('sqlt.inst')::bigint
           AND command_type = 'kill_task'), 2::bigint, 'each kill is recorded');
SELECT throws_ok(format('SELECT sched._kill_task(%L, %s)', 'postgres', (pg_temp.attempt('b')).id), '55000',
                 format('task instance %s is killed; kill_task applies to delayed, queued, dispatched or running attempts', (pg_temp.attempt('b')).id),
                 'a finished attempt refuses');

SELECT * FROM finish();
ROLLBACK;
