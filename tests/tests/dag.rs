//! DAG execution: order, logs, failure strategies, stop, versions.

use std::time::Duration;

use sched_tests::*;

#[test]
fn diamond_runs_in_dependency_order_and_stores_logs() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "diamond", "tasks": [
            {"name": "a", "type": "shell", "script": "echo from a"},
            {"name": "b", "type": "shell", "script": "sleep 0.3; echo from b", "deps": ["a"]},
            {"name": "c", "type": "shell", "script": "echo to stderr >&2; echo second line", "deps": ["a"]},
            {"name": "d", "type": "shell", "script": "echo from d", "deps": ["b", "c"]}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "diamond");
    assert_eq!(wait(&mut db, id, 60), "succeeded");

    let times = |db: &mut Client, task: &str| -> (std::time::SystemTime, std::time::SystemTime) {
        let row = db
            .query_one(
                "SELECT started_at, ended_at FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2",
                &[&id, &task],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let (_, a_end) = times(&mut db, "a");
    let (b_start, b_end) = times(&mut db, "b");
    let (c_start, c_end) = times(&mut db, "c");
    let (d_start, _) = times(&mut db, "d");
    assert!(
        b_start >= a_end && c_start >= a_end,
        "b and c start after a ends"
    );
    assert!(
        d_start >= b_end && d_start >= c_end,
        "d starts after both b and c end"
    );
    let states = task_states(&mut db, id);
    assert_eq!(states.len(), 4);
    assert!(
        states.iter().all(|(_, s, a)| s == "succeeded" && *a == 1),
        "{states:?}"
    );

    let log = |db: &mut Client, task: &str| -> Vec<String> {
        db.query(
            "SELECT sched.task_log(id) FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2",
            &[&id, &task],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert_eq!(log(&mut db, "a"), ["from a"]);
    let mut c_log = log(&mut db, "c");
    c_log.sort();
    assert_eq!(c_log, ["second line", "to stderr"]);

    let paged: Vec<String> = db
        .query(
            "SELECT sched.task_log(id, 1, 1) FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'c'",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(paged.len(), 1, "skip 1, limit 1 gives one line");

    let command: String = db
        .query_one(
            "SELECT command_type FROM sched.commands WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(command, "start_process");
}

#[test]
fn failure_strategy_continue_lets_independent_branches_finish() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "cont", "failure_strategy": "continue", "tasks": [
            {"name": "bad", "type": "shell", "script": "exit 3"},
            {"name": "after_bad", "type": "shell", "script": "echo never", "deps": ["bad"]},
            {"name": "slow", "type": "shell", "script": "sleep 1"},
            {"name": "after_slow", "type": "shell", "script": "true", "deps": ["slow"]}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "cont");
    assert_eq!(wait(&mut db, id, 60), "failed");
    let states = task_states(&mut db, id);
    assert_eq!(
        states,
        [
            ("after_slow".to_owned(), "succeeded".to_owned(), 1),
            ("bad".to_owned(), "failed".to_owned(), 1),
            ("slow".to_owned(), "succeeded".to_owned(), 1),
        ],
        "downstream of a failed task never runs; the independent branch finishes"
    );
    let exit: i32 = db
        .query_one(
            "SELECT exit_code FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'bad'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(exit, 3);
}

#[test]
fn failure_strategy_end_kills_running_siblings_within_seconds() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "ending", "failure_strategy": "END", "tasks": [
            {"name": "bad", "type": "shell", "script": "sleep 0.5; exit 1"},
            {"name": "long", "type": "shell", "script": "sleep 300"},
            {"name": "after_long", "type": "shell", "script": "true", "deps": ["long"]}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "ending");
    let started = std::time::Instant::now();
    assert_eq!(wait(&mut db, id, 60), "failed");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the long sibling was killed, not waited for"
    );
    let states = task_states(&mut db, id);
    assert_eq!(
        states,
        [
            ("bad".to_owned(), "failed".to_owned(), 1),
            ("long".to_owned(), "killed".to_owned(), 1)
        ]
    );
}

#[test]
fn stop_kills_the_whole_process_group_and_ends_stopped() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let pid_file = cluster.dir.join("grandchild.pid");
    define(
        &mut db,
        &serde_json::json!({"name": "stoppable", "tasks": [
            {"name": "long", "type": "shell",
             "script": format!("sleep 300 & echo $! > {}; wait", pid_file.display())},
            {"name": "next", "type": "shell", "script": "true", "deps": ["long"]}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "stoppable");
    let grandchild = pid_written_to(&pid_file);
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 30), "stopped");
    assert_eq!(
        task_states(&mut db, id),
        [("long".to_owned(), "killed".to_owned(), 1)]
    );
    wait_gone(grandchild);

    let err = error_of(db.execute("SELECT sched.stop_workflow($1)", &[&id]));
    assert!(err.contains("already stopped"), "{err}");
    let kinds: Vec<String> = db
        .query(
            "SELECT command_type FROM sched.commands WHERE workflow_instance_id = $1 ORDER BY id",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, ["start_process", "stop"]);
}

#[test]
fn stop_before_any_worker_claims_ends_stopped_at_once() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "idle", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let id = start(&mut db, "idle");
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(instance_state(&mut db, id), "stopped");
    assert_eq!(
        task_states(&mut db, id),
        [("a".to_owned(), "killed".to_owned(), 1)]
    );
    let err = error_of(db.execute("SELECT sched.stop_workflow(424242)", &[]));
    assert!(
        err.contains("workflow instance 424242 does not exist"),
        "{err}"
    );
}

#[test]
fn replacing_a_workflow_adds_a_version_and_running_instances_keep_theirs() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    let spec = |word: &str| {
        serde_json::json!({"name": "versioned", "tasks": [
            {"name": "wait", "type": "shell",
             "script": format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())},
            {"name": "say", "type": "shell", "script": format!("echo {word}"), "deps": ["wait"]}]})
    };
    db.execute("SELECT sched.create_workflow($1)", &[&spec("one")])
        .unwrap();
    let err = error_of(db.execute("SELECT sched.create_workflow($1)", &[&spec("two")]));
    assert!(
        err.contains(r#"workflow "versioned" already exists"#),
        "{err}"
    );

    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let first = start(&mut db, "versioned");
    db.execute("SELECT sched.create_workflow($1, true)", &[&spec("two")])
        .unwrap();
    let second = start(&mut db, "versioned");
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, first, 60), "succeeded");
    assert_eq!(wait(&mut db, second, 60), "succeeded");

    let said = |db: &mut Client, id: i64| -> (i32, String) {
        let row = db
            .query_one(
                "SELECT i.version, (SELECT sched.task_log(t.id) LIMIT 1)
                 FROM sched.workflow_instances i JOIN sched.task_instances t ON t.workflow_instance_id = i.id
                 WHERE i.id = $1 AND t.task = 'say'",
                &[&id],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(said(&mut db, first), (1, "one".to_owned()));
    assert_eq!(said(&mut db, second), (2, "two".to_owned()));
    let spec_back: serde_json::Value = db
        .query_one("SELECT sched.workflow_spec('versioned')", &[])
        .unwrap()
        .get(0);
    assert_eq!(spec_back["tasks"][1]["script"], "echo two");
}

#[test]
fn wait_workflow_returns_the_current_state_at_timeout() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "nobody", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let id = start(&mut db, "nobody");
    let row = db
        .query_one("SELECT sched.wait_workflow($1, '200 ms')", &[&id])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "running");
}

