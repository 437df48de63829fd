//! sched.metrics (docs/monitoring.md): its samples follow the queue, the instances, the
//! workers, task groups, schedules and the alert outbox, and only sched_admin and pg_monitor
//! may read them.

use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

/// The value of one sample, None when the view has no row for that metric and label set.
fn metric(db: &mut Client, name: &str, labels: &Value) -> Option<f64> {
    db.query_opt(
        "SELECT value FROM sched.metrics WHERE metric = $1 AND labels = $2",
        &[&name, labels],
    )
    .unwrap()
    .map(|row| row.get(0))
}

/// Waits until a sample has the value `want`; panics with the last value seen after `limit_s`.
fn wait_metric(db: &mut Client, name: &str, labels: Value, want: f64, limit_s: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(limit_s);
    loop {
        let seen = metric(db, name, &labels);
        if seen == Some(want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} {labels}: waited {limit_s} s for {want}, last saw {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_queue_grows_old_without_a_worker_and_drains_with_one() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "SELECT sched.create_alert_group('ops', '[{\"type\": \"webhook\", \"url\": \"http://127.0.0.1:9/unused\"}]')",
    )
    .unwrap();
    define(
        &mut db,
        r#"{"name": "three", "priority": "high", "notify": {"strategy": "all", "alert_group": "ops"},
            "tasks": [{"name": "a", "type": "shell", "script": "true"},
                      {"name": "b", "type": "shell", "script": "true"},
                      {"name": "c", "type": "shell", "script": "true"}]}"#,
    );
    let first = start(&mut db, "three");
    let second = start(&mut db, "three");

    let high = json!({"worker_group": "default", "priority": "high"});
    let queued = json!({"worker_group": "default", "state": "queued"});
    let group = json!({"worker_group": "default"});
    wait_metric(&mut db, "sched_queue_depth", high.clone(), 6.0, 10);
    assert_eq!(
        metric(
            &mut db,
            "sched_queue_depth",
            &json!({"worker_group": "default", "priority": "medium"})
        ),
        Some(0.0)
    );
    assert_eq!(metric(&mut db, "sched_task_instances", &queued), Some(6.0));
    wait_metric(
        &mut db,
        "sched_workflow_instances",
        json!({"state": "running"}),
        2.0,
        10,
    );
    // A queue nobody serves still shows its group, with no worker.
    assert_eq!(metric(&mut db, "sched_group_workers", &group), Some(0.0));
    assert_eq!(
        metric(&mut db, "sched_workers", &json!({"state": "live"})),
        Some(0.0)
    );

    let age = metric(&mut db, "sched_oldest_queued_task_age_seconds", &group).unwrap();
    assert!(age >= 0.0, "oldest queued age {age}");
    wait_for(
        Duration::from_secs(10),
        "the oldest queued age to grow",
        || {
            let now = metric(&mut db, "sched_oldest_queued_task_age_seconds", &group).unwrap();
            (now > age).then_some(())
        },
    );

    let _worker = cluster.worker("w1", &["--slots", "4"]);
    assert_eq!(wait(&mut db, first, 60), "succeeded");
    assert_eq!(wait(&mut db, second, 60), "succeeded");
    assert_eq!(metric(&mut db, "sched_queue_depth", &high), Some(0.0));
    assert_eq!(metric(&mut db, "sched_task_instances", &queued), Some(0.0));
    assert_eq!(
        metric(&mut db, "sched_oldest_queued_task_age_seconds", &group),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &mut db,
            "sched_workflow_instances",
            &json!({"state": "running"})
        ),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &mut db,
            "sched_workflow_instances_ended_5m",
            &json!({"state": "succeeded"})
        ),
        Some(2.0)
    );
    assert_eq!(metric(&mut db, "sched_group_workers", &group), Some(1.0));
    assert_eq!(metric(&mut db, "sched_group_slots", &group), Some(4.0));
    assert_eq!(
        metric(&mut db, "sched_workers", &json!({"state": "live"})),
        Some(1.0)
    );
    assert_eq!(
        metric(&mut db, "sched_workers_slots", &json!({})),
        Some(4.0)
    );
    // Both ends alerted ops; this worker delivers no alerts (no --alerts), so they wait.
    wait_metric(
        &mut db,
        "sched_alerts_pending",
        json!({"channel": "webhook"}),
        2.0,
        10,
    );
    assert_eq!(
        metric(
            &mut db,
            "sched_alerts_pending",
            &json!({"channel": "email"})
        ),
        Some(0.0)
    );
    wait_for(
        Duration::from_secs(10),
        "the oldest pending alert to age",
        || {
            let age = metric(
                &mut db,
                "sched_oldest_pending_alert_age_seconds",
                &json!({}),
            )
            .unwrap();
            (age > 0.0).then_some(())
        },
    );
}

