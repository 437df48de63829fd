//! DYNAMIC tasks (README "Dynamic tasks"): one task of the DAG that runs once per element of
//! lists known only at run time, on real workers: a list from an upstream SQL task, the
//! cartesian product of two lists, inline and sub-workflow elements, parallelism honoured,
//! failure policies, recover of the failed elements only, results gathered in order, and a
//! 10,000-element run.

use std::time::Duration;

use postgres::Client;
use sched_tests::*;
use serde_json::{Value, json};

/// The element attempts of a dynamic task, latest per element: (element, state, values).
fn elements(db: &mut Client, instance: i64, task: &str) -> Vec<(i32, String, Value)> {
    db.query(
        "SELECT DISTINCT ON (element) element, state, element_values FROM sched.task_instances
         WHERE workflow_instance_id = $1 AND task = $2 || '[]' ORDER BY element, id DESC",
        &[&instance, &task],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// A dynamic task's latest attempt: how many elements, and how many in each state.
fn progress(db: &mut Client, instance: i64, task: &str) -> (Option<i32>, Option<Value>) {
    let r = db
        .query_one(
            "SELECT element_count, element_states FROM sched.task_instances
             WHERE workflow_instance_id = $1 AND task = $2 ORDER BY id DESC LIMIT 1",
            &[&instance, &task],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

fn out_of(db: &mut Client, instance: i64, task: &str) -> Value {
    db.query_one(
        "SELECT out_params FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2
         ORDER BY id DESC LIMIT 1",
        &[&instance, &task],
    )
    .unwrap()
    .get::<_, Option<Value>>(0)
    .unwrap_or(Value::Null)
}

#[test]
fn a_list_from_an_upstream_sql_task_fans_out_and_gathers_in_order() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    define(
        &mut db,
        &json!({"name": "fan", "tasks": [
            {"name": "list", "type": "sql", "query": true,
             "sql": "SELECT f AS files FROM (VALUES ('c.csv'), ('a.csv'), ('b.csv')) v(f)",
             "out": [{"name": "files", "type": "list"}]},
            {"name": "each", "type": "dynamic", "deps": ["list"], "over": {"file": "files"},
             "run": {"type": "shell", "script": "echo '#{setValue(size=${file}-size)}'",
                     "out": [{"name": "size"}]}},
            {"name": "reduce", "type": "shell", "deps": ["each"], "script": "echo \"got ${size}\""}]})
        .to_string(),
    );
    let id = start(&mut db, "fan");
    let state = wait(&mut db, id, 60);
    if state != "succeeded" {
        let log = cluster.server_log();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("CONTEXT"))
            .take(20)
            .collect();
        panic!("{state}: {errors:#?}");
    }
    let els = elements(&mut db, id, "each");
    assert_eq!(
        els.iter().map(|e| (e.0, e.1.as_str())).collect::<Vec<_>>(),
        vec![(0, "succeeded"), (1, "succeeded"), (2, "succeeded")]
    );
    assert_eq!(els[0].2, json!({"file": "c.csv"}));
    assert_eq!(els[2].2, json!({"file": "b.csv"}));
    let out = out_of(&mut db, id, "each");
    let sizes: Value = serde_json::from_str(out["size"].as_str().unwrap()).unwrap();
    assert_eq!(sizes, json!(["c.csv-size", "a.csv-size", "b.csv-size"]));
    let reduce = task_stdout(&mut db, id, "reduce");
    assert!(
        reduce
            .iter()
            .any(|l| l.contains("c.csv-size") && l.contains("b.csv-size")),
        "{reduce:?}"
    );
    let (count, states) = progress(&mut db, id, "each");
    assert_eq!(count, Some(3));
    assert_eq!(states, Some(json!({"succeeded": 3})));
    // The graphs draw it as one node, with its counts; its element task is no node.
    let graph: String = db
        .query_one("SELECT sched.instance_graph($1, 'mermaid')", &[&id])
        .unwrap()
        .get(0);
    assert!(graph.contains("3 elements, 3 succeeded"), "{graph}");
    assert!(!graph.contains("each[]"), "{graph}");
    let graph: String = db
        .query_one("SELECT sched.workflow_graph('fan', 'dot')", &[])
        .unwrap()
        .get(0);
    assert!(!graph.contains("each[]"), "{graph}");
    let tasks: Vec<String> = db
        .query("SELECT task FROM sched.instance_tasks($1)", &[&id])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tasks, ["list", "each", "reduce"]);
}

#[test]
fn two_lists_make_their_cartesian_product_and_a_workflow_runs_per_element() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    define(
        &mut db,
        &json!({"name": "per_pair", "params": {"region": "none", "day": "none"}, "tasks": [
            {"name": "work", "type": "shell", "script": "echo '#{setValue(key=${region}/${day})}'",
             "out": [{"name": "key"}]}]})
        .to_string(),
    );
    define(
        &mut db,
        &json!({"name": "grid", "params": {"regions": {"value": "[\"eu\", \"us\"]", "type": "list"}}, "tasks": [
            {"name": "each", "type": "dynamic", "over": {"region": "regions", "day": [1, 2, 3]},
             "run": "per_pair"}]})
        .to_string(),
    );
    let id = start(&mut db, "grid");
    assert_eq!(wait(&mut db, id, 90), "succeeded");
    let els = elements(&mut db, id, "each");
    assert_eq!(els.len(), 6);
    assert!(els.iter().all(|e| e.1 == "succeeded"), "{els:?}");
    let keys: Value =
        serde_json::from_str(out_of(&mut db, id, "each")["key"].as_str().unwrap()).unwrap();
    // jsonb orders the names "day" before "region": the last one varies fastest.
    assert_eq!(
        keys,
        json!(["eu/1", "us/1", "eu/2", "us/2", "eu/3", "us/3"])
    );
    let children: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.workflow_instance WHERE parent_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(children, 6);
}

