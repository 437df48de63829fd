//! Rights over shared names and over other roles' workflows, as an attacker who is a sched_user
//! or a sched_admin that is not superuser would test them: worker groups, datasources, alert
//! groups and task groups need a grant (checked at definition and at every start or rerun),
//! sched_admin cannot run code as another owner, one user cannot grow the cluster without
//! bound, and errors name nothing of other users.

use std::time::Duration;

use sched_tests::*;

fn roles(db: &mut Client) {
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         CREATE ROLE bob LOGIN IN ROLE sched_user;
         CREATE ROLE adm LOGIN IN ROLE sched_admin;",
    )
    .unwrap();
}

fn try_define(db: &mut Client, spec: &str) -> Result<i64, postgres::Error> {
    let spec: serde_json::Value = serde_json::from_str(spec).unwrap();
    db.query_one("SELECT sched.create_workflow($1, true)", &[&spec])
        .map(|r| r.get(0))
}

fn one<T: postgres::types::FromSqlOwned>(db: &mut Client, sql: &str) -> T {
    db.query_one(sql, &[]).unwrap().get(0)
}

/// The message, detail and hint of a failed statement, as one text.
fn full_error<T: std::fmt::Debug>(result: Result<T, postgres::Error>) -> String {
    let err = result.expect_err("statement should have failed");
    let db = err.as_db_error().expect("a database error");
    format!(
        "{} | {} | {}",
        db.message(),
        db.detail().unwrap_or(""),
        db.hint().unwrap_or("")
    )
}