#[test]
fn empty_tasks_start_no_process_and_work_as_join_points() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let marker = cluster.dir.join("ran");
    define(
        &mut db,
        &serde_json::json!({"name": "joins", "tasks": [
            {"name": "start", "type": "EMPTY"},
            {"name": "left", "type": "shell", "script": format!("echo left >> {}", marker.display()), "deps": ["start"]},
            {"name": "right", "type": "shell", "script": format!("echo right >> {}", marker.display()), "deps": ["start"]},
            {"name": "join", "type": "empty", "deps": ["left", "right"]},
            {"name": "after", "type": "shell", "script": format!("echo after >> {}", marker.display()), "deps": ["join"]}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "joins");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let lines = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(
        lines.lines().last(),
        Some("after"),
        "after runs last: {lines}"
    );
    let (join_type, join_log): (String, i64) = {
        let row = db
            .query_one(
                "SELECT type, (SELECT count(*) FROM sched.task_log(id)) FROM sched.task_instances
                 WHERE workflow_instance_id = $1 AND task = 'join'",
                &[&id],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((join_type.as_str(), join_log), ("empty", 0));
}

#[test]
fn a_task_whose_escaped_background_process_holds_its_output_still_completes() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // setsid leaves the task's process group, so the kill at the end of the script misses it,
    // and it keeps the task's stdout open.
    define(
        &mut db,
        r#"{"name": "daemonizer", "tasks": [{"name": "a", "type": "shell", "script": "setsid sleep 37.5 & echo detached"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "daemonizer");
    let state = wait(&mut db, id, 20);
    let _ = std::process::Command::new("pkill")
        .args(["-f", "sleep 37.5"])
        .status();
    assert_eq!(state, "succeeded");
    let log: String = db
        .query_one(
            "SELECT sched.task_log(id) FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(log, "detached");
}
