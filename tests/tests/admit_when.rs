//! Admission on live load: a task group or a workflow declares `admit_when`, a SQL boolean over
//! `sched.load`, and its attempts wait (delayed, the reason in `waiting_for`) while it does not
//! hold. The expression is checked at definition and evaluated as its owner, rolled back.

use std::time::{Duration, SystemTime};

use sched_tests::*;

/// A cluster with alice (a sched_user) owning a flag table, and a worker.
fn cluster() -> (Cluster, Client) {
    let cluster = Cluster::start(&["TimeZone = 'UTC'"]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         CREATE ROLE bob LOGIN IN ROLE sched_user;
         CREATE SCHEMA app AUTHORIZATION alice;
         CREATE TABLE app.flags (hold boolean NOT NULL); ALTER TABLE app.flags OWNER TO alice;
         INSERT INTO app.flags VALUES (true);
         CREATE TABLE app.heard (at timestamptz); ALTER TABLE app.heard OWNER TO alice;
         CREATE TABLE public.bobs (hold boolean); ALTER TABLE public.bobs OWNER TO bob;
         INSERT INTO public.bobs VALUES (false);",
    )
    .unwrap();
    (cluster, db)
}

/// The waiting reason of the attempts of a workflow's instances that wait, once one shows it.
fn waiting_for(db: &mut Client, workflow: &str, what: &str) -> String {
    wait_for(Duration::from_secs(60), what, || {
        db.query_opt(
            "SELECT waiting_for FROM sched.task_instances
             WHERE workflow = $1 AND state = 'delayed' AND waiting_for LIKE 'admit_when%'
               AND waiting_for NOT LIKE '%: to be evaluated' LIMIT 1",
            &[&workflow],
        )
        .unwrap()
        .map(|r| r.get(0))
    })
}

/// When an expression of a kind of gate was last evaluated.
fn checked_at(db: &mut Client, gate: &str) -> Option<SystemTime> {
    db.query_one(
        "SELECT max(checked_at) FROM sched.admit_check WHERE gate = $1",
        &[&gate],
    )
    .unwrap()
    .get(0)
}