#[test]
fn worker_groups_other_than_default_need_a_grant_at_definition_and_at_every_start() {
    let cluster = Cluster::start(&[]);
    let mut su = cluster.connect();
    roles(&mut su);
    let mut alice = cluster.connect_as("alice");

    // default stays open to everyone.
    define(
        &mut alice,
        r#"{"name": "open", "tasks": [{"name": "a", "type": "shell", "script": "exit 1"}]}"#,
    );
    for (spec, field) in [
        (
            r#"{"name": "gpu_job", "worker_group": "gpu", "tasks": [{"name": "a", "type": "shell", "script": "exit 1"}]}"#,
            "worker_group",
        ),
        (
            r#"{"name": "gpu_job", "tasks": [{"name": "a", "type": "shell", "script": "exit 1"},
                {"name": "b", "type": "shell", "script": "true", "worker_group": "gpu"}]}"#,
            "tasks[1].worker_group",
        ),
    ] {
        let err = error_of(try_define(&mut alice, spec));
        assert_eq!(
            err,
            format!("{field}: role alice may not use worker group \"gpu\""),
            "{spec}"
        );
    }
    let err = error_of(alice.query_one(
        r#"SELECT sched.start_workflow('open', '{}', '{"worker_group": "gpu"}')"#,
        &[],
    ));
    assert_eq!(
        err,
        "options.worker_group: role alice may not use worker group \"gpu\""
    );
    let err = error_of(alice.query_one(
        r#"SELECT sched.schedule('open', '0 0 * * *', '{"worker_group": "gpu"}')"#,
        &[],
    ));
    assert!(err.contains("may not use worker group \"gpu\""), "{err}");

    // Only sched_admin grants.
    let err = error_of(alice.query_one("SELECT sched.grant_worker_group('alice', 'gpu')", &[]));
    assert!(
        err.contains("permission denied for sched.grant_worker_group"),
        "{err}"
    );
    let mut adm = cluster.connect_as("adm");
    assert!(one::<bool>(
        &mut adm,
        "SELECT sched.grant_worker_group('alice', 'gpu')"
    ));
    define(
        &mut alice,
        r#"{"name": "gpu_job", "worker_group": "gpu", "tasks": [{"name": "a", "type": "shell", "script": "exit 1"}]}"#,
    );
    let schedule: i64 = one(
        &mut alice,
        "SELECT sched.schedule('gpu_job', '* * * * * ?', '{\"enabled\": false}')",
    );
    // Stopped before any gpu worker exists, so its task cannot end first.
    let paused = start(&mut alice, "gpu_job");
    alice
        .execute("SELECT sched.stop_workflow($1)", &[&paused])
        .unwrap();
    assert_eq!(wait(&mut alice, paused, 60), "stopped");
    let _worker = cluster.worker("gpu-1", &["--group", "gpu"]);
    let failed = start(&mut alice, "gpu_job");
    assert_eq!(wait(&mut alice, failed, 60), "failed");
    assert_eq!(
        one::<Vec<String>>(
            &mut alice,
            "SELECT array_agg(role::text) FROM sched.use_grants WHERE kind = 'worker_group'"
        ),
        vec!["alice".to_owned()]
    );

    // Revoked: nothing of alice's runs there again, however it is started.
    assert!(one::<bool>(
        &mut adm,
        "SELECT sched.revoke_worker_group('alice', 'gpu')"
    ));
    let refused = "worker_group: role alice may not use worker group \"gpu\"";
    let err = error_of(alice.query_one("SELECT sched.start_workflow('gpu_job')", &[]));
    assert_eq!(err, refused);
    for (sql, id) in [
        ("SELECT sched.recover_workflow($1)", failed),
        ("SELECT sched.rerun_workflow($1)", failed),
        ("SELECT sched.execute_task($1, 'a')", failed),
        ("SELECT sched.resume_workflow($1)", paused),
    ] {
        let err = error_of(alice.execute(sql, &[&id]));
        assert_eq!(err, refused, "{sql}");
    }
    let err = error_of(alice.query_one(
        "SELECT sched.backfill('gpu_job', ARRAY['2024-01-01'::timestamptz])",
        &[],
    ));
    assert_eq!(err, refused);
    // A schedule's fire is refused too: none of its fires creates an instance.
    alice
        .execute("SELECT sched.enable_schedule($1)", &[&schedule])
        .unwrap();
    wait_for(
        Duration::from_secs(30),
        "the schedule's refused fire",
        || cluster.server_log().contains(refused).then_some(()),
    );
    let fired: i64 = one(
        &mut su,
        "SELECT count(*) FROM sched.workflow_instance WHERE schedule_id IS NOT NULL",
    );
    assert_eq!(fired, 0);
    alice
        .execute("SELECT sched.unschedule($1)", &[&schedule])
        .unwrap();

    // Revoked while a backfill runs: its running date ends as usual (the worker's completion is
    // never refused), and the next date does not start.
    adm.execute("SELECT sched.grant_worker_group('alice', 'gpu')", &[])
        .unwrap();
    let gate = cluster.dir.join("gate");
    define(
        &mut alice,
        &format!(
            r#"{{"name": "gated", "worker_group": "gpu", "tasks": [{{"name": "a", "type": "shell",
                "script": "while [ ! -e {} ]; do sleep 0.05; done"}}]}}"#,
            gate.display()
        ),
    );
    let backfill: i64 = one(
        &mut alice,
        r#"SELECT sched.backfill('gated', ARRAY['2024-01-01', '2024-01-02']::timestamptz[], '{"on_failure": "continue"}')"#,
    );
    let first: i64 = alice
        .query_one(
            "SELECT instance_id FROM sched.backfill_dates WHERE backfill_id = $1 AND instance_id IS NOT NULL",
            &[&backfill],
        )
        .unwrap()
        .get(0);
    wait_running(&mut alice, first, 1);
    adm.execute("SELECT sched.revoke_worker_group('alice', 'gpu')", &[])
        .unwrap();
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut alice, first, 60), "succeeded");
    let state: String = wait_for(Duration::from_secs(30), "the backfill to end", || {
        let state: String = alice
            .query_one(
                "SELECT state FROM sched.backfills WHERE id = $1",
                &[&backfill],
            )
            .unwrap()
            .get(0);
        (state != "running").then_some(state)
    });
    assert_eq!(state, "failed");
    assert!(
        cluster
            .server_log()
            .contains(&format!("backfill {backfill} stops: its date"))
    );
}

