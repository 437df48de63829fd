-- _master_tick declares workers silent for sched.worker_timeout dead (silence counted from no
-- earlier than the master's start), and _fail_over turns their attempts need_fault_tolerance,
-- queueing a new attempt of each task, unless the instance is being stopped.
BEGIN;
SELECT plan(10);

SELECT sched.create_workflow('{"name": "sqlt_lost", "tasks": [
    {"name": "a", "type": "shell", "script": "true"}, {"name": "b", "type": "shell", "script": "true"}]}'::jsonb);
CREATE TEMP TABLE inst (name text PRIMARY KEY, id bigint);
INSERT INTO inst SELECT n, sched._start('postgres', 'sqlt_lost', '{}', '{}', 'start_process', NULL)
FROM unnest(ARRAY['running', 'stopping']) n;
SELECT set_config('sqlt.w', sched._register_worker('postgres', 'sqlt-w', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
SELECT count(*) FROM sched._claim(current_setting('sqlt.w')::bigint, '{default}', 10, NULL);
UPDATE sched.task_instance SET kill_requested = true, kill_reason = 'stop'
WHERE workflow_instance_id = (SELECT id FROM inst WHERE name = 'stopping');
UPDATE sched.workflow_instance SET state = 'ready_stop' WHERE id = (SELECT id FROM inst WHERE name = 'stopping');
CREATE FUNCTION pg_temp.attempts(instance text) RETURNS text[] LANGUAGE sql
AS $$ SELECT array_agg(td.name || ' ' || ti.attempt || ' ' || ti.state || coalesce(' ' || ti.kill_reason, '') ORDER BY ti.id)
      FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
      WHERE ti.workflow_instance_id = (SELECT id FROM inst WHERE inst.name = instance) $$;

UPDATE sched.worker SET last_heartbeat = now() - interval '1 min' WHERE id = current_setting('sqlt.w')::bigint;
SELECT is(sched._master_tick('30 s', now() - interval '10 s'), 0,
          'a worker silent since before the master started gets a full timeout from the start');
SELECT is(sched._master_tick('30 s', now() - interval '1 h'), 1, 'silent for longer than the timeout: declared dead');
SELECT is((SELECT ARRAY[alive::text, ended_why] FROM sched.worker WHERE id = current_setting('sqlt.w')::bigint),
          '{false,timed_out}', 'not alive, ended for the timeout');

SELECT is(pg_temp.attempts('running'), '{"a 1 need_fault_tolerance failover","b 1 need_fault_tolerance failover","a 2 queued","b 2 queued"}',
          'its attempts are lost, and each task queued again as the next attempt');
SELECT is((SELECT DISTINCT retry FROM sched.task_instance WHERE workflow_instance_id = (SELECT id FROM inst WHERE name = 'running')),
          0, 'a failover spends no retry');
SELECT is((SELECT params FROM sched.command WHERE command_type = 'recover_tolerance_fault_process'
           AND workflow_instance_id = (SELECT id FROM inst WHERE name = 'running')),
          jsonb_build_object('workers', jsonb_build_array(current_setting('sqlt.w')::bigint)),
          'recorded as recover_tolerance_fault_process, naming the worker');
SELECT is(pg_temp.attempts('stopping'), '{"a 1 need_fault_tolerance stop","b 1 need_fault_tolerance stop"}',
          'an instance being stopped gets no new attempt');
SELECT is((SELECT state::text FROM sched.workflow_instance WHERE id = (SELECT id FROM inst WHERE name = 'stopping')),
          'stopped', 'and, nothing being active, is stopped');

-- A live worker's attempts it does not run (as unknown_tasks reports): one it was asked to
-- kill ends as the kill would have ended it.
SELECT set_config('sqlt.w2', sched._register_worker('postgres', 'sqlt-w2', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
SELECT count(*) FROM sched._claim(current_setting('sqlt.w2')::bigint, '{default}', 10, NULL);
UPDATE sched.task_instance SET kill_requested = true, kill_reason = 'user' WHERE state = 'running' AND attempt = 2
  AND task_id = (SELECT id FROM sched.task_definition WHERE name = 'a' AND workflow_version_id =
                 (SELECT workflow_version_id FROM sched.workflow_instance WHERE id = (SELECT id FROM inst WHERE name = 'running')));
SELECT sched._fail_over(ARRAY[current_setting('sqlt.w2')::bigint],
                        ARRAY(SELECT id FROM sched.task_instance WHERE state = 'running' ORDER BY id));
SELECT is((pg_temp.attempts('running'))[3:], '{"a 2 killed user","b 2 need_fault_tolerance failover","b 3 queued"}',
          'a live worker''s lost attempts: killed if a kill was asked, else failed over');
SELECT is((SELECT alive FROM sched.worker WHERE id = current_setting('sqlt.w2')::bigint), true,
          'the live worker stays registered');

SELECT * FROM finish();
ROLLBACK;
