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
