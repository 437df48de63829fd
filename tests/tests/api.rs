//! The SQL API's guarantees: refused specs store nothing, rolled-back starts never run,
//! and the privilege boundary between sched_user and sched_worker.

use sched_tests::*;

fn counts(db: &mut Client) -> Vec<i64> {
    ["workflow", "workflow_version", "task_definition"]
        .iter()
        .map(|t| {
            db.query_one(&format!("SELECT count(*) FROM sched.{t}"), &[])
                .unwrap()
                .get(0)
        })
        .collect()
}

#[test]
fn each_bad_spec_is_refused_naming_the_field_and_stores_nothing() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "exists", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let before = counts(&mut db);
    let cases = [
        (r#"[]"#, "must be a JSON object"),
        (
            r#"{"tasks": [{"name": "a", "type": "shell", "script": "x"}]}"#,
            "name: required",
        ),
        (
            r#"{"name": "bad name!", "tasks": [{"name": "a", "type": "shell", "script": "x"}]}"#,
            "name: \"bad name!\" is not a valid name",
        ),
        (
            r#"{"name": "w", "tasks": []}"#,
            "tasks: must be a non-empty array",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "shell", "script": "x"}, {"name": "a", "type": "shell", "script": "y"}]}"#,
            "tasks[1].name: duplicate task name \"a\"",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "load", "type": "shell", "script": "x"}, {"name": "b", "type": "shell", "script": "x", "deps": ["lod"]}]}"#,
            "tasks[1].deps: unknown task \"lod\"",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "shell", "script": "x", "deps": ["b"]}, {"name": "b", "type": "shell", "script": "x", "deps": ["a"]}]}"#,
            "cycle: a -> b -> a",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "pyton", "script": "x"}]}"#,
            "tasks[0].type: unknown task type \"pyton\"",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "shell"}]}"#,
            "tasks[0].script: required",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "shell", "script": 5}]}"#,
            "tasks[0].script",
        ),
        (
            r#"{"name": "w", "priority": "urgent", "tasks": [{"name": "a", "type": "shell", "script": "x"}]}"#,
            "priority: \"urgent\" is not a valid priority",
        ),
        (
            r#"{"name": "w", "failure_strategy": "panic", "tasks": [{"name": "a", "type": "shell", "script": "x"}]}"#,
            "failure_strategy",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "shell", "script": "x", "deps": "b"}]}"#,
            "tasks[0].deps",
        ),
        (
            r#"{"name": "w", "tasks": [{"name": "a", "type": "shell", "script": "x", "colour": "red"}]}"#,
            "tasks[0].colour: unknown field",
        ),
        (
            r#"{"name": "exists", "tasks": [{"name": "a", "type": "shell", "script": "x"}]}"#,
            "workflow \"exists\" already exists",
        ),
    ];
    for (spec, expected) in cases {
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap();
        let err = error_of(db.query_one("SELECT sched.create_workflow($1)", &[&spec]));
        assert!(
            err.contains(expected),
            "spec {spec}: expected {expected:?} in {err:?}"
        );
        assert_eq!(counts(&mut db), before, "spec {spec} stored something");
    }
    let err = error_of(db.query_one("SELECT sched.start_workflow('nope')", &[]));
    assert!(err.contains("workflow \"nope\" does not exist"), "{err}");
    let err = error_of(db.query_one(
        "SELECT sched.start_workflow('exists', '{}', '{\"priority\": \"urgent\"}')",
        &[],
    ));
    assert!(err.contains("options.priority"), "{err}");
    let err = error_of(db.query_one("SELECT sched.start_workflow('exists', '[1]')", &[]));
    assert!(err.contains("params: must be a JSON object"), "{err}");
    let instances: i64 = db
        .query_one("SELECT count(*) FROM sched.workflow_instance", &[])
        .unwrap()
        .get(0);
    assert_eq!(instances, 0, "refused starts create nothing");
}