#[test]
fn parallelism_caps_the_running_elements() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &["--slots", "8"]);
    define(
        &mut db,
        &json!({"name": "capped", "tasks": [
            {"name": "each", "type": "dynamic", "over": {"n": [1, 2, 3, 4, 5, 6, 7]}, "parallelism": 2,
             "run": {"type": "shell", "script": "sleep 0.3"}}]})
        .to_string(),
    );
    let id = start(&mut db, "capped");
    let mut most = 0i64;
    wait_for(Duration::from_secs(60), "the instance to end", || {
        let running: i64 = db
            .query_one(
                "SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1
                 AND element IS NOT NULL AND NOT finished",
                &[&id],
            )
            .unwrap()
            .get(0);
        most = most.max(running);
        (instance_state(&mut db, id) == "succeeded").then_some(())
    });
    assert!(most <= 2, "{most} elements were active at once");
    assert!(most >= 1);
    assert_eq!(elements(&mut db, id, "each").len(), 7);
}

#[test]
fn a_failed_element_stops_or_lets_the_others_run_and_recover_reruns_only_it() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let fixed = std::env::temp_dir().join(format!("sched-dynamic-fixed-{}", std::process::id()));
    let _ = std::fs::remove_file(&fixed);
    for (name, policy) in [("cont", "continue"), ("halt", "stop")] {
        define(
            &mut db,
            &json!({"name": name, "tasks": [
                {"name": "each", "type": "dynamic", "over": {"n": [0, 1, 2, 3, 4, 5]}, "parallelism": 1,
                 "on_failure": policy,
                 "run": {"type": "shell",
                         "script": format!("if [ ${{n}} = 2 ] && [ ! -e {} ]; then exit 3; fi; echo \"#{{setValue(sq=$((${{n}} * ${{n}})))}}\"", fixed.display()),
                         "out": [{"name": "sq"}]}},
                {"name": "after", "type": "empty", "deps": ["each"]}]})
            .to_string(),
        );
    }

    // continue: every other element runs; the dynamic task fails once they are done.
    let cont = start(&mut db, "cont");
    assert_eq!(wait(&mut db, cont, 60), "failed");
    let states: Vec<String> = elements(&mut db, cont, "each")
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(
        states,
        [
            "succeeded",
            "succeeded",
            "failed",
            "succeeded",
            "succeeded",
            "succeeded"
        ]
    );

    // stop: nothing after the failure starts.
    let halt = start(&mut db, "halt");
    assert_eq!(wait(&mut db, halt, 60), "failed");
    let states: Vec<String> = elements(&mut db, halt, "each")
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(states, ["succeeded", "succeeded", "failed"]);

    // recover runs the failed element (and, under stop, those never started), not the others.
    std::fs::write(&fixed, "").unwrap();
    for id in [cont, halt] {
        db.execute("SELECT sched.recover_workflow($1)", &[&id])
            .unwrap();
        assert_eq!(wait(&mut db, id, 60), "succeeded");
        let attempts: Vec<(i32, i64)> = db
            .query(
                "SELECT element, count(*) FROM sched.task_instances WHERE workflow_instance_id = $1
                 AND task = 'each[]' GROUP BY element ORDER BY element",
                &[&id],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            attempts,
            [(0, 1), (1, 1), (2, 2), (3, 1), (4, 1), (5, 1)],
            "instance {id}"
        );
        let sq: Value =
            serde_json::from_str(out_of(&mut db, id, "each")["sq"].as_str().unwrap()).unwrap();
        assert_eq!(sq, json!(["0", "1", "4", "9", "16", "25"]));
        assert_eq!(
            task_states(&mut db, id)
                .iter()
                .find(|t| t.0 == "after")
                .map(|t| t.1.as_str()),
            Some("succeeded")
        );
    }
}

