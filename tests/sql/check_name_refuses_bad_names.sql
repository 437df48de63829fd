-- The one rule for names (workflows, tasks, worker groups, task groups, …): 1-63 letters,
-- digits, '_', '-' or '.', starting with a letter or digit; a refusal names the field.
BEGIN;
SELECT plan(11);

SELECT is(sched._check_name('etl', 'name', 'name'), 'etl', 'a plain name passes and is returned');
SELECT is(sched._check_name('A.b-c_9', 'name', 'name'), 'A.b-c_9', 'letters, digits, dot, dash and underscore');
SELECT is(sched._check_name('9lives', 'name', 'name'), '9lives', 'a digit may start it');
SELECT is(sched._check_name(repeat('x', 63), 'name', 'name'), repeat('x', 63), '63 characters');
SELECT throws_ok($$SELECT sched._check_name(repeat('x', 64), 'name', 'name')$$, '22023', NULL,
                 '64 characters are too many');
SELECT throws_ok($$SELECT sched._check_name('', 'name', 'name')$$, '22023', NULL, 'empty');
SELECT throws_ok($$SELECT sched._check_name(NULL, 'name', 'name')$$, '22023', NULL, 'null');
SELECT throws_ok($$SELECT sched._check_name('-x', 'name', 'name')$$, '22023', NULL, 'a dash may not start it');
SELECT throws_ok($$SELECT sched._check_name('a b', 'name', 'name')$$, '22023', NULL, 'no spaces');
SELECT throws_ok($$SELECT sched._check_name('ü', 'name', 'name')$$, '22023', NULL, 'ASCII only');
SELECT throws_ok($$SELECT sched._check_name('a/b', 'tasks[2].name', 'task name')$$, '22023',
                 'tasks[2].name: "a/b" is not a valid task name; use 1-63 letters, digits, ''_'', ''-'' or ''.'', starting with a letter or digit',
                 'the refusal names the field and the rule');

SELECT * FROM finish();
ROLLBACK;
