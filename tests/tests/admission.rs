//! Queue policies: priorities, worker groups, the running-instances limit and the serial
//! execution types, including two starts racing in different transactions.

use std::path::Path;
use std::time::Duration;

use sched_tests::*;
use serde_json::json;

fn gated(gate: &Path) -> String {
    format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())
}

fn start_with(db: &mut Client, name: &str, options: serde_json::Value) -> i64 {
    db.query_one(
        "SELECT sched.start_workflow($1, '{}', $2)",
        &[&name, &options],
    )
    .unwrap()
    .get(0)
}

/// Instances in the order their first task started.
fn start_order(db: &mut Client, ids: &[i64]) -> Vec<i64> {
    db.query(
        "SELECT workflow_instance_id FROM sched.task_instances WHERE workflow_instance_id = ANY($1)
         GROUP BY workflow_instance_id ORDER BY min(started_at)",
        &[&ids],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Asserts that these instances ran one after another, never two at once.
fn one_at_a_time(db: &mut Client, ids: &[i64]) {
    let spans: Vec<(f64, f64)> = db
        .query(
            "SELECT extract(epoch FROM started_at)::float8, extract(epoch FROM ended_at)::float8
             FROM sched.workflow_instance WHERE id = ANY($1) ORDER BY started_at",
            &[&ids],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "{spans:?}");
    }
}

#[test]
fn a_highest_priority_instance_overtakes_a_queue_and_equal_priorities_run_in_order() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "p", "tasks": [{"name": "t", "type": "shell", "script": "true"}]}"#,
    );
    // No worker yet: everything queues.
    let lows: Vec<i64> = (0..6)
        .map(|_| start_with(&mut db, "p", json!({"priority": "lowest"})))
        .collect();
    let high = start_with(&mut db, "p", json!({"priority": "highest"}));
    let medium = start_with(&mut db, "p", json!({"priority": "medium"}));
    // A group nobody serves shows in sched.unserved_tasks until a worker serves it.
    let unserved: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.unserved_tasks WHERE workflow = 'p'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unserved, 8);
    let _worker = cluster.worker("w1", &["--slots", "1"]);
    let mut all = lows.clone();
    all.extend([high, medium]);
    for id in &all {
        assert_eq!(wait(&mut db, *id, 60), "succeeded");
    }
    let mut expected = vec![high, medium];
    expected.extend(&lows);
    assert_eq!(start_order(&mut db, &all), expected);
    let unserved: i64 = db
        .query_one("SELECT count(*) FROM sched.unserved_tasks", &[])
        .unwrap()
        .get(0);
    assert_eq!(unserved, 0);

    // Tasks run only on workers of their group.
    define(
        &mut db,
        r#"{"name": "grouped", "tasks": [
            {"name": "gpu", "type": "shell", "worker_group": "gpu", "script": "true"},
            {"name": "plain", "type": "shell", "script": "true"}]}"#,
    );
    let id = start(&mut db, "grouped");
    wait_for(Duration::from_secs(30), "plain to run", || {
        let state: String = db
            .query_one(
                "SELECT state FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'plain'",
                &[&id],
            )
            .unwrap()
            .get(0);
        (state == "succeeded").then_some(())
    });
    let waiting: Vec<(String, String)> = db
        .query(
            "SELECT task, worker_group FROM sched.unserved_tasks WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(waiting, [("gpu".to_owned(), "gpu".to_owned())]);
    let _gpu = cluster.worker("g1", &["--group", "gpu"]);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let workers: Vec<(String, String)> = db
        .query(
            "SELECT task, worker FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY task",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        workers,
        [
            ("gpu".to_owned(), "g1".to_owned()),
            ("plain".to_owned(), "w1".to_owned())
        ]
    );
}

#[test]
fn the_running_limit_holds_instances_in_waiting_thread_and_starts_them_by_priority() {
    // A limit of one, so that each ending frees exactly one place and the order is the rule's.
    let cluster = Cluster::start(&["sched.max_running_instances = 1"]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "held", "tasks": [{"name": "t", "type": "shell", "script": gated(&gate)}]})
            .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let first: Vec<i64> = vec![start(&mut db, "held")];
    let waiting: Vec<i64> = (0..2)
        .map(|_| start_with(&mut db, "held", json!({"priority": "low"})))
        .collect();
    let urgent = start_with(&mut db, "held", json!({"priority": "high"}));
    for id in &first {
        assert_eq!(instance_state(&mut db, *id), "running");
    }
    for id in waiting.iter().chain([&urgent]) {
        assert_eq!(instance_state(&mut db, *id), "waiting_thread");
    }
    std::fs::write(&gate, "").unwrap();
    let mut all = first.clone();
    all.extend(&waiting);
    all.push(urgent);
    for id in &all {
        assert_eq!(wait(&mut db, *id, 60), "succeeded");
    }
    let order = start_order(&mut db, &all);
    assert_eq!(order, [first[0], urgent, waiting[0], waiting[1]]);
    // Never more than one at a time.
    one_at_a_time(&mut db, &all);
    assert_eq!(
        commands(&mut db, urgent),
        ["start_process", "recover_waiting_thread"]
    );
}

