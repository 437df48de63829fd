//! Parameters in runs: start parameters, built-ins and time expressions substituted into task
//! scripts at the run's business time.

use std::time::Duration;

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
              {"name": "a", "type": "shell",
               "script": "echo $[yyyyMMddHHmmss]; s=$(date +%s); while [ $(date +%s) -le $s ]; do sleep 0.05; done"},
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

fn json_of(db: &mut Client, sql: &str, id: i64) -> serde_json::Value {
    db.query_one(sql, &[&id]).unwrap().get(0)
}

#[test]
fn globals_are_resolved_once_at_the_start_and_start_parameters_override_them() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("SET TimeZone = 'UTC'").unwrap();
    // Refused at definition, storing nothing: a cycle among the globals.
    let cyclic: serde_json::Value = serde_json::from_str(
        r#"{"name": "cyclic", "params": {"a": "${b}", "b": "x${a}"}, "tasks": [{"name": "t", "type": "empty"}]}"#,
    )
    .unwrap();
    let err = error_of(db.query_one("SELECT sched.create_workflow($1)", &[&cyclic]));
    assert!(
        err.contains("params: reference cycle: a -> b -> a"),
        "{err}"
    );
    define(
        &mut db,
        r#"{"name": "globals",
            "params": {"dt": "$[yyyyMMdd-1]", "region": "eu", "n": {"value": "1", "type": "integer"},
                       "path": "/data/${region}/${dt}"},
            "tasks": [{"name": "a", "type": "shell",
                       "script": "echo ${dt} ${region} ${path} ${n} ${extra} ${system.workflow.instance.id} ${system.task.definition.name}"},
                      {"name": "plain", "type": "shell", "script": "echo plain"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id: i64 = db
        .query_one(
            r#"SELECT sched.start_workflow('globals', '{"region": "us", "extra": "new"}',
                                           '{"schedule_time": "2024-03-15 02:30:00+00"}')"#,
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(
        task_output(&mut db, id, "a"),
        [format!("20240314 us /data/us/20240314 1 new {id} a")]
    );
    let params = json_of(
        &mut db,
        "SELECT params FROM sched.workflow_instances WHERE id = $1",
        id,
    );
    assert_eq!(params["path"], "/data/us/20240314", "{params}");
    assert_eq!(params["region"], "us");
    assert_eq!(params["system.workflow.instance.id"], id.to_string());
    let seen: Vec<(String, serde_json::Value)> = db
        .query(
            "SELECT task, params FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY task",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(seen[0].1["region"], "us");
    assert_eq!(
        seen[0].1["system.task.definition.name"], "a",
        "{:?}",
        seen[0]
    );
    assert_eq!(
        seen[1].1, params,
        "a task without parameters saw the instance's values"
    );
}

#[test]
fn out_params_pass_to_direct_successors_by_the_conflict_rule_and_locals_win() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let flag = cluster.dir.join("b_done");
    let flag = flag.display();
    // b and c both feed d. b finishes first (c waits for it): x is empty from b, so c's
    // non-empty value wins; y is set by both, so the earlier b wins; d's local w overrides
    // both and reads y; only_b is declared by b but never printed: its default. c waits until
    // the worker has reaped b (kill -0 succeeds on a zombie), so b's end is recorded first. c prints
    // the Python way. e sees d's x but not y: only direct predecessors pass values.
    let spec = format!(
        r#"{{"name": "diamond", "tasks": [
            {{"name": "b", "type": "shell",
              "script": "echo '${{setValue(x=)}}'; echo '${{setValue(y=from_b)}}'; echo '#{{setValue(w=b)}}'; echo $$ > {flag}.new && mv {flag}.new {flag}",
              "out": ["x", "y", "w", {{"name": "only_b", "default": "dflt"}}]}},
            {{"name": "c", "type": "shell",
              "script": "while [ ! -f {flag} ]; do sleep 0.05; done; while kill -0 $(cat {flag}) 2>/dev/null; do sleep 0.05; done; python3 -c 'print(\"${{setValue(x=%s)}}\" % \"from_c\"); print(\"${{setValue(y=from_c)}}\"); print(\"${{setValue(w=c)}}\")'",
              "out": ["x", "y", "w"]}},
            {{"name": "d", "type": "shell", "deps": ["b", "c"], "params": {{"w": "local ${{y}}"}},
              "script": "echo x=${{x}} y=${{y}} w=${{w}} only=${{only_b}}; echo '${{setValue(x=from_d)}}'",
              "out": ["x"]}},
            {{"name": "e", "type": "shell", "deps": ["d"], "script": "echo ${{x}} '${{y}}'"}}]}}"#
    );
    define(&mut db, &spec);
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "diamond");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(
        task_output(&mut db, id, "d")[0],
        "x=from_c y=from_b w=local from_b only=dflt"
    );
    assert_eq!(task_output(&mut db, id, "e"), ["from_d ${y}"]);

    let out_of = |db: &mut Client, task: &str| -> serde_json::Value {
        db.query_one(
            "SELECT out_params FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2",
            &[&id, &task],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(
        out_of(&mut db, "b"),
        serde_json::json!({"x": "", "y": "from_b", "w": "b", "only_b": "dflt"})
    );
    assert_eq!(out_of(&mut db, "d"), serde_json::json!({"x": "from_d"}));
    let d_params: serde_json::Value = db
        .query_one(
            "SELECT params FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'd'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(d_params["w"], "local from_b", "{d_params}");
    assert_eq!(d_params["x"], "from_c");
    // The instance's output: the last finished task wins a name.
    let out = json_of(
        &mut db,
        "SELECT out_params FROM sched.workflow_instances WHERE id = $1",
        id,
    );
    assert_eq!(
        out,
        serde_json::json!({"x": "from_d", "y": "from_c", "w": "c", "only_b": "dflt"})
    );
}

#[test]
fn printed_values_must_fit_their_declared_type_and_locals_failing_at_claim_fail_the_attempt() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "typed", "failure_strategy": "continue", "tasks": [
            {"name": "a", "type": "shell",
             "script": "echo '${setValue(n=1)}'; echo '#{setValue(n=2)}'; echo '${setValue(undeclared=3)}'",
             "out": [{"name": "n", "type": "integer"}]},
            {"name": "b", "type": "shell", "deps": ["a"], "script": "echo n=${n} 'u=${undeclared}'; echo '${setValue(n=abc)}'",
             "out": [{"name": "n", "type": "integer"}]},
            {"name": "c", "type": "shell", "deps": ["a"], "params": {"k": {"value": "${word}x", "type": "long"}},
             "script": "echo never"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id: i64 = db
        .query_one(
            r#"SELECT sched.start_workflow('typed', '{"word": "7"}')"#,
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, id, 60), "failed");
    let b = task_output(&mut db, id, "b");
    assert_eq!(b[0], "n=2 u=${undeclared}", "the last value printed wins");
    assert_eq!(
        b.last().unwrap(),
        "sched-worker: OUT parameter out.n: \"abc\" is not an integer; type integer takes a whole number from -2147483648 to 2147483647"
    );
    assert_eq!(
        task_output(&mut db, id, "c"),
        [
            "sched-worker: cannot resolve parameters: params.k: \"7x\" is not an integer; type long takes a whole number from -9223372036854775808 to 9223372036854775807"
        ]
    );
    let states = task_states(&mut db, id);
    assert_eq!(
        states
            .iter()
            .map(|(t, s, _)| (t.as_str(), s.as_str()))
            .collect::<Vec<_>>(),
        [("a", "succeeded"), ("b", "failed"), ("c", "failed")]
    );
}

#[test]
fn a_failed_over_attempt_sees_the_values_of_the_first() {
    let cluster = Cluster::start(&["sched.worker_timeout = 2"]);
    let mut db = cluster.connect();
    let again = cluster.dir.join("again");
    // A manual run: its business time is its start, kept by every attempt however late.
    define(
        &mut db,
        &format!(
            r#"{{"name": "retried", "params": {{"t": "$[yyyyMMddHHmmss]"}}, "tasks": [{{"name": "a", "type": "shell",
                 "script": "echo ${{t}} $[HHmmss] ${{system.task.instance.id}}; [ -f {again} ] || {{ touch {again}; sleep 600; }}"}}]}}"#,
            again = again.display()
        ),
    );
    let mut w1 = cluster.worker("w1", &[]);
    let id = start(&mut db, "retried");
    wait_for(Duration::from_secs(30), "the first attempt to run", || {
        (task_output(&mut db, id, "a").len() == 1).then_some(())
    });
    w1.signal(libc::SIGKILL);
    w1.wait_exit(Duration::from_secs(10));
    let _w2 = cluster.worker("w2", &[]);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let lines = task_output(&mut db, id, "a");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (first, second): (Vec<&str>, Vec<&str>) =
        (lines[0].split(' ').collect(), lines[1].split(' ').collect());
    assert_eq!(
        first[..2],
        second[..2],
        "the attempts saw different business times"
    );
    assert_ne!(
        first[2], second[2],
        "each attempt has its own task instance id"
    );
}
