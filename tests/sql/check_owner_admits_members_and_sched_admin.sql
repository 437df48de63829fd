-- Who may act on a workflow: members of its owner, or of sched_admin (_check_owner); for what
-- runs as the owner (replacing a definition, scheduling, starting with parameters), members of
-- the owner only (_check_owner_strict).
BEGIN;
SELECT plan(8);

CREATE ROLE sqlt_team NOLOGIN;
CREATE ROLE sqlt_member LOGIN IN ROLE sqlt_team;
CREATE ROLE sqlt_admin LOGIN IN ROLE sched_admin;
CREATE ROLE sqlt_other LOGIN;

SELECT lives_ok($$SELECT sched._check_owner('sqlt_team', 'sqlt_team', 'workflow "w"')$$, 'the owner itself');
SELECT lives_ok($$SELECT sched._check_owner('sqlt_member', 'sqlt_team', 'workflow "w"')$$, 'a member of the owner');
SELECT lives_ok($$SELECT sched._check_owner('sqlt_admin', 'sqlt_team', 'workflow "w"')$$, 'a member of sched_admin');
SELECT throws_ok($$SELECT sched._check_owner('sqlt_other', 'sqlt_team', 'workflow "w"')$$, '42501',
                 'permission denied for workflow "w"', 'anyone else is refused, naming the object');
SELECT throws_ok($$SELECT sched._check_owner(NULL, 'sqlt_team', 'workflow "w"')$$, '42501', NULL,
                 'no principal is refused');

SELECT lives_ok($$SELECT sched._check_owner_strict('sqlt_member', 'sqlt_team', 'workflow "w"', 'schedule it')$$,
                'strict: a member of the owner');
SELECT throws_ok($$SELECT sched._check_owner_strict('sqlt_admin', 'sqlt_team', 'workflow "w"', 'schedule it')$$,
                 '42501', 'permission denied for workflow "w"', 'strict: sched_admin does not suffice');
SELECT throws_like($$SELECT sched._check_owner_strict('sqlt_other', 'sqlt_team', 'workflow "w"', 'schedule it')$$,
                   'permission denied%', 'strict: anyone else is refused');

SELECT * FROM finish();
ROLLBACK;