#[test]
fn a_start_in_a_rolled_back_transaction_never_runs() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let marker = cluster.dir.join("ran");
    define(
        &mut db,
        &serde_json::json!({"name": "phantom", "tasks": [
            {"name": "a", "type": "shell", "script": format!("touch {}", marker.display())}]})
        .to_string(),
    );
    define(
        &mut db,
        r#"{"name": "real", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let mut tx = db.transaction().unwrap();
    tx.query_one("SELECT sched.start_workflow('phantom')", &[])
        .unwrap();
    tx.rollback().unwrap();
    // Work started after the rollback has run to completion: had the phantom been visible,
    // the same worker would have claimed it first (FIFO).
    let real = start(&mut db, "real");
    assert_eq!(wait(&mut db, real, 60), "succeeded");
    let phantom: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.workflow_instances WHERE workflow = 'phantom'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(phantom, 0);
    assert!(!marker.exists(), "the rolled-back start ran");
}

#[test]
fn waiting_inside_the_starting_transaction_is_an_error_not_a_hang() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "w", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let mut tx = db.transaction().unwrap();
    let id: i64 = tx
        .query_one("SELECT sched.start_workflow('w')", &[])
        .unwrap()
        .get(0);
    let err = error_of(tx.query_one("SELECT sched.wait_workflow($1, '1 minute')", &[&id]));
    assert!(err.contains("was started in this transaction"), "{err}");
}

#[test]
fn sched_worker_and_sched_user_are_separated() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             CREATE ROLE bob LOGIN IN ROLE sched_user;
             CREATE ROLE nobody LOGIN;",
        )
        .unwrap();

    // A user defines and runs their own workflow.
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "alices", "tasks": [{"name": "a", "type": "shell", "script": "echo hi"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut alice, "alices");
    assert_eq!(wait(&mut alice, id, 60), "succeeded");
    let log: String = alice
        .query_one(
            "SELECT sched.task_log(id) FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(log, "hi");

    // ... but cannot act as a worker, nor reach the tables behind the API.
    for sql in [
        "SELECT sched.register_worker('x', 'h', ARRAY['default'], 1)",
        "SELECT * FROM sched.claim_tasks(1, 1)",
        "SELECT sched.complete_task(1, 1, 0)",
        "SELECT count(*) FROM sched.task_instance",
        "UPDATE sched.workflow_instance SET state = 'succeeded'",
    ] {
        let err = error_of(alice.query(sql, &[]));
        assert!(err.contains("permission denied"), "alice: {sql}: {err}");
    }

    // Another user sees none of it and cannot touch it.
    let mut bob = cluster.connect_as("bob");
    let seen: i64 = bob
        .query_one("SELECT count(*) FROM sched.workflow_instances", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
    // Not even through a function of its own, cheap and immutable, that the planner would
    // happily evaluate before the views' visibility filter.
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = notices.clone();
    let mut peeker = <postgres::Config as std::str::FromStr>::from_str(&cluster.conn_string("bob"))
        .unwrap()
        .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_owned()))
        .connect(postgres::NoTls)
        .unwrap();
    peeker
        .batch_execute(
            "CREATE FUNCTION pg_temp.peek(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE COST 0.0001 AS
             $$ BEGIN RAISE NOTICE 'peek %', t; RETURN true; END $$;",
        )
        .unwrap();
    for (view, col) in [
        ("workflow_instances", "workflow"),
        ("task_instances", "workflow"),
        ("commands", "workflow"),
        ("workflows", "name"),
    ] {
        peeker
            .query(
                &format!("SELECT * FROM sched.{view} WHERE pg_temp.peek({col})"),
                &[],
            )
            .unwrap();
    }
    let leaked: Vec<String> = notices
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("alices"))
        .cloned()
        .collect();
    assert!(
        leaked.is_empty(),
        "a caller's function saw rows the views hide: {leaked:?}"
    );
    for sql in [
        "SELECT sched.start_workflow('alices')".to_owned(),
        format!("SELECT sched.stop_workflow({id})"),
        "SELECT sched.workflow_spec('alices')".to_owned(),
    ] {
        let err = error_of(bob.query(sql.as_str(), &[]));
        assert!(err.contains("permission denied"), "bob: {sql}: {err}");
    }

    // A worker login can run the protocol and nothing else.
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let wid: i64 = worker
        .query_one(
            "SELECT sched.register_worker('manual', 'h', ARRAY['default'], 1)",
            &[],
        )
        .unwrap()
        .get(0);
    let claimed = worker
        .query("SELECT * FROM sched.claim_tasks($1, 1)", &[&wid])
        .unwrap();
    assert!(claimed.is_empty());
    for sql in [
        "SELECT sched.create_workflow('{\"name\": \"x\", \"tasks\": [{\"name\": \"a\", \"type\": \"shell\", \"script\": \"id\"}]}')",
        "SELECT sched.start_workflow('alices')",
        "SELECT count(*) FROM sched.workflow_instances",
        "SELECT count(*) FROM sched.task_instance",
    ] {
        let err = error_of(worker.query(sql, &[]));
        assert!(err.contains("permission denied"), "worker: {sql}: {err}");
    }
    // A role outside both groups can do neither.
    let mut nobody = cluster.connect_as("nobody");
    for sql in [
        "SELECT sched.start_workflow('alices')",
        "SELECT sched.heartbeat(1, 0)",
    ] {
        let err = error_of(nobody.query(sql, &[]));
        assert!(err.contains("permission denied"), "nobody: {sql}: {err}");
    }
}

