-- _new_attempts is the one place attempts of worker-run tasks are created: queued, or delayed
-- (a delay, a retry interval, or waiting for a task-group slot), or paused in an instance being
-- paused; it returns the worker groups that got queued attempts, for the caller to notify.
BEGIN;
SELECT plan(10);

SELECT sched.create_task_group('sqlt_slots', 1);
SELECT sched.create_workflow('{"name": "sqlt_first", "tasks": [
    {"name": "root", "type": "shell", "script": "true"},
    {"name": "plain", "type": "shell", "script": "true", "deps": ["root"]},
    {"name": "elsewhere", "type": "shell", "script": "true", "deps": ["root"], "worker_group": "sqlt-etl"},
    {"name": "later", "type": "shell", "script": "true", "deps": ["root"], "delay": "10 min", "retry_interval": "2 min"},
    {"name": "slot1", "type": "shell", "script": "true", "deps": ["root"], "task_group": "sqlt_slots"},
    {"name": "slot2", "type": "shell", "script": "true", "deps": ["root"], "task_group": "sqlt_slots"}]}'::jsonb);
SELECT set_config('sqlt.inst', sched._start('postgres', 'sqlt_first', '{}', '{}', 'start_process', NULL)::text, true);
CREATE FUNCTION pg_temp.inst() RETURNS bigint LANGUAGE sql AS $$ SELECT current_setting('sqlt.inst')::bigint $$;
CREATE FUNCTION pg_temp.task(name text) RETURNS bigint LANGUAGE sql
AS $$ SELECT td.id FROM sched.task_definition td JOIN sched.workflow_instance wi ON wi.workflow_version_id = td.workflow_version_id
      WHERE wi.id = pg_temp.inst() AND td.name = task.name $$;
CREATE FUNCTION pg_temp.attempts(name text) RETURNS text[] LANGUAGE sql
AS $$ SELECT array_agg(ti.state || ' ' || ti.attempt || ' ' || ti.retry || ' '
                       || coalesce((ti.not_before - now())::text, '-') ORDER BY ti.id)
      FROM sched.task_instance ti WHERE ti.workflow_instance_id = pg_temp.inst() AND ti.task_id = pg_temp.task(name) $$;
-- Attempts of these tasks, as _advance asks for them once their upstream task is done.
CREATE FUNCTION pg_temp.create(names text[], attempts integer[] DEFAULT NULL, retries integer[] DEFAULT NULL)
RETURNS text[] LANGUAGE sql
AS $$ SELECT sched._new_attempts(array_fill(pg_temp.inst(), ARRAY[cardinality(names)]),
                                 ARRAY(SELECT pg_temp.task(n) FROM unnest(names) n), attempts, retries) $$;

SELECT is(pg_temp.attempts('root'), '{"queued 1 0 -"}', 'the start queued the root task: attempt 1, no retry, no wait');

SELECT is(pg_temp.create('{plain,elsewhere,later}'), '{default,sqlt-etl}',
          'the worker groups of the queued attempts come back, once each');
SELECT is(pg_temp.attempts('plain'), '{"queued 1 0 -"}', 'a plain task is queued');
SELECT is((SELECT worker_group FROM sched.task_instance WHERE task_id = pg_temp.task('elsewhere')), 'sqlt-etl',
          'in its own worker group');
SELECT is(pg_temp.attempts('later'), '{"delayed 1 0 00:10:00"}', 'a first attempt waits its delay, delayed');

SELECT is(pg_temp.create('{later}', '{2}', '{1}'), NULL::text[], 'a delayed attempt notifies no group');
SELECT is((pg_temp.attempts('later'))[2], 'delayed 2 1 00:02:00', 'a retry waits its retry interval, not the delay');

SELECT pg_temp.create('{slot1,slot2}');
SELECT is(ARRAY[pg_temp.attempts('slot1'), pg_temp.attempts('slot2')], '{{"queued 1 0 -"},{"delayed 1 0 -"}}',
          'a task group of one slot: the first takes it, the next waits, delayed with no time');
SELECT is((SELECT array_agg(holds_slot ORDER BY id) FROM sched.task_instance WHERE task_group_id IS NOT NULL),
          '{t,f}', 'the queued one holds the slot');

UPDATE sched.workflow_instance SET state = 'ready_pause' WHERE id = pg_temp.inst();
SELECT pg_temp.create('{plain}', '{2}', NULL);
SELECT is((pg_temp.attempts('plain'))[2], 'paused 2 0 -', 'in an instance being paused an attempt starts paused');

SELECT * FROM finish();
ROLLBACK;
