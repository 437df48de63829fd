-- _stop_workflow: the instance is ready_stop, attempts not started are killed at once, running
-- ones are asked to die (their worker hears of it on sched_kill); once they have, the instance
-- is stopped. A paused instance is stopped at once; a finished one refuses.
BEGIN;
SELECT plan(9);

SELECT sched.create_workflow('{"name": "sqlt_stop", "tasks": [
    {"name": "a", "type": "shell", "script": "true"},
    {"name": "b", "type": "shell", "script": "true", "worker_group": "sqlt-nobody"}]}'::jsonb);
CREATE TEMP TABLE inst (name text PRIMARY KEY, id bigint);
INSERT INTO inst SELECT n, sched._start('postgres', 'sqlt_stop', '{}', '{}', 'start_process', NULL)
FROM unnest(ARRAY['running', 'paused']) n;
SELECT set_config('sqlt.w', sched._register_worker('postgres', 'sqlt-w', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
SELECT count(*) FROM sched._claim(current_setting('sqlt.w')::bigint, '{default}', 10, NULL);
CREATE FUNCTION pg_temp.id(instance text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM inst WHERE name = instance $$;
CREATE FUNCTION pg_temp.attempts(instance text) RETURNS text[] LANGUAGE sql
AS $$ SELECT array_agg(td.name || ' ' || ti.state || ' ' || ti.kill_requested || coalesce(' ' || ti.kill_reason, '') ORDER BY ti.id)
      FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
      WHERE ti.workflow_instance_id = pg_temp.id(instance) $$;
CREATE FUNCTION pg_temp.state(instance text) RETURNS text LANGUAGE sql
AS $$ SELECT state::text FROM sched.workflow_instance WHERE id = pg_temp.id(instance) $$;

SELECT sched._stop_workflow('postgres', pg_temp.id('running'));
SELECT is(pg_temp.state('running'), 'ready_stop', 'a stop with a task running: ready_stop');
SELECT is(pg_temp.attempts('running'), '{"a running true stop","b killed false stop"}',
          'the running attempt is asked to die, the queued one is killed at once');
SELECT sched._stop_workflow('postgres', pg_temp.id('running'));
SELECT is((SELECT count(*) FROM sched.command WHERE workflow_instance_id = pg_temp.id('running') AND command_type = 'stop'),
          1::bigint, 'a second stop while it stops does nothing');
SELECT is((SELECT array_agg(t) FROM sched._kill_requests('postgres', current_setting('sqlt.w')::bigint) t),
          ARRAY[(SELECT id FROM sched.task_instance WHERE workflow_instance_id = pg_temp.id('running') AND state = 'running')],
          'the worker reads the kill request');

SELECT sched._complete(current_setting('sqlt.w')::bigint, ARRAY[id], '{137}', ARRAY[now()], ARRAY[now()], ARRAY[NULL::jsonb], '{killed}')
FROM sched.task_instance WHERE workflow_instance_id = pg_temp.id('running') AND state = 'running';
SELECT is(pg_temp.state('running'), 'stopped', 'killed: the instance is stopped');
SELECT throws_ok(format('SELECT sched._stop_workflow(%L, %s)', 'postgres', pg_temp.id('running')), '55000',
                 format('workflow instance %s is already stopped; stop applies to unfinished or paused instances', pg_temp.id('running')),
                 'a stopped instance refuses another stop');

SELECT sched._pause_workflow('postgres', pg_temp.id('paused'));
SELECT sched._complete(current_setting('sqlt.w')::bigint, ARRAY[id], '{0}', ARRAY[now()], ARRAY[now()], ARRAY[NULL::jsonb])
FROM sched.task_instance WHERE workflow_instance_id = pg_temp.id('paused') AND state = 'running';
SELECT is(pg_temp.state('paused'), 'paused', 'the other instance is paused');
SELECT sched._stop_workflow('postgres', pg_temp.id('paused'));
SELECT is(pg_temp.state('paused'), 'stopped', 'a paused instance is stopped at once');
SELECT is(pg_temp.attempts('paused'), '{"a succeeded false","b paused false"}', 'its attempts stay as they were, for resume');

SELECT * FROM finish();
ROLLBACK;
