//! Test runs: a workflow's SQL, PROCEDURE and logic tasks run in the caller's transaction as
//! the owner, in DAG order, and everything they did is rolled back; the results come back per
//! task and nothing is written to the scheduler's tables.

use sched_tests::*;
use serde_json::{Value, json};

/// A cluster with role alice (a sched_user who can log in), her schema on her search_path, a
/// table of hers and a table she may not read.
fn cluster() -> (Cluster, Client) {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         CREATE ROLE bob LOGIN IN ROLE sched_user;
         CREATE SCHEMA app AUTHORIZATION alice;
         CREATE TABLE app.orders (id int, amount numeric); ALTER TABLE app.orders OWNER TO alice;
         INSERT INTO app.orders VALUES (1, 10), (2, 32);
         CREATE TABLE app.loaded (day date, total numeric); ALTER TABLE app.loaded OWNER TO alice;
         CREATE TABLE public.secret (x int);
         ALTER ROLE alice SET search_path = app, public;",
    )
    .unwrap();
    (cluster, db)
}

/// The rows of a test run: task, state, reason, rows, row_count, out, notices, whether it has a
/// duration.
type Row = (
    String,
    String,
    Option<String>,
    Option<Value>,
    Option<i64>,
    Option<Value>,
    Vec<String>,
    bool,
);

fn test_run(db: &mut impl postgres::GenericClient, sql: &str) -> Vec<Row> {
    db.query(
        &format!(
            "SELECT task, state, reason, rows, row_count, out, notices, duration IS NOT NULL FROM {sql}"
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get(0),
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
            r.get(7),
        )
    })
    .collect()
}

fn error_of<T>(result: Result<T, postgres::Error>) -> String {
    result
        .map(|_| ())
        .expect_err("the call should have failed")
        .as_db_error()
        .unwrap()
        .message()
        .to_owned()
}

