//! Task types beyond shell: what each runs, and that output, OUT capture, failure and kill
//! behave as for shell.

use std::time::Duration;

use sched_tests::*;

#[test]
fn python_tasks_resolve_parameters_print_out_values_and_fail_with_the_traceback() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "py", "failure_strategy": "continue", "params": {"who": "world"}, "tasks": [
            {"name": "hello", "type": "python", "out": [{"name": "n", "type": "integer"}],
             "script": "import sys\nprint('hello ${who}')\nprint('to stderr', file=sys.stderr)\nprint('${setValue(n=%d)}' % (6 * 7))"},
            {"name": "after", "type": "shell", "deps": ["hello"], "script": "echo n=${n}"},
            {"name": "boom", "type": "python", "script": "raise ValueError('boom')"},
            {"name": "exit3", "type": "python", "script": "raise SystemExit(3)"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let id = start(&mut db, "py");
    assert_eq!(wait(&mut db, id, 60), "failed");
    let mut hello = task_output(&mut db, id, "hello");
    hello.sort();
    assert_eq!(hello, ["${setValue(n=42)}", "hello world", "to stderr"]);
    assert_eq!(task_output(&mut db, id, "after"), ["n=42"]);
    let boom = task_output(&mut db, id, "boom");
    assert_eq!(
        boom.last().map(String::as_str),
        Some("ValueError: boom"),
        "{boom:?}"
    );
    let codes: Vec<(String, String, Option<i32>)> = db
        .query(
            "SELECT task, state, exit_code FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY task",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let codes: Vec<(&str, &str, Option<i32>)> = codes
        .iter()
        .map(|(t, s, c)| (t.as_str(), s.as_str(), *c))
        .collect();
    assert_eq!(
        codes,
        [
            ("after", "succeeded", Some(0)),
            ("boom", "failed", Some(1)),
            ("exit3", "failed", Some(3)),
            ("hello", "succeeded", Some(0)),
        ]
    );
}

#[test]
fn a_stopped_python_task_is_killed_with_what_it_started() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let pid_file = cluster.dir.join("child.pid");
    define(
        &mut db,
        &serde_json::json!({"name": "pylong", "tasks": [
            {"name": "long", "type": "python",
             "script": format!("import subprocess, time\np = subprocess.Popen(['sleep', '300'])\nopen('{}', 'w').write(str(p.pid))\ntime.sleep(300)", pid_file.display())}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "pylong");
    let child: i32 = wait_for(
        Duration::from_secs(30),
        "the task to start its child",
        || {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        },
    );
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 30), "stopped");
    assert_eq!(
        task_states(&mut db, id),
        [("long".to_owned(), "killed".to_owned(), 1)]
    );
    wait_for(
        Duration::from_secs(10),
        "the child process to be gone",
        || {
            // SAFETY: signal 0 only checks for existence.
            (unsafe { libc::kill(child, 0) } != 0).then_some(())
        },
    );
}

#[test]
fn a_worker_without_the_python_interpreter_fails_python_tasks_saying_why() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "nopy", "tasks": [{"name": "p", "type": "python", "script": "print(1)"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--python", "/nonexistent/python3"]);
    let id = start(&mut db, "nopy");
    assert_eq!(wait(&mut db, id, 60), "failed");
    assert_eq!(
        task_output(&mut db, id, "p"),
        [
            "sched-worker: python interpreter /nonexistent/python3 was not found or is not executable; install it or pass --python"
        ]
    );
}
