//! Event-driven starts (README "Events and datasets"): another workflow's end, a table's
//! change, datasets, webhooks; their rights; and each event starting its workflow once through
//! a master killed mid-start and a server restart.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use postgres::Client;
use sched_tests::*;
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);

/// The instances of a workflow, oldest first: (id, state, command type, params).
fn instances(db: &mut Client, workflow: &str) -> Vec<(i64, String, String, Value)> {
    db.query(
        "SELECT id, state::text, command_type, params FROM sched.workflow_instances WHERE workflow = $1 ORDER BY id",
        &[&workflow],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn wait_instances(db: &mut Client, workflow: &str, n: usize) -> Vec<(i64, String, String, Value)> {
    wait_for(LONG, &format!("{n} instance(s) of {workflow}"), || {
        let found = instances(db, workflow);
        (found.len() >= n).then_some(found)
    })
}

fn trigger_row(db: &mut Client, id: i64) -> (bool, Option<String>, i64) {
    let r = db
        .query_one(
            "SELECT enabled, disabled_reason, fire_count FROM sched.triggers WHERE id = $1",
            &[&id],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

#[test]
fn an_upstream_end_starts_its_downstream_in_the_same_transaction_once() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &[]);
    define(
        &mut db,
        r#"{"name": "extract", "timezone": "Asia/Shanghai", "tasks": [{"name": "count", "type": "shell",
            "script": "echo '${setValue(rows=42)}'", "out": [{"name": "rows"}]}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "broken", "tasks": [{"name": "fail", "type": "shell", "script": "exit 3"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "load", "tasks": [{"name": "l", "type": "shell", "script": "echo n=${n}"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "cleanup", "tasks": [{"name": "c", "type": "empty"}]}"#,
    );
    let on_success: i64 = db
        .query_one(
            "SELECT sched.on_workflow_end('extract', 'load', '{\"params\": {\"n\": \"rows\"}}')",
            &[],
        )
        .unwrap()
        .get(0);
    db.query_one(
        "SELECT sched.on_workflow_end('broken', 'cleanup', '{\"states\": [\"failed\", \"stopped\"]}')",
        &[],
    )
    .unwrap();
    db.query_one("SELECT sched.on_workflow_end('broken', 'load')", &[])
        .unwrap();

    // Bad options say what is allowed and create nothing.
    for (options, says) in [
        (
            r#"{"states": ["running"]}"#,
            "options.states: \"running\" is not an end state; allowed:",
        ),
        (
            r#"{"when": 1}"#,
            "options.when: unknown option; allowed: states, params",
        ),
        (
            r#"{"params": {"n": 1}}"#,
            "options.params: must map start parameters",
        ),
    ] {
        let e = error_of(db.query_one(
            "SELECT sched.on_workflow_end('extract', 'cleanup', $1::text::jsonb)",
            &[&options],
        ));
        assert!(e.contains(says), "{options}: {e}");
    }
    let e = error_of(db.query_one("SELECT sched.on_workflow_end('load', 'extract')", &[]));
    assert!(e.contains("would close a circle"), "{e}");
    let e = error_of(db.query_one("SELECT sched.on_workflow_end('load', 'load')", &[]));
    assert!(e.contains("cannot start itself"), "{e}");

    let up = start(&mut db, "extract");
    assert_eq!(wait(&mut db, up, 60), "succeeded");
    // The downstream was created by the transaction that ended the upstream: it is there the
    // moment the upstream's end is seen.
    let down = instances(&mut db, "load");
    assert_eq!(down.len(), 1, "{down:?}");
    let (down_id, _, command, params) = &down[0];
    assert_eq!(command, "trigger");
    assert_eq!(params["n"], json!("42"), "{params}");
    let same_time: bool = db
        .query_one(
            "SELECT u.business_time = d.business_time AND d.time_zone = 'Asia/Shanghai'
             FROM sched.workflow_instance u, sched.workflow_instance d WHERE u.id = $1 AND d.id = $2",
            &[&up, down_id],
        )
        .unwrap()
        .get(0);
    assert!(
        same_time,
        "the downstream runs at the upstream's business time"
    );
    assert_eq!(wait(&mut db, *down_id, 60), "succeeded");
    assert_eq!(task_stdout(&mut db, *down_id, "l"), ["n=42"]);

    // Once per upstream instance: a rerun that ends again starts nothing more.
    db.execute("SELECT sched.rerun_workflow($1)", &[&up])
        .unwrap();
    assert_eq!(wait(&mut db, up, 60), "succeeded");
    assert_eq!(instances(&mut db, "load").len(), 1);
    assert_eq!(trigger_row(&mut db, on_success), (true, None, 1));

    // A failure starts what waits for failures, not what waits for successes.
    let failed = start(&mut db, "broken");
    assert_eq!(wait(&mut db, failed, 60), "failed");
    assert_eq!(instances(&mut db, "cleanup").len(), 1);
    assert_eq!(instances(&mut db, "load").len(), 1);

    // Disabled: nothing; enabled again: the next end starts it.
    db.execute("SELECT sched.disable_trigger($1)", &[&on_success])
        .unwrap();
    let up2 = start(&mut db, "extract");
    assert_eq!(wait(&mut db, up2, 60), "succeeded");
    assert_eq!(instances(&mut db, "load").len(), 1);
    db.execute("SELECT sched.enable_trigger($1)", &[&on_success])
        .unwrap();
    let up3 = start(&mut db, "extract");
    assert_eq!(wait(&mut db, up3, 60), "succeeded");
    assert_eq!(instances(&mut db, "load").len(), 2);
    db.execute("SELECT sched.drop_trigger($1)", &[&on_success])
        .unwrap();
    let count: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.triggers WHERE id = $1",
            &[&on_success],
        )
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}

/// Runs `sql` in its own transaction and returns the transaction's id.
fn committed(db: &mut Client, sql: &str) -> i64 {
    let mut tx = db.transaction().unwrap();
    tx.batch_execute(sql).unwrap();
    let xid: i64 = tx
        .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    xid
}

#[test]
fn a_table_change_starts_once_committed_debounced_and_bounded() {
    let cluster = Cluster::start(&["track_commit_timestamp = on"]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE TABLE orders (id int); CREATE TABLE clicks (id int); CREATE TABLE audit (id int);
         CREATE TABLE batches (id int); CREATE VIEW order_view AS SELECT * FROM orders;",
    )
    .unwrap();
    for name in ["on_orders", "on_clicks", "on_audit", "on_batches"] {
        define(
            &mut db,
            &format!(r#"{{"name": "{name}", "tasks": [{{"name": "t", "type": "empty"}}]}}"#),
        );
    }
    db.query_one(
        "SELECT sched.on_table_change('orders', 'on_orders', '{\"operations\": [\"INSERT\", \"delete\"]}')",
        &[],
    )
    .unwrap();
    let clicks: i64 = db
        .query_one(
            "SELECT sched.on_table_change('clicks', 'on_clicks', '{\"debounce\": \"5 s\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    db.query_one(
        "SELECT sched.on_table_change('audit', 'on_audit', '{\"debounce\": \"1 h\", \"max_wait\": \"1 s\"}')",
        &[],
    )
    .unwrap();
    db.query_one(
        "SELECT sched.on_table_change('batches', 'on_batches', '{\"min_rows\": 5}')",
        &[],
    )
    .unwrap();
    for (table, options, says) in [
        ("order_view", "{}", "is not a table"),
        (
            "orders",
            r#"{"operations": ["truncate"]}"#,
            "\"truncate\" is not a table operation; allowed: insert, update, delete",
        ),
        (
            "orders",
            r#"{"debounce": "soon"}"#,
            "options.debounce: \"soon\" is not a duration",
        ),
        (
            "orders",
            r#"{"min_rows": 0}"#,
            "options.min_rows: must be a whole number from 1",
        ),
        ("sched.workflow", "{}", "cannot be watched"),
    ] {
        let e = error_of(db.query_one(
            "SELECT sched.on_table_change($1::text::regclass, 'on_orders', $2::text::jsonb)",
            &[&table, &options],
        ));
        assert!(e.contains(says), "{table} {options}: {e}");
    }

    // A rolled-back change and an update (not watched) start nothing; the commit does, with
    // its rows and its commit time.
    let mut tx = db.transaction().unwrap();
    tx.batch_execute("INSERT INTO orders SELECT generate_series(1, 100)")
        .unwrap();
    tx.rollback().unwrap();
    db.batch_execute("INSERT INTO orders VALUES (0); UPDATE orders SET id = 1")
        .unwrap();
    assert_eq!(
        wait_instances(&mut db, "on_orders", 1)[0].3["changed_rows"],
        json!("1")
    );
    let xid = committed(&mut db, "INSERT INTO orders SELECT generate_series(1, 7)");
    let started = wait_instances(&mut db, "on_orders", 2);
    assert_eq!(started.len(), 2, "{started:?}");
    assert_eq!(started[0].2, "trigger");
    assert_eq!(started[0].3["changed_rows"], json!("1"));
    assert_eq!(started[1].3["changed_rows"], json!("7"));
    let commit_time: String = db
        .query_one(
            "SELECT pg_xact_commit_timestamp($1::text::xid)::text",
            &[&xid.to_string()],
        )
        .unwrap()
        .get(0);
    assert_eq!(started[1].3["commit_time"], json!(commit_time));

    // Debounced: a burst of 200 committed statements is one start with every row, once the
    // table has been quiet; the events waiting are merged, not kept one per statement.
    for i in 0..200 {
        db.execute("INSERT INTO clicks VALUES ($1)", &[&i]).unwrap();
    }
    wait_for(LONG, "the 200 statements' events to be merged", || {
        let r = db
            .query_one(
                "SELECT count(*), sum(statements)::bigint FROM sched.trigger_event WHERE trigger_id = $1",
                &[&clicks],
            )
            .unwrap();
        (r.get::<_, i64>(0) == 1 && r.get::<_, Option<i64>>(1) == Some(200)).then_some(())
    });
    assert!(
        instances(&mut db, "on_clicks").is_empty(),
        "started before the table was quiet"
    );
    let clicked = wait_instances(&mut db, "on_clicks", 1);
    assert_eq!(clicked[0].3["changed_rows"], json!("200"), "{clicked:?}");
    assert_eq!(clicked[0].3["changed_statements"], json!("200"));
    assert_eq!(trigger_row(&mut db, clicks).2, 1);

    // max_wait starts a trigger whose table never goes quiet for its debounce.
    db.batch_execute("INSERT INTO audit VALUES (1)").unwrap();
    let audited = wait_instances(&mut db, "on_audit", 1);
    assert_eq!(audited[0].3["changed_rows"], json!("1"));

    // min_rows: 3 rows wait, 2 more make 5, one start.
    db.batch_execute("INSERT INTO batches VALUES (1), (2), (3)")
        .unwrap();
    db.batch_execute("INSERT INTO batches VALUES (4), (5)")
        .unwrap();
    let batched = wait_instances(&mut db, "on_batches", 1);
    assert_eq!(batched[0].3["changed_rows"], json!("5"), "{batched:?}");

    // Dropping the trigger drops the table's statement-level triggers.
    db.execute("SELECT sched.drop_trigger($1)", &[&clicks])
        .unwrap();
    let left: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'clicks'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert_eq!(wait_instances(&mut db, "on_orders", 2).len(), 2);
}

#[test]
fn triggers_need_rights_at_creation_and_stop_when_they_are_revoked() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;
         CREATE TABLE bobs (id int); ALTER TABLE bobs OWNER TO bob;
         CREATE TABLE alices (id int); ALTER TABLE alices OWNER TO alice;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    define(
        &mut alice,
        r#"{"name": "alices_wf", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "bobs_wf", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );

    let e = error_of(alice.query_one("SELECT sched.on_table_change('bobs', 'alices_wf')", &[]));
    assert!(e.contains("permission denied for table public.bobs"), "{e}");
    let e = error_of(alice.query_one("SELECT sched.on_table_change('alices', 'bobs_wf')", &[]));
    assert!(
        e.contains("permission denied for workflow \"bobs_wf\""),
        "{e}"
    );
    let e = error_of(alice.query_one("SELECT sched.on_workflow_end('bobs_wf', 'alices_wf')", &[]));
    assert!(e.contains("may not see it"), "{e}");
    let e = error_of(alice.query_one("SELECT sched.on_workflow_end('alices_wf', 'bobs_wf')", &[]));
    assert!(
        e.contains("permission denied for workflow \"bobs_wf\""),
        "{e}"
    );
    let e = error_of(alice.query_one("SELECT * FROM sched.create_webhook('bobs_wf')", &[]));
    assert!(e.contains("permission denied"), "{e}");

    // The trigger function and the webhook entry are not theirs to call; the secrets not
    // theirs to read.
    let e = error_of(alice.batch_execute(
        "CREATE TRIGGER sneak AFTER INSERT ON alices FOR EACH STATEMENT EXECUTE FUNCTION sched._table_changed('1')",
    ));
    assert!(e.contains("permission denied"), "{e}");
    let e = error_of(alice.query_one(
        "SELECT * FROM sched._receive_webhook('x', '', '0', 'd', 's')",
        &[],
    ));
    assert!(e.contains("permission denied"), "{e}");
    let e = error_of(alice.query_one("SELECT secret FROM sched.trigger", &[]));
    assert!(e.contains("permission denied"), "{e}");

    // With TRIGGER on bob's table, alice may watch it; the start is hers.
    bob.batch_execute("GRANT TRIGGER ON bobs TO alice").unwrap();
    let watching: i64 = alice
        .query_one("SELECT sched.on_table_change('bobs', 'alices_wf')", &[])
        .unwrap()
        .get(0);
    // Bob sees neither alice's trigger nor her workflow.
    let seen: i64 = bob
        .query_one("SELECT count(*) FROM sched.triggers", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
    bob.batch_execute("INSERT INTO bobs VALUES (1)").unwrap();
    let started = wait_instances(&mut db, "alices_wf", 1);
    let who: String = db
        .query_one(
            "SELECT started_by FROM sched.workflow_instances WHERE id = $1",
            &[&started[0].0],
        )
        .unwrap()
        .get(0);
    assert_eq!(who, "alice");

    // Revoked: the next change stops the trigger, saying why, and starts nothing.
    bob.batch_execute("REVOKE TRIGGER ON bobs FROM alice")
        .unwrap();
    bob.batch_execute("INSERT INTO bobs VALUES (2)").unwrap();
    let (enabled, reason, fires) = wait_for(LONG, "the trigger to stop", || {
        let row = trigger_row(&mut alice, watching);
        (!row.0).then_some(row)
    });
    assert!(!enabled);
    assert!(
        reason
            .as_deref()
            .unwrap_or_default()
            .contains("nor holds TRIGGER on it"),
        "{reason:?}"
    );
    assert_eq!(fires, 1);
    assert_eq!(instances(&mut db, "alices_wf").len(), 1);
    let e = error_of(alice.execute("SELECT sched.enable_trigger($1)", &[&watching]));
    assert!(e.contains("cannot start its workflow"), "{e}");
    // Bob cannot touch alice's trigger.
    let e = error_of(bob.execute("SELECT sched.drop_trigger($1)", &[&watching]));
    assert!(e.contains("may not change it"), "{e}");

    // DROP OWNED drops alice's triggers with their statement-level triggers.
    db.execute("SELECT sched.stop_workflow($1)", &[&started[0].0])
        .unwrap();
    assert_eq!(wait(&mut db, started[0].0, 60), "stopped");
    db.batch_execute("DROP OWNED BY alice CASCADE").unwrap();
    let left: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM sched.trigger) + (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'bobs'::regclass)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn datasets_start_their_consumers_on_all_or_any_and_show_lineage() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE mallory LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let _worker = cluster.worker("w1", &[]);
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "orders_etl", "tasks": [{"name": "load", "type": "shell", "script": "echo '${setValue(n=3)}'",
            "out": [{"name": "n"}], "produces": ["dw.orders"]}]}"#,
    );
    define(
        &mut alice,
        r#"{"name": "customers_etl", "tasks": [{"name": "load", "type": "empty", "produces": ["dw.customers"]}]}"#,
    );
    define(
        &mut alice,
        r#"{"name": "report", "schedule_on": {"datasets": ["dw.orders", "dw.customers"]},
            "tasks": [{"name": "r", "type": "empty"}]}"#,
    );
    define(
        &mut alice,
        r#"{"name": "mirror", "schedule_on": {"datasets": ["dw.orders"], "mode": "any"},
            "tasks": [{"name": "m", "type": "empty"}]}"#,
    );
    let mut mallory = cluster.connect_as("mallory");
    define(
        &mut mallory,
        r#"{"name": "fake_orders", "tasks": [{"name": "load", "type": "empty", "produces": ["dw.orders"]}]}"#,
    );
    let e = error_of(db.query_one(
        "SELECT sched.create_workflow('{\"name\": \"x\", \"schedule_on\": {\"datasets\": [\"a\"], \"mode\": \"each\"}, \"tasks\": [{\"name\": \"t\", \"type\": \"empty\"}]}')",
        &[],
    ));
    assert!(
        e.contains("schedule_on.mode: \"each\" is not a valid dataset mode; allowed: all, any"),
        "{e}"
    );

    // Another role's producer of the same name starts nobody else's workflow.
    let fake = start(&mut mallory, "fake_orders");
    assert_eq!(wait(&mut mallory, fake, 60), "succeeded");

    let orders = start(&mut db, "orders_etl");
    assert_eq!(wait(&mut db, orders, 60), "succeeded");
    let mirrored = wait_instances(&mut db, "mirror", 1);
    let events: Value =
        serde_json::from_str(mirrored[0].3["dataset_events"].as_str().unwrap()).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events[0]["workflow"], json!("orders_etl"));
    assert_eq!(events[0]["workflow_instance_id"], json!(orders));
    assert!(
        instances(&mut db, "report").is_empty(),
        "report waits for dw.customers"
    );

    let customers = start(&mut db, "customers_etl");
    assert_eq!(wait(&mut db, customers, 60), "succeeded");
    let reported = wait_instances(&mut db, "report", 1);
    let events: Value =
        serde_json::from_str(reported[0].3["dataset_events"].as_str().unwrap()).unwrap();
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["dataset"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dw.orders", "dw.customers"], "{events}");
    assert_eq!(instances(&mut db, "mirror").len(), 1);

    // The events carry the producer's OUT params; the lineage is a view.
    let out: Value = db
        .query_one(
            "SELECT out_params FROM sched.dataset_events WHERE workflow = 'orders_etl'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(out, json!({"n": "3"}));
    let lineage: Vec<(String, Value, Value)> = db
        .query(
            "SELECT name, producers, consumers FROM sched.datasets ORDER BY name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        lineage,
        [
            (
                "dw.customers".to_owned(),
                json!([{"workflow": "customers_etl", "task": "load"}]),
                json!(["report"])
            ),
            (
                "dw.orders".to_owned(),
                json!([{"workflow": "fake_orders", "task": "load"}, {"workflow": "orders_etl", "task": "load"}]),
                json!(["mirror", "report"])
            ),
        ]
    );
    // Mallory's lineage has only her own.
    let hers: i64 = mallory
        .query_one("SELECT count(*) FROM sched.datasets", &[])
        .unwrap()
        .get(0);
    assert_eq!(hers, 1);

    // A version without schedule_on drops the dataset trigger.
    alice.query_one(
        "SELECT sched.create_workflow('{\"name\": \"mirror\", \"tasks\": [{\"name\": \"m\", \"type\": \"empty\"}]}', true)",
        &[],
    )
    .unwrap();
    let kept: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.triggers WHERE workflow = 'mirror'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(kept, 0);
}

type HmacSha256 = Hmac<Sha256>;
use sha2::Sha256;

fn sign(secret: &str, timestamp: &str, delivery: &str, body: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{delivery}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn webhooks_start_on_signed_requests_once_and_refuse_the_rest() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         CREATE ROLE console_api LOGIN PASSWORD 'api-pw' IN ROLE sched_api;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "deploy", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    let row = alice
        .query_one(
            "SELECT id, path, secret FROM sched.create_webhook('deploy', '{\"rate_limit\": 3}')",
            &[],
        )
        .unwrap();
    let (id, path, secret): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
    assert!(
        path.starts_with("/hooks/") && secret.starts_with("whsec_"),
        "{path}"
    );
    require_passwords(&cluster);
    let console = Console::start_with(
        &cluster,
        &[
            "--token-database-url",
            &format!(
                "host={} dbname=postgres user=console_api password=api-pw",
                cluster.dir.display()
            ),
        ],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = |body: &str, timestamp: &str, delivery: &str, signature: &str| -> (u16, String) {
        let mut r = agent
            .post(&format!("{}{path}", console.base))
            .header("content-type", "application/json")
            .header("x-sched-timestamp", timestamp)
            .header("x-sched-delivery", delivery)
            .header("x-hub-signature-256", signature)
            .send(body.as_bytes())
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    };
    let body = r#"{"ref": "refs/heads/main", "commits": 2, "repository": {"name": "app"}}"#;
    let ts = now_seconds().to_string();

    let (status, reply) = post(body, &ts, "d-1", &sign(&secret, &ts, "d-1", body));
    assert_eq!(status, 202, "{reply}");
    let reply: Value = serde_json::from_str(&reply).unwrap();
    let started = instances(&mut db, "deploy");
    assert_eq!(started.len(), 1);
    assert_eq!(reply["workflow_instance_id"], json!(started[0].0));
    assert_eq!(started[0].2, "trigger");
    // Top-level scalars are the params; objects are left out.
    assert_eq!(started[0].3["ref"], json!("refs/heads/main"));
    assert_eq!(started[0].3["commits"], json!("2"));
    assert!(started[0].3.get("repository").is_none());

    // A replay, a changed body, another secret, an old timestamp, a body not JSON: refused,
    // nothing started.
    let (status, reply) = post(body, &ts, "d-1", &sign(&secret, &ts, "d-1", body));
    assert_eq!(status, 409, "{reply}");
    let (status, _) = post(
        r#"{"ref": "evil"}"#,
        &ts,
        "d-2",
        &sign(&secret, &ts, "d-2", body),
    );
    assert_eq!(status, 401);
    let (status, _) = post(body, &ts, "d-3", &sign("whsec_guess", &ts, "d-3", body));
    assert_eq!(status, 401);
    let old = (now_seconds() - 3600).to_string();
    let (status, reply) = post(body, &old, "d-4", &sign(&secret, &old, "d-4", body));
    assert_eq!(status, 401, "{reply}");
    assert!(reply.contains("not within 300 seconds"), "{reply}");
    let (status, _) = post("[1]", &ts, "d-5", &sign(&secret, &ts, "d-5", "[1]"));
    assert_eq!(status, 400);
    assert_eq!(instances(&mut db, "deploy").len(), 1);

    // Three starts a minute: the fourth is refused.
    for d in ["d-6", "d-7"] {
        let (status, reply) = post(body, &ts, d, &sign(&secret, &ts, d, body));
        assert_eq!(status, 202, "{reply}");
    }
    let (status, reply) = post(body, &ts, "d-8", &sign(&secret, &ts, "d-8", body));
    assert_eq!(status, 429, "{reply}");
    assert_eq!(instances(&mut db, "deploy").len(), 3);

    // A mapping picks values by path, objects included, as text.
    let row = alice
        .query_one(
            "SELECT path, secret FROM sched.create_webhook('deploy', '{\"params\": {\"repo\": \"repository.name\", \"whole\": \"repository\"}}')",
            &[],
        )
        .unwrap();
    let (mapped_path, mapped_secret): (String, String) = (row.get(0), row.get(1));
    let mut r = agent
        .post(&format!("{}{mapped_path}", console.base))
        .header("x-sched-timestamp", &ts)
        .header("x-sched-delivery", "m-1")
        .header(
            "x-hub-signature-256",
            &sign(&mapped_secret, &ts, "m-1", body),
        )
        .send(body.as_bytes())
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        202,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );
    let mapped = instances(&mut db, "deploy");
    assert_eq!(
        mapped.last().unwrap().3["repo"],
        json!("app"),
        "{:?}",
        mapped.last()
    );
    assert_eq!(
        mapped.last().unwrap().3["whole"],
        json!(r#"{"name": "app"}"#)
    );
    assert!(mapped.last().unwrap().3.get("ref").is_none());

    // Disabled: refused, saying so.
    alice
        .execute("SELECT sched.disable_trigger($1)", &[&id])
        .unwrap();
    let (status, reply) = post(body, &ts, "d-9", &sign(&secret, &ts, "d-9", body));
    assert_eq!(status, 403, "{reply}");
    assert!(reply.contains("disabled"), "{reply}");
}

#[test]
fn a_table_change_starts_once_across_a_killed_master_and_a_restart() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE TABLE feed (id int)").unwrap();
    define(
        &mut db,
        r#"{"name": "on_feed", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    let tid: i64 = db
        .query_one("SELECT sched.on_table_change('feed', 'on_feed')", &[])
        .unwrap()
        .get(0);

    // Hold the key the master's start will record, so that the master stops inside the
    // transaction that took the events; kill it there.
    let next_event: i64 = db
        .query_one(
            "SELECT coalesce((SELECT last_value + 1 FROM sched.trigger_event_id_seq WHERE is_called), 1)",
            &[],
        )
        .unwrap()
        .get(0);
    let mut holder = cluster.connect();
    let mut tx = holder.transaction().unwrap();
    tx.execute(
        "INSERT INTO sched.trigger_fire (trigger_id, fire_key) VALUES ($1, $2)",
        &[&tid, &format!("event:{next_event}")],
    )
    .unwrap();
    db.batch_execute("INSERT INTO feed SELECT generate_series(1, 4)")
        .unwrap();
    let master: i32 = wait_for(LONG, "the master to wait on the held key", || {
        db.query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_sched master' AND wait_event_type = 'Lock'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    db.execute("SELECT pg_terminate_backend($1)", &[&master])
        .unwrap();
    tx.rollback().unwrap();
    // The next master takes the same events: one start, with all the rows.
    let started = wait_instances(&mut db, "on_feed", 1);
    assert_eq!(started[0].3["changed_rows"], json!("4"));

    // Events committed before a crash start their workflow after it, once.
    db.execute(
        "UPDATE sched.trigger SET debounce = '1 s' WHERE id = $1",
        &[&tid],
    )
    .unwrap();
    db.batch_execute("INSERT INTO feed SELECT generate_series(1, 9)")
        .unwrap();
    cluster.stop_server();
    cluster.start_server();
    let mut db = cluster.connect();
    let started = wait_instances(&mut db, "on_feed", 2);
    assert_eq!(started[1].3["changed_rows"], json!("9"));
    let left: i64 = db
        .query_one("SELECT count(*) FROM sched.trigger_event", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert_eq!(instances(&mut db, "on_feed").len(), 2);
}

#[test]
fn an_upstream_end_starts_its_downstream_once_across_a_killed_completion() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &[]);
    define(
        &mut db,
        r#"{"name": "up", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "down", "tasks": [{"name": "b", "type": "empty"}]}"#,
    );
    let tid: i64 = db
        .query_one("SELECT sched.on_workflow_end('up', 'down')", &[])
        .unwrap()
        .get(0);
    // The upstream's instance id is drawn before it starts; hold its fire key, so that the
    // worker's completion stops in the transaction that ends it, and cut that connection.
    let up_id: i64 = db
        .query_one(
            "SELECT coalesce((SELECT last_value + 1 FROM sched.workflow_instance_id_seq WHERE is_called), 1)",
            &[],
        )
        .unwrap()
        .get(0);
    let mut holder = cluster.connect();
    let mut tx = holder.transaction().unwrap();
    tx.execute(
        "INSERT INTO sched.trigger_fire (trigger_id, fire_key) VALUES ($1, $2)",
        &[&tid, &format!("instance:{up_id}")],
    )
    .unwrap();
    assert_eq!(start(&mut db, "up"), up_id);
    let blocked: i32 = wait_for(LONG, "the completion to wait on the held key", || {
        db.query_opt(
            "SELECT pid FROM pg_stat_activity WHERE usename = 'test_worker' AND wait_event_type = 'Lock'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    db.execute("SELECT pg_terminate_backend($1)", &[&blocked])
        .unwrap();
    tx.rollback().unwrap();
    // The worker reports again; the end and the start commit together, once.
    assert_eq!(wait(&mut db, up_id, 60), "succeeded");
    let down = instances(&mut db, "down");
    assert_eq!(down.len(), 1, "{down:?}");
}
