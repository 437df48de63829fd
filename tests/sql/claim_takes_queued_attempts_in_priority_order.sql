-- _claim, behind the worker protocol's claim_tasks: queued attempts of the worker's groups, in
-- the order instance priority, task priority, id, group by group as the worker lists them, at
-- most max_tasks; claimed attempts are running on that worker, and a call repeated with the
-- same claim token returns what the first one claimed.
BEGIN;
SELECT plan(9);

SELECT sched.create_workflow('{"name": "sqlt_queue", "tasks": [
    {"name": "low", "type": "shell", "script": "true", "priority": "low"},
    {"name": "high", "type": "shell", "script": "true", "priority": "high"},
    {"name": "other_group", "type": "shell", "script": "true", "worker_group": "sqlt-b", "priority": "highest"}]}'::jsonb);
CREATE TEMP TABLE inst (name text PRIMARY KEY, id bigint);
INSERT INTO inst SELECT 'medium', sched._start('postgres', 'sqlt_queue', '{}', '{}', 'start_process', NULL);
INSERT INTO inst SELECT 'lowest', sched._start('postgres', 'sqlt_queue', '{}', '{"priority": "lowest"}', 'start_process', NULL);
INSERT INTO inst SELECT 'highest', sched._start('postgres', 'sqlt_queue', '{}', '{"priority": "highest"}', 'start_process', NULL);
SELECT set_config('sqlt.w', sched._register_worker('postgres', 'sqlt-w', 'here', '{default,sqlt-b}', 10, NULL, sched._worker_protocol())::text, true);
-- What a claim returned, as sorted "instance/task": which attempts, not the order of the rows.
CREATE FUNCTION pg_temp.claim(groups text[], n integer, token bigint) RETURNS text[] LANGUAGE sql
AS $$ SELECT array_agg(i.name || '/' || c.task_name ORDER BY i.name || '/' || c.task_name)
      FROM sched._claim(current_setting('sqlt.w')::bigint, groups, n, token) c
      JOIN inst i ON i.id = c.workflow_instance_id $$;

SELECT is(pg_temp.claim('{default}', 3, 1), '{highest/high,highest/low,medium/high}',
          'instance priority first, then task priority, at most max_tasks');
SELECT is((SELECT array_agg(DISTINCT state::text || ' ' || (worker_id = current_setting('sqlt.w')::bigint)::text
                            || ' ' || (started_at = now())::text || ' ' || claim_token)
           FROM sched.task_instance WHERE claim_token IS NOT NULL),
          '{"running true true 1"}', 'claimed attempts run on the worker, started now, with the token');
SELECT is(pg_temp.claim('{default}', 3, 1), '{highest/high,highest/low,medium/high}',
          'the same token again: the same attempts, nothing more');
SELECT is(pg_temp.claim('{default}', 1, 2), '{medium/low}', 'a new token claims the next one');
SELECT is(pg_temp.claim('{sqlt-b,default}', 2, 3), '{highest/other_group,medium/other_group}',
          'groups are served in the worker''s order, the first filling the slots');
SELECT is(pg_temp.claim('{default}', 0, 4), NULL::text[], 'max_tasks 0 claims nothing');
SELECT is(pg_temp.claim('{nobody}', 10, 5), NULL::text[], 'a group with nothing queued gives nothing');
SELECT is(pg_temp.claim('{default,sqlt-b}', 10, NULL), '{lowest/high,lowest/low,lowest/other_group}',
          'the lowest instance''s attempts come last');
SELECT is((SELECT count(*) FROM sched.task_instance WHERE state = 'queued'), 0::bigint, 'nothing is left queued');

SELECT * FROM finish();
ROLLBACK;