#[test]
fn waits_task_group_slots_and_late_schedules_are_counted() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("SELECT sched.create_task_group('pool', 1)")
        .unwrap();
    define(
        &mut db,
        r#"{"name": "waits", "tasks": [
              {"name": "later", "type": "shell", "script": "true", "delay": "1 h"},
              {"name": "p1", "type": "shell", "script": "true", "task_group": "pool"},
              {"name": "p2", "type": "shell", "script": "true", "task_group": "pool"}]}"#,
    );
    start(&mut db, "waits");

    // No worker: one pool task holds the only slot, queued; the other waits for it.
    let pool = json!({"task_group": "pool"});
    wait_metric(
        &mut db,
        "sched_task_group_slots_in_use",
        pool.clone(),
        1.0,
        10,
    );
    wait_metric(&mut db, "sched_task_group_waiting", pool.clone(), 1.0, 10);
    assert_eq!(metric(&mut db, "sched_task_group_slots", &pool), Some(1.0));
    assert_eq!(
        metric(
            &mut db,
            "sched_waiting_task_instances",
            &json!({"reason": "delay"})
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &mut db,
            "sched_waiting_task_instances",
            &json!({"reason": "task_group"})
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &mut db,
            "sched_waiting_task_instances",
            &json!({"reason": "dependent"})
        ),
        Some(0.0)
    );
    let state = |s: &str| json!({"worker_group": "default", "state": s});
    assert_eq!(
        metric(&mut db, "sched_task_instances", &state("delayed")),
        Some(2.0)
    );
    assert_eq!(
        metric(&mut db, "sched_task_instances", &state("queued")),
        Some(1.0)
    );

    let id: i64 = db
        .query_one("SELECT sched.schedule('waits', '0 0 0 1 1 ?')", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        metric(&mut db, "sched_schedule_lateness_seconds", &json!({})),
        Some(0.0)
    );
    assert_eq!(
        metric(&mut db, "sched_schedules_online", &json!({})),
        Some(1.0)
    );
    // A schedule 90 s overdue, as while the master is down: uncommitted, so the running master
    // (which skips locked schedules) does not fire it meanwhile.
    let mut tx = db.transaction().unwrap();
    tx.execute(
        "UPDATE sched.schedule SET next_fire_at = now() - interval '90 s' WHERE id = $1",
        &[&id],
    )
    .unwrap();
    let late: f64 = tx
        .query_one(
            "SELECT value FROM sched.metrics WHERE metric = 'sched_schedule_lateness_seconds'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!((90.0..150.0).contains(&late), "lateness {late}");
    // Past sched.misfire_threshold (60 s): it missed a fire.
    let overdue: f64 = tx
        .query_one(
            "SELECT value FROM sched.metrics WHERE metric = 'sched_schedules_overdue'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(overdue, 1.0);
    tx.rollback().unwrap();

    db.execute("SELECT sched.disable_schedule($1)", &[&id])
        .unwrap();
    assert_eq!(
        metric(&mut db, "sched_schedules_online", &json!({})),
        Some(0.0)
    );
}

#[test]
fn a_killed_worker_counts_as_dead_and_a_stopped_one_as_shut_down() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let mut db = cluster.connect();
    let dead = json!({"reason": "dead"});
    let shutdown = json!({"reason": "shutdown"});
    let live = json!({"state": "live"});

    let killed = cluster.worker("w1", &["--slots", "2"]);
    wait_metric(&mut db, "sched_workers", live.clone(), 1.0, 10);
    assert_eq!(
        metric(&mut db, "sched_workers_ended_last_hour", &dead),
        Some(0.0)
    );
    killed.signal(libc::SIGKILL);
    // Declared dead by the master once silent for sched.worker_timeout.
    wait_metric(
        &mut db,
        "sched_workers_ended_last_hour",
        dead.clone(),
        1.0,
        60,
    );
    assert_eq!(metric(&mut db, "sched_workers", &live), Some(0.0));
    assert_eq!(
        metric(&mut db, "sched_workers_slots", &json!({})),
        Some(0.0)
    );
    assert_eq!(
        metric(&mut db, "sched_workers_ended_last_hour", &shutdown),
        Some(0.0)
    );

    let mut stopped = cluster.worker("w2", &[]);
    wait_metric(&mut db, "sched_workers", live.clone(), 1.0, 10);
    stopped.signal(libc::SIGTERM);
    assert!(stopped.wait_exit(Duration::from_secs(60)).success());
    wait_metric(&mut db, "sched_workers_ended_last_hour", shutdown, 1.0, 10);
    assert_eq!(
        metric(&mut db, "sched_workers_ended_last_hour", &dead),
        Some(1.0)
    );
    assert_eq!(metric(&mut db, "sched_workers", &live), Some(0.0));
}