#[test]
fn datasources_are_declared_by_sched_admin_and_used_only_with_a_grant() {
    let cluster = Cluster::start(&[]);
    let mut su = cluster.connect();
    roles(&mut su);
    let mut alice = cluster.connect_as("alice");
    let mut adm = cluster.connect_as("adm");

    let err = error_of(alice.execute(
        "SELECT sched.create_datasource('dw', 'postgresql', 'the warehouse')",
        &[],
    ));
    assert!(
        err.contains("permission denied for sched.create_datasource"),
        "{err}"
    );
    adm.execute(
        "SELECT sched.create_datasource('dw', 'postgresql', 'the warehouse')",
        &[],
    )
    .unwrap();
    adm.execute("SELECT sched.create_datasource('crm', 'mysql')", &[])
        .unwrap();
    let err = error_of(adm.execute("SELECT sched.create_datasource('x', 'oracle')", &[]));
    assert_eq!(
        err,
        "kind: \"oracle\" is not allowed; allowed: postgresql, mysql"
    );

    // Unknown and forbidden look alike, and name only the datasource asked for.
    let spec = |ds: &str| {
        format!(
            r#"{{"name": "payroll", "tasks": [{{"name": "read", "type": "sql", "datasource": "{ds}",
                "sql": "SELECT * FROM dw.payroll"}}]}}"#
        )
    };
    for ds in ["dw", "nope"] {
        let err = full_error(try_define(&mut alice, &spec(ds)));
        assert!(
            err.starts_with(&format!(
                "tasks[0].datasource: datasource \"{ds}\" does not exist or role alice may not use it"
            )),
            "{err}"
        );
        let other = if ds == "dw" { "crm" } else { "dw" };
        assert!(!err.contains(&format!("\"{other}\"")), "{err}");
    }
    assert_eq!(
        one::<i64>(&mut alice, "SELECT count(*) FROM sched.datasources"),
        0
    );
    assert!(one::<bool>(
        &mut adm,
        "SELECT sched.grant_datasource('alice', 'dw')"
    ));
    define(&mut alice, &spec("dw"));
    assert_eq!(
        one::<Vec<String>>(&mut alice, "SELECT array_agg(name) FROM sched.datasources"),
        vec!["dw".to_owned()]
    );

    // Revoked after the definition: the claim refuses the attempt, and the worker fails it with
    // the reason alone (it has a dw in its file, which is never used).
    let id = start(&mut alice, "payroll");
    assert!(one::<bool>(
        &mut adm,
        "SELECT sched.revoke_datasource('alice', 'dw')"
    ));
    let file = cluster.dir.join("datasources.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"dw": {{"kind": "postgresql", "url": "{}"}}, "crm": {{"kind": "postgresql", "url": "{}"}}}}"#,
            cluster.conn_string("postgres"),
            cluster.conn_string("postgres")
        ),
    )
    .unwrap();
    let _worker = cluster.worker("w", &["--datasources", file.to_str().unwrap()]);
    assert_eq!(wait(&mut alice, id, 60), "failed");
    let log = task_output(&mut alice, id, "read").join("\n");
    assert!(
        log.contains(
            "datasource \"dw\" does not exist or role alice (the workflow's owner) may not use it"
        ),
        "{log}"
    );
    assert!(!log.contains("crm"), "{log}");
    let err = error_of(alice.query_one("SELECT sched.start_workflow('payroll')", &[]));
    assert!(err.contains("datasource \"dw\""), "{err}");
}

#[test]
fn sched_admin_cannot_run_code_as_another_owner() {
    let cluster = Cluster::start(&[]);
    let mut su = cluster.connect();
    roles(&mut su);
    // A superuser's workflow whose SQL splices a parameter, as owners legitimately may.
    define(
        &mut su,
        r#"{"name": "su_job", "params": {"t": "x"}, "tasks": [
            {"name": "q", "type": "sql", "sql": "SELECT 1 AS !{t}"}]}"#,
    );
    let mut adm = cluster.connect_as("adm");
    let pwn = r#"{"name": "su_job", "tasks": [{"name": "q", "type": "sql", "sql": "ALTER ROLE adm SUPERUSER"}]}"#;
    let err = full_error(try_define(&mut adm, pwn));
    assert!(
        err.starts_with("permission denied for workflow \"su_job\""),
        "{err}"
    );
    assert!(err.contains("replace its definition"), "{err}");
    for sql in [
        r#"SELECT sched.start_workflow('su_job', '{"t": "1; ALTER ROLE adm SUPERUSER; --"}')"#,
        r#"SELECT sched.schedule('su_job', '* * * * * ?')"#,
        r#"SELECT sched.backfill('su_job', ARRAY['2024-01-01'::timestamptz], '{"params": {"t": "x"}}')"#,
    ] {
        let err = error_of(adm.query_one(sql, &[]));
        assert_eq!(err, "permission denied for workflow \"su_job\"", "{sql}");
    }
    // Nor through a sub-process of its own, which would pass its parameters down.
    let err = error_of(try_define(
        &mut adm,
        r#"{"name": "wrapper", "params": {"t": "1; ALTER ROLE adm SUPERUSER; --"},
            "tasks": [{"name": "s", "type": "sub_process", "workflow": "su_job"}]}"#,
    ));
    assert_eq!(
        err,
        "permission denied for workflow \"su_job\" (tasks[0].workflow)"
    );

    // What sched_admin keeps: view, start as defined, pause, stop, kill, unschedule.
    let spec: serde_json::Value = one(&mut adm, "SELECT sched.workflow_spec('su_job')");
    assert_eq!(spec["name"], "su_job");
    let id = start(&mut adm, "su_job");
    adm.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    let schedule: i64 = one(
        &mut su,
        "SELECT sched.schedule('su_job', '0 0 1 1 *', '{\"enabled\": false}')",
    );
    adm.execute("SELECT sched.unschedule($1)", &[&schedule])
        .unwrap();
    assert!(!one::<bool>(
        &mut su,
        "SELECT rolsuper FROM pg_roles WHERE rolname = 'adm'"
    ));
    assert_eq!(
        one::<i32>(
            &mut su,
            "SELECT current_version FROM sched.workflow WHERE name = 'su_job'"
        ),
        1
    );
}

