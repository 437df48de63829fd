//! Parameters in runs: start parameters, built-ins and time expressions substituted into task
//! scripts at the run's business time.

use sched_tests::*;

#[test]
fn start_parameters_builtins_and_time_expressions_reach_the_script() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("SET TimeZone = 'UTC'").unwrap();
    define(
        &mut db,
        r#"{"name": "daily", "tasks": [{"name": "a", "type": "shell",
              "script": "echo ${dt} ${system.biz.date} $[yyyy-MM-dd]"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id: i64 = db
        .query_one(
            r#"SELECT sched.start_workflow('daily', '{"dt": "$[yyyyMMdd-1]"}', '{"schedule_time": "2024-03-15 02:30:00+00"}')"#,
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(
        task_output(&mut db, id, "a"),
        ["20240314 20240314 2024-03-15"]
    );
    let (date, params): (String, serde_json::Value) = db
        .query_one(
            "SELECT business_date::text, params FROM sched.workflow_instances WHERE id = $1",
            &[&id],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(date, "2024-03-15");
    assert_eq!(params["dt"], "20240314");
}

#[test]
fn a_manual_run_keeps_one_business_time_for_all_its_tasks() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "slowly", "tasks": [
              {"name": "a", "type": "shell", "script": "echo $[yyyyMMddHHmmss]; sleep 1.5"},
              {"name": "b", "type": "shell", "script": "echo $[yyyyMMddHHmmss]", "deps": ["a"]}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "slowly");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let (a, b) = (task_output(&mut db, id, "a"), task_output(&mut db, id, "b"));
    assert_eq!(a, b, "tasks of one run saw different business times");
}

#[test]
fn bad_expressions_are_refused_when_they_can_be_known_and_fail_the_attempt_otherwise() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let spec: serde_json::Value = serde_json::from_str(
        r#"{"name": "bad", "tasks": [{"name": "a", "type": "shell", "script": "echo $[add_month(yyyyMMdd,1)]"}]}"#,
    )
    .unwrap();
    let err = error_of(db.query_one("SELECT sched.create_workflow($1)", &[&spec]));
    assert!(
        err.contains("tasks[0].script") && err.contains("unknown function \"add_month\""),
        "{err}"
    );

    define(
        &mut db,
        r#"{"name": "fmt", "tasks": [{"name": "a", "type": "shell", "script": "echo $[${fmt}]"}]}"#,
    );
    for (params, options, expected) in [
        (
            r#"{"n": {"value": "x", "type": "integer"}}"#,
            "{}",
            "params.n: \"x\" is not an integer",
        ),
        (
            "{}",
            r#"{"schedule_time": "yesterday-ish"}"#,
            "options.schedule_time: \"yesterday-ish\" is not a timestamp",
        ),
    ] {
        let params: serde_json::Value = serde_json::from_str(params).unwrap();
        let options: serde_json::Value = serde_json::from_str(options).unwrap();
        let err = error_of(db.query_one(
            "SELECT sched.start_workflow('fmt', $1, $2)",
            &[&params, &options],
        ));
        assert!(err.contains(expected), "{err} lacks {expected}");
    }
    let count: i64 = db
        .query_one("SELECT count(*) FROM sched.workflow_instance", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "a refused start stored an instance");

    // Only known once the parameter's value is: the attempt fails saying why.
    let _worker = cluster.worker("w1", &[]);
    let id: i64 = db
        .query_one(
            r#"SELECT sched.start_workflow('fmt', '{"fmt": "month_end(yyyy"}')"#,
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, id, 60), "failed");
    let out = task_output(&mut db, id, "a");
    assert!(
        out.len() == 1 && out[0].starts_with("sched-worker: cannot resolve parameters: script:"),
        "{out:?}"
    );
}
