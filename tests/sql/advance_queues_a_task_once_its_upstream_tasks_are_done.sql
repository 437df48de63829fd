-- _advance, run by every completion: a task with one upstream task is queued once that one is
-- done, a join once all of its upstream tasks are (counted in join_progress); a failed attempt
-- with retries left gets a new one; a failure under failure_strategy "end" kills the rest.
BEGIN;
SELECT plan(12);

SELECT sched.create_workflow('{"name": "sqlt_dag", "tasks": [
    {"name": "a", "type": "shell", "script": "true"},
    {"name": "b", "type": "shell", "script": "true"},
    {"name": "after_a", "type": "shell", "script": "true", "deps": ["a"]},
    {"name": "join", "type": "shell", "script": "true", "deps": ["a", "b"]}]}'::jsonb);
SELECT sched.create_workflow('{"name": "sqlt_retry", "failure_strategy": "end", "tasks": [
    {"name": "flaky", "type": "shell", "script": "true", "retries": 1, "retry_interval": "30 s"},
    {"name": "slow", "type": "shell", "script": "true"},
    {"name": "never", "type": "shell", "script": "true", "deps": ["flaky"]}]}'::jsonb);
CREATE TEMP TABLE inst (name text PRIMARY KEY, id bigint);
INSERT INTO inst SELECT w, sched._start('postgres', 'sqlt_' || w, '{}', '{}', 'start_process', NULL)
FROM unnest(ARRAY['dag', 'retry']) w;
SELECT set_config('sqlt.w', sched._register_worker('postgres', 'sqlt-w', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
-- The instance's attempts as "task state", oldest first.
CREATE FUNCTION pg_temp.attempts(instance text) RETURNS text[] LANGUAGE sql
AS $$ SELECT array_agg(td.name || ' ' || ti.state ORDER BY ti.id)
      FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
      WHERE ti.workflow_instance_id = (SELECT id FROM inst WHERE inst.name = instance) $$;
-- Claims what is queued, then reports these tasks' running attempts with this exit code.
CREATE FUNCTION pg_temp.run(instance text, tasks text[], code integer) RETURNS void LANGUAGE sql
AS $$ SELECT count(*) FROM sched._claim(current_setting('sqlt.w')::bigint, '{default}', 100, NULL);
      SELECT sched._complete(current_setting('sqlt.w')::bigint, array_agg(ti.id), array_fill(code, ARRAY[count(*)::integer]),
                             array_fill(now(), ARRAY[count(*)::integer]), array_fill(now(), ARRAY[count(*)::integer]),
                             array_fill(NULL::jsonb, ARRAY[count(*)::integer]))
      FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
      WHERE ti.workflow_instance_id = (SELECT id FROM inst WHERE inst.name = instance)
        AND td.name = ANY(tasks) AND ti.state = 'running' $$;
CREATE FUNCTION pg_temp.state(instance text) RETURNS text LANGUAGE sql
AS $$ SELECT state::text FROM sched.workflow_instance WHERE id = (SELECT id FROM inst WHERE inst.name = instance) $$;

SELECT is(pg_temp.attempts('dag'), '{"a queued","b queued"}', 'the roots are queued at the start');
SELECT pg_temp.run('dag', '{a}', 0);
SELECT is(pg_temp.attempts('dag'), '{"a succeeded","b running","after_a queued"}',
          'a done: its only successor is queued, the join is not');
SELECT is((SELECT deps_done FROM sched.join_progress jp JOIN sched.task_definition td ON td.id = jp.task_id
           WHERE td.name = 'join' AND jp.workflow_instance_id = (SELECT id FROM inst WHERE name = 'dag')),
          1, 'the join counts one of two upstream tasks done');
SELECT pg_temp.run('dag', '{b}', 0);
SELECT is(pg_temp.attempts('dag'), '{"a succeeded","b succeeded","after_a running","join queued"}',
          'b done: the join is queued');
SELECT pg_temp.run('dag', '{after_a,join}', 0);
SELECT is(pg_temp.state('dag'), 'succeeded', 'all done: the instance succeeded');
SELECT is((SELECT count(*) FROM sched.join_progress WHERE workflow_instance_id = (SELECT id FROM inst WHERE name = 'dag')),
          0::bigint, 'and its join counters are gone');

SELECT pg_temp.run('retry', '{flaky}', 1);
SELECT is(pg_temp.attempts('retry'), '{"flaky failed","slow running","flaky delayed"}',
          'a failure with a retry left: a second attempt waits its retry interval');
SELECT is((SELECT array[attempt, retry] FROM sched.task_instance
           WHERE workflow_instance_id = (SELECT id FROM inst WHERE name = 'retry') ORDER BY id DESC LIMIT 1),
          '{2,1}', 'as attempt 2, retry 1');
SELECT is((SELECT has_failure FROM sched.workflow_instance WHERE id = (SELECT id FROM inst WHERE name = 'retry')),
          false, 'a failure that is retried is not the instance''s failure');
-- As the master's tick does once the retry interval has passed.
UPDATE sched.task_instance SET state = 'queued', not_before = NULL WHERE state = 'delayed';
SELECT pg_temp.run('retry', '{flaky}', 1);
SELECT is(pg_temp.attempts('retry'), '{"flaky failed","slow running","flaky failed"}',
          'retries spent: the failure stands and no successor starts');
SELECT is((SELECT array[kill_requested::text, kill_reason] FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
           WHERE td.name = 'slow' AND ti.workflow_instance_id = (SELECT id FROM inst WHERE name = 'retry')),
          '{true,failure_strategy_end}', 'under "end" the running task is asked to die');
SELECT pg_temp.run('retry', '{slow}', 137);
SELECT is(pg_temp.state('retry'), 'failed', 'and once it has, the instance failed');

SELECT * FROM finish();
ROLLBACK;
