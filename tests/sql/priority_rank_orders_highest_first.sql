-- Priorities are stored as ranks, and the queue takes the smallest first: highest 0 to lowest 4.
BEGIN;
SELECT plan(5);

SELECT is(ARRAY[sched._priority_rank('highest', 'priority'), sched._priority_rank('high', 'priority'),
                sched._priority_rank('medium', 'priority'), sched._priority_rank('low', 'priority'),
                sched._priority_rank('lowest', 'priority')],
          '{0,1,2,3,4}'::smallint[], 'highest 0, high 1, medium 2, low 3, lowest 4');
SELECT is(sched._priority_rank('HIGH', 'priority'), 1::smallint, 'any case');
SELECT is(sched._priority_rank(NULL, 'priority'), NULL::smallint, 'none given: null, for the caller''s default');
SELECT throws_ok($$SELECT sched._priority_rank('urgent', 'options.priority')$$, '22023',
                 'options.priority: "urgent" is not a valid priority; allowed: highest, high, medium, low, lowest',
                 'anything else is refused, naming the field and the allowed values');
SELECT is(sched._priority_name(sched._priority_rank('low', 'priority')), 'low', '_priority_name reads a rank back');

SELECT * FROM finish();
ROLLBACK;
