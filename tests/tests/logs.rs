//! Task logs: the last lines, the whole log as one text, and following a running attempt.

use std::time::{Duration, Instant};

use sched_tests::*;
use serde_json::json;

fn attempt(db: &mut Client, id: i64, task: &str) -> i64 {
    db.query_one(
        "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2",
        &[&id, &task],
    )
    .unwrap()
    .get(0)
}

fn follow(db: &mut Client, ti: i64, after: i32, wait: &str) -> Vec<(i32, String)> {
    db.query(
        "SELECT line_no, line FROM sched.task_log_follow($1, $2, $3::text::interval)",
        &[&ti, &after, &wait],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[test]
fn tail_text_and_errors() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        &json!({"name": "counting", "tasks": [{"name": "count", "type": "shell", "script": "seq 50"}]}).to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "counting");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let ti = attempt(&mut db, id, "count");
    let tail: Vec<String> = db
        .query("SELECT sched.task_log_tail($1, 3)", &[&ti])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tail, ["48", "49", "50"]);
    let text: String = db
        .query_one("SELECT sched.task_log_text($1)", &[&ti])
        .unwrap()
        .get(0);
    let expected: String = (1..=50).map(|i| format!("{i}\n")).collect();
    assert_eq!(text, expected);
    // A finished attempt's log is complete: following past its end returns nothing at once.
    let t = Instant::now();
    assert!(follow(&mut db, ti, 50, "30 s").is_empty());
    assert!(t.elapsed() < Duration::from_secs(30));
    assert_eq!(follow(&mut db, ti, 48, "30 s").len(), 2);

    for (sql, expected) in [
        (
            "SELECT sched.task_log_tail($1, 0)",
            "lines: must be between 1 and 100000, got 0",
        ),
        (
            "SELECT * FROM sched.task_log_follow($1, -1)",
            "after_line: must be 0 or more, got -1",
        ),
        (
            "SELECT * FROM sched.task_log_follow($1, 0, '2 hours')",
            "wait: must be between 0 and 1 hour",
        ),
        (
            "SELECT sched.task_log_text($1::bigint + 1000)",
            "does not exist",
        ),
    ] {
        let err = error_of(db.query(sql, &[&ti]));
        assert!(err.contains(expected), "{sql}: {err}");
    }
    db.batch_execute("CREATE ROLE nosy LOGIN; GRANT sched_user TO nosy;")
        .unwrap();
    let mut nosy = cluster.connect_as("nosy");
    let err = error_of(nosy.query_one("SELECT sched.task_log_text($1)", &[&ti]));
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn following_a_running_task_shows_its_lines_as_they_come() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    // Each line carries the time the task printed it.
    let script = format!(
        "echo \"first $(date +%s.%N)\"; while [ ! -e {g} ]; do sleep 0.05; done; echo \"second $(date +%s.%N)\"; \
         while [ ! -e {g}.2 ]; do sleep 0.05; done",
        g = gate.display()
    );
    define(
        &mut db,
        &json!({"name": "chatty", "tasks": [{"name": "talk", "type": "shell", "script": script}]})
            .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "chatty");
    let ti = wait_for(Duration::from_secs(30), "the task running", || {
        db.query_opt(
            "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1 AND state = 'running'",
            &[&id],
        )
        .unwrap()
        .map(|r| r.get::<_, i64>(0))
    });
    let first = follow(&mut db, ti, 0, "30 s");
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].1.starts_with("first "));
    std::fs::write(&gate, "").unwrap();
    // The call waits for the next line and returns it, while the task still runs.
    let second = follow(&mut db, ti, first[0].0, "30 s");
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(second[0].1.starts_with("second "));
    let state: String = db
        .query_one(
            "SELECT state FROM sched.task_instances WHERE id = $1",
            &[&ti],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, "running");
    // Stored within a second of being printed.
    let lag: f64 = db
        .query_one(
            "SELECT extract(epoch FROM logged_at)::float8 - split_part(line, ' ', 2)::float8
             FROM sched.task_log_line WHERE task_instance_id = $1 AND line_no = $2",
            &[&ti, &second[0].0],
        )
        .unwrap()
        .get(0);
    assert!(lag < 1.0, "stored {lag} s after it was printed");
    std::fs::write(gate.with_extension("2"), "").unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
}