#[test]
fn one_user_cannot_grow_the_cluster_without_bound() {
    let cluster = Cluster::start(&[
        "sched.max_subprocess_instances = 10",
        "sched.max_subprocess_depth = 2",
        "sched.max_unfinished_instances_per_role = 3",
    ]);
    let mut su = cluster.connect();
    roles(&mut su);
    let mut alice = cluster.connect_as("alice");
    // Fan-out 4 over 3 levels would create 4 + 16 + 64 instances in one start.
    define(
        &mut alice,
        r#"{"name": "leaf", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    for (name, child) in [("mid", "leaf"), ("fan", "mid")] {
        let tasks: Vec<String> = (0..4)
            .map(|i| format!(r#"{{"name": "s{i}", "type": "sub_process", "workflow": "{child}"}}"#))
            .collect();
        define(
            &mut alice,
            &format!(r#"{{"name": "{name}", "tasks": [{}]}}"#, tasks.join(",")),
        );
    }
    let top = start(&mut alice, "fan");
    let created: i64 = one(
        &mut su,
        &format!("SELECT count(*) FROM sched.workflow_instance WHERE ancestors[1] = {top}"),
    );
    assert_eq!(created, 10);
    let refused: i64 = one(
        &mut su,
        "SELECT count(*) FROM sched.task_log_line WHERE line LIKE '%sched.max_subprocess_instances allows 10%'",
    );
    assert!(refused > 0);
    alice
        .execute("SELECT sched.stop_workflow($1)", &[&top])
        .unwrap();

    // Depth: a chain three levels deep stops at two.
    define(
        &mut alice,
        r#"{"name": "d3", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    define(
        &mut alice,
        r#"{"name": "d2", "tasks": [{"name": "s", "type": "sub_process", "workflow": "d3"}]}"#,
    );
    define(
        &mut alice,
        r#"{"name": "d1", "tasks": [{"name": "s", "type": "sub_process", "workflow": "d2"}]}"#,
    );
    define(
        &mut alice,
        r#"{"name": "d0", "tasks": [{"name": "s", "type": "sub_process", "workflow": "d1"}]}"#,
    );
    let deep = start(&mut alice, "d0");
    let line: String = one(
        &mut su,
        "SELECT line FROM sched.task_log_line WHERE line LIKE '%max_subprocess_depth%'",
    );
    assert!(
        line.contains(&format!(
            "would be 3 levels below instance {deep}; sched.max_subprocess_depth allows 2"
        )),
        "{line}"
    );
    assert_eq!(wait(&mut alice, deep, 60), "failed");

    // A role's unfinished instances are capped; others are not held by it.
    let unfinished: i64 = one(
        &mut su,
        "SELECT count(*) FROM sched.workflow_instance WHERE ended_at IS NULL AND parent_instance_id IS NULL",
    );
    for _ in unfinished..3 {
        start(&mut alice, "leaf");
    }
    let err = error_of(alice.query_one("SELECT sched.start_workflow('leaf')", &[]));
    assert!(
        err.starts_with("role alice has 3 unfinished workflow instances; sched.max_unfinished_instances_per_role allows 3"),
        "{err}"
    );
    let mut bob = cluster.connect_as("bob");
    define(
        &mut bob,
        r#"{"name": "bobs", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    start(&mut bob, "bobs");

    // A backfill's list of dates is bounded like its range.
    let err = error_of(alice.query_one(
        "SELECT sched.backfill('leaf', (SELECT array_agg(d) FROM generate_series('2000-01-01'::timestamptz, '2000-01-01'::timestamptz + interval '10000 days', '1 day') d))",
        &[],
    ));
    assert_eq!(err, "dates: 10001 dates; a backfill runs at most 10000");
}

#[test]
fn alert_groups_and_task_groups_are_used_by_their_owners_and_grantees_only() {
    let cluster = Cluster::start(&[]);
    let mut su = cluster.connect();
    roles(&mut su);
    let mut bob = cluster.connect_as("bob");
    bob.batch_execute(
        r#"SELECT sched.create_alert_group('bobs', '[{"type": "email", "to": ["bob@example.com"]},
                                              {"type": "webhook", "url": "https://hooks.example.com/T0/secret"}]');
           SELECT sched.create_task_group('bobs_slots', 1);"#,
    )
    .unwrap();
    let mut adm = cluster.connect_as("adm");
    adm.batch_execute(
        r#"SELECT sched.create_alert_group('ops', '[{"type": "script", "command": "/usr/local/bin/page-oncall"}]')"#,
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    for (spec, field, noun, name) in [
        (
            r#"{"name": "w", "notify": {"strategy": "all", "alert_group": "ops"}, "tasks": [{"name": "a", "type": "empty"}]}"#,
            "notify.alert_group",
            "alert group",
            "ops",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "sql", "sql": "SELECT 1", "send_result": {"alert_group": "bobs"}}]}"#,
            "tasks[0].send_result.alert_group",
            "alert group",
            "bobs",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "empty", "task_group": "bobs_slots"}]}"#,
            "tasks[0].task_group",
            "task group",
            "bobs_slots",
        ),
        // A dynamic task's inline element task is checked as any task.
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "dynamic", "over": {"n": [1]},
                                        "run": {"type": "empty", "task_group": "bobs_slots"}}]}"#,
            "tasks[0].run.task_group",
            "task group",
            "bobs_slots",
        ),
    ] {
        let err = error_of(try_define(&mut alice, spec));
        assert_eq!(
            err,
            format!("{field}: role alice may not use {noun} \"{name}\""),
            "{spec}"
        );
    }
    define(
        &mut alice,
        r#"{"name": "w", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let err = error_of(alice.query_one(
        r#"SELECT sched.start_workflow('w', '{}', '{"notify": {"strategy": "all", "alert_group": "ops"}}')"#,
        &[],
    ));
    assert_eq!(
        err,
        "options.notify.alert_group: role alice may not use alert group \"ops\""
    );

    // Only the group's owner (or sched_admin) grants it.
    let err = error_of(alice.query_one("SELECT sched.grant_alert_group('alice', 'bobs')", &[]));
    assert!(
        err.starts_with("permission denied for alert group \"bobs\""),
        "{err}"
    );
    bob.batch_execute(
        "SELECT sched.grant_alert_group('alice', 'bobs'); SELECT sched.grant_task_group('alice', 'bobs_slots');",
    )
    .unwrap();
    try_define(
        &mut alice,
        r#"{"name": "w", "notify": {"strategy": "all", "alert_group": "bobs"},
            "tasks": [{"name": "a", "type": "empty", "task_group": "bobs_slots"}]}"#,
    )
    .unwrap();
    let id = start(&mut alice, "w");
    alice
        .execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();

    // Addresses, URLs and commands are for the group's owner and sched_admin.
    let channels = |db: &mut Client, name: &str| -> String {
        db.query_one(
            "SELECT channels::text FROM sched.alert_groups WHERE name = $1",
            &[&name],
        )
        .unwrap()
        .get(0)
    };
    for name in ["bobs", "ops"] {
        let seen = channels(&mut alice, name);
        assert!(
            !seen.contains("example.com") && !seen.contains("page-oncall"),
            "{seen}"
        );
        assert!(seen.contains("\"type\""), "{seen}");
    }
    assert!(channels(&mut bob, "bobs").contains("hooks.example.com/T0/secret"));
    assert!(channels(&mut adm, "bobs").contains("bob@example.com"));
    assert!(one::<bool>(
        &mut alice,
        "SELECT usable FROM sched.alert_groups WHERE name = 'bobs'"
    ));
    assert!(!one::<bool>(
        &mut alice,
        "SELECT usable FROM sched.alert_groups WHERE name = 'ops'"
    ));
    let targets: Vec<Option<String>> = alice
        .query(
            "SELECT target FROM sched.alerts WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(targets, vec![None, None]);

    // The grant is checked again at start.
    bob.execute("SELECT sched.revoke_task_group('alice', 'bobs_slots')", &[])
        .unwrap();
    let err = error_of(alice.query_one("SELECT sched.start_workflow('w')", &[]));
    assert_eq!(
        err,
        "tasks[0].task_group: role alice may not use task group \"bobs_slots\""
    );
}

