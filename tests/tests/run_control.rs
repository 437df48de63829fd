//! Run control: pause and resume, recover, rerun, start_tasks with each scope, execute_task,
//! force_success, kill_task; and every command refused in a state it does not apply to.

use std::path::Path;
use std::time::Duration;

use sched_tests::*;
use serde_json::json;

/// A script that waits until `gate` exists (the test opens it when it is ready).
fn gated(gate: &Path, then: &str) -> String {
    format!(
        "while [ ! -e {} ]; do sleep 0.05; done; {then}",
        gate.display()
    )
}

fn open(gate: &Path) {
    std::fs::write(gate, "").unwrap();
}

/// (task, state, run) of every attempt, in order.
fn attempts(db: &mut Client, id: i64) -> Vec<(String, String, i32)> {
    db.query(
        "SELECT task, state, run FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY id",
        &[&id],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn of<'a>(list: &'a [(String, String, i32)], task: &str) -> Vec<&'a str> {
    list.iter()
        .filter(|(t, _, _)| t == task)
        .map(|(_, s, _)| s.as_str())
        .collect()
}

fn state_of(db: &mut Client, id: i64, task: &str) -> Option<String> {
    db.query_opt(
        "SELECT state FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2 ORDER BY id DESC LIMIT 1",
        &[&id, &task],
    )
    .unwrap()
    .map(|r| r.get(0))
}

fn attempt_id(db: &mut Client, id: i64, task: &str) -> i64 {
    db.query_one(
        "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2 ORDER BY id DESC LIMIT 1",
        &[&id, &task],
    )
    .unwrap()
    .get(0)
}

fn call(db: &mut Client, sql: &str, id: i64) -> Result<(), String> {
    db.execute(sql, &[&id])
        .map(|_| ())
        .map_err(|e| error_of::<()>(Err(e)))
}

fn wait_state(db: &mut Client, id: i64, task: &str, state: &str) {
    wait_for(
        Duration::from_secs(60),
        &format!("{task} to be {state}"),
        || (state_of(db, id, task).as_deref() == Some(state)).then_some(()),
    );
}

#[test]
fn pause_lets_running_tasks_finish_and_resume_continues_where_it_stopped() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "pausable", "tasks": [
            {"name": "a", "type": "shell", "script": gated(&gate, "echo a")},
            {"name": "q", "type": "shell", "script": "echo q"},
            {"name": "b", "type": "shell", "deps": ["a"], "script": "echo b"},
            {"name": "c", "type": "shell", "deps": ["b"], "script": "echo c"}]})
        .to_string(),
    );
    // One slot: q waits in the queue while a runs.
    let _worker = cluster.worker("w1", &["--slots", "1"]);
    let id = start(&mut db, "pausable");
    wait_for(Duration::from_secs(30), "a running and q queued", || {
        let list = attempts(&mut db, id);
        (of(&list, "a") == ["running"] && of(&list, "q") == ["queued"]).then_some(())
    });
    call(&mut db, "SELECT sched.pause_workflow($1)", id).unwrap();
    assert_eq!(instance_state(&mut db, id), "ready_pause");
    assert_eq!(state_of(&mut db, id, "q").as_deref(), Some("paused"));
    let err = call(&mut db, "SELECT sched.pause_workflow($1)", id).unwrap_err();
    assert!(
        err.contains("workflow instance")
            && err.contains("is ready_pause; pause applies to running instances"),
        "{err}"
    );
    open(&gate);
    assert_eq!(wait(&mut db, id, 60), "paused");
    let list = attempts(&mut db, id);
    assert_eq!(of(&list, "a"), ["succeeded"]);
    assert!(of(&list, "b").is_empty(), "{list:?}");
    let err = call(&mut db, "SELECT sched.recover_workflow($1)", id).unwrap_err();
    assert!(
        err.contains("is paused; recover applies to failed instances"),
        "{err}"
    );

    call(&mut db, "SELECT sched.resume_workflow($1)", id).unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let list = attempts(&mut db, id);
    assert_eq!(of(&list, "a"), ["succeeded"]);
    assert_eq!(of(&list, "q"), ["paused", "succeeded"]);
    assert_eq!(of(&list, "b"), ["succeeded"]);
    assert_eq!(of(&list, "c"), ["succeeded"]);
    assert_eq!(
        commands(&mut db, id),
        ["start_process", "pause", "recover_suspended_process"]
    );

    // A stopped instance resumes alike: what was killed runs again.
    std::fs::remove_file(&gate).unwrap();
    let id = start(&mut db, "pausable");
    wait_state(&mut db, id, "a", "running");
    call(&mut db, "SELECT sched.stop_workflow($1)", id).unwrap();
    assert_eq!(wait(&mut db, id, 60), "stopped");
    open(&gate);
    call(&mut db, "SELECT sched.resume_workflow($1)", id).unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(of(&attempts(&mut db, id), "a"), ["killed", "succeeded"]);
}

