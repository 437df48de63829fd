-- A spec's `project` names the group role that will own the workflow: the definer must be a
-- member of it, and a role that does not exist is refused with the same words, so that the
-- error tells a non-member nothing about which roles exist.
BEGIN;
SELECT plan(7);

CREATE ROLE sqlt_team NOLOGIN;
CREATE ROLE sqlt_alice LOGIN IN ROLE sqlt_team, sched_user;
CREATE ROLE sqlt_bob LOGIN;

SELECT is(sched._project_owner('sqlt_alice', NULL), NULL::regrole, 'no project: no owner, the definer keeps it');
SELECT is(sched._project_owner('sqlt_alice', 'sqlt_team'), 'sqlt_team'::regrole, 'a member gets the group role');
SELECT is(sched._project_owner('sqlt_alice', 'sqlt_alice'), 'sqlt_alice'::regrole, 'a role is a member of itself');
SELECT throws_ok($$SELECT sched._project_owner('sqlt_bob', 'sqlt_team')$$, '42501',
                 'project: role "sqlt_team" does not exist or role sqlt_bob is not a member of it',
                 'a non-member is refused');
SELECT throws_ok($$SELECT sched._project_owner('sqlt_bob', 'sqlt_nobody')$$, '42501',
                 'project: role "sqlt_nobody" does not exist or role sqlt_bob is not a member of it',
                 'a missing role is refused in the same words');

-- Through the definition: the workflow is owned by the project, not the definer.
SET LOCAL ROLE sqlt_alice;
SELECT lives_ok($$SELECT sched.create_workflow('{"name": "sqlt_project", "project": "sqlt_team",
                                                 "tasks": [{"name": "a", "type": "empty"}]}')$$,
                'a member defines a workflow in the project');
RESET ROLE;
SELECT is((SELECT owner FROM sched.workflow WHERE name = 'sqlt_project'), 'sqlt_team'::regrole,
          'create_workflow stores the project as the owner');

SELECT * FROM finish();
ROLLBACK;