#[test]
fn a_report_under_a_lease_that_was_taken_away_is_refused() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "fenced", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let id = start(&mut db, "fenced");
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let old: i64 = worker
        .query_one(
            "SELECT sched.register_worker('zombie', 'h', ARRAY['default'], 1)",
            &[],
        )
        .unwrap()
        .get(0);
    let task: i64 = worker
        .query_one(
            "SELECT task_instance_id FROM sched.claim_tasks($1, 1)",
            &[&old],
        )
        .unwrap()
        .get(0);
    // The master's timeout path, run now: the zombie is declared dead, its attempt failed over.
    db.execute("SELECT sched._master_tick('0 s', '-infinity')", &[])
        .unwrap();
    assert_eq!(
        task_states(&mut db, id),
        [
            ("a".to_owned(), "need_fault_tolerance".to_owned(), 1),
            ("a".to_owned(), "queued".to_owned(), 2)
        ]
    );
    // The engine records its own command, which no user can issue or forge.
    let recorded: Vec<(String, String)> = db
        .query(
            "SELECT command_type, issued_by FROM sched.commands WHERE workflow_instance_id = $1 ORDER BY id",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        recorded[1],
        (
            "recover_tolerance_fault_process".to_owned(),
            "pg_sched".to_owned()
        )
    );
    db.batch_execute("CREATE ROLE carol LOGIN IN ROLE sched_user")
        .unwrap();
    let err = error_of(cluster.connect_as("carol").execute(
        "INSERT INTO sched.command (command_type, workflow_id, issued_by) VALUES ('recover_serial_wait', 1, 'carol')",
        &[],
    ));
    assert!(err.contains("permission denied for table command"), "{err}");
    let err = error_of(worker.query_one("SELECT sched.complete_task($1, $2, 0)", &[&old, &task]));
    assert!(err.contains("not registered or was declared dead"), "{err}");
    let alive: bool = worker
        .query_one("SELECT sched.heartbeat($1, 0)", &[&old])
        .unwrap()
        .get(0);
    assert!(!alive, "the heartbeat tells the zombie to start over");

    // Registered again, it still cannot report the attempt it lost, nor the new one it never claimed.
    let new: i64 = worker
        .query_one(
            "SELECT sched.register_worker('zombie', 'h', ARRAY['default'], 1)",
            &[],
        )
        .unwrap()
        .get(0);
    let accepted: bool = worker
        .query_one("SELECT sched.complete_task($1, $2, 0)", &[&new, &task])
        .unwrap()
        .get(0);
    assert!(!accepted);
    let second: i64 = db
        .query_one(
            "SELECT id FROM sched.task_instance WHERE workflow_instance_id = $1 AND attempt = 2",
            &[&id],
        )
        .unwrap()
        .get(0);
    let accepted: bool = worker
        .query_one("SELECT sched.complete_task($1, $2, 0)", &[&new, &second])
        .unwrap()
        .get(0);
    assert!(!accepted, "an attempt this worker never claimed");
    assert_eq!(instance_state(&mut db, id), "running");

    // Its own claim of the new attempt is accepted and finishes the instance.
    let claimed: i64 = worker
        .query_one(
            "SELECT task_instance_id FROM sched.claim_tasks($1, 1)",
            &[&new],
        )
        .unwrap()
        .get(0);
    assert_eq!(claimed, second);
    let accepted: bool = worker
        .query_one("SELECT sched.complete_task($1, $2, 0)", &[&new, &second])
        .unwrap()
        .get(0);
    assert!(accepted);
    assert_eq!(instance_state(&mut db, id), "succeeded");
}

