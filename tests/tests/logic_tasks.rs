//! CONDITIONS, SWITCH, skipped and forbidden tasks: decided by the scheduler in the transaction
//! that makes them ready, with the branches not taken visible as skipped.

use std::time::Duration;

use sched_tests::*;
use serde_json::json;

/// task -> state of its latest attempt, for every task with an attempt.
fn states(db: &mut Client, id: i64) -> std::collections::BTreeMap<String, String> {
    db.query(
        "SELECT DISTINCT ON (task) task, state FROM sched.task_instances
         WHERE workflow_instance_id = $1 ORDER BY task, id DESC",
        &[&id],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn expect(db: &mut Client, id: i64, want: &[(&str, &str)]) {
    let got = states(db, id);
    let want: std::collections::BTreeMap<String, String> = want
        .iter()
        .map(|(t, s)| ((*t).to_owned(), (*s).to_owned()))
        .collect();
    assert_eq!(got, want, "instance {id}");
}

fn start_with(
    db: &mut Client,
    name: &str,
    params: serde_json::Value,
    options: serde_json::Value,
) -> i64 {
    db.query_one(
        "SELECT sched.start_workflow($1, $2, $3)",
        &[&name, &params, &options],
    )
    .expect("start_workflow")
    .get(0)
}

fn branch(db: &mut Client, id: i64, task: &str) -> Vec<String> {
    db.query_one(
        "SELECT branch FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2",
        &[&id, &task],
    )
    .unwrap()
    .get(0)
}

#[test]
fn conditions_judge_an_upstream_failure_under_both_failure_strategies() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        &json!({"name": "judged", "params": {"code": "0"}, "tasks": [
            {"name": "a", "type": "shell", "script": "exit ${code}"},
            {"name": "side", "type": "shell", "script": "echo side"},
            {"name": "c", "type": "conditions", "deps": ["a"],
             "conditions": {"groups": [{"items": [{"task": "a", "status": "succeeded"}]}]},
             "on_success": ["ok"], "on_failure": ["bad"]},
            {"name": "ok", "type": "shell", "script": "echo ok"},
            {"name": "bad", "type": "shell", "script": "echo bad"},
            {"name": "only_ok", "type": "shell", "deps": ["ok"], "script": "echo only_ok"},
            {"name": "after", "type": "shell", "deps": ["ok", "bad"], "script": "echo after"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);

    let id = start_with(&mut db, "judged", json!({}), json!({}));
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    expect(
        &mut db,
        id,
        &[
            ("a", "succeeded"),
            ("side", "succeeded"),
            ("c", "succeeded"),
            ("ok", "succeeded"),
            ("bad", "skipped"),
            ("only_ok", "succeeded"),
            ("after", "succeeded"),
        ],
    );
    assert_eq!(branch(&mut db, id, "c"), ["ok"]);

    // DolphinScheduler #13410: under end, its CONDITIONS task never ran after a failure. Here
    // it does, and the failure it judged neither fails the instance nor stops anything.
    for strategy in ["continue", "end"] {
        let id = start_with(
            &mut db,
            "judged",
            json!({"code": "1"}),
            json!({"failure_strategy": strategy}),
        );
        assert_eq!(wait(&mut db, id, 60), "succeeded", "{strategy}");
        expect(
            &mut db,
            id,
            &[
                ("a", "failed"),
                ("side", "succeeded"),
                ("c", "succeeded"),
                ("ok", "skipped"),
                ("bad", "succeeded"),
                ("only_ok", "skipped"),
                ("after", "succeeded"),
            ],
        );
        assert_eq!(branch(&mut db, id, "c"), ["bad"]);
        let log = task_output(&mut db, id, "c");
        assert!(
            log.iter()
                .any(|l| l.contains("do not hold") && l.contains("bad")),
            "{log:?}"
        );
    }
}

#[test]
fn a_failure_not_only_judged_by_conditions_still_fails_the_instance() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        &json!({"name": "mixed", "tasks": [
            {"name": "a", "type": "shell", "script": "exit 1"},
            {"name": "c", "type": "conditions", "deps": ["a"],
             "conditions": {"relation": "or", "groups": [{"items": [{"task": "a", "status": "failed"}]}]},
             "on_success": ["alarm"]},
            {"name": "alarm", "type": "shell", "script": "echo alarm"},
            {"name": "use_a", "type": "shell", "deps": ["a"], "script": "echo never"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "mixed");
    assert_eq!(wait(&mut db, id, 60), "failed");
    expect(
        &mut db,
        id,
        &[("a", "failed"), ("c", "succeeded"), ("alarm", "succeeded")],
    );
}

#[test]
fn switch_takes_the_first_true_case_and_skips_the_other_branches() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        &json!({"name": "routed", "params": {"env": "dev", "n": "1"}, "tasks": [
            {"name": "s", "type": "switch", "cases": [
                {"when": "${missing} == 1", "then": ["never"]},
                {"when": "${env} == \"prod\"", "then": ["p"]},
                {"when": "${n} > 5 && ${env} != \"prod\"", "then": ["big"]}],
             "default": ["d"]},
            {"name": "never", "type": "shell", "script": "echo never"},
            {"name": "p", "type": "shell", "script": "echo p"},
            {"name": "big", "type": "shell", "script": "echo big"},
            {"name": "d", "type": "shell", "script": "echo d"},
            {"name": "shared", "type": "shell", "deps": ["p", "big"], "script": "echo shared"},
            {"name": "after_d", "type": "shell", "deps": ["d"], "script": "echo after_d"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);

    let id = start_with(&mut db, "routed", json!({"env": "prod"}), json!({}));
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    expect(
        &mut db,
        id,
        &[
            ("s", "succeeded"),
            ("never", "skipped"),
            ("p", "succeeded"),
            ("big", "skipped"),
            ("d", "skipped"),
            ("shared", "succeeded"),
            ("after_d", "skipped"),
        ],
    );
    let log = task_output(&mut db, id, "s");
    assert!(
        log.iter()
            .any(|l| l.contains("cases[0]") && l.contains("no parameter ${missing}")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("cases[1]") && l.contains("holds")),
        "{log:?}"
    );

    // The shared task runs from the other case's branch too.
    let id = start_with(&mut db, "routed", json!({"n": "9"}), json!({}));
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    expect(
        &mut db,
        id,
        &[
            ("s", "succeeded"),
            ("never", "skipped"),
            ("p", "skipped"),
            ("big", "succeeded"),
            ("d", "skipped"),
            ("shared", "succeeded"),
            ("after_d", "skipped"),
        ],
    );

    // No case holds: default, and what only the cases lead to is skipped.
    let id = start(&mut db, "routed");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    expect(
        &mut db,
        id,
        &[
            ("s", "succeeded"),
            ("never", "skipped"),
            ("p", "skipped"),
            ("big", "skipped"),
            ("d", "succeeded"),
            ("shared", "skipped"),
            ("after_d", "succeeded"),
        ],
    );
    assert_eq!(branch(&mut db, id, "s"), ["d"]);
}

#[test]
fn switch_reads_upstream_out_params_and_its_own_params() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        &json!({"name": "by_output", "tasks": [
            {"name": "probe", "type": "shell", "script": "echo '${setValue(rows=12)}'",
             "out": [{"name": "rows", "type": "integer"}]},
            {"name": "s", "type": "switch", "deps": ["probe"], "params": {"limit": "10"},
             "cases": [{"when": "${rows} > ${limit}", "then": ["many"]}], "default": ["few"]},
            {"name": "many", "type": "empty"},
            {"name": "few", "type": "empty"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "by_output");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    expect(
        &mut db,
        id,
        &[
            ("probe", "succeeded"),
            ("s", "succeeded"),
            ("many", "succeeded"),
            ("few", "skipped"),
        ],
    );
}

#[test]
fn forbidden_tasks_are_passed_through() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // A long chain of forbidden tasks is a loop in the engine, not a recursion.
    let mut tasks = vec![
        json!({"name": "root_off", "type": "shell", "script": "exit 1", "enabled": false}),
        json!({"name": "a", "type": "shell", "deps": ["root_off"], "script": "echo a"}),
    ];
    let mut last = "a".to_owned();
    for i in 0..300 {
        let name = format!("off{i}");
        tasks.push(json!({"name": name, "type": "shell", "deps": [last], "script": "exit 1", "enabled": false}));
        last = name;
    }
    tasks.push(json!({"name": "z", "type": "shell", "deps": [last], "script": "echo z"}));
    define(
        &mut db,
        &json!({"name": "transparent", "tasks": tasks}).to_string(),
    );
    let spec: serde_json::Value = db
        .query_one("SELECT sched.workflow_spec('transparent')", &[])
        .unwrap()
        .get(0);
    assert_eq!(spec["tasks"][0]["enabled"], json!(false));
    assert!(spec["tasks"][1].get("enabled").is_none());

    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "transparent");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let got = states(&mut db, id);
    assert_eq!(got.len(), 303);
    assert_eq!(got["root_off"], "forbidden");
    assert_eq!(got["off299"], "forbidden");
    assert_eq!(got["a"], "succeeded");
    assert_eq!(got["z"], "succeeded");
    assert_eq!(task_output(&mut db, id, "z"), ["z"]);
    let started: bool = db
        .query_one(
            "SELECT started FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'off0'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert!(!started);
}

#[test]
fn bad_logic_fields_are_refused_naming_the_field() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    for (spec, expected) in [
        (
            json!({"name": "w", "tasks": [{"name": "s", "type": "switch",
                   "cases": [{"when": "${x} = 1", "then": []}]}]}),
            "tasks[0].cases[0].when: unexpected '='",
        ),
        (
            json!({"name": "w", "tasks": [{"name": "a", "type": "empty"},
                   {"name": "c", "type": "conditions", "deps": ["a"],
                    "conditions": {"groups": [{"items": [{"task": "a", "status": "done"}]}]}}]}),
            "tasks[1].conditions.groups[0].items[0].status: \"done\" is not a valid status; allowed: succeeded, failed",
        ),
        (
            json!({"name": "w", "tasks": [{"name": "s", "type": "sub_process", "workflow": "nowhere"}]}),
            "tasks[0].workflow: no workflow \"nowhere\"",
        ),
        (
            json!({"name": "w", "tasks": [{"name": "d", "type": "dependent", "groups": [{"items": [
                {"workflow": "w", "cycle": "day", "date_value": "lastWeek"}]}]}]}),
            "tasks[0].groups[0].items[0].date_value: \"lastWeek\" is not a date value of cycle day",
        ),
        (
            json!({"name": "w", "tasks": [{"name": "s", "type": "sub_process", "workflow": "w", "retries": 2}]}),
            "tasks[0].retries: a sub_process task runs in the scheduler",
        ),
        (
            json!({"name": "w", "tasks": [{"name": "a", "type": "empty", "enabled": "no"}]}),
            "tasks[0].enabled: must be true or false",
        ),
    ] {
        let err = error_of(db.query_one("SELECT sched.create_workflow($1)", &[&spec]));
        assert!(err.contains(expected), "{spec}: {err}");
    }
    let count: i64 = db
        .query_one("SELECT count(*) FROM sched.workflow", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}

#[test]
fn a_long_chain_of_switch_tasks_is_decided_in_one_transaction() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let mut tasks = vec![json!({"name": "start", "type": "shell", "script": "echo go"})];
    let mut last = "start".to_owned();
    for i in 0..2000 {
        let name = format!("s{i}");
        let next = format!("s{}", i + 1);
        tasks.push(json!({"name": name, "type": "switch", "deps": [last],
                          "cases": [{"when": "true", "then": [if i == 1999 { "end".to_owned() } else { next }]}]}));
        last = name;
    }
    tasks.push(json!({"name": "end", "type": "shell", "script": "echo end"}));
    define(
        &mut db,
        &json!({"name": "switches", "tasks": tasks}).to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "switches");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let got = states(&mut db, id);
    assert_eq!(got.len(), 2002);
    assert!(got.values().all(|s| s == "succeeded"), "{got:?}");
}

#[test]
fn resume_after_a_pause_still_runs_the_conditions_task_that_judges_a_failure() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "paused_judge", "tasks": [
            {"name": "x", "type": "shell", "script": "exit 1"},
            {"name": "y", "type": "shell",
             "script": format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())},
            {"name": "c", "type": "conditions", "deps": ["x", "y"],
             "conditions": {"groups": [{"items": [{"task": "x", "status": "succeeded"}]}]},
             "on_success": ["ok"], "on_failure": ["bad"]},
            {"name": "ok", "type": "empty"},
            {"name": "bad", "type": "empty"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "paused_judge");
    wait_for(Duration::from_secs(30), "x failed and y running", || {
        let got = states(&mut db, id);
        (got.get("x").map(String::as_str) == Some("failed")
            && got.get("y").map(String::as_str) == Some("running"))
        .then_some(())
    });
    db.execute("SELECT sched.pause_workflow($1)", &[&id])
        .unwrap();
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, id, 60), "paused");
    db.execute("SELECT sched.resume_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    expect(
        &mut db,
        id,
        &[
            ("x", "failed"),
            ("y", "succeeded"),
            ("c", "succeeded"),
            ("ok", "skipped"),
            ("bad", "succeeded"),
        ],
    );
}

#[test]
fn a_run_limited_to_the_failing_task_fails_though_conditions_would_judge_it() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        &json!({"name": "scoped", "tasks": [
            {"name": "x", "type": "shell", "script": "exit 1"},
            {"name": "c", "type": "conditions", "deps": ["x"],
             "conditions": {"groups": [{"items": [{"task": "x", "status": "succeeded"}]}]},
             "on_failure": ["bad"]},
            {"name": "bad", "type": "empty"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    // Without c in the run, nothing judges x's failure.
    let only = start_with(
        &mut db,
        "scoped",
        json!({}),
        json!({"start_tasks": ["x"], "task_scope": "only"}),
    );
    assert_eq!(wait(&mut db, only, 60), "failed");
    let whole = start(&mut db, "scoped");
    assert_eq!(wait(&mut db, whole, 60), "succeeded");
}
