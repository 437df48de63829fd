//! SQL and procedure tasks on the scheduler's database, checked against the live catalog at
//! definition as the workflow's owner: warnings by default, refusals with `strict_sql`, and
//! never a statement run.

use sched_tests::*;
use serde_json::{Value, json};

/// A cluster with role alice (a sched_user who can log in), a table she may read and write,
/// one she may not, and her own schema on her search_path.
fn cluster() -> (Cluster, Client) {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         CREATE TABLE public.secret (x int);
         CREATE TABLE public.orders (id int, day date, amount numeric);
         GRANT ALL ON public.orders TO alice;
         CREATE SCHEMA app AUTHORIZATION alice;
         CREATE TABLE app.items (id int); ALTER TABLE app.items OWNER TO alice;
         ALTER ROLE alice SET search_path = app, public;
         CREATE SEQUENCE public.ticket; GRANT USAGE ON SEQUENCE public.ticket TO alice;
         CREATE PROCEDURE public.tally(n int) LANGUAGE sql AS 'SELECT 1';",
    )
    .unwrap();
    (cluster, db)
}

fn sql_workflow(name: &str, tasks: Value, extra: Value) -> Value {
    let mut spec = json!({"name": name, "tasks": tasks});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

fn exists(db: &mut Client, name: &str) -> bool {
    db.query_one(
        "SELECT EXISTS (SELECT 1 FROM sched.workflows WHERE name = $1)",
        &[&name],
    )
    .unwrap()
    .get(0)
}

#[test]
fn catalog_problems_are_warnings_naming_the_task_and_strict_sql_refuses_them() {
    let (cluster, _db) = cluster();
    let (mut alice, notices) = cluster.connect_with_notices("alice");
    let tasks = json!([
        {"name": "load", "type": "sql", "sql": "SELECT * FROM missing_table"},
        {"name": "peek", "type": "sql", "sql": "SELECT x FROM public.secret"},
        {"name": "sum", "type": "sql", "sql": "SELECT sum(amount) FROM orders WHERE day = ${day} AND nope = 1",
         "params": {"day": {"value": "2024-01-01", "type": "date"}}},
        {"name": "call", "type": "procedure", "procedure": "public.no_such_proc",
         "args": [{"name": "n", "type": "integer", "value": "1"}]},
        {"name": "fine", "type": "sql", "sql": "SELECT count(*) FROM items WHERE id = ${id}",
         "params": {"id": {"value": "1", "type": "integer"}}}
    ]);
    let tasks: Vec<Value> = tasks.as_array().unwrap().clone();
    let spec = sql_workflow("checked", json!(tasks), json!({}));
    // Warned, and defined: the catalog may catch up before the first run.
    alice
        .query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();
    let warnings = notices.lock().unwrap().clone();
    let expected = [
        r#"tasks[0].sql: relation "missing_table" does not exist"#,
        "tasks[1].sql: permission denied for table secret",
        r#"tasks[2].sql: column "nope" does not exist"#,
        "tasks[3].procedure: procedure public.no_such_proc(integer) does not exist",
    ];
    assert_eq!(warnings.len(), expected.len(), "{warnings:?}");
    for (got, want) in warnings.iter().zip(expected) {
        assert!(
            got.starts_with(want),
            "{got:?} does not start with {want:?}"
        );
    }
    // check_workflow says the same, storing nothing.
    notices.lock().unwrap().clear();
    alice
        .query_one("SELECT sched.check_workflow($1)", &[&spec])
        .unwrap();
    assert_eq!(notices.lock().unwrap().len(), expected.len());

    // Strict: refused with every problem, nothing stored.
    let strict = sql_workflow("strictly", json!(tasks), json!({"strict_sql": true}));
    let err = alice
        .query_one("SELECT sched.create_workflow($1)", &[&strict])
        .unwrap_err();
    let db_err = err.as_db_error().expect("a database error");
    assert_eq!(
        db_err.code().code(),
        "42P01",
        "the first problem's SQLSTATE"
    );
    for want in expected {
        assert!(
            db_err.message().contains(want),
            "{} lacks {want}",
            db_err.message()
        );
    }
    assert!(!exists(&mut alice, "strictly"));
    // Fixed, a strict workflow is defined without a word.
    let fixed = sql_workflow(
        "strictly",
        json!([tasks[4].clone()]),
        json!({"strict_sql": true}),
    );
    notices.lock().unwrap().clear();
    alice
        .query_one("SELECT sched.create_workflow($1)", &[&fixed])
        .unwrap();
    assert!(
        notices.lock().unwrap().is_empty(),
        "{:?}",
        notices.lock().unwrap()
    );
    assert_eq!(
        alice
            .query_one("SELECT sched.workflow_spec('strictly')->'strict_sql'", &[])
            .unwrap()
            .get::<_, Value>(0),
        json!(true)
    );
}

#[test]
fn the_check_sees_the_defining_transaction_runs_nothing_and_stops_at_ddl() {
    let (cluster, mut db) = cluster();
    let (mut alice, notices) = cluster.connect_with_notices("alice");
    let spec = sql_workflow(
        "quiet",
        json!([
            {"name": "fill", "type": "sql",
             "sql": "INSERT INTO app.fresh SELECT nextval('public.ticket') FROM generate_series(1, 3)"},
            {"name": "staged", "type": "sql",
             "pre_statements": ["CREATE TEMP TABLE stage (id int)"],
             "sql": "SELECT * FROM stage JOIN also_missing USING (id)"},
            {"name": "spliced", "type": "sql", "sql": "SELECT * FROM !{table}",
             "params": {"table": "whatever"}},
            {"name": "tally", "type": "procedure", "procedure": "public.tally",
             "args": [{"name": "n", "type": "integer", "value": "2"}]}
        ]),
        json!({"strict_sql": true}),
    );
    // A table created in the same transaction is there for the check.
    let mut tx = alice.transaction().unwrap();
    tx.batch_execute("CREATE TABLE app.fresh (n bigint)")
        .unwrap();
    tx.query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();
    tx.commit().unwrap();
    assert!(
        notices.lock().unwrap().is_empty(),
        "{:?}",
        notices.lock().unwrap()
    );
    // Nothing ran: no row inserted, the sequence untouched.
    let rows: i64 = db
        .query_one("SELECT count(*) FROM app.fresh", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    let called: bool = db
        .query_one("SELECT is_called FROM public.ticket", &[])
        .unwrap()
        .get(0);
    assert!(!called, "nextval ran at definition");
}

#[test]
fn the_check_runs_as_the_owner_not_as_the_superuser_who_calls() {
    let (cluster, mut db) = cluster();
    db.batch_execute("CREATE ROLE team NOLOGIN IN ROLE sched_user; GRANT team TO postgres;")
        .unwrap();
    let (mut admin, notices) = cluster.connect_with_notices("postgres");
    let spec = json!({"name": "team_job", "project": "team",
        "tasks": [{"name": "peek", "type": "sql", "sql": "SELECT x FROM public.secret"}]});
    admin
        .query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();
    let warnings = notices.lock().unwrap().clone();
    assert_eq!(
        warnings,
        ["tasks[0].sql: permission denied for table secret"],
        "checked as the project role team, which may not read it"
    );
    // A datasource's catalog is not this database's: its SQL is not checked here.
    notices.lock().unwrap().clear();
    let remote = json!({"name": "remote_job", "strict_sql": true,
        "tasks": [{"name": "r", "type": "sql", "datasource": "elsewhere", "sql": "SELECT * FROM not_here"}]});
    admin
        .batch_execute("SELECT sched.create_datasource('elsewhere', 'postgresql')")
        .unwrap();
    admin
        .query_one("SELECT sched.create_workflow($1)", &[&remote])
        .unwrap();
    assert!(
        notices.lock().unwrap().is_empty(),
        "{:?}",
        notices.lock().unwrap()
    );
}

#[test]
fn what_the_owners_functions_set_while_checked_does_not_stay_in_the_callers_session() {
    let (cluster, mut db) = cluster();
    // An immutable function of team's that the planner folds, and that tries to leave a
    // search_path of its choosing in the session of whoever defines team's workflow.
    db.batch_execute(
        "CREATE ROLE team NOLOGIN IN ROLE sched_user; GRANT team TO postgres;
         CREATE SCHEMA trap AUTHORIZATION team;
         SET ROLE team;
         CREATE FUNCTION trap.f(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
           $$ BEGIN PERFORM set_config('search_path', 'trap', false); RETURN n; END $$;
         RESET ROLE;",
    )
    .unwrap();
    let (mut admin, _notices) = cluster.connect_with_notices("postgres");
    let before: String = admin.query_one("SHOW search_path", &[]).unwrap().get(0);
    let spec = json!({"name": "folded", "project": "team",
        "tasks": [{"name": "t", "type": "sql", "sql": "SELECT trap.f(1)"}]});
    admin
        .query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();
    let after: String = admin.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(after, before);
}

#[test]
fn sched_apply_shows_the_warnings_once() {
    let (cluster, _db) = cluster();
    let dir = cluster.dir.join("flows");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("typo.yaml"),
        "name: typo\ntasks:\n  - name: load\n    type: sql\n    sql: SELECT * FROM nowhere\n",
    )
    .unwrap();
    let out = cluster.sched("alice", &["apply", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
    let stderr = lossy(&out.stderr);
    let warning = r#"sched: warning: tasks[0].sql: relation "nowhere" does not exist"#;
    assert_eq!(stderr.matches(warning).count(), 1, "{stderr}");
    assert!(lossy(&out.stdout).contains("typo: created"));
}

#[test]
fn dropping_or_altering_what_scheduled_sql_uses_warns_and_protect_objects_refuses() {
    let (cluster, mut db) = cluster();
    let (mut alice, _) = cluster.connect_with_notices("alice");
    db.batch_execute(
        "CREATE FUNCTION public.cents(n numeric) RETURNS bigint LANGUAGE sql AS 'SELECT (n * 100)::bigint';
         CREATE TABLE public.unused (x int); GRANT SELECT ON public.unused TO alice;",
    )
    .unwrap();
    define(
        &mut alice,
        &json!({"name": "reporting", "tasks": [
            {"name": "load", "type": "sql", "sql": "SELECT public.cents(sum(amount)) FROM orders"},
            {"name": "tally", "type": "procedure", "procedure": "public.tally",
             "args": [{"name": "n", "type": "integer", "value": "1"}]}]})
        .to_string(),
    );
    alice
        .batch_execute("SELECT sched.schedule('reporting', '0 0 2 * * ?')")
        .unwrap();
    let uses: Vec<(String, String, String)> = alice
        .query(
            "SELECT task, kind, object FROM sched.workflow_dependencies WHERE workflow = 'reporting' AND current ORDER BY 1, 2, 3",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        uses,
        [
            ("load".into(), "function".into(), "cents(numeric)".into()),
            ("load".into(), "relation".into(), "orders".into()),
            ("tally".into(), "function".into(), "tally(integer)".into()),
        ]
    );

    // Scheduled: warned, and done.
    let (mut admin, notices) = cluster.connect_with_notices("postgres");
    admin
        .batch_execute("ALTER TABLE public.orders ADD COLUMN note text; ALTER TABLE public.unused ADD COLUMN y int")
        .unwrap();
    assert_eq!(
        notices.lock().unwrap().clone(),
        ["alter public.orders is used by the SQL of scheduled workflows: reporting (task load)"]
    );
    notices.lock().unwrap().clear();
    admin
        .batch_execute("DROP FUNCTION public.cents(numeric)")
        .unwrap();
    assert_eq!(
        notices.lock().unwrap().clone(),
        [
            "drop public.cents(numeric) is used by the SQL of scheduled workflows: reporting (task load)"
        ]
    );

    // A workflow protects only what its owner owns: alice may read orders, not pin it.
    define(
        &mut alice,
        &json!({"name": "pinning", "protect_objects": true, "tasks": [
            {"name": "peek", "type": "sql", "sql": "SELECT count(*) FROM public.orders"}]})
        .to_string(),
    );
    admin
        .batch_execute("ALTER TABLE public.orders ADD COLUMN extra int")
        .unwrap();

    // Protected: refused, and nothing dropped, until a version no longer uses it.
    define(
        &mut alice,
        &json!({"name": "guarded", "protect_objects": true, "tasks": [
            {"name": "count", "type": "sql", "sql": "SELECT count(*) FROM items"}]})
        .to_string(),
    );
    let err = admin.batch_execute("DROP TABLE app.items").unwrap_err();
    let db_err = err.as_db_error().unwrap();
    assert_eq!(db_err.code().code(), "2BP01");
    assert_eq!(
        db_err.message(),
        r#"cannot drop app.items: the SQL of workflow guarded uses it ("protect_objects": true)"#
    );
    // A dropped column comes as a dropped object too: an ALTER of its table.
    for alter in ["ADD COLUMN z int", "DROP COLUMN id"] {
        let err = admin
            .batch_execute(&format!("ALTER TABLE app.items {alter}"))
            .unwrap_err();
        let message = err.as_db_error().unwrap().message().to_owned();
        assert!(
            message.starts_with("cannot alter app.items"),
            "{alter}: {message}"
        );
    }
    alice
        .query_one(
            "SELECT sched.create_workflow($1, true)",
            &[
                &json!({"name": "guarded", "protect_objects": true, "tasks": [
                {"name": "count", "type": "sql", "sql": "SELECT count(*) FROM public.unused"}]}),
            ],
        )
        .unwrap();
    admin.batch_execute("DROP TABLE app.items").unwrap();
}

#[test]
fn a_table_locked_by_another_transaction_is_skipped_not_waited_for() {
    let (cluster, mut db) = cluster();
    let mut tx = db.transaction().unwrap();
    tx.batch_execute("LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let (mut alice, notices) = cluster.connect_with_notices("alice");
    let spec = json!({"name": "behind_lock", "strict_sql": true, "tasks": [
        {"name": "sum", "type": "sql", "sql": "SELECT sum(amount) FROM public.orders"}]});
    alice
        .query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();
    assert_eq!(
        notices.lock().unwrap().clone(),
        ["tasks[0].sql: not checked: canceling statement due to lock timeout"]
    );
    tx.rollback().unwrap();
}
