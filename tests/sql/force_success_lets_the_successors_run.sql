-- _force_success: a failed or killed attempt (its task's last) becomes forced_success, the
-- instance's failure is decided again without it, and its successors run; an attempt that
-- neither failed nor was killed refuses.
BEGIN;
SELECT plan(7);

SELECT sched.create_workflow('{"name": "sqlt_force", "tasks": [
    {"name": "a", "type": "shell", "script": "false"},
    {"name": "b", "type": "shell", "script": "true"},
    {"name": "after_a", "type": "shell", "script": "true", "deps": ["a"]}]}'::jsonb);
SELECT set_config('sqlt.inst', sched._start('postgres', 'sqlt_force', '{}', '{}', 'start_process', NULL)::text, true);
SELECT set_config('sqlt.w', sched._register_worker('postgres', 'sqlt-w', 'here', '{default}', 10, NULL, sched._worker_protocol())::text, true);
SELECT count(*) FROM sched._claim(current_setting('sqlt.w')::bigint, '{default}', 10, NULL);
CREATE FUNCTION pg_temp.attempt(task text) RETURNS sched.task_instance LANGUAGE sql
AS $$ SELECT ti.* FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
      WHERE ti.workflow_instance_id = current_setting('sqlt.inst')::bigint AND td.name = task ORDER BY ti.id DESC LIMIT 1 $$;
CREATE FUNCTION pg_temp.report(task text, code integer) RETURNS integer LANGUAGE sql
AS $$ SELECT accepted FROM sched._complete(current_setting('sqlt.w')::bigint, ARRAY[(pg_temp.attempt(task)).id], ARRAY[code],
                                           ARRAY[now()], ARRAY[now()], ARRAY[NULL::jsonb]) $$;
CREATE FUNCTION pg_temp.instance() RETURNS sched.workflow_instance LANGUAGE sql
AS $$ SELECT * FROM sched.workflow_instance WHERE id = current_setting('sqlt.inst')::bigint $$;

SELECT pg_temp.report('a', 1);
SELECT is((pg_temp.instance()).has_failure, true, 'a failed: the instance has a failure');
SELECT throws_ok(format('SELECT sched._force_success(%L, %s)', 'postgres', (pg_temp.attempt('b')).id), '55000', NULL,
                 'a running attempt cannot be forced');

SELECT sched._force_success('postgres', (pg_temp.attempt('a')).id);
SELECT is((pg_temp.attempt('a')).state::text, 'forced_success', 'the failed attempt is forced_success');
SELECT is((pg_temp.instance()).has_failure, false, 'and no longer a failure of the instance');
SELECT is((pg_temp.attempt('after_a')).state::text, 'queued', 'its successor is queued');

SELECT count(*) FROM sched._claim(current_setting('sqlt.w')::bigint, '{default}', 10, NULL);
SELECT pg_temp.report('b', 0), pg_temp.report('after_a', 0);
SELECT is((pg_temp.instance()).state::text, 'succeeded', 'the instance then succeeds');
SELECT throws_ok(format('SELECT sched._force_success(%L, %s)', 'postgres', (pg_temp.attempt('b')).id), '55000',
                 format('task instance %s is succeeded; force_success applies to failed or killed attempts', (pg_temp.attempt('b')).id),
                 'a succeeded attempt refuses');

SELECT * FROM finish();
ROLLBACK;