#[test]
fn an_admission_predicate_holds_a_backfill_while_a_flag_table_says_so() {
    let (cluster, mut db) = cluster();
    let mut alice = cluster.connect_as("alice");
    alice
        .execute(
            "SELECT sched.create_task_group('backfills', 2,
                    admit_when => 'replication_lag < 30 AND NOT (SELECT hold FROM app.flags)')",
            &[],
        )
        .unwrap();
    define(
        &mut alice,
        r#"{"name": "daily", "tasks": [{"name": "load", "type": "shell", "task_group": "backfills",
                                         "script": "echo day=${system.biz.curdate}"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let backfill: i64 = alice
        .query_one(
            "SELECT sched.backfill('daily', date '2024-03-01', date '2024-03-03')",
            &[],
        )
        .unwrap()
        .get(0);

    let reason = waiting_for(
        &mut db,
        "daily",
        "the backfill's attempt to wait for admit_when",
    );
    assert_eq!(
        reason,
        "admit_when of task group \"backfills\" is false: replication_lag < 30 AND NOT (SELECT hold FROM app.flags)"
    );
    let hers: Option<String> = alice
        .query_one(
            "SELECT waiting_for FROM sched.task_instances WHERE workflow = 'daily' AND state = 'delayed' LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        hers.as_deref(),
        Some(reason.as_str()),
        "the owner reads why"
    );
    let shown: Option<String> = alice
        .query_one(
            "SELECT admit_reason FROM sched.task_groups WHERE name = 'backfills'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(shown.as_deref(), Some(reason.as_str()));
    // The master asks again while it waits, and still nothing starts.
    let first = checked_at(&mut db, "task_group");
    wait_for(
        Duration::from_secs(60),
        "the expression to be asked again",
        || (checked_at(&mut db, "task_group") > first).then_some(()),
    );
    let started: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_instances WHERE workflow = 'daily' AND started",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(started, 0, "nothing starts while the flag holds the group");
    let metric: f64 = db
        .query_one(
            "SELECT value FROM sched.metrics
             WHERE metric = 'sched_waiting_task_instances' AND labels->>'reason' = 'task_group'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(metric >= 1.0);

    alice
        .execute("UPDATE app.flags SET hold = false", &[])
        .unwrap();
    let state = wait_for(Duration::from_secs(120), "the backfill to end", || {
        let state: String = db
            .query_one(
                "SELECT state FROM sched.backfills WHERE id = $1",
                &[&backfill],
            )
            .unwrap()
            .get(0);
        (state != "running").then_some(state)
    });
    assert_eq!(state, "succeeded");
    let days: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_instances WHERE workflow = 'daily' AND state = 'succeeded'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(days, 3);
}

#[test]
fn a_workflows_admit_when_is_checked_at_definition_and_evaluated_as_its_owner_rolled_back() {
    let (cluster, mut db) = cluster();
    let mut alice = cluster.connect_as("alice");
    let spec = |expr: &str| {
        format!(
            r#"{{"name": "gated", "admit_when": {}, "tasks": [{{"name": "a", "type": "empty"}}]}}"#,
            serde_json::Value::String(expr.into())
        )
    };
    // Refused at definition, naming the field; nothing is stored.
    for (expr, message) in [
        (
            "lock_wait < 3",
            "admit_when: column \"lock_wait\" does not exist",
        ),
        (
            "(SELECT hold FROM public.bobs)",
            "admit_when: permission denied for table bobs",
        ),
        (
            "true; DELETE FROM app.flags",
            "invalid workflow spec: admit_when: must be one SQL boolean expression over the columns of sched.load (e.g. \"replication_lag < 30\"), without ';'",
        ),
    ] {
        let error = error_of(alice.execute(
            "SELECT sched.create_workflow($1::text::jsonb)",
            &[&spec(expr)],
        ));
        assert_eq!(error, message, "{expr}");
    }
    let error = error_of(alice.execute(
        "SELECT sched.create_task_group('g', 1, admit_when => 'nope')",
        &[],
    ));
    assert_eq!(error, "admit_when: column \"nope\" does not exist");
    let stored: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.workflow WHERE name = 'gated'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);

    // The master gives an expression a second at most: one that waits for a row lock the test
    // holds (in a transaction it never ends) is cut short, and the master goes on.
    define(
        &mut alice,
        r#"{"name": "stuck", "admit_when": "(SELECT hold FROM app.flags FOR UPDATE) IS NOT NULL",
            "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let mut holder = cluster.connect();
    let mut holding = holder.transaction().unwrap();
    holding
        .execute("SELECT * FROM app.flags FOR UPDATE", &[])
        .unwrap();
    let stuck = start(&mut alice, "stuck");
    assert_eq!(
        waiting_for(&mut db, "stuck", "the blocked expression to be cut short"),
        "admit_when of workflow \"stuck\" failed: canceling statement due to statement timeout"
    );
    alice
        .execute("SELECT sched.stop_workflow($1)", &[&stuck])
        .unwrap();
    assert_eq!(wait(&mut db, stuck, 60), "stopped");
    holding.rollback().unwrap();

    // What the expression does is rolled back: the function it calls writes, and nothing stays.
    alice
        .batch_execute(
            "CREATE FUNCTION app.hold() RETURNS boolean LANGUAGE sql AS $$
                 INSERT INTO app.heard VALUES (now());
                 SELECT hold FROM app.flags $$;",
        )
        .unwrap();
    define(&mut alice, &spec("active_backends >= 0 AND NOT app.hold()"));
    let _worker = cluster.worker("w1", &[]);
    let instance: i64 = alice
        .query_one("SELECT sched.start_workflow('gated')", &[])
        .unwrap()
        .get(0);
    let reason = waiting_for(&mut db, "gated", "the attempt to wait for admit_when");
    assert_eq!(
        reason,
        "admit_when of workflow \"gated\" is false: active_backends >= 0 AND NOT app.hold()"
    );
    let first = checked_at(&mut db, "workflow");
    wait_for(
        Duration::from_secs(60),
        "the expression to be asked again",
        || (checked_at(&mut db, "workflow") > first).then_some(()),
    );
    let heard: i64 = db
        .query_one("SELECT count(*) FROM app.heard", &[])
        .unwrap()
        .get(0);
    assert_eq!(heard, 0, "what the expression wrote was rolled back");

    // It runs as alice: once she may no longer read what it reads, it holds with the error.
    alice
        .execute(
            "CREATE OR REPLACE FUNCTION app.hold() RETURNS boolean LANGUAGE sql AS $$ SELECT hold FROM public.bobs $$",
            &[],
        )
        .unwrap();
    let reason = wait_for(Duration::from_secs(60), "the error to show", || {
        let reason = waiting_for(&mut db, "gated", "the attempt to wait");
        reason.contains("failed").then_some(reason)
    });
    assert_eq!(
        reason,
        "admit_when of workflow \"gated\" failed: permission denied for table bobs"
    );
    db.execute("GRANT SELECT ON public.bobs TO alice", &[])
        .unwrap();
    assert_eq!(wait(&mut db, instance, 60), "succeeded");
    let waited: Option<String> = db
        .query_one(
            "SELECT waiting_for FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&instance],
        )
        .unwrap()
        .get(0);
    assert_eq!(waited, None);
}