#[test]
fn a_retried_claim_gets_the_tasks_of_the_try_whose_answer_was_lost() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "pair", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty"}]}"#,
    );
    let id = start(&mut db, "pair");
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let w: i64 = worker
        .query_one(
            "SELECT sched.register_worker('w', 'h', ARRAY['default'], 4)",
            &[],
        )
        .unwrap()
        .get(0);
    let claim = |worker: &mut Client, token: i64| -> Vec<i64> {
        let mut ids: Vec<i64> = worker
            .query(
                "SELECT task_instance_id FROM sched.claim_tasks($1, 1, $2)",
                &[&w, &token],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        ids.sort();
        ids
    };
    let first = claim(&mut worker, 7);
    assert_eq!(first.len(), 1);
    assert_eq!(
        claim(&mut worker, 7),
        first,
        "the same token gets the same task again"
    );
    let other = claim(&mut worker, 8);
    assert_eq!(other.len(), 1);
    assert_ne!(other, first, "a new token claims the next task");
    let queued: i64 = db
        .query_one("SELECT count(*) FROM sched.task_instance WHERE workflow_instance_id = $1 AND state = 'queued'", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(queued, 0);
}

#[test]
fn an_attempt_claimed_just_after_its_worker_was_declared_dead_is_still_failed_over() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "late", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let id = start(&mut db, "late");
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let w: i64 = worker
        .query_one(
            "SELECT sched.register_worker('late', 'h', ARRAY['default'], 1)",
            &[],
        )
        .unwrap()
        .get(0);
    db.execute("SELECT sched._master_tick('0 s', '-infinity')", &[])
        .unwrap();
    // What a claim that raced the master and committed after it leaves behind.
    db.execute(
        "UPDATE sched.task_instance SET state = 'running', worker_id = $1, started_at = now()
         WHERE workflow_instance_id = $2",
        &[&w, &id],
    )
    .unwrap();
    db.execute("SELECT sched._master_tick('1 hour', '-infinity')", &[])
        .unwrap();
    assert_eq!(
        task_states(&mut db, id),
        [
            ("a".to_owned(), "need_fault_tolerance".to_owned(), 1),
            ("a".to_owned(), "queued".to_owned(), 2)
        ]
    );
}

#[test]
fn drop_workflow_waits_for_unfinished_instances_then_removes_everything() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "doomed", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "shell", "script": "echo bye", "deps": ["a"]}]}"#,
    );
    let id = start(&mut db, "doomed");
    let err = error_of(db.execute("SELECT sched.drop_workflow('doomed')", &[]));
    assert!(err.contains("has 1 unfinished instance"), "{err}");
    let _worker = cluster.worker("w1", &[]);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    db.execute("SELECT sched.drop_workflow('doomed')", &[])
        .unwrap();
    for table in [
        "workflow",
        "workflow_version",
        "task_definition",
        "workflow_instance",
        "task_instance",
        "task_log_line",
        "command",
        "join_progress",
    ] {
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM sched.{table}"), &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "sched.{table} still has rows");
    }
    let err = error_of(db.execute("SELECT sched.drop_workflow('doomed')", &[]));
    assert!(err.contains("workflow \"doomed\" does not exist"), "{err}");
}

#[test]
fn every_table_column_view_and_public_function_is_commented() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let missing: Vec<String> = db
        .query(
            "SELECT c.relname || coalesce('.' || a.attname, '')
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'sched'
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relkind IN ('r', 'v', 'p') AND NOT c.relispartition
               AND obj_description(c.oid, 'pg_class') IS NULL
                OR (c.relkind IN ('r', 'v', 'p') AND NOT c.relispartition AND n.nspname = 'sched' AND a.attnum > 0
                    AND col_description(c.oid, a.attnum) IS NULL)
             UNION ALL
             SELECT p.oid::regprocedure::text
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'sched'
             WHERE obj_description(p.oid, 'pg_proc') IS NULL AND p.proname NOT LIKE '\\_%'
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(missing.is_empty(), "without COMMENT ON: {missing:?}");
}