#[test]
fn recover_reruns_the_failed_branch_of_a_diamond_and_force_success_unblocks_downstream() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let fixed = cluster.dir.join("fixed");
    define(
        &mut db,
        &json!({"name": "diamond", "tasks": [
            {"name": "a", "type": "shell", "script": "echo a"},
            {"name": "b", "type": "shell", "deps": ["a"], "script": format!("[ -e {} ]", fixed.display())},
            {"name": "c", "type": "shell", "deps": ["a"], "script": "echo c"},
            {"name": "d", "type": "shell", "deps": ["b", "c"], "script": "echo d"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let id = start(&mut db, "diamond");
    assert_eq!(wait(&mut db, id, 60), "failed");
    assert!(of(&attempts(&mut db, id), "d").is_empty());
    open(&fixed);
    call(&mut db, "SELECT sched.recover_workflow($1)", id).unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let list = attempts(&mut db, id);
    assert_eq!(of(&list, "a"), ["succeeded"]);
    assert_eq!(of(&list, "b"), ["failed", "succeeded"]);
    assert_eq!(of(&list, "c"), ["succeeded"]);
    assert_eq!(of(&list, "d"), ["succeeded"]);
    assert_eq!(
        commands(&mut db, id),
        ["start_process", "start_failure_task_process"]
    );

    // In a running instance, forcing the failed task lets its downstream run at once, and the
    // instance ends succeeded.
    std::fs::remove_file(&fixed).unwrap();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "forced", "tasks": [
            {"name": "broken", "type": "shell", "script": "exit 1"},
            {"name": "after", "type": "shell", "deps": ["broken"], "script": "echo after"},
            {"name": "long", "type": "shell", "script": gated(&gate, "echo long")}]})
        .to_string(),
    );
    let id = start(&mut db, "forced");
    wait_state(&mut db, id, "broken", "failed");
    let broken = attempt_id(&mut db, id, "broken");
    call(&mut db, "SELECT sched.force_success($1)", broken).unwrap();
    wait_state(&mut db, id, "after", "succeeded");
    open(&gate);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(of(&attempts(&mut db, id), "broken"), ["forced_success"]);
    let err = call(&mut db, "SELECT sched.force_success($1)", broken).unwrap_err();
    assert!(
        err.contains("is forced_success; force_success applies to failed or killed attempts"),
        "{err}"
    );

    // In a failed instance, recover continues from a forced task.
    let id = start(&mut db, "diamond");
    assert_eq!(wait(&mut db, id, 60), "failed");
    let b = attempt_id(&mut db, id, "b");
    call(&mut db, "SELECT sched.force_success($1)", b).unwrap();
    assert_eq!(instance_state(&mut db, id), "failed");
    call(&mut db, "SELECT sched.recover_workflow($1)", id).unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let list = attempts(&mut db, id);
    assert_eq!(of(&list, "b"), ["forced_success"]);
    assert_eq!(of(&list, "d"), ["succeeded"]);
}

#[test]
fn rerun_runs_again_from_the_start_keeping_the_history_of_earlier_runs() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "again", "params": {"day": "$[yyyyMMdd]"}, "tasks": [
            {"name": "a", "type": "shell", "script": "echo day=${day}", "out": []},
            {"name": "b", "type": "shell", "deps": ["a"], "script": "echo b"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id: i64 = db
        .query_one(
            "SELECT sched.start_workflow('again', '{}', '{\"schedule_time\": \"2024-03-15 02:30:00+00\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    // Move its attempts to the history, as the master does a minute after the end.
    wait_history_partition(&mut db);
    db.execute(
        "SELECT sched._archive_finished(now() + interval '2 minutes')",
        &[],
    )
    .unwrap();
    call(&mut db, "SELECT sched.rerun_workflow($1)", id).unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let list = attempts(&mut db, id);
    let runs: Vec<(&str, i32)> = list.iter().map(|(t, _, r)| (t.as_str(), *r)).collect();
    assert_eq!(runs, [("a", 1), ("b", 1), ("a", 2), ("b", 2)]);
    assert_eq!(
        task_output(&mut db, id, "a"),
        ["day=20240315", "day=20240315"]
    );
    let run: i32 = db
        .query_one(
            "SELECT run FROM sched.workflow_instances WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(run, 2);
    assert_eq!(commands(&mut db, id), ["start_process", "repeat_running"]);
}

#[test]
fn start_tasks_limit_a_run_to_a_scope_and_execute_task_reruns_part_of_a_finished_one() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "dag", "tasks": [
            {"name": "a", "type": "shell", "script": "echo a"},
            {"name": "b", "type": "shell", "deps": ["a"], "script": "echo b"},
            {"name": "c", "type": "shell", "deps": ["b"], "script": "echo c"},
            {"name": "d", "type": "shell", "deps": ["a"], "script": "echo d"},
            {"name": "e", "type": "shell", "deps": ["c", "d"], "script": "echo e"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let ran = |db: &mut Client, options: serde_json::Value| -> Vec<String> {
        let id: i64 = db
            .query_one("SELECT sched.start_workflow('dag', '{}', $1)", &[&options])
            .unwrap()
            .get(0);
        assert_eq!(wait(db, id, 60), "succeeded", "{options}");
        let mut tasks: Vec<String> = attempts(db, id).into_iter().map(|(t, _, _)| t).collect();
        tasks.sort();
        tasks
    };
    assert_eq!(
        ran(&mut db, json!({"start_tasks": ["b"], "task_scope": "only"})),
        ["b"]
    );
    assert_eq!(ran(&mut db, json!({"start_tasks": ["b"]})), ["b", "c", "e"]);
    assert_eq!(
        ran(
            &mut db,
            json!({"start_tasks": ["c"], "task_scope": "upstream"})
        ),
        ["a", "b", "c"]
    );
    assert_eq!(
        ran(
            &mut db,
            json!({"start_tasks": ["c", "d"], "task_scope": "downstream"})
        ),
        ["c", "d", "e"]
    );
    for (options, expected) in [
        (
            json!({"start_tasks": ["zz"]}),
            "options.start_tasks: workflow \"dag\" has no task \"zz\"",
        ),
        (
            json!({"start_tasks": []}),
            "options.start_tasks: must be a non-empty array of task names",
        ),
        (
            json!({"start_tasks": ["b"], "task_scope": "sideways"}),
            "options.task_scope: \"sideways\" is not allowed; allowed: only, downstream, upstream",
        ),
        (
            json!({"task_scope": "only"}),
            "options.task_scope: needs options.start_tasks",
        ),
    ] {
        let err =
            error_of(db.query_one("SELECT sched.start_workflow('dag', '{}', $1)", &[&options]));
        assert!(err.contains(expected), "{options}: {err}");
    }

    let id = start(&mut db, "dag");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    db.execute("SELECT sched.execute_task($1, 'c', 'downstream')", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let list = attempts(&mut db, id);
    for (task, runs) in [("a", 1), ("b", 1), ("c", 2), ("d", 1), ("e", 2)] {
        assert_eq!(of(&list, task).len(), runs, "{task}: {list:?}");
    }
    db.execute("SELECT sched.execute_task($1, 'a')", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(of(&attempts(&mut db, id), "a").len(), 2);
    assert_eq!(of(&attempts(&mut db, id), "b").len(), 1);
    let err = error_of(db.execute("SELECT sched.execute_task($1, 'nope')", &[&id]));
    assert!(
        err.contains("task: workflow instance") && err.contains("has no task \"nope\""),
        "{err}"
    );
    let err = error_of(db.execute("SELECT sched.execute_task($1, 'a', 'upstream')", &[&id]));
    assert!(
        err.contains("scope: \"upstream\" is not allowed; allowed: only, downstream"),
        "{err}"
    );
    assert_eq!(
        commands(&mut db, id),
        ["start_process", "execute_task", "execute_task"]
    );
}

#[test]
fn kill_task_applies_the_failure_strategy_and_commands_refuse_other_states() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "killable", "failure_strategy": "end", "tasks": [
            {"name": "x", "type": "shell", "script": "sleep 600"},
            {"name": "y", "type": "shell", "script": "sleep 600"},
            {"name": "z", "type": "shell", "deps": ["x"], "script": "echo never"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let id = start(&mut db, "killable");
    wait_for(Duration::from_secs(30), "x and y running", || {
        let list = attempts(&mut db, id);
        (of(&list, "x") == ["running"] && of(&list, "y") == ["running"]).then_some(())
    });
    let x = attempt_id(&mut db, id, "x");
    // Commands that need a finished instance refuse a running one.
    for sql in [
        "SELECT sched.rerun_workflow($1)",
        "SELECT sched.resume_workflow($1)",
        "SELECT sched.recover_workflow($1)",
        "SELECT sched.execute_task($1, 'x')",
    ] {
        let err = call(&mut db, sql, id).unwrap_err();
        assert!(err.contains("is running;"), "{sql}: {err}");
    }
    let err = call(&mut db, "SELECT sched.force_success($1)", x).unwrap_err();
    assert!(
        err.contains("is running; force_success applies to failed or killed attempts"),
        "{err}"
    );
    call(&mut db, "SELECT sched.kill_task($1)", x).unwrap();
    assert_eq!(wait(&mut db, id, 60), "failed");
    let reasons: Vec<(String, String, Option<String>)> = db
        .query(
            "SELECT task, state, kill_reason FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY task",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        reasons,
        [
            ("x".to_owned(), "killed".to_owned(), Some("user".to_owned())),
            (
                "y".to_owned(),
                "killed".to_owned(),
                Some("failure_strategy_end".to_owned())
            ),
        ]
    );
    assert_eq!(commands(&mut db, id), ["start_process", "kill_task"]);
    // A finished instance refuses what needs a running or paused one, and a finished attempt
    // cannot be killed.
    let err = call(&mut db, "SELECT sched.pause_workflow($1)", id).unwrap_err();
    assert!(
        err.contains("is failed; pause applies to running instances"),
        "{err}"
    );
    let err = call(&mut db, "SELECT sched.resume_workflow($1)", id).unwrap_err();
    assert!(
        err.contains("is failed; resume applies to paused or stopped instances"),
        "{err}"
    );
    let err = call(&mut db, "SELECT sched.kill_task($1)", x).unwrap_err();
    assert!(
        err.contains(
            "is killed; kill_task applies to delayed, queued, dispatched or running attempts"
        ),
        "{err}"
    );
    let err = call(&mut db, "SELECT sched.stop_workflow($1)", id).unwrap_err();
    assert!(err.contains("is already failed"), "{err}");
    // Refusals change nothing.
    assert_eq!(commands(&mut db, id), ["start_process", "kill_task"]);
    // Another role may not command alice's instances.
    db.batch_execute("CREATE ROLE bob LOGIN IN ROLE sched_user")
        .unwrap();
    let mut bob = cluster.connect_as("bob");
    let err = call(&mut bob, "SELECT sched.recover_workflow($1)", id).unwrap_err();
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn a_paused_instance_can_be_stopped_a_queued_attempt_killed_and_a_killed_one_forced() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "mixed", "failure_strategy": "continue", "tasks": [
            {"name": "a", "type": "shell", "script": gated(&gate, "echo a")},
            {"name": "q", "type": "shell", "script": "echo q"},
            {"name": "after_q", "type": "shell", "deps": ["q"], "script": "echo after"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "1"]);
    let id = start(&mut db, "mixed");
    wait_for(Duration::from_secs(30), "a running and q queued", || {
        let list = attempts(&mut db, id);
        (of(&list, "a") == ["running"] && of(&list, "q") == ["queued"]).then_some(())
    });
    // A queued attempt is killed at once; the failure strategy continue lets a finish.
    let q = attempt_id(&mut db, id, "q");
    call(&mut db, "SELECT sched.kill_task($1)", q).unwrap();
    assert_eq!(state_of(&mut db, id, "q").as_deref(), Some("killed"));
    // Killed in the queue, which a killed process is not.
    let started: Vec<(String, bool)> = db
        .query(
            "SELECT task, started FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY task",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(started, [("a".to_owned(), true), ("q".to_owned(), false)]);
    // The killed attempt is forced: its downstream runs.
    call(&mut db, "SELECT sched.force_success($1)", q).unwrap();
    open(&gate);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(of(&attempts(&mut db, id), "after_q"), ["succeeded"]);

    // Paused, then stopped: it stays stopped, and resume still continues it.
    std::fs::remove_file(&gate).unwrap();
    let id = start(&mut db, "mixed");
    wait_state(&mut db, id, "a", "running");
    call(&mut db, "SELECT sched.pause_workflow($1)", id).unwrap();
    open(&gate);
    assert_eq!(wait(&mut db, id, 60), "paused");
    call(&mut db, "SELECT sched.stop_workflow($1)", id).unwrap();
    assert_eq!(instance_state(&mut db, id), "stopped");
    call(&mut db, "SELECT sched.resume_workflow($1)", id).unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(
        commands(&mut db, id),
        [
            "start_process",
            "pause",
            "stop",
            "recover_suspended_process"
        ]
    );
}
