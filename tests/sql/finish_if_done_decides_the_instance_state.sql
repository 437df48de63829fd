-- _finish_if_done is the only writer of an instance's final state: once no attempt is active,
-- ready_stop becomes stopped, ready_pause paused, else has_failure decides failed or
-- succeeded; it gathers the instance's OUT values and drops its join counters.
BEGIN;
SELECT plan(10);

SELECT sched.create_workflow('{"name": "sqlt_fin", "tasks": [
    {"name": "a", "type": "shell", "script": "true", "out": ["x"]},
    {"name": "b", "type": "shell", "script": "true", "out": ["x", "y"]}]}'::jsonb);
CREATE TEMP TABLE inst (name text PRIMARY KEY, id bigint);
INSERT INTO inst SELECT n, sched._start('postgres', 'sqlt_fin', '{}', '{}', 'start_process', NULL)
FROM unnest(ARRAY['busy', 'ok', 'failing', 'stopping', 'pausing']) n;
CREATE FUNCTION pg_temp.id(name text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM inst WHERE inst.name = id.name $$;
CREATE FUNCTION pg_temp.state(name text) RETURNS text LANGUAGE sql
AS $$ SELECT state::text FROM sched.workflow_instance WHERE id = pg_temp.id(name) $$;
-- Ends the instance's attempts as a worker's reports would, b after a.
CREATE FUNCTION pg_temp.end_attempts(instance text, how sched.task_state) RETURNS void LANGUAGE sql
AS $$ UPDATE sched.task_instance ti
         SET state = how, ended_at = now() + CASE td.name WHEN 'a' THEN interval '1 s' ELSE interval '2 s' END,
             out_params = CASE td.name WHEN 'a' THEN '{"x": "from a"}'::jsonb ELSE '{"x": "from b", "y": "1"}' END
        FROM sched.task_definition td
       WHERE td.id = ti.task_id AND ti.workflow_instance_id = pg_temp.id(instance) $$;

SELECT sched._finish_if_done(ARRAY(SELECT id FROM inst));
SELECT is(ARRAY(SELECT pg_temp.state(name) FROM inst ORDER BY id), '{running,running,running,running,running}',
          'an instance with an active attempt goes on');

UPDATE sched.task_instance SET state = 'succeeded', ended_at = now()
WHERE workflow_instance_id = pg_temp.id('busy') AND task_id = (SELECT min(task_id) FROM sched.task_instance);
SELECT sched._finish_if_done(ARRAY[pg_temp.id('busy')]);
SELECT is(pg_temp.state('busy'), 'running', 'one of two attempts done: still running');

INSERT INTO sched.join_progress (workflow_instance_id, task_id, deps_done, deps_skipped)
SELECT pg_temp.id('ok'), min(task_id), 1, 0 FROM sched.task_instance;
SELECT pg_temp.end_attempts('ok', 'succeeded');
SELECT sched._finish_if_done(ARRAY[pg_temp.id('ok')]);
SELECT is(pg_temp.state('ok'), 'succeeded', 'all done, no failure: succeeded');
SELECT is((SELECT ended_at FROM sched.workflow_instance WHERE id = pg_temp.id('ok')), now(), 'with its end time');
SELECT is((SELECT out_params FROM sched.workflow_instance WHERE id = pg_temp.id('ok')), '{"x": "from b", "y": "1"}'::jsonb,
          'OUT values of every task, the last to end winning a name');
SELECT is((SELECT count(*) FROM sched.join_progress WHERE workflow_instance_id = pg_temp.id('ok')), 0::bigint,
          'its join counters are dropped');

SELECT pg_temp.end_attempts('failing', 'failed');
UPDATE sched.workflow_instance SET has_failure = true WHERE id = pg_temp.id('failing');
SELECT pg_temp.end_attempts('stopping', 'killed');
UPDATE sched.workflow_instance SET state = 'ready_stop', has_failure = true WHERE id = pg_temp.id('stopping');
SELECT pg_temp.end_attempts('pausing', 'succeeded');
UPDATE sched.workflow_instance SET state = 'ready_pause' WHERE id = pg_temp.id('pausing');
SELECT sched._finish_if_done(ARRAY[pg_temp.id('failing'), pg_temp.id('stopping'), pg_temp.id('pausing')]);
SELECT is(pg_temp.state('failing'), 'failed', 'a failure decides failed');
SELECT is(pg_temp.state('stopping'), 'stopped', 'ready_stop becomes stopped, whatever failed');
SELECT is(pg_temp.state('pausing'), 'paused', 'ready_pause becomes paused');

UPDATE sched.workflow_instance SET has_failure = true WHERE id = pg_temp.id('ok');
SELECT sched._finish_if_done(ARRAY[pg_temp.id('ok')]);
SELECT is(pg_temp.state('ok'), 'succeeded', 'a finished instance is left as it is');

SELECT * FROM finish();
ROLLBACK;
