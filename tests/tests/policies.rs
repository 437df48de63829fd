//! Run policies: retries (only from failed, after their interval, the failure strategy only
//! once they are spent), delay, task timeouts of each strategy, workflow timeouts.

use std::time::Duration;

use sched_tests::*;
use serde_json::json;

/// (state, retry, exit code, kill reason) of each attempt of `task`, in order.
fn attempts(
    db: &mut Client,
    id: i64,
    task: &str,
) -> Vec<(String, i32, Option<i32>, Option<String>)> {
    db.query(
        "SELECT state, retry, exit_code, kill_reason FROM sched.task_instances
         WHERE workflow_instance_id = $1 AND task = $2 ORDER BY id",
        &[&id, &task],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn states(list: &[(String, i32, Option<i32>, Option<String>)]) -> Vec<&str> {
    list.iter().map(|a| a.0.as_str()).collect()
}

#[test]
fn failed_tasks_are_retried_after_their_interval_and_fail_the_instance_only_when_spent() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let counter = cluster.dir.join("tries");
    define(
        &mut db,
        &json!({"name": "retrying", "tasks": [
            {"name": "flaky", "type": "shell", "retries": 2, "retry_interval": "1 s",
             "script": format!("n=$(cat {0} 2>/dev/null || echo 0); echo $((n + 1)) > {0}; [ $n -ge 2 ]", counter.display())},
            {"name": "after_flaky", "type": "shell", "deps": ["flaky"], "script": "echo downstream ran"}]})
        .to_string(),
    );
    define(
        &mut db,
        r#"{"name": "hopeless", "tasks": [
            {"name": "never", "type": "shell", "retries": 1, "retry_interval": "0 s", "script": "exit 3"},
            {"name": "after_never", "type": "shell", "deps": ["never"], "script": "echo must not run"},
            {"name": "independent", "type": "shell", "script": "echo ran"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let id = start(&mut db, "retrying");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let flaky = attempts(&mut db, id, "flaky");
    assert_eq!(states(&flaky), ["failed", "failed", "succeeded"]);
    assert_eq!(flaky.iter().map(|a| a.1).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(task_output(&mut db, id, "after_flaky"), ["downstream ran"]);
    // Each retry waited its interval after the failure before it was queued.
    let gaps: Vec<f64> = db
        .query(
            "SELECT extract(epoch FROM started_at - lag(ended_at) OVER (ORDER BY id))::float8
             FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'flaky' ORDER BY id",
            &[&id],
        )
        .unwrap()
        .iter()
        .filter_map(|r| r.get::<_, Option<f64>>(0))
        .collect();
    assert_eq!(gaps.len(), 2);
    assert!(gaps.iter().all(|g| *g >= 1.0), "{gaps:?}");

    let id = start(&mut db, "hopeless");
    assert_eq!(wait(&mut db, id, 60), "failed");
    let never = attempts(&mut db, id, "never");
    assert_eq!(states(&never), ["failed", "failed"]);
    assert_eq!(never[1].2, Some(3));
    assert!(attempts(&mut db, id, "after_never").is_empty());
    assert_eq!(task_output(&mut db, id, "independent"), ["ran"]);
}

#[test]
fn killed_attempts_are_never_retried_and_a_delay_holds_the_first_attempt() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "long", "tasks": [
            {"name": "sleeper", "type": "shell", "retries": 3, "retry_interval": "0 s", "script": "sleep 600"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "later", "tasks": [{"name": "waits", "type": "shell", "delay": "2 s", "script": "echo late"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let id = start(&mut db, "long");
    wait_for(Duration::from_secs(30), "the sleeper to run", || {
        (states(&attempts(&mut db, id, "sleeper")) == ["running"]).then_some(())
    });
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "stopped");
    let sleeper = attempts(&mut db, id, "sleeper");
    assert_eq!(sleeper.len(), 1, "{sleeper:?}");
    assert_eq!(
        (sleeper[0].0.as_str(), sleeper[0].3.as_deref()),
        ("killed", Some("stop"))
    );

    let id = start(&mut db, "later");
    let (state, not_before): (String, Option<std::time::SystemTime>) = {
        let r = db
            .query_one(
                "SELECT state, not_before FROM sched.task_instances WHERE workflow_instance_id = $1",
                &[&id],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(state, "delayed");
    assert!(not_before.is_some());
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let waited: f64 = db
        .query_one(
            "SELECT extract(epoch FROM started_at - queued_at)::float8 FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert!(waited >= 2.0, "started {waited} s after it was queued");
}

#[test]
fn task_timeouts_warn_fail_and_both() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let pid_file = cluster.dir.join("child.pid");
    // warns runs past its timeout until the test has seen its alert.
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "timeouts", "failure_strategy": "continue", "tasks": [
            {"name": "fails", "type": "shell", "retries": 1, "retry_interval": "0 s",
             "timeout": {"after": "1 s", "strategy": "fail"},
             "script": format!("sleep 600 & echo $! > {}; wait", pid_file.display())},
            {"name": "warns", "type": "shell", "timeout": {"after": "1 s", "strategy": "warn"},
             "script": format!("while [ ! -e {} ]; do sleep 0.05; done; echo done", gate.display())},
            {"name": "both", "type": "shell", "timeout": {"after": "1 s", "strategy": "warn_fail"}, "script": "sleep 600"},
            {"name": "sql", "type": "sql", "timeout": {"after": "1 s", "strategy": "fail"}, "sql": "SELECT pg_sleep(600)"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "timeouts");
    wait_alert(&mut db, id, "task_timeout", "warns");
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, id, 120), "failed");
    let fails = attempts(&mut db, id, "fails");
    assert_eq!(states(&fails), ["failed", "failed"], "{fails:?}");
    assert!(
        fails
            .iter()
            .all(|a| a.2 == Some(124) && a.3.as_deref() == Some("timeout")),
        "{fails:?}"
    );
    let log = task_output(&mut db, id, "fails");
    assert!(
        log.iter()
            .any(|l| l == "sched-worker: timed out after 1 s; the task's process group was killed"),
        "{log:?}"
    );
    // What the script started went with it.
    wait_gone(pid_written_to(&pid_file));
    assert_eq!(states(&attempts(&mut db, id, "warns")), ["succeeded"]);
    assert_eq!(task_output(&mut db, id, "warns"), ["done"]);
    let both = attempts(&mut db, id, "both");
    assert_eq!((both[0].0.as_str(), both[0].2), ("failed", Some(124)));
    let sql = attempts(&mut db, id, "sql");
    assert_eq!(
        (sql[0].0.as_str(), sql[0].2, sql[0].3.as_deref()),
        ("failed", Some(124), Some("timeout"))
    );
    let alerted: Vec<String> = db
        .query(
            "SELECT ti.task FROM sched.alerts a JOIN sched.task_instances ti ON ti.id = a.task_instance_id
             WHERE a.workflow_instance_id = $1 AND a.event = 'task_timeout' ORDER BY ti.task",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(alerted, ["both", "warns"]);
    wait_for(
        Duration::from_secs(30),
        "the SQL task's statement to end",
        || {
            let left: i64 = db
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_sched sql task'", &[])
            .unwrap()
            .get(0);
            (left == 0).then_some(())
        },
    );
}

/// Waits for the alert of this kind on the instance (of the named task, for a task alert).
fn wait_alert(db: &mut Client, id: i64, kind: &str, task: &str) {
    wait_for(
        Duration::from_secs(60),
        &format!("the {kind} alert of {task}"),
        || {
            let n: i64 = db
            .query_one(
                "SELECT count(*) FROM sched.alerts a LEFT JOIN sched.task_instances ti ON ti.id = a.task_instance_id
                 WHERE a.workflow_instance_id = $1 AND a.event = $2 AND ($3 = '' OR ti.task = $3)",
                &[&id, &kind, &task],
            )
            .unwrap()
            .get(0);
            (n > 0).then_some(())
        },
    );
}

#[test]
fn workflow_timeouts_alert_or_stop_the_instance() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // briefly runs past the workflow's timeout until the test has seen the alert.
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        r#"{"name": "stopper", "timeout": {"after": "1 s", "strategy": "stop"}, "tasks": [
            {"name": "forever", "type": "shell", "retries": 2, "script": "sleep 600"}]}"#,
    );
    define(
        &mut db,
        &json!({"name": "warner", "timeout": {"after": "1 s"}, "tasks": [
            {"name": "briefly", "type": "shell",
             "script": format!("while [ ! -e {} ]; do sleep 0.05; done; echo ok", gate.display())}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let stopped = start(&mut db, "stopper");
    let warned = start(&mut db, "warner");
    assert_eq!(wait(&mut db, stopped, 60), "stopped");
    wait_alert(&mut db, warned, "workflow_timeout", "");
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, warned, 60), "succeeded");
    let forever = attempts(&mut db, stopped, "forever");
    assert_eq!(forever.len(), 1);
    assert_eq!(
        (forever[0].0.as_str(), forever[0].3.as_deref()),
        ("killed", Some("workflow_timeout"))
    );
    let alerts: Vec<(i64, String)> = db
        .query(
            "SELECT workflow_instance_id, message FROM sched.alerts WHERE event = 'workflow_timeout' ORDER BY workflow_instance_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0].0, stopped);
    assert!(
        alerts[0].1.contains("; it is being stopped."),
        "{}",
        alerts[0].1
    );
    assert_eq!(alerts[1].0, warned);
    let issued: String = db
        .query_one(
            "SELECT issued_by FROM sched.commands WHERE workflow_instance_id = $1 AND command_type = 'stop'",
            &[&stopped],
        )
        .unwrap()
        .get(0);
    assert_eq!(issued, "pg_sched master");
}

#[test]
fn the_master_asks_for_the_kill_of_a_timed_out_task_its_worker_did_not_kill() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "stuck", "tasks": [
            {"name": "t", "type": "shell", "timeout": {"after": "1 s", "strategy": "fail"}, "script": "sleep 600"}]}"#,
    );
    let worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "stuck");
    wait_for(Duration::from_secs(30), "the task to run", || {
        (states(&attempts(&mut db, id, "t")) == ["running"]).then_some(())
    });
    // A frozen worker enforces nothing; 15 s past the timeout the master asks for the kill.
    worker.signal(libc::SIGSTOP);
    wait_for(Duration::from_secs(60), "the master's kill request", || {
        let r = db
            .query_one(
                "SELECT kill_requested, kill_reason FROM sched.task_instances WHERE workflow_instance_id = $1",
                &[&id],
            )
            .unwrap();
        let (asked, reason): (bool, Option<String>) = (r.get(0), r.get(1));
        (asked && reason.as_deref() == Some("timeout")).then_some(())
    });
    worker.signal(libc::SIGCONT);
    assert_eq!(wait(&mut db, id, 60), "failed");
    let t = attempts(&mut db, id, "t");
    assert_eq!(
        (t[0].0.as_str(), t[0].3.as_deref()),
        ("failed", Some("timeout"))
    );
}