#[test]
fn specs_past_the_limits_are_refused_naming_the_setting() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let before = counts(&mut db);
    let tasks = |n: usize| -> serde_json::Value {
        let tasks: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                serde_json::json!({"name": format!("t{i}"), "type": "empty",
                                        "deps": if i > 0 { vec!["t0".to_owned()] } else { vec![] }})
            })
            .collect();
        serde_json::json!({"name": "big", "tasks": tasks})
    };
    db.batch_execute(
        "SET sched.max_tasks = 10; SET sched.max_edges = 5; SET sched.max_spec_bytes = '2kB'; SET sched.max_spec_depth = 8",
    )
    .unwrap();
    let mut deep = serde_json::json!("x");
    for _ in 0..20 {
        deep = serde_json::json!([deep]);
    }
    let deep_spec = serde_json::json!({"name": "deep", "description": deep, "tasks": [{"name": "a", "type": "empty"}]});
    let mut wide = tasks(8);
    wide["description"] = "x".repeat(3000).into();
    for (spec, expected) in [
        (
            tasks(11),
            "tasks: 11 tasks is more than sched.max_tasks allows (10)",
        ),
        (tasks(7), "dependencies in all"),
        (
            wide,
            "bytes is more than sched.max_spec_bytes allows (2048)",
        ),
        (
            deep_spec,
            "spec: nested deeper than sched.max_spec_depth allows (8)",
        ),
    ] {
        let err = error_of(db.query_one("SELECT sched.create_workflow($1)", &[&spec]));
        assert!(err.contains(expected), "{err} lacks {expected}");
    }
    // A number no float holds, written in SQL so that no client rounds it first.
    let err = error_of(db.query_one(
        &format!(r#"SELECT sched.create_workflow('{{"name": "n", "priority": 1{}, "tasks": [{{"name": "a", "type": "empty"}}]}}')"#, "0".repeat(400)),
        &[],
    ));
    assert!(err.contains("number out of range"), "{err}");
    // Users cannot lift the limits for themselves.
    db.batch_execute("CREATE ROLE carol LOGIN IN ROLE sched_user")
        .unwrap();
    let err = error_of(
        cluster
            .connect_as("carol")
            .batch_execute("SET sched.max_tasks = 1000000"),
    );
    assert!(err.contains("permission denied"), "{err}");
    assert_eq!(counts(&mut db), before);
}

#[test]
fn unfinished_runs_are_found_through_an_index() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; SELECT sched.grant_worker_group('alice', 'nobody');",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "w", "worker_group": "nobody", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    start(&mut alice, "w");
    alice.batch_execute("SET enable_seqscan = off").unwrap();
    for (query, index) in [
        (
            "SELECT id FROM sched.workflow_instances WHERE NOT finished",
            "workflow_instance_unfinished",
        ),
        (
            "SELECT id FROM sched.task_instances WHERE NOT finished",
            "task_instance_active",
        ),
    ] {
        let plan: String = alice
            .query(&format!("EXPLAIN {query}"), &[])
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0) + "\n")
            .collect();
        assert!(
            plan.contains(index),
            "{query} does not use {index}:\n{plan}"
        );
    }
}

#[test]
fn resolve_names_the_field_and_position_of_a_bad_expression() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    admin
        .batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let ok: String = alice
        .query_one(
            "SELECT sched.resolve('${system.biz.curdate}', '{}', '2024-03-15 00:05:00')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ok, "20240315");
    for (template, params, expected) in [
        (
            "$[yyyyMMdd+x]",
            "{}",
            "template: $[yyyyMMdd+x] at position 0: \"x\" is not a number of days",
        ),
        (
            "$[add_month(yyyyMMdd,1)]",
            "{}",
            "unknown function \"add_month\"",
        ),
        (
            "${n}",
            r#"{"n": {"value": "1x", "type": "integer"}}"#,
            "params.n: \"1x\" is not an integer",
        ),
        (
            "${a}",
            r#"{"a": "${b}", "b": "${a}"}"#,
            "params: reference cycle: a -> b -> a",
        ),
        (
            "x",
            r#"{"n": {"value": "1", "type": "decimal"}}"#,
            "params.n.type",
        ),
    ] {
        let params: serde_json::Value = serde_json::from_str(params).unwrap();
        let err = error_of(alice.query_one("SELECT sched.resolve($1, $2)", &[&template, &params]));
        assert!(err.contains(expected), "{template}: {err} lacks {expected}");
    }
}
