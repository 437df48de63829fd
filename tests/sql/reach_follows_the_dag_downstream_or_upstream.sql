-- _reach: the tasks a scoped run covers (start_tasks with task_scope downstream or upstream,
-- execute_task): the given tasks and everything after, or before, them in the DAG.
BEGIN;
SELECT plan(5);

--   a -> b -> d
--   a -> c -> d,  e alone
SELECT sched.create_workflow('{"name": "sqlt_reach", "tasks": [
    {"name": "a", "type": "empty"}, {"name": "b", "type": "empty", "deps": ["a"]},
    {"name": "c", "type": "empty", "deps": ["a"]}, {"name": "d", "type": "empty", "deps": ["b", "c"]},
    {"name": "e", "type": "empty"}]}'::jsonb);
CREATE FUNCTION pg_temp.ids(names text[]) RETURNS bigint[] LANGUAGE sql
AS $$ SELECT array_agg(td.id ORDER BY td.id) FROM sched.task_definition td JOIN sched.workflow w ON w.name = 'sqlt_reach'
      JOIN sched.workflow_version v ON v.workflow_id = w.id AND v.id = td.workflow_version_id WHERE td.name = ANY(names) $$;
CREATE FUNCTION pg_temp.names(ids bigint[]) RETURNS text[] LANGUAGE sql
AS $$ SELECT array_agg(td.name ORDER BY td.name) FROM sched.task_definition td WHERE td.id = ANY(ids) $$;

SELECT is(pg_temp.names(sched._reach(pg_temp.ids('{b}'), true)), '{b,d}', 'downstream of b: b and d');
SELECT is(pg_temp.names(sched._reach(pg_temp.ids('{a}'), true)), '{a,b,c,d}', 'downstream of a: the whole branch, d once');
SELECT is(pg_temp.names(sched._reach(pg_temp.ids('{d}'), false)), '{a,b,c,d}', 'upstream of d: both paths back to a');
SELECT is(pg_temp.names(sched._reach(pg_temp.ids('{c,e}'), false)), '{a,c,e}', 'upstream of several tasks');
SELECT is(sched._reach(pg_temp.ids('{d}'), true), pg_temp.ids('{d}'), 'a task with no successor reaches itself, ids sorted');

SELECT * FROM finish();
ROLLBACK;