#[test]
fn a_value_that_is_not_a_list_fails_the_task_with_the_reason_and_bad_specs_are_refused() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &[]);
    define(
        &mut db,
        &json!({"name": "notlist", "params": {"files": "a.csv"}, "tasks": [
            {"name": "each", "type": "dynamic", "over": {"file": "files"}, "run": {"type": "empty"}}]})
        .to_string(),
    );
    let id = start(&mut db, "notlist");
    assert_eq!(wait(&mut db, id, 30), "failed");
    let log = task_output(&mut db, id, "each").join("\n");
    assert!(
        log.contains("over.file: parameter \"files\" is not a list"),
        "{log}"
    );

    define(
        &mut db,
        &json!({"name": "toomany", "tasks": [
            {"name": "each", "type": "dynamic", "over": {"a": [1, 2, 3], "b": [1, 2]}, "max_items": 5,
             "run": {"type": "empty"}}]})
        .to_string(),
    );
    let id = start(&mut db, "toomany");
    assert_eq!(wait(&mut db, id, 30), "failed");
    let log = task_output(&mut db, id, "each").join("\n");
    assert!(
        log.contains("make 6 elements, more than 5 allowed"),
        "{log}"
    );

    for (spec, field) in [
        (
            json!({"type": "dynamic", "run": {"type": "empty"}}),
            "tasks[0].over",
        ),
        (
            json!({"type": "dynamic", "over": {"f": "files"}}),
            "tasks[0].run",
        ),
        (
            json!({"type": "dynamic", "over": {"f": "files"}, "run": "no_such_workflow"}),
            "tasks[0].run",
        ),
        (
            json!({"type": "dynamic", "over": {"f": "files"}, "run": {"type": "empty"}, "parallelism": 0}),
            "tasks[0].parallelism",
        ),
        (
            json!({"type": "dynamic", "over": {"f": "files"}, "run": {"type": "shell"}}),
            "tasks[0].run.script",
        ),
    ] {
        let mut task = spec.clone();
        task["name"] = json!("each");
        let err = error_of(db.query_one(
            "SELECT sched.create_workflow($1)",
            &[&json!({"name": "bad", "tasks": [task]})],
        ));
        assert!(err.contains(field), "{spec}: {err}");
    }
}

