//! Faults that must lose nothing and run nothing twice: the database going away, users'
//! transactions holding locks, reports that cannot succeed, sick workers.

use std::time::Duration;

use sched_tests::*;

/// Each task appends its name to `runs` once per run, so the file counts executions.
fn counting_spec(runs: &std::path::Path, nap_s: u32) -> String {
    let run = |name: &str| format!("echo {name} >> {}; sleep {nap_s}", runs.display());
    serde_json::json!({
        "name": "counted",
        "tasks": [
            {"name": "a", "type": "shell", "script": run("a")},
            {"name": "b", "type": "shell", "script": run("b")},
            {"name": "c", "type": "shell", "script": format!("echo c >> {}", runs.display()), "deps": ["a", "b"]}
        ]
    })
    .to_string()
}

fn runs_of(runs: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_to_string(runs)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[test]
fn a_database_restart_longer_than_the_worker_timeout_fails_nothing_over() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let runs = cluster.dir.join("runs");
    let mut db = cluster.connect();
    define(&mut db, &counting_spec(&runs, 8));
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "counted");
    wait_for(Duration::from_secs(30), "a and b to run", || {
        (runs_of(&runs) == ["a", "b"]).then_some(())
    });
    drop(db);

    cluster.stop_server();
    // The outage itself, twice the worker timeout: heartbeats from before it must not count
    // against the workers once the server is back.
    std::thread::sleep(Duration::from_secs(6));
    cluster.start_server();

    let mut db = cluster.connect();
    assert_eq!(wait(&mut db, id, 120), "succeeded");
    assert_eq!(
        task_states(&mut db, id),
        [
            ("a".to_owned(), "succeeded".to_owned(), 1),
            ("b".to_owned(), "succeeded".to_owned(), 1),
            ("c".to_owned(), "succeeded".to_owned(), 1)
        ]
    );
    assert_eq!(runs_of(&runs), ["a", "b", "c"]);
    let dead: i64 = db
        .query_one("SELECT count(*) FROM sched.worker WHERE NOT alive", &[])
        .unwrap()
        .get(0);
    assert_eq!(dead, 0, "a worker was declared dead because the database was down");
}

#[test]
fn an_open_stop_transaction_stalls_neither_failover_nor_other_completions() {
    let cluster = Cluster::start(&["sched.worker_timeout = 2"]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             CREATE ROLE bob LOGIN IN ROLE sched_user;",
        )
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    // alice's instance has a long task and a short one that finishes while her stop is open.
    define(
        &mut alice,
        r#"{"name": "held", "worker_group": "g1", "tasks": [
              {"name": "long", "type": "shell", "script": "sleep 600"},
              {"name": "short", "type": "shell", "script": "sleep 1"}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "chain", "worker_group": "g1", "tasks": [
              {"name": "a", "type": "shell", "script": "true"},
              {"name": "b", "type": "shell", "script": "true", "deps": ["a"]},
              {"name": "c", "type": "shell", "script": "true", "deps": ["b"]}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "victim", "worker_group": "g2", "tasks": [{"name": "a", "type": "shell", "script": "sleep 600"}]}"#,
    );
    let _w1 = cluster.worker("w1", &["--group", "g1", "--slots", "8"]);
    let mut w2 = cluster.worker("w2", &["--group", "g2"]);
    let held = start(&mut alice, "held");
    let victim = start(&mut bob, "victim");
    wait_for(Duration::from_secs(30), "the long tasks to run", || {
        let running = |db: &mut Client, id| {
            task_states(db, id)
                .iter()
                .any(|(t, s, _)| t.as_str() != "short" && s == "running")
        };
        (running(&mut alice, held) && running(&mut bob, victim)).then_some(())
    });

    // alice stops her instance and leaves the transaction open, holding its lock.
    let mut open = cluster.connect_as("alice");
    open.batch_execute(&format!("BEGIN; SELECT sched.stop_workflow({held})"))
        .unwrap();

    // A dead worker's task is still failed over ...
    w2.signal(libc::SIGKILL);
    w2.wait_exit(Duration::from_secs(10));
    wait_for(Duration::from_secs(30), "the victim's task to fail over", || {
        let states = task_states(&mut bob, victim);
        (states.len() == 2 && states[0].1 == "need_fault_tolerance").then_some(())
    });
    // ... and other users' tasks complete, also after alice's short task finished.
    let chain = start(&mut bob, "chain");
    assert_eq!(wait(&mut bob, chain, 60), "succeeded");
    wait_for(Duration::from_secs(30), "alice's short task to finish", || {
        std::process::Command::new("pgrep")
            .args(["-f", "^sleep 1$"])
            .status()
            .ok()
            .filter(|s| !s.success())
    });
    let chain2 = start(&mut bob, "chain");
    assert_eq!(wait(&mut bob, chain2, 60), "succeeded");

    // Once alice commits, her deferred report lands and the stop completes.
    open.batch_execute("COMMIT").unwrap();
    assert_eq!(wait(&mut alice, held, 60), "stopped");
    let states = task_states(&mut alice, held);
    assert!(
        states.contains(&("short".to_owned(), "succeeded".to_owned(), 1)),
        "{states:?}"
    );
    assert!(
        states.contains(&("long".to_owned(), "killed".to_owned(), 1)),
        "{states:?}"
    );
}
