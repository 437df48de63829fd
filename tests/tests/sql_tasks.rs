//! sql and procedure tasks: on the scheduler's database as the workflow's owner (and nothing
//! more), with bound parameters, kept results and OUT values; on datasources of the worker's
//! configuration (PostgreSQL, MariaDB); and one workflow of every task type passing values
//! downstream.

use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

/// A cluster with role alice (a sched_user who can log in) and a table she may not read.
fn cluster_with_alice(settings: &[&str]) -> (Cluster, Client) {
    let cluster = Cluster::start(settings);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         CREATE TABLE public.secret (x int); INSERT INTO public.secret VALUES (42);
         CREATE TABLE public.alice_t (n int, s text); GRANT ALL ON public.alice_t TO alice;",
    )
    .unwrap();
    (cluster, db)
}

/// (task, state, last log line) of every attempt of an instance.
fn outcomes(db: &mut Client, id: i64) -> Vec<(String, String, String)> {
    db.query(
        "SELECT ti.task, ti.state,
                coalesce((SELECT l FROM sched.task_log(ti.id, 0, 1000) WITH ORDINALITY t(l, n) ORDER BY n DESC LIMIT 1), '')
         FROM sched.task_instances ti WHERE ti.workflow_instance_id = $1 ORDER BY ti.task",
        &[&id],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn out_params(db: &mut Client, id: i64, task: &str) -> Value {
    db.query_one(
        "SELECT coalesce(out_params, 'null') FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2",
        &[&id, &task],
    )
    .unwrap()
    .get(0)
}

#[test]
fn sql_tasks_run_as_the_workflow_owner_and_their_sql_cannot_escape_it() {
    let (cluster, mut db) = cluster_with_alice(&[]);
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        &json!({"name": "escapes", "failure_strategy": "continue", "tasks": [
            {"name": "whoami", "type": "sql", "sql": "SELECT current_user AS me, session_user AS sess",
             "out": ["me", "sess"]},
            {"name": "read_secret", "type": "sql", "sql": "SELECT x FROM public.secret"},
            {"name": "reset_role", "type": "sql", "pre_statements": ["RESET ROLE"], "sql": "SELECT x FROM public.secret"},
            {"name": "set_role", "type": "sql", "sql": "SET ROLE postgres"},
            {"name": "session_auth", "type": "sql", "sql": "SET SESSION AUTHORIZATION postgres"},
            {"name": "set_config", "type": "sql", "sql": "SELECT set_config('role', 'postgres', false)"},
            {"name": "worker_api", "type": "sql", "sql": "SELECT sched.kill_requests(1)"},
            {"name": "transaction", "type": "sql", "sql": "COMMIT"},
            {"name": "escape_then_write", "type": "sql", "pre_statements": ["INSERT INTO public.alice_t VALUES (1, 'kept?')"],
             "sql": "SET ROLE postgres"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut alice, "escapes");
    assert_eq!(wait(&mut db, id, 120), "failed");
    // A worker may store an attempt's last lines in the batch after its completion.
    let got = wait_for(
        Duration::from_secs(30),
        "every attempt's last log line",
        || {
            let got = outcomes(&mut db, id);
            got.iter()
                .all(|(_, _, line)| !line.is_empty())
                .then_some(got)
        },
    );
    let expect = [
        (
            "escape_then_write",
            "failed",
            "ERROR: permission denied to set role \"postgres\"",
        ),
        (
            "read_secret",
            "failed",
            "ERROR: permission denied for table secret",
        ),
        (
            "reset_role",
            "failed",
            "ERROR: permission denied for table secret",
        ),
        (
            "session_auth",
            "failed",
            "ERROR: permission denied to set session authorization \"postgres\"",
        ),
        (
            "set_config",
            "failed",
            "ERROR: permission denied to set role \"postgres\"",
        ),
        (
            "set_role",
            "failed",
            "ERROR: permission denied to set role \"postgres\"",
        ),
        (
            "transaction",
            "failed",
            "ERROR: sql: transaction control (BEGIN, COMMIT, ROLLBACK) is not allowed: a task's statements run in one transaction",
        ),
        ("whoami", "succeeded", "sql: 1 row(s) returned"),
        (
            "worker_api",
            "failed",
            "ERROR: permission denied for function kill_requests",
        ),
    ];
    for ((task, state, line), (want_task, want_state, want_line)) in got.iter().zip(expect) {
        assert_eq!(
            (task.as_str(), state.as_str()),
            (want_task, want_state),
            "{got:?}"
        );
        assert!(
            line.starts_with(want_line),
            "{task}: {line:?} is not {want_line:?}"
        );
    }
    assert_eq!(got.len(), expect.len());
    assert_eq!(
        out_params(&mut db, id, "whoami"),
        json!({"me": "alice", "sess": "alice"})
    );
    // The failed task's earlier statement was rolled back with it.
    let rows: i64 = db
        .query_one("SELECT count(*) FROM public.alice_t", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    // A NOLOGIN owner is refused with the reason, not run as anyone else.
    db.batch_execute(
        "CREATE ROLE carol NOLOGIN IN ROLE sched_user; GRANT USAGE ON SCHEMA sched TO carol;",
    )
    .unwrap();
    db.batch_execute("SET ROLE carol").unwrap();
    define(
        &mut db,
        r#"{"name": "carols", "tasks": [{"name": "q", "type": "sql", "sql": "SELECT 1"}]}"#,
    );
    let id = start(&mut db, "carols");
    db.batch_execute("RESET ROLE").unwrap();
    assert_eq!(wait(&mut db, id, 60), "failed");
    let line = &outcomes(&mut db, id)[0].2;
    assert!(
        line.contains("the workflow's owner carol cannot log in (NOLOGIN)"),
        "{line}"
    );
}

#[test]
fn parameters_are_bound_and_results_rows_and_out_values_are_kept() {
    let (cluster, mut db) = cluster_with_alice(&[]);
    db.batch_execute(
        "CREATE PROCEDURE public.add_to(IN a int, INOUT total int, OUT doubled int)
         LANGUAGE plpgsql AS $$ BEGIN total := total + a; doubled := total * 2; END $$;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        &json!({"name": "bound", "params": {"evil": "x'); DROP TABLE public.alice_t; --", "tbl": "public.alice_t"},
                "tasks": [
            {"name": "load", "type": "sql",
             "params": {"n": {"value": "5", "type": "integer"}},
             "pre_statements": ["CREATE TEMP TABLE staging AS SELECT g AS n FROM generate_series(1, ${n}) g"],
             "sql": "INSERT INTO public.alice_t SELECT n, ${evil} FROM staging",
             "post_statements": ["INSERT INTO public.alice_t VALUES (100, 'day $[yyyyMMdd]')"]},
            {"name": "query", "type": "sql", "deps": ["load"], "limit_rows": 3,
             "params": {"min": "2"},
             "sql": "SELECT n, s FROM !{tbl} WHERE n >= ${min} ORDER BY n",
             "out": [{"name": "n", "type": "integer"}, {"name": "s", "type": "list"}]},
            {"name": "call", "type": "procedure", "deps": ["query"], "procedure": "public.add_to",
             "args": [{"name": "a", "direction": "in", "type": "integer", "value": "${n}"},
                      {"name": "total", "direction": "inout", "type": "integer", "value": "10"},
                      {"name": "twice", "direction": "out", "type": "integer"}]},
            {"name": "report", "type": "shell", "deps": ["query", "call"], "script": "echo n=${n} total=${total} twice=${twice}"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id: i64 = alice
        .query_one(
            "SELECT sched.start_workflow('bound', '{}', '{\"schedule_time\": \"2024-03-15 02:30:00+00\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        wait(&mut db, id, 120),
        "succeeded",
        "{:?}",
        outcomes(&mut db, id)
    );
    // The quote in the value went into the table as data.
    let rows: Vec<(i32, String)> = db
        .query("SELECT n, s FROM public.alice_t ORDER BY n", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows.len(), 6);
    assert_eq!(
        rows[0],
        (1, "x'); DROP TABLE public.alice_t; --".to_owned())
    );
    assert_eq!(rows[5], (100, "day 20240315".to_owned()));
    assert_eq!(
        task_output(&mut db, id, "load"),
        [
            "pre_statements[0]: done",
            "sql: INSERT, 5 row(s) affected",
            "post_statements[0]: INSERT, 1 row(s) affected"
        ]
    );
    // The first limit_rows rows are kept, the OUT values come from them.
    let (columns, kept, count, truncated): (Vec<String>, Value, i64, bool) = {
        let r = alice
            .query_one(
                "SELECT columns, rows, row_count, truncated FROM sched.task_results WHERE workflow_instance_id = $1 AND task = 'query'",
                &[&id],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3))
    };
    assert_eq!(columns, ["n", "s"]);
    let evil = "x'); DROP TABLE public.alice_t; --";
    assert_eq!(kept, json!([["2", evil], ["3", evil], ["4", evil]]));
    assert_eq!((count, truncated), (5, true));
    assert_eq!(
        out_params(&mut db, id, "query"),
        json!({"n": "2", "s": json!([evil, evil, evil]).to_string()})
    );
    assert_eq!(
        out_params(&mut db, id, "call"),
        json!({"total": "12", "twice": "24"})
    );
    assert_eq!(
        task_output(&mut db, id, "report"),
        ["n=2 total=12 twice=24"]
    );
    // bob sees none of alice's results.
    db.batch_execute("CREATE ROLE bob LOGIN IN ROLE sched_user")
        .unwrap();
    let theirs: i64 = cluster
        .connect_as("bob")
        .query_one("SELECT count(*) FROM sched.task_results", &[])
        .unwrap()
        .get(0);
    assert_eq!(theirs, 0);
}

/// More sql tasks at once than the server has free background worker slots (four slots: the
/// launcher, the master and the logical replication launcher hold three) wait for one, as they
/// wait for sched.max_sql_task_workers, instead of failing.
#[test]
fn sql_tasks_beyond_the_free_background_worker_slots_wait_for_one() {
    let (cluster, mut db) = cluster_with_alice(&["max_worker_processes = 4"]);
    let mut alice = cluster.connect_as("alice");
    // Each task waits for a lock the test holds, so the one with the free slot keeps it while
    // the others are all running on the worker, asking for one.
    let tasks: Vec<Value> = (0..4)
        .map(|i| json!({"name": format!("q{i}"), "type": "sql", "sql": "SELECT pg_advisory_xact_lock_shared(31)"}))
        .collect();
    define(
        &mut alice,
        &json!({"name": "burst", "tasks": tasks}).to_string(),
    );
    let mut holder = cluster.connect();
    holder.batch_execute("SELECT pg_advisory_lock(31)").unwrap();
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut alice, "burst");
    wait_for(
        Duration::from_secs(60),
        "four running tasks, one statement at the lock",
        || {
            let r = db
                .query_one(
                    "SELECT (SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1 AND state = 'running'),
                            (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_sched sql task'
                                                                   AND wait_event = 'advisory')",
                    &[&id],
                )
                .unwrap();
            let (running, at_lock): (i64, i64) = (r.get(0), r.get(1));
            (running == 4 && at_lock == 1).then_some(())
        },
    );
    holder
        .batch_execute("SELECT pg_advisory_unlock(31)")
        .unwrap();
    assert_eq!(
        wait(&mut db, id, 120),
        "succeeded",
        "{:?}",
        outcomes(&mut db, id)
    );
}

#[test]
fn a_killed_sql_task_stops_its_statement_and_the_setting_bounds_how_many_run() {
    let (cluster, mut db) = cluster_with_alice(&["sched.max_sql_task_workers = 1"]);
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "sleepy", "tasks": [
            {"name": "a", "type": "sql", "sql": "SELECT pg_sleep(600)"},
            {"name": "b", "type": "sql", "sql": "SELECT pg_sleep(600)"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let id = start(&mut alice, "sleepy");
    // Both are running on the worker; one statement runs, the other waits for the setting.
    wait_for(
        Duration::from_secs(60),
        "one statement running, one waiting",
        || {
            let r = db
            .query_one(
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_sched sql task' AND query LIKE '%pg_sleep%'),
                        (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%run_sql_task%'),
                        (SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1 AND state = 'running')",
                &[&id],
            )
            .unwrap();
            let (running, waiting, tasks): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            (running == 1 && waiting == 1 && tasks == 2).then_some(())
        },
    );
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "stopped");
    let states: Vec<String> = outcomes(&mut db, id)
        .into_iter()
        .map(|(_, s, _)| s)
        .collect();
    assert_eq!(states, ["killed", "killed"]);
    wait_for(Duration::from_secs(30), "the statements to end", || {
        let left: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_sched sql task' OR (wait_event_type = 'Lock' AND query LIKE '%run_sql_task%')",
                &[],
            )
            .unwrap()
            .get(0);
        (left == 0).then_some(())
    });
}

#[test]
fn every_bad_field_of_sql_and_procedure_tasks_is_named() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    for (task, expected) in [
        (json!({"type": "sql"}), "tasks[0].sql: required"),
        (
            json!({"type": "sql", "sql": 1}),
            "tasks[0].sql: must be a non-empty string of SQL",
        ),
        (
            json!({"type": "sql", "sql": "SELECT '${x}'"}),
            "tasks[0].sql: ${...} at position 9 is inside quoted text",
        ),
        (
            json!({"type": "sql", "sql": "SELECT $1"}),
            "tasks[0].sql: positional parameter $1",
        ),
        (
            json!({"type": "sql", "sql": "SELECT ${x"}),
            "tasks[0].sql: unclosed ${",
        ),
        (
            json!({"type": "sql", "sql": "SELECT 1", "datasource": "no such"}),
            "tasks[0].datasource: must name a datasource",
        ),
        (
            json!({"type": "sql", "sql": "SELECT 1", "pre_statements": "SET x = 1"}),
            "tasks[0].pre_statements: must be an array",
        ),
        (
            json!({"type": "sql", "sql": "SELECT 1", "post_statements": ["SELECT '${y}'"]}),
            "tasks[0].post_statements[0]: ${...}",
        ),
        (
            json!({"type": "sql", "sql": "SELECT 1", "query": "yes"}),
            "tasks[0].query: must be true or false",
        ),
        (
            json!({"type": "sql", "sql": "SELECT 1", "limit_rows": -1}),
            "tasks[0].limit_rows: must be a whole number from 0 to 100000",
        ),
        (
            json!({"type": "sql", "sql": "SELECT 1", "procedure": "p"}),
            "tasks[0].procedure: unknown field",
        ),
        (json!({"type": "procedure"}), "tasks[0].procedure: required"),
        (
            json!({"type": "procedure", "procedure": "p(); DROP TABLE t"}),
            "tasks[0].procedure: \"p(); DROP TABLE t\" is not a procedure name",
        ),
        (
            json!({"type": "procedure", "procedure": "p", "args": {}}),
            "tasks[0].args: must be an array",
        ),
        (
            json!({"type": "procedure", "procedure": "p", "args": [{"name": "a", "direction": "up"}]}),
            "tasks[0].args[0].direction: unknown direction \"up\"; allowed: in, out, inout",
        ),
        (
            json!({"type": "procedure", "procedure": "p", "args": [{"name": "a", "type": "blob"}]}),
            "tasks[0].args[0].type: \"blob\" is not a valid parameter type",
        ),
        (
            json!({"type": "procedure", "procedure": "p", "args": [{"direction": "in"}]}),
            "tasks[0].args[0].name: required",
        ),
        (
            json!({"type": "procedure", "procedure": "p", "args": [{"name": "a", "direction": "out", "value": 1}]}),
            "tasks[0].args[0].value: an out argument takes no value",
        ),
        (
            json!({"type": "procedure", "procedure": "p", "sql": "SELECT 1"}),
            "tasks[0].sql: unknown field",
        ),
    ] {
        let mut task = task;
        task["name"] = json!("t");
        let spec = json!({"name": "bad", "tasks": [task]});
        let err = error_of(db.query_one("SELECT sched.create_workflow($1)", &[&spec]));
        assert!(err.contains(expected), "{task}: {err} lacks {expected}");
    }
    let defined: i64 = db
        .query_one("SELECT count(*) FROM sched.workflows", &[])
        .unwrap()
        .get(0);
    assert_eq!(defined, 0);
    // Both types are listed with their fields.
    let fields: Value = db
        .query_one(
            "SELECT fields FROM sched.task_types WHERE name = 'sql'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(fields["limit_rows"]["kind"], "integer");
    assert_eq!(fields["sql"]["required"], true);
}

/// A datasources file for the worker: PostgreSQL database `dw` of the cluster as role etl,
/// and the MariaDB `shop` as etl, each password in a 0600 file.
fn datasources_file(cluster: &Cluster, maria: &MariaDb) -> String {
    use std::os::unix::fs::PermissionsExt;
    let secret = |name: &str, text: &str| {
        let path = cluster.dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path.display().to_string()
    };
    let file = cluster.dir.join("datasources.json");
    std::fs::write(
        &file,
        json!({
            "warehouse": {"kind": "postgresql", "url": format!("host={} user=etl dbname=dw", cluster.dir.display()),
                          "password_file": secret("dw.pw", "dw-secret\n")},
            "shop": {"kind": "mariadb", "url": format!("mysql://etl@127.0.0.1:{}/shop", maria.port),
                     "password_file": secret("shop.pw", MariaDb::PASSWORD)}})
        .to_string(),
    )
    .unwrap();
    file.display().to_string()
}

#[test]
fn one_workflow_of_every_task_type_passes_out_values_downstream() {
    let (cluster, mut db) = cluster_with_alice(&[]);
    db.batch_execute("CREATE ROLE etl LOGIN PASSWORD 'dw-secret'")
        .unwrap();
    // The worker group and the datasources are granted to alice; `nowhere` is declared but no
    // worker has it.
    db.batch_execute(
        "SELECT sched.grant_worker_group('alice', 'etl');
         SELECT sched.create_datasource('warehouse', 'postgresql'), sched.grant_datasource('alice', 'warehouse');
         SELECT sched.create_datasource('shop', 'mysql'), sched.grant_datasource('alice', 'shop');
         SELECT sched.create_datasource('nowhere', 'postgresql'), sched.grant_datasource('alice', 'nowhere');",
    )
    .unwrap();
    db.batch_execute("CREATE DATABASE dw OWNER etl").unwrap();
    db.batch_execute(
        "CREATE FUNCTION public.triple(n int) RETURNS int LANGUAGE sql AS 'SELECT 3 * n';
         CREATE PROCEDURE public.halve(INOUT n int) LANGUAGE plpgsql AS $$ BEGIN n := n / 2; END $$;",
    )
    .unwrap();
    let maria = MariaDb::start(&cluster.dir);
    maria
        .sql(
            "CREATE TABLE shop.orders (id int, amount decimal(10,2), day date);
             INSERT INTO shop.orders VALUES (1, 10.50, '2024-03-14'), (2, 4.25, '2024-03-15'), (3, 1.00, '2024-03-15');
             CREATE PROCEDURE shop.scale(IN factor int, INOUT v int, OUT label varchar(20))
             SET v = v * factor, label = CONCAT('x', factor)",
        )
        .unwrap();
    let job = cluster.dir.join("job.py");
    std::fs::write(
        &job,
        "import sys\nfrom pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.getOrCreate()\n\
         n = int(sys.argv[1])\n\
         total = spark.range(1, n + 1).selectExpr('sum(id) AS s').first()['s']\n\
         print('${setValue(spark_total=%d)}' % total)\n\
         spark.stop()\n",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        &json!({"name": "everything", "worker_group": "etl", "failure_strategy": "continue", "tasks": [
            {"name": "shell", "type": "shell", "script": "echo '${setValue(seed=4)}'", "out": [{"name": "seed", "type": "integer"}]},
            {"name": "python", "type": "python", "deps": ["shell"], "out": [{"name": "py", "type": "integer"}],
             "script": "print('${setValue(py=%d)}' % (${seed} + 1))"},
            {"name": "sql", "type": "sql", "deps": ["python"], "sql": "SELECT public.triple(${k}) AS tripled",
             "params": {"k": {"value": "${py}", "type": "integer"}}, "out": [{"name": "tripled", "type": "integer"}]},
            {"name": "procedure", "type": "procedure", "deps": ["sql"], "procedure": "public.halve",
             "args": [{"name": "half", "direction": "inout", "type": "integer", "value": "${tripled}"}]},
            {"name": "warehouse", "type": "sql", "deps": ["procedure"], "datasource": "warehouse",
             "pre_statements": ["CREATE TABLE IF NOT EXISTS facts (v int, at date)"],
             "sql": "INSERT INTO facts VALUES (${half}, '2024-03-15') RETURNING v * 10 AS wh, current_user AS who, 1.50::numeric(4,2) AS price",
             "query": true, "out": [{"name": "wh", "type": "integer"}, "who", "price"]},
            {"name": "shop", "type": "sql", "deps": ["warehouse"], "datasource": "shop",
             "sql": "SELECT COUNT(*) AS orders, SUM(amount) AS total, MAX(day) AS last_day FROM orders WHERE amount < ${wh}",
             "out": [{"name": "orders", "type": "integer"}, "total", "last_day"]},
            {"name": "shop_call", "type": "procedure", "deps": ["shop"], "datasource": "shop", "procedure": "scale",
             "args": [{"name": "factor", "type": "integer", "value": "${orders}"},
                      {"name": "scaled", "direction": "inout", "type": "integer", "value": "7"},
                      {"name": "label", "direction": "out"}]},
            {"name": "mr", "type": "mr", "deps": ["shop_call"], "main_jar": "/jobs/wc.jar", "main_args": ["${scaled}", "${label}"]},
            {"name": "spark", "type": "spark", "deps": ["shop_call"], "program_type": "python", "main_file": job.display().to_string(),
             "master": "local[1]", "others": ["--conf", "spark.ui.enabled=false"], "main_args": ["${scaled}"],
             "out": [{"name": "spark_total", "type": "long"}]},
            {"name": "report", "type": "shell",
             "deps": ["shell", "python", "sql", "procedure", "warehouse", "shop", "shop_call", "mr", "spark"],
             "script": "echo seed=${seed} py=${py} tripled=${tripled} half=${half} wh=${wh} who=${who} price=${price} orders=${orders} total=${total} last=${last_day} scaled=${scaled} label=${label} spark=${spark_total}"},
            {"name": "missing", "type": "sql", "deps": ["shell"], "datasource": "nowhere", "sql": "SELECT 1"}]})
        .to_string(),
    );
    let mut cmd = cluster.worker_command("w1");
    cmd.env("PATH", recording_hadoop(&cluster))
        .args([
            "--group",
            "etl",
            "--slots",
            "2",
            "--spark-home",
            &spark_home(),
        ])
        .args(["--datasources", &datasources_file(&cluster, &maria)])
        .arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE));
    let _worker = cluster.start_worker("w1", &mut cmd);
    let id = start(&mut alice, "everything");
    let state = wait(&mut db, id, 300);
    let got = outcomes(&mut db, id);
    assert_eq!(state, "failed", "{got:?}");
    let failed: Vec<&(String, String, String)> =
        got.iter().filter(|(_, s, _)| s != "succeeded").collect();
    assert_eq!(failed.len(), 1, "{got:?}");
    assert_eq!(failed[0].0, "missing");
    assert!(
        failed[0]
            .2
            .contains("this worker has no datasource \"nowhere\";")
            && !failed[0].2.contains("shop")
            && !failed[0].2.contains("warehouse"),
        "{}",
        failed[0].2
    );
    assert_eq!(
        task_output(&mut db, id, "report"),
        [
            "seed=4 py=5 tripled=15 half=7 wh=70 who=etl price=1.50 orders=3 total=15.75 last=2024-03-15 scaled=21 label=x3 spark=231"
        ]
    );
    assert_eq!(
        task_output(&mut db, id, "mr"),
        ["[jar]", "[/jobs/wc.jar]", "[21]", "[x3]"]
    );
    let dw: i32 = Client::connect(
        &format!("host={} user=etl dbname=dw", cluster.dir.display()),
        postgres::NoTls,
    )
    .unwrap()
    .query_one("SELECT v FROM facts", &[])
    .unwrap()
    .get(0);
    assert_eq!(dw, 7);
    // No secret reached the tables.
    let leaked: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_definition WHERE settings::text LIKE '%secret%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
}