#[test]
fn kill_task_on_the_dynamic_task_stops_its_elements_and_ten_thousand_elements_run() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    define(
        &mut db,
        &json!({"name": "slow", "tasks": [
            {"name": "each", "type": "dynamic", "over": {"n": [1, 2, 3, 4, 5, 6]},
             "run": {"type": "shell", "script": "sleep 60"}}]})
        .to_string(),
    );
    let id = start(&mut db, "slow");
    let dynamic: i64 = wait_for(Duration::from_secs(30), "elements running", || {
        db.query_opt(
            "SELECT d.id FROM sched.task_instances d WHERE d.workflow_instance_id = $1 AND d.task = 'each'
             AND (SELECT count(*) FROM sched.task_instances e WHERE e.workflow_instance_id = $1
                  AND e.task = 'each[]' AND e.state = 'running') >= 2",
            &[&id],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    db.execute("SELECT sched.kill_task($1)", &[&dynamic])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "failed");
    let states: Vec<String> = elements(&mut db, id, "each")
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert!(states.iter().all(|s| s == "killed"), "{states:?}");
    // Dropping the workflow takes its elements' values with its instances.
    db.execute("SELECT sched.drop_workflow('slow')", &[])
        .unwrap();
    let left: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.dynamic_element WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    define(
        &mut db,
        &json!({"name": "wide", "tasks": [
            {"name": "numbers", "type": "sql", "query": true, "sql": "SELECT g AS ns FROM generate_series(1, 10000) g", "limit_rows": 10000,
             "out": [{"name": "ns", "type": "list"}]},
            {"name": "each", "type": "dynamic", "deps": ["numbers"], "over": {"n": "ns"},
             "run": {"type": "empty"}}]})
        .to_string(),
    );
    let id = start(&mut db, "wide");
    assert_eq!(wait(&mut db, id, 300), "succeeded");
    let (count, states) = progress(&mut db, id, "each");
    assert_eq!(count, Some(10_000));
    assert_eq!(states, Some(json!({"succeeded": 10_000})));
}

#[test]
fn elements_retry_fail_over_and_one_can_be_forced_to_succeed() {
    let cluster = Cluster::start(&["sched.worker_timeout = 2"]);
    let mut db = cluster.connect();
    let mut first = cluster.worker("w1", &["--slots", "4"]);
    let flag = std::env::temp_dir().join(format!("sched-dynamic-failover-{}", std::process::id()));
    let _ = std::fs::remove_file(&flag);
    define(
        &mut db,
        &json!({"name": "forced", "tasks": [
            {"name": "each", "type": "dynamic", "over": {"n": [0, 1, 2]}, "on_failure": "continue",
             "run": {"type": "shell", "retries": 1, "retry_interval": "1 s",
                     "script": "if [ ${n} = 1 ]; then exit 1; fi; echo \"#{setValue(v=x${n})}\"",
                     "out": [{"name": "v"}]}},
            {"name": "after", "type": "empty", "deps": ["each"]}]})
        .to_string(),
    );
    let id = start(&mut db, "forced");
    assert_eq!(wait(&mut db, id, 60), "failed");
    // The failing element was retried as itself.
    let retried: Vec<(i32, Value, i32)> = db
        .query(
            "SELECT retry, element_values, element FROM sched.task_instances
             WHERE workflow_instance_id = $1 AND task = 'each[]' AND element = 1 ORDER BY id",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        retried,
        [(0, json!({"n": "1"}), 1), (1, json!({"n": "1"}), 1)]
    );
    let last: i64 = db
        .query_one(
            "SELECT max(id) FROM sched.task_instances WHERE workflow_instance_id = $1 AND element = 1",
            &[&id],
        )
        .unwrap()
        .get(0);
    db.execute("SELECT sched.force_success($1)", &[&last])
        .unwrap();
    db.execute("SELECT sched.recover_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let v: Value =
        serde_json::from_str(out_of(&mut db, id, "each")["v"].as_str().unwrap()).unwrap();
    // The forced element keeps what its attempt exported: the OUT param's default.
    assert_eq!(v, json!(["x0", "", "x2"]));
    let runs: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'each[]'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(runs, 4, "recover ran no element again");

    // A worker lost mid-element: the element is failed over as itself.
    define(
        &mut db,
        &json!({"name": "lost", "tasks": [
            {"name": "each", "type": "dynamic", "over": {"n": ["a", "b"]},
             "run": {"type": "shell",
                     "script": format!("if [ ${{n}} = b ] && [ ! -e {0} ]; then touch {0}; sleep 600; fi; echo \"#{{setValue(v=${{n}})}}\"", flag.display()),
                     "out": [{"name": "v"}]}}]})
        .to_string(),
    );
    let id = start(&mut db, "lost");
    wait_for(Duration::from_secs(30), "element b to run", || {
        flag.exists().then_some(())
    });
    first.signal(libc::SIGKILL);
    first.wait_exit(Duration::from_secs(10));
    wait_for(Duration::from_secs(60), "the failover", || {
        (db.query_one(
            "SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1
             AND element = 1 AND state = 'need_fault_tolerance'",
            &[&id],
        )
        .unwrap()
        .get::<_, i64>(0)
            == 1)
            .then_some(())
    });
    let _second = cluster.worker("w2", &["--slots", "4"]);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let v: Value =
        serde_json::from_str(out_of(&mut db, id, "each")["v"].as_str().unwrap()).unwrap();
    assert_eq!(v, json!(["a", "b"]));
    let _ = std::fs::remove_file(&flag);
}

#[test]
fn pause_lets_running_elements_finish_and_resume_runs_the_rest() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    // The elements wait for the gate, opened once the pause is asked for: the instance cannot
    // end before it.
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "pausable", "tasks": [
            {"name": "each", "type": "dynamic", "over": {"n": [1, 2, 3, 4, 5, 6]}, "parallelism": 2,
             "run": {"type": "shell",
                     "script": format!("while [ ! -e {} ]; do sleep 0.05; done; echo \"#{{setValue(v=${{n}})}}\"", gate.display()),
                     "out": [{"name": "v"}]}}]})
        .to_string(),
    );
    let id = start(&mut db, "pausable");
    wait_for(Duration::from_secs(30), "an element to run", || {
        (elements(&mut db, id, "each")
            .iter()
            .any(|e| e.1 == "running"))
        .then_some(())
    });
    db.execute("SELECT sched.pause_workflow($1)", &[&id])
        .unwrap();
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, id, 60), "paused");
    let done = elements(&mut db, id, "each")
        .iter()
        .filter(|e| e.1 == "succeeded")
        .count();
    assert!(done < 6, "{done} elements ran before the pause took");
    db.execute("SELECT sched.resume_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let succeeded: Vec<(i32, i64)> = db
        .query(
            "SELECT element, count(*) FROM sched.task_instances WHERE workflow_instance_id = $1
             AND task = 'each[]' AND state = 'succeeded' GROUP BY element ORDER BY element",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(succeeded, (0..6).map(|e| (e, 1)).collect::<Vec<_>>());
    let v: Value =
        serde_json::from_str(out_of(&mut db, id, "each")["v"].as_str().unwrap()).unwrap();
    assert_eq!(v, json!(["1", "2", "3", "4", "5", "6"]));
}