fn count(db: &mut Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn a_test_run_returns_every_task_s_results_and_leaves_nothing_behind() {
    let (cluster, mut su) = cluster();
    let mut alice = cluster.connect_as("alice");
    let spec = json!({"name": "etl", "params": {"day": "$[yyyy-MM-dd]"}, "tasks": [
        {"name": "extract", "type": "shell", "script": "echo '#{setValue(batch=7)}'", "out": [{"name": "batch"}]},
        {"name": "total", "type": "sql", "sql": "SELECT sum(amount) AS total FROM orders",
         "out": [{"name": "total"}]},
        {"name": "load", "type": "sql", "deps": ["extract", "total"],
         "pre_statements": ["DO $$ BEGIN RAISE NOTICE 'loading %', 'now'; END $$"],
         "sql": "INSERT INTO loaded VALUES (${day}::date, ${total}::numeric) RETURNING total, ${batch} AS batch",
         "query": true,
         "out": [{"name": "batch"}]},
        {"name": "check", "type": "switch", "deps": ["load"],
         "cases": [{"when": "${total} > 100", "then": ["big"]}], "default": ["small"]},
        {"name": "big", "type": "sql", "deps": ["check"], "sql": "SELECT 'big'"},
        {"name": "small", "type": "sql", "deps": ["check"], "sql": "SELECT count(*) AS n FROM loaded"},
        {"name": "after_small", "type": "sql", "deps": ["big"], "sql": "SELECT 1"},
        {"name": "broken", "type": "sql", "deps": ["small"], "sql": "SELECT * FROM public.secret"},
        {"name": "never", "type": "sql", "deps": ["broken"], "sql": "SELECT 1"},
        {"name": "judge", "type": "conditions", "deps": ["broken"],
         "conditions": {"relation": "and", "groups": [{"relation": "and", "items": [{"task": "broken", "status": "failed"}]}]},
         "on_success": ["report"], "on_failure": []},
        {"name": "report", "type": "sql", "deps": ["judge"], "sql": "SELECT 'reported' AS what"}
    ]});
    alice
        .query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();
    let before_instances = count(&mut su, "SELECT count(*) FROM sched.workflow_instance");
    let before_commands = count(&mut su, "SELECT count(*) FROM sched.command");

    // In the caller's transaction: it sees what the transaction did before it, and what the
    // test run did is gone afterwards, while the transaction goes on.
    let mut tx = alice.transaction().unwrap();
    tx.execute("INSERT INTO orders VALUES (3, 58)", &[])
        .unwrap();
    let rows = test_run(
        &mut tx,
        r#"sched.test_run('etl', '{"day": "2026-03-01"}', '{"mock": {"extract": {"batch": 7}}}')"#,
    );
    let loaded: i64 = tx
        .query_one("SELECT count(*) FROM loaded", &[])
        .unwrap()
        .get(0);
    assert_eq!(loaded, 0, "the test run's INSERT was rolled back");
    let orders: i64 = tx
        .query_one("SELECT count(*) FROM orders", &[])
        .unwrap()
        .get(0);
    assert_eq!(orders, 3, "the caller's own INSERT is still there");
    tx.commit().unwrap();

    let by_name = |name: &str| rows.iter().find(|r| r.0 == name).unwrap().clone();
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    // DAG order: every task after its upstream tasks.
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(at("extract") < at("load") && at("total") < at("load") && at("load") < at("check"));
    assert!(at("check") < at("small") && at("small") < at("broken") && at("broken") < at("judge"));
    assert_eq!(rows.len(), 11, "{rows:?}");

    let extract = by_name("extract");
    assert_eq!(extract.1, "mocked");
    assert_eq!(extract.5, Some(json!({"batch": "7"})));
    let total = by_name("total");
    assert_eq!((total.1.as_str(), total.4), ("succeeded", Some(1)));
    assert_eq!(
        total.5,
        Some(json!({"total": "100"})),
        "saw the caller's row"
    );
    assert!(total.7, "a task that ran has a duration");
    let load = by_name("load");
    assert_eq!(load.1, "succeeded", "{load:?}");
    assert_eq!(load.3, Some(json!([["100", "7"]])));
    assert_eq!(load.5, Some(json!({"batch": "7"})));
    assert_eq!(load.6, vec!["NOTICE: loading now".to_owned()]);
    let check = by_name("check");
    assert_eq!(check.1, "succeeded");
    assert!(
        check.2.as_deref().unwrap().contains("no case holds"),
        "{check:?}"
    );
    assert_eq!(by_name("big").1, "skipped");
    assert_eq!(by_name("after_small").1, "skipped");
    // It saw the row load inserted, before everything was rolled back.
    let small = by_name("small");
    assert_eq!(
        (small.1.as_str(), small.3),
        ("succeeded", Some(json!([["1"]])))
    );
    let broken = by_name("broken");
    assert_eq!(broken.1, "failed");
    assert!(
        broken
            .2
            .as_deref()
            .unwrap()
            .contains("permission denied for table secret"),
        "run as alice: {broken:?}"
    );
    let never = by_name("never");
    assert_eq!(
        (never.1.as_str(), never.2.as_deref()),
        ("not_reached", Some("upstream task broken failed"))
    );
    assert_eq!(by_name("judge").1, "succeeded");
    assert_eq!(
        by_name("report").3,
        Some(json!([["reported"]])),
        "the conditions' success branch ran"
    );

    // Nothing was written to the scheduler's tables, and nothing was left in the database.
    assert_eq!(
        count(&mut su, "SELECT count(*) FROM sched.workflow_instance"),
        before_instances
    );
    assert_eq!(
        count(&mut su, "SELECT count(*) FROM sched.command"),
        before_commands
    );
    assert_eq!(count(&mut su, "SELECT count(*) FROM app.loaded"), 0);

    // Without the mock, the shell task is not run and what needs its OUT value fails to
    // resolve.
    let rows = test_run(&mut alice, "sched.test_run('etl', '{}')");
    let extract = rows.iter().find(|r| r.0 == "extract").unwrap();
    assert_eq!(extract.1, "not_run");
    assert!(extract.2.as_deref().unwrap().contains("options.mock"));
    let load = rows.iter().find(|r| r.0 == "load").unwrap();
    assert_eq!(load.1, "failed", "{load:?}");
    assert!(load.2.as_deref().unwrap().contains("batch"), "{load:?}");
}

#[test]
fn only_the_owner_s_members_test_run_it_and_its_sql_runs_as_the_owner_only() {
    let (cluster, mut su) = cluster();
    let mut alice = cluster.connect_as("alice");
    let spec = json!({"name": "who", "tasks": [
        {"name": "me", "type": "sql", "sql": "SELECT current_user::text AS u, session_user::text AS s"},
        {"name": "escape", "type": "sql", "deps": ["me"], "sql": "SET ROLE postgres"},
        {"name": "temp", "type": "sql", "deps": ["me"], "sql": "CREATE TEMP TABLE t (x int)"}
    ]});
    alice
        .query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();
    let mut bob = cluster.connect_as("bob");
    let err = bob
        .query("SELECT * FROM sched.test_run('who')", &[])
        .unwrap_err();
    let err = err.as_db_error().unwrap().message().to_owned();
    assert_eq!(err, "permission denied for workflow \"who\"");

    // A superuser's test run runs alice's statements as alice, restricted: no role change, no
    // temporary table left in the superuser's session.
    let rows = test_run(&mut su, "sched.test_run('who')");
    let me = rows.iter().find(|r| r.0 == "me").unwrap();
    assert_eq!(me.3, Some(json!([["alice", "postgres"]])), "{me:?}");
    for task in ["escape", "temp"] {
        let row = rows.iter().find(|r| r.0 == task).unwrap();
        assert_eq!(row.1, "failed", "{row:?}");
    }
    let current: String = su
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(current, "postgres");

    // Bad input names the field, and changes nothing.
    for (call, want) in [
        (
            "sched.test_run('nope')",
            "workflow \"nope\" does not exist".to_owned(),
        ),
        (
            "sched.test_run('who', '{}', '{\"mocks\": {}}')",
            "options.mocks: unknown option; allowed: mock, schedule_time, timezone, spec"
                .to_owned(),
        ),
        (
            "sched.test_run('who', '{}', '{\"mock\": {\"ghost\": {}}}')",
            "options.mock.ghost: workflow \"who\" has no task \"ghost\"".to_owned(),
        ),
        (
            "sched.test_run('who', '{}', '{\"mock\": {\"me\": 3}}')",
            "options.mock.me: must be an object of OUT values, e.g. {\"rows\": \"42\"}".to_owned(),
        ),
        (
            "sched.test_run('who', '[]')",
            "params: must be a JSON object, e.g. {\"dt\": \"20260101\"}".to_owned(),
        ),
    ] {
        let err = alice
            .query(&format!("SELECT * FROM {call}"), &[])
            .unwrap_err();
        assert_eq!(err.as_db_error().unwrap().message(), want, "{call}");
    }
}

#[test]
fn a_spec_is_tested_before_it_is_saved_and_is_not_saved() {
    let (cluster, mut su) = cluster();
    let mut alice = cluster.connect_as("alice");
    let spec = json!({"name": "draft", "tasks": [
        {"name": "sum", "type": "sql", "sql": "SELECT sum(amount) AS total FROM orders", "out": [{"name": "total"}]},
        {"name": "noop", "type": "empty", "deps": ["sum"]},
        {"name": "twice", "type": "sql", "deps": ["noop", "sum"], "sql": "SELECT ${total}::numeric * 2 AS double"}
    ]});
    let rows: Vec<(String, String, Option<Value>)> = alice
        .query(
            "SELECT task, state, rows FROM sched.test_run('draft', '{}', jsonb_build_object('spec', $1::jsonb))",
            &[&spec],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("sum".into(), "succeeded".into(), Some(json!([["42"]]))),
            ("noop".into(), "succeeded".into(), None),
            ("twice".into(), "succeeded".into(), Some(json!([["84"]]))),
        ]
    );
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) FROM sched.workflow WHERE name = 'draft'"
        ),
        0,
        "the tested spec was not saved"
    );
    // A spec of another name is refused; one of bob's workflows cannot be replaced by it.
    let err = error_of(alice.query(
        "SELECT * FROM sched.test_run('other', '{}', jsonb_build_object('spec', $1::jsonb))",
        &[&spec],
    ));
    assert!(
        err.starts_with("options.spec: must be a workflow spec named \"other\""),
        "{err}"
    );
    let mut bob = cluster.connect_as("bob");
    bob.query_one(
        "SELECT sched.create_workflow('{\"name\": \"draft\", \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"}]}')",
        &[],
    )
    .unwrap();
    let err = error_of(alice.query(
        "SELECT * FROM sched.test_run('draft', '{}', jsonb_build_object('spec', $1::jsonb))",
        &[&spec],
    ));
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn the_command_line_test_runs_a_file_before_it_is_applied() {
    let (cluster, mut su) = cluster();
    let file = cluster.dir.join("etl.yaml");
    std::fs::write(
        &file,
        "name: cli_etl\ntasks:\n  - name: fetch\n    type: shell\n    script: echo\n    out: [{name: n}]\n\
         \x20 - name: use\n    type: sql\n    deps: [fetch]\n    sql: SELECT ${n}::int + 1 AS next\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = cluster.sched_expect(
        "alice",
        &[
            "test-run",
            "cli_etl",
            "--file",
            file,
            "--mock",
            "fetch.n=41",
        ],
        0,
    );
    assert!(
        out.lines()
            .any(|l| l.contains("fetch") && l.contains("mocked")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("use") && l.contains("succeeded")),
        "{out}"
    );
    let json = cluster.sched_expect(
        "alice",
        &[
            "--json",
            "test-run",
            "cli_etl",
            "--file",
            file,
            "--mock",
            "fetch.n=41",
        ],
        0,
    );
    let rows: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(rows[1]["rows"], json!([["42"]]), "{rows}");
    // Without the mock the SQL task cannot resolve ${n}: exit 1. Nothing was saved.
    cluster.sched_expect("alice", &["test-run", "cli_etl", "--file", file], 1);
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) FROM sched.workflow WHERE name = 'cli_etl'"
        ),
        0
    );
    let out = cluster.sched("alice", &["test-run", "cli_etl", "--mock", "fetch=1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--mock fetch=...: must be TASK.NAME=VALUE"),
        "{err}"
    );
}