#[test]
fn serial_execution_types_wait_discard_or_take_priority() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    for kind in ["serial_wait", "serial_discard", "serial_priority"] {
        define(
            &mut db,
            &json!({"name": kind, "execution_type": kind, "tasks": [
                {"name": "t", "type": "shell", "script": format!("{}; echo done", gated(&gate))}]})
            .to_string(),
        );
    }
    let _worker = cluster.worker("w1", &["--slots", "4"]);

    // serial_wait: one at a time, first come first served.
    let waits: Vec<i64> = (0..3).map(|_| start(&mut db, "serial_wait")).collect();
    assert_eq!(instance_state(&mut db, waits[0]), "running");
    assert_eq!(instance_state(&mut db, waits[1]), "serial_wait");
    assert_eq!(instance_state(&mut db, waits[2]), "serial_wait");

    // serial_discard: the new one is stopped at once, the running one is untouched.
    let kept = start(&mut db, "serial_discard");
    let discarded = start(&mut db, "serial_discard");
    assert_eq!(instance_state(&mut db, discarded), "stopped");
    assert_eq!(instance_state(&mut db, kept), "running");

    // serial_priority: the earlier one is stopped, the new one runs.
    let old = start(&mut db, "serial_priority");
    wait_running(&mut db, old, 1);
    let new = start(&mut db, "serial_priority");
    assert_eq!(wait(&mut db, old, 60), "stopped");
    assert_eq!(instance_state(&mut db, new), "running");

    std::fs::write(&gate, "").unwrap();
    for id in waits.iter().chain([&kept, &new]) {
        assert_eq!(wait(&mut db, *id, 60), "succeeded");
    }
    // The waiting ones ran one after another, never overlapping.
    one_at_a_time(&mut db, &waits);
    assert_eq!(
        commands(&mut db, waits[1]),
        ["start_process", "recover_serial_wait"]
    );
    assert_eq!(commands(&mut db, discarded), ["start_process", "stop"]);
    assert_eq!(commands(&mut db, old), ["start_process", "stop"]);
    assert!(
        db.query(
            "SELECT 1 FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&discarded]
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn two_serial_starts_racing_in_different_transactions_serialize() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "raced", "execution_type": "serial_wait", "tasks": [
            {"name": "t", "type": "shell", "script": gated(&gate)}]})
        .to_string(),
    );
    let mut first = cluster.connect();
    let mut tx = first.transaction().unwrap();
    let a: i64 = tx
        .query_one("SELECT sched.start_workflow('raced')", &[])
        .unwrap()
        .get(0);
    // The second start, in its own transaction, waits for the first to commit...
    let url = cluster.conn_string("postgres");
    let second = std::thread::spawn(move || {
        let mut db = Client::connect(&url, postgres::NoTls).unwrap();
        db.query_one("SELECT sched.start_workflow('raced')", &[])
            .unwrap()
            .get::<_, i64>(0)
    });
    wait_for(
        Duration::from_secs(30),
        "the second start to wait on the lock",
        || {
            let n: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%start_workflow%'",
                &[],
            )
            .unwrap()
            .get(0);
            (n == 1).then_some(())
        },
    );
    tx.commit().unwrap();
    let b = second.join().unwrap();
    // ...and then sees it: only one runs.
    assert_eq!(instance_state(&mut db, a), "running");
    assert_eq!(instance_state(&mut db, b), "serial_wait");
    let _worker = cluster.worker("w1", &[]);
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, a, 60), "succeeded");
    assert_eq!(wait(&mut db, b, 60), "succeeded");
}

#[test]
fn a_user_cannot_hold_the_locks_that_starts_and_slots_wait_for() {
    let cluster = Cluster::start(&["sched.max_running_instances = 5"]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut bob = cluster.connect_as("bob");
    // Whatever advisory locks bob takes are not the engine's...
    bob.batch_execute(
        "SELECT pg_advisory_lock(hashtext('pg_sched.running_limit'));
         SELECT pg_advisory_lock(hashtext('pg_sched.serial'), n) FROM generate_series(1, 20) n;
         SELECT pg_advisory_lock(hashtext('pg_sched.sql_task'), n) FROM generate_series(1, 20) n;",
    )
    .unwrap();
    // ...and the engine's row locks are out of his reach.
    for table in ["sched.engine_lock", "sched.sql_task_slot", "sched.workflow"] {
        let err = error_of(bob.query(&format!("SELECT 1 FROM {table} FOR UPDATE"), &[]));
        assert!(err.contains("permission denied"), "{table}: {err}");
    }
    let mut alice = cluster.connect_as("alice");
    alice
        .batch_execute("SET statement_timeout = '10s'")
        .unwrap();
    define(
        &mut alice,
        r#"{"name": "hers", "execution_type": "serial_wait", "tasks": [
            {"name": "q", "type": "sql", "sql": "SELECT 1 AS one", "out": ["one"]}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut alice, "hers");
    assert_eq!(wait(&mut alice, id, 60), "succeeded");
}