#[test]
fn errors_name_nothing_of_other_users_and_drop_owned_checks_its_right_first() {
    // Rust backtraces are attached to errors whenever the server's environment asks for them.
    let cluster = Cluster::start_with_env(&[], &[("RUST_BACKTRACE", "1")]);
    let mut su = cluster.connect();
    roles(&mut su);
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "alice_daily", "tasks": [{"name": "a", "type": "shell", "script": "sleep 600"}]}"#,
    );
    let running = start(&mut alice, "alice_daily");
    let mut adm = cluster.connect_as("adm");
    define(
        &mut adm,
        r#"{"name": "adm_secret_report", "tasks": [{"name": "d", "type": "dependent",
            "groups": [{"items": [{"workflow": "alice_daily", "task": "a", "cycle": "day", "date_value": "today"}]}]}]}"#,
    );

    let err = full_error(alice.execute("SELECT sched.drop_workflow('alice_daily')", &[]));
    assert!(!err.contains("adm_secret_report"), "{err}");
    assert!(
        err.contains("used by a dependent task of a workflow of another role"),
        "{err}"
    );
    let mut bob = cluster.connect_as("bob");
    let err = full_error(bob.query_one("SELECT sched.workflow_spec('alice_daily')", &[]));
    assert!(
        err.starts_with("permission denied for workflow \"alice_daily\""),
        "{err}"
    );
    assert!(
        !err.contains("alice |") && !err.contains("role alice"),
        "{err}"
    );

    // bob may not DROP OWNED BY alice: PostgreSQL's refusal, before anything of alice's was
    // touched or named.
    let err = full_error(bob.execute("DROP OWNED BY alice", &[]));
    assert!(
        err.starts_with("permission denied to drop objects"),
        "{err}"
    );
    assert!(!err.contains("alice_daily"), "{err}");
    assert_eq!(
        one::<i64>(
            &mut su,
            "SELECT count(*) FROM sched.workflow WHERE name = 'alice_daily'"
        ),
        1
    );
    // A refusal that crosses the extension's Rust code carries no Rust backtrace.
    let err = full_error(su.execute("DROP OWNED BY alice", &[]));
    assert!(err.contains("unfinished instance"), "{err}");
    for leak in ["backtrace", ".rs:", "pgrx", "rust_begin_unwind"] {
        assert!(!err.contains(leak), "{leak}: {err}");
    }
    su.execute("SELECT sched.stop_workflow($1)", &[&running])
        .unwrap();
}