#[test]
fn only_sched_admin_and_pg_monitor_read_metrics_and_they_name_no_workflow() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             CREATE ROLE boss LOGIN IN ROLE sched_admin;
             CREATE ROLE scraper LOGIN IN ROLE pg_monitor;
             CREATE ROLE stranger LOGIN;",
        )
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "alice-secret-report", "tasks": [{"name": "alice-task", "type": "shell", "script": "true"}]}"#,
    );
    start(&mut alice, "alice-secret-report");

    assert_eq!(
        error_of(alice.query("SELECT * FROM sched.metrics", &[])),
        "permission denied for view metrics"
    );
    assert_eq!(
        error_of(
            cluster
                .connect_as("stranger")
                .query("SELECT * FROM sched.metrics", &[])
        ),
        "permission denied for schema sched"
    );

    for role in ["boss", "scraper"] {
        let mut db = cluster.connect_as(role);
        wait_metric(
            &mut db,
            "sched_queue_depth",
            json!({"worker_group": "default", "priority": "medium"}),
            1.0,
            10,
        );
        // Neither is a superuser nor, for boss, allowed to read pg_stat_activity in full.
        wait_metric(&mut db, "sched_master_up", json!({}), 1.0, 30);
        let labels: Vec<Value> = db
            .query("SELECT labels FROM sched.metrics", &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(labels.len() > 20, "{role} read {} samples", labels.len());
        for l in &labels {
            assert!(!l.to_string().contains("alice"), "{role} read {l}");
        }
    }
}

/// The master's own writes and functions reach PostgreSQL's statistics while it runs: the
/// instances its schedule fires insert are counted where autovacuum reads them, and its ticks in
/// pg_stat_user_functions. A background worker that never reports keeps them until it exits.
#[test]
fn the_masters_writes_and_ticks_reach_the_statistics_autovacuum_reads() {
    let cluster = Cluster::start(&["track_functions = 'pl'"]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "fired", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    db.batch_execute("SELECT sched.schedule('fired', '* * * * * ?')")
        .unwrap();
    wait_for(Duration::from_secs(30), "a fired instance", || {
        db.query_opt("SELECT 1 FROM sched.workflow_instance LIMIT 1", &[])
            .unwrap()
    });
    // Only the master inserts instances here: nothing else started one.
    wait_for(
        Duration::from_secs(30),
        "the master's inserts and ticks in the statistics",
        || {
            let row = db
                .query_one(
                    "SELECT (SELECT n_tup_ins FROM pg_catalog.pg_stat_user_tables
                             WHERE schemaname = 'sched' AND relname = 'workflow_instance'),
                            (SELECT calls FROM pg_catalog.pg_stat_user_functions
                             WHERE schemaname = 'sched' AND funcname = '_policy_tick')",
                    &[],
                )
                .unwrap();
            let (inserted, ticks): (i64, Option<i64>) = (row.get(0), row.get(1));
            (inserted > 0 && ticks.unwrap_or(0) > 0).then_some(())
        },
    );
}
