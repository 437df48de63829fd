-- _complete, behind the worker protocol's complete_tasks: the outcome the worker reports decides
-- the attempt's state (killed is failed when the kill was for the attempt's timeout, timed_out
-- is failed for the timeout); a report without an outcome reads its exit code, 0 succeeded and
-- anything else failed, with no meaning given to 137 or 124; only the worker holding the lease
-- is heard, a repeated report changes nothing, and one for an attempt already failed over is
-- kept aside in sched.late_report.
BEGIN;
SELECT plan(15);

SELECT sched.create_workflow('{"name": "sqlt_codes", "tasks": [
    {"name": "zero", "type": "shell", "script": "true"},
    {"name": "one", "type": "shell", "script": "false"},
    {"name": "sigkill", "type": "shell", "script": "true"},
    {"name": "timed_kill", "type": "shell", "script": "true"},
    {"name": "timeout", "type": "shell", "script": "true", "timeout": {"after": "1 s", "strategy": "fail"}},
    {"name": "lost", "type": "shell", "script": "true"},
    {"name": "plain_zero", "type": "shell", "script": "true"},
    {"name": "plain_137", "type": "shell", "script": "true"}]}'::jsonb);
SELECT set_config('sqlt.inst', sched._start('postgres', 'sqlt_codes', '{}', '{}', 'start_process', NULL)::text, true);
SELECT set_config('sqlt.w1', sched._register_worker('postgres', 'sqlt-w1', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
SELECT set_config('sqlt.w2', sched._register_worker('postgres', 'sqlt-w2', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
CREATE FUNCTION pg_temp.w(n integer) RETURNS bigint LANGUAGE sql AS $$ SELECT current_setting('sqlt.w' || n)::bigint $$;
CREATE FUNCTION pg_temp.attempt(task text) RETURNS sched.task_instance LANGUAGE sql
AS $$ SELECT ti.* FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
      WHERE ti.workflow_instance_id = current_setting('sqlt.inst')::bigint AND td.name = task ORDER BY ti.id DESC LIMIT 1 $$;
CREATE FUNCTION pg_temp.report(worker bigint, task text, exit_code integer, outcome text) RETURNS integer LANGUAGE sql
AS $$ SELECT accepted FROM sched._complete(worker, ARRAY[(pg_temp.attempt(task)).id], ARRAY[exit_code],
                                           ARRAY[now() - interval '1 h'], ARRAY[now()], ARRAY[NULL::jsonb],
                                           CASE WHEN outcome IS NULL THEN '{}' ELSE ARRAY[outcome] END) $$;

SELECT is((SELECT count(*) FROM sched._claim(pg_temp.w(1), '{default}', 10, NULL)), 8::bigint, 'worker 1 claims all eight');

SELECT is(pg_temp.report(pg_temp.w(2), 'zero', 0, 'succeeded'), 0, 'a report from a worker without the lease is not accepted');
SELECT is((pg_temp.attempt('zero')).state::text, 'running', 'and changes nothing');

SELECT is(pg_temp.report(pg_temp.w(1), 'zero', 0, 'succeeded'), 1, 'the lease holder''s report is accepted');
SELECT is(ARRAY[(pg_temp.attempt('zero')).state::text, (pg_temp.attempt('zero')).exit_code::text], '{succeeded,0}',
          'succeeded: succeeded, the exit code kept');
SELECT is((pg_temp.attempt('zero')).started_at, now(), 'a start before the claim is read as the claim');
SELECT is(pg_temp.report(pg_temp.w(1), 'zero', 1, 'failed'), 0, 'a repeated report is not accepted again');

SELECT pg_temp.report(pg_temp.w(1), 'one', 1, 'failed');
SELECT is((pg_temp.attempt('one')).state::text, 'failed', 'failed: failed');

SELECT pg_temp.report(pg_temp.w(1), 'sigkill', 137, 'killed');
SELECT is((pg_temp.attempt('sigkill')).state::text, 'killed', 'killed: killed');

UPDATE sched.task_instance SET kill_requested = true, kill_reason = 'timeout' WHERE id = (pg_temp.attempt('timed_kill')).id;
SELECT pg_temp.report(pg_temp.w(1), 'timed_kill', 137, 'killed');
SELECT is((pg_temp.attempt('timed_kill')).state::text, 'failed', 'killed at the master''s request for the timeout: failed, so it may be retried');

UPDATE sched.task_instance SET timeout_at = now() - interval '1 s' WHERE id = (pg_temp.attempt('timeout')).id;
SELECT pg_temp.report(pg_temp.w(1), 'timeout', 124, 'timed_out');
SELECT is(ARRAY[(pg_temp.attempt('timeout')).state::text, (pg_temp.attempt('timeout')).kill_reason],
          '{failed,timeout}', 'timed_out past the timeout: failed for the timeout');

SELECT pg_temp.report(pg_temp.w(1), 'plain_zero', 0, NULL);
SELECT is((pg_temp.attempt('plain_zero')).state::text, 'succeeded', 'no outcome, exit code 0: succeeded');
SELECT pg_temp.report(pg_temp.w(1), 'plain_137', 137, NULL);
SELECT is((pg_temp.attempt('plain_137')).state::text, 'failed', 'no outcome, exit code 137: failed, not killed');

SELECT throws_ok($$SELECT sched._complete(pg_temp.w(1), ARRAY[1::bigint], '{0}', '{}', '{}', '{}', '{gone}')$$,
                 '22023', 'outcomes: must have one entry per task instance id, each one of succeeded, failed, killed, timed_out; got {gone}',
                 'an outcome that is not one is refused, naming those allowed');

SELECT sched._fail_over(ARRAY[pg_temp.w(1)], ARRAY[(pg_temp.attempt('lost')).id]);
SELECT sched._complete(pg_temp.w(1), ARRAY[id], '{0}', ARRAY[now()], ARRAY[now()], ARRAY[NULL::jsonb], '{succeeded}')
FROM sched.task_instance WHERE state = 'need_fault_tolerance';
SELECT is((SELECT array_agg(exit_code) FROM sched.late_report WHERE workflow_instance_id = current_setting('sqlt.inst')::bigint), '{0}',
          'the outcome of an attempt failed over meanwhile is kept in sched.late_report');

SELECT * FROM finish();
ROLLBACK;