#[test]
fn revoked_tenants_stop_reruns_and_expired_owners_run_no_sql() {
    let cluster = Cluster::start(&[]);
    let mut su = cluster.connect();
    roles(&mut su);
    let err = error_of(su.query_one("SELECT sched.grant_tenant('alice', 'root')", &[]));
    assert_eq!(
        err,
        "os_user: tasks never run as root; grant an unprivileged OS user"
    );
    su.execute("SELECT sched.grant_tenant('alice', 'nobody')", &[])
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "as_nobody", "tenant": "nobody", "tasks": [{"name": "a", "type": "shell", "script": "exit 3"}]}"#,
    );
    let _worker = cluster.worker("w", &[]);
    let failed = start(&mut alice, "as_nobody");
    assert_eq!(wait(&mut alice, failed, 60), "failed");
    su.execute("SELECT sched.revoke_tenant('alice', 'nobody')", &[])
        .unwrap();
    for sql in [
        "SELECT sched.recover_workflow($1)",
        "SELECT sched.rerun_workflow($1)",
        "SELECT sched.execute_task($1, 'a')",
    ] {
        let err = error_of(alice.execute(sql, &[&failed]));
        assert_eq!(
            err, "tenant: role alice may not run tasks as OS user \"nobody\"",
            "{sql}"
        );
    }

    // An owner whose VALID UNTIL has passed runs no more SQL.
    define(
        &mut alice,
        r#"{"name": "q", "tasks": [{"name": "q", "type": "sql", "sql": "SELECT 1 AS one"}]}"#,
    );
    su.batch_execute("ALTER ROLE alice VALID UNTIL '2001-01-01'")
        .unwrap();
    let id = start(&mut su, "q");
    assert_eq!(wait(&mut su, id, 60), "failed");
    let log = task_output(&mut su, id, "q").join("\n");
    assert!(
        log.contains("the workflow's owner alice expired at 2001-01-01"),
        "{log}"
    );
}
