-- The named state sets the engine tests attempts and instances against: which task states
-- are active (a worker or the master still owes an outcome), which are claimed by a worker,
-- and which workflow states are final until a user continues the instance.
BEGIN;
SELECT plan(7);

SELECT is(sched._task_states_active(), '{delayed,queued,dispatched,running}'::sched.task_state[],
          'active: delayed, queued, dispatched, running');
SELECT is(sched._task_states_claimed(), '{dispatched,running}'::sched.task_state[],
          'claimed: dispatched, running');
SELECT ok(sched._task_states_claimed() <@ sched._task_states_active(),
          'a claimed attempt is active');
SELECT is(sched._workflow_states_finished(), '{paused,stopped,failed,succeeded}'::sched.workflow_state[],
          'finished: paused, stopped, failed, succeeded');
SELECT is((SELECT array_agg(s ORDER BY s) FROM unnest(enum_range(NULL::sched.workflow_state)) s
           WHERE NOT s = ANY(sched._workflow_states_finished())),
          '{submitted,serial_wait,waiting_thread,running,ready_pause,ready_stop}'::sched.workflow_state[],
          'every other workflow state is unfinished');
SELECT is((SELECT array_agg(p.provolatile::text ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'sched'::regnamespace
             AND p.proname IN ('_task_states_active', '_task_states_claimed', '_workflow_states_finished')),
          '{i,i,i}', 'immutable: a query is planned with the constant, so partial indexes on the same states serve it');
SELECT ok(has_function_privilege('public', 'sched._task_states_active()', 'EXECUTE')
          AND has_function_privilege('public', 'sched._workflow_states_finished()', 'EXECUTE'),
          'executable by anyone, as views call them as the reader');

SELECT * FROM finish();
ROLLBACK;
