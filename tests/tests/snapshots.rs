//! Consistent snapshots: under `"snapshot": "consistent"` every SQL task of an instance on the
//! scheduler's database reads the snapshot taken at its first, held by a background worker
//! until the instance ends, and no longer than `sched.snapshot_max_age`.

use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

/// A cluster with alice (a sched_user who can log in) owning a counter, and a worker.
fn cluster(settings: &[&str]) -> (Cluster, Client, Worker) {
    let cluster = Cluster::start(settings);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         CREATE SCHEMA app AUTHORIZATION alice;
         CREATE TABLE app.counter (n int); ALTER TABLE app.counter OWNER TO alice;
         INSERT INTO app.counter VALUES (0);",
    )
    .unwrap();
    let worker = cluster.worker("w1", &["--slots", "4"]);
    (cluster, db, worker)
}

/// Two parallel SQL tasks reading the counter; `second` first waits for advisory lock 42.
fn extract(name: &str, snapshot: Option<&str>) -> String {
    let mut spec = json!({"name": name, "tasks": [
        {"name": "first", "type": "sql", "sql": "SELECT n FROM app.counter"},
        {"name": "second", "type": "sql", "pre_statements": ["SELECT pg_advisory_lock(42)"],
         "sql": "SELECT n FROM app.counter"}]});
    if let Some(snapshot) = snapshot {
        spec["snapshot"] = json!(snapshot);
    }
    spec.to_string()
}

fn task_state(db: &mut Client, instance: i64, task: &str) -> Option<String> {
    db.query_opt(
        "SELECT state FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2
         ORDER BY id DESC LIMIT 1",
        &[&instance, &task],
    )
    .unwrap()
    .map(|r| r.get(0))
}

fn read(db: &mut Client, instance: i64, task: &str) -> Value {
    db.query_one(
        "SELECT rows FROM sched.task_results WHERE workflow_instance_id = $1 AND task = $2",
        &[&instance, &task],
    )
    .unwrap()
    .get(0)
}

/// Runs an extract while the test commits a write between its two tasks: `first` has read
/// the counter, `second` has started and waits for the lock the test holds.
fn run_with_a_write_between(cluster: &Cluster, name: &str) -> (i64, Value, Value) {
    let mut db = cluster.connect();
    let mut alice = cluster.connect_as("alice");
    let mut locker = cluster.connect();
    locker.execute("SELECT pg_advisory_lock(42)", &[]).unwrap();
    let instance = start(&mut alice, name);
    wait_for(
        Duration::from_secs(60),
        "first to read, second to wait",
        || {
            let first = task_state(&mut db, instance, "first");
            let waiting: i64 = db
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'",
                    &[],
                )
                .unwrap()
                .get(0);
            (first.as_deref() == Some("succeeded") && waiting == 1).then_some(())
        },
    );
    alice
        .execute("UPDATE app.counter SET n = n + 1", &[])
        .unwrap();
    locker
        .execute("SELECT pg_advisory_unlock(42)", &[])
        .unwrap();
    assert_eq!(wait(&mut db, instance, 60), "succeeded");
    (
        instance,
        read(&mut db, instance, "first"),
        read(&mut db, instance, "second"),
    )
}

#[test]
fn two_parallel_tasks_see_one_snapshot_while_a_writer_commits_between_them() {
    let (cluster, mut db, _worker) = cluster(&[]);
    let mut alice = cluster.connect_as("alice");
    define(&mut alice, &extract("torn", None));
    define(&mut alice, &extract("consistent", Some("consistent")));

    // Without the option the second task reads what was committed meanwhile.
    let (_, first, second) = run_with_a_write_between(&cluster, "torn");
    assert_eq!((first, second), (json!([["0"]]), json!([["1"]])));

    // With it both read the snapshot of the instance's first SQL task.
    let (instance, first, second) = run_with_a_write_between(&cluster, "consistent");
    assert_eq!((first, second), (json!([["1"]]), json!([["1"]])));
    let now: i32 = db
        .query_one("SELECT n FROM app.counter", &[])
        .unwrap()
        .get(0);
    assert_eq!(now, 2, "the write was committed while the instance ran");

    // The holder ends with the instance: nothing holds back vacuum afterwards.
    wait_for(
        Duration::from_secs(60),
        "the snapshot to be released",
        || {
            let held: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_sched snapshot'",
                &[],
            )
            .unwrap()
            .get(0);
            (held == 0).then_some(())
        },
    );
    let holders: i64 = db
        .query_one("SELECT count(*) FROM sched._snapshot_holders()", &[])
        .unwrap()
        .get(0);
    assert_eq!(holders, 0, "instance {instance}'s slot is free");
}

#[test]
fn an_instance_that_holds_its_snapshot_past_the_limit_fails_with_the_reason() {
    let (cluster, mut db, _worker) = cluster(&["sched.snapshot_max_age = 1"]);
    let mut alice = cluster.connect_as("alice");
    define(&mut alice, &extract("slow", Some("consistent")));
    let mut locker = cluster.connect();
    locker.execute("SELECT pg_advisory_lock(42)", &[]).unwrap();
    let instance = start(&mut alice, "slow");
    assert_eq!(wait(&mut db, instance, 60), "failed");
    let (state, reason): (String, Option<String>) = {
        let r = db
            .query_one(
                "SELECT state, kill_reason FROM sched.task_instances
                 WHERE workflow_instance_id = $1 AND task = 'second'",
                &[&instance],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (state.as_str(), reason.as_deref()),
        ("killed", Some("snapshot_max_age"))
    );
    wait_for(
        Duration::from_secs(60),
        "the snapshot to be released",
        || {
            let held: i64 = db
                .query_one("SELECT count(*) FROM sched._snapshot_holders()", &[])
                .unwrap()
                .get(0);
            (held == 0).then_some(())
        },
    );
}
