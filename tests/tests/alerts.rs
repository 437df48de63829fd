//! Alerts: which events alert under which notify strategy, alert groups and their rights, and
//! delivery by a worker started with --alerts to a real SMTP server (aiosmtpd), a real HTTP
//! endpoint and a script, with retries and giving up.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Request {
    path: String,
    authorization: Option<String>,
    body: Value,
}

/// An HTTP endpoint recording every POST; paths under /down always answer 500, /flaky
/// answers 500 the first time.
struct Hook {
    port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Hook {
    fn start() -> Hook {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let path = request.url().to_owned();
                let authorization = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.as_str().to_owned());
                let mut log = log.lock().unwrap();
                let earlier = log.iter().filter(|r: &&Request| r.path == path).count();
                log.push(Request {
                    path: path.clone(),
                    authorization,
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                });
                drop(log);
                let fail =
                    path.starts_with("/down") || (path.starts_with("/flaky") && earlier == 0);
                let response = if fail {
                    tiny_http::Response::from_string("unavailable").with_status_code(500)
                } else {
                    tiny_http::Response::from_string("{\"code\": 0}")
                };
                let _ = request.respond(response);
            }
        });
        Hook { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self, path: &str) -> Vec<Request> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn wait_requests(&self, path: &str, n: usize) -> Vec<Request> {
        wait_for(
            Duration::from_secs(60),
            &format!("{n} requests to {path}"),
            || {
                let r = self.requests(path);
                (r.len() >= n).then_some(r)
            },
        )
    }
}

/// The --alerts file of a worker: the SMTP server, one endpoint whose URL and header are
/// secrets, and channels' own URLs allowed only to the test's endpoint.
fn alerts_file(cluster: &Cluster, smtp_port: u16, hook: &Hook) -> PathBuf {
    let path = cluster.dir.join("alerts.json");
    std::fs::write(
        &path,
        json!({
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none", "from": "pg_sched <sched@example.com>"},
            "webhooks": {"secret-hook": {"url": hook.url("/secret/T0K3N"), "headers": {"Authorization": "Bearer s3cret"}}},
            "allowed_urls": [hook.url("/")]
        })
        .to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn start_with(db: &mut Client, workflow: &str, options: &Value) -> i64 {
    db.query_one(
        "SELECT sched.start_workflow($1, '{}', $2)",
        &[&workflow, options],
    )
    .unwrap()
    .get(0)
}

fn events(db: &mut Client, instance: i64) -> Vec<String> {
    db.query(
        "SELECT DISTINCT event FROM sched.alerts WHERE workflow_instance_id = $1 ORDER BY event",
        &[&instance],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Every leaf part of a parsed message: (mime type, decoded body, file name).
fn parts(mail: &mailparse::ParsedMail) -> Vec<(String, Vec<u8>, Option<String>)> {
    if mail.subparts.is_empty() {
        let disposition = mail.get_content_disposition();
        return vec![(
            mail.ctype.mimetype.clone(),
            mail.get_body_raw().unwrap(),
            disposition.params.get("filename").cloned(),
        )];
    }
    mail.subparts.iter().flat_map(parts).collect()
}

fn header(mail: &mailparse::ParsedMail, name: &str) -> String {
    use mailparse::MailHeaderMap;
    mail.headers.get_first_value(name).unwrap_or_default()
}

#[test]
fn notify_strategies_decide_which_ends_alert() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    db.execute(
        "SELECT sched.create_alert_group('ops', '[{\"type\": \"webhook\", \"url\": \"http://127.0.0.1:9/unused\"}]')",
        &[],
    )
    .unwrap();
    define(
        &mut db,
        r#"{"name": "ok", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "bad", "tasks": [{"name": "a", "type": "shell", "script": "exit 3"}]}"#,
    );
    define(
        &mut db,
        &json!({"name": "slow", "tasks": [{"name": "a", "type": "shell",
                "script": format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())}]})
        .to_string(),
    );
    define(
        &mut db,
        r#"{"name": "ok_spec", "notify": {"strategy": "success", "alert_group": "ops"},
            "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    // The child's own notify is never used: a sub-process instance alerts nothing.
    define(
        &mut db,
        r#"{"name": "child", "notify": {"strategy": "all", "alert_group": "ops"},
            "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "parent", "notify": {"strategy": "all", "alert_group": "ops"},
            "tasks": [{"name": "run", "type": "sub_process", "workflow": "child"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "8"]);

    let mut expected = Vec::new();
    for (strategy, ends) in [
        ("none", [None, None, None]),
        ("success", [Some("workflow_succeeded"), None, None]),
        ("failure", [None, Some("workflow_failed"), None]),
        (
            "all",
            [
                Some("workflow_succeeded"),
                Some("workflow_failed"),
                Some("workflow_stopped"),
            ],
        ),
    ] {
        let options = json!({"notify": {"strategy": strategy, "alert_group": "ops"}});
        let ok = start_with(&mut db, "ok", &options);
        let bad = start_with(&mut db, "bad", &options);
        let slow = start_with(&mut db, "slow", &options);
        assert_eq!(wait(&mut db, ok, 60), "succeeded");
        assert_eq!(wait(&mut db, bad, 60), "failed");
        wait_running(&mut db, slow, 1);
        db.execute("SELECT sched.stop_workflow($1)", &[&slow])
            .unwrap();
        assert_eq!(wait(&mut db, slow, 60), "stopped");
        for (id, end) in [ok, bad, slow].into_iter().zip(ends) {
            expected.push((strategy, id, end.map(str::to_owned)));
        }
    }
    let spec = start(&mut db, "ok_spec");
    let silenced = start_with(&mut db, "ok_spec", &json!({"notify": {"strategy": "none"}}));
    let parent = start(&mut db, "parent");
    for id in [spec, silenced, parent] {
        assert_eq!(wait(&mut db, id, 60), "succeeded");
    }
    expected.push(("spec", spec, Some("workflow_succeeded".into())));
    expected.push(("start overrides spec", silenced, None));
    expected.push(("parent", parent, Some("workflow_succeeded".into())));
    let child: i64 = db
        .query_one(
            "SELECT id FROM sched.workflow_instances WHERE parent_instance_id = $1",
            &[&parent],
        )
        .unwrap()
        .get(0);
    expected.push(("sub-process child", child, None));

    // A schedule's notify applies to its fires.
    let schedule: i64 = db
        .query_one(
            "SELECT sched.schedule('ok', '* * * * * ?', '{\"notify\": {\"strategy\": \"success\", \"alert_group\": \"ops\"}}')",
            &[],
        )
        .unwrap()
        .get(0);
    let fired: i64 = wait_for(Duration::from_secs(60), "a fire of the schedule", || {
        db.query_opt(
            "SELECT last_instance_id FROM sched.schedule WHERE id = $1 AND last_instance_id IS NOT NULL",
            &[&schedule],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    db.execute("SELECT sched.unschedule($1)", &[&schedule])
        .unwrap();
    assert_eq!(wait(&mut db, fired, 60), "succeeded");
    expected.push(("schedule", fired, Some("workflow_succeeded".into())));

    for (case, id, end) in expected {
        assert_eq!(
            events(&mut db, id),
            end.into_iter().collect::<Vec<_>>(),
            "{case}: instance {id}"
        );
    }
    let (group, channel, state, message): (String, String, String, String) = {
        let r = db
            .query_one(
                "SELECT alert_group, channel, state, message FROM sched.alerts WHERE workflow_instance_id = $1",
                &[&spec],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3))
    };
    assert_eq!(
        (group.as_str(), channel.as_str(), state.as_str()),
        ("ops", "webhook", "pending")
    );
    assert!(
        message.contains(&format!("instance {spec}"))
            && message.contains(&format!("WHERE workflow_instance_id = {spec}")),
        "{message}"
    );

    // Under all, a pause is an end too: once its running task finished, the instance is paused.
    let paused = start_with(
        &mut db,
        "slow",
        &json!({"notify": {"strategy": "all", "alert_group": "ops"}}),
    );
    wait_running(&mut db, paused, 1);
    db.execute("SELECT sched.pause_workflow($1)", &[&paused])
        .unwrap();
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, paused, 60), "paused");
    assert_eq!(events(&mut db, paused), ["workflow_paused"]);
}

#[test]
fn alert_groups_are_checked_and_owned() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    alice
        .execute(
            "SELECT sched.create_alert_group('team', '[{\"type\": \"email\", \"to\": [\"team@example.com\"]}]', 'the team')",
            &[],
        )
        .unwrap();
    for (sql, expected) in [
        (
            "SELECT sched.create_alert_group('team', '[{\"type\": \"email\", \"to\": [\"x@example.com\"]}]')",
            "name: alert group \"team\" already exists",
        ),
        (
            "SELECT sched.create_alert_group('bad name', '[{\"type\": \"email\", \"to\": [\"x@example.com\"]}]')",
            "name: \"bad name\" is not a valid alert group name",
        ),
        (
            "SELECT sched.create_alert_group('x', '[{\"type\": \"pager\"}]')",
            "channels[0].type: \"pager\" is not a valid channel type; allowed: email, webhook, script",
        ),
        (
            "SELECT sched.create_alert_group('x', '[{\"type\": \"email\", \"to\": [\"a@b.c\\r\\nBcc: evil@x.y\"]}]')",
            "channels[0].to[0]: ",
        ),
        (
            "SELECT sched.create_alert_group('x', '[{\"type\": \"webhook\", \"url\": \"https://user:pw@host/x\"}]')",
            "channels[0].url: must be an http:// or https:// URL",
        ),
        // A script runs on the alert workers' hosts: sched_admin only.
        (
            "SELECT sched.create_alert_group('x', '[{\"type\": \"script\", \"command\": \"id\"}]')",
            "permission denied for an alert group with a script channel",
        ),
        (
            "SELECT sched.alter_alert_group('team', '[{\"type\": \"email\", \"to\": [\"bob@example.com\"]}]')",
            "permission denied",
        ),
        ("SELECT sched.drop_alert_group('team')", "permission denied"),
        (
            "SELECT sched.create_workflow('{\"name\": \"w\", \"notify\": {\"strategy\": \"failure\"}, \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"}]}')",
            "notify.alert_group: required when strategy is success, failure or all",
        ),
        (
            "SELECT sched.create_workflow('{\"name\": \"w\", \"notify\": {\"strategy\": \"failure\", \"alert_group\": \"nope\"}, \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"}]}')",
            "notify.alert_group: alert group \"nope\" does not exist",
        ),
        (
            "SELECT sched.create_workflow('{\"name\": \"w\", \"tasks\": [{\"name\": \"q\", \"type\": \"sql\", \"sql\": \"SELECT 1\", \"send_result\": {\"alert_group\": \"team\", \"rows\": 0}}]}')",
            "tasks[0].send_result.rows: must be a whole number from 1 to 1000",
        ),
    ] {
        let err = error_of(bob.query_one(sql, &[]));
        assert!(err.contains(expected), "{sql}: {err}");
    }
    assert_eq!(
        bob.query_one("SELECT count(*) FROM sched.workflows", &[])
            .unwrap()
            .get::<_, i64>(0),
        0,
        "a refused definition left a workflow"
    );
    // A group is named by its owner's workflows and those it was granted to; its owner changes it.
    let err = error_of(bob.query_one(
        "SELECT sched.create_workflow('{\"name\": \"w\", \"notify\": {\"strategy\": \"failure\", \"alert_group\": \"team\"}, \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"}]}')",
        &[],
    ));
    assert_eq!(
        err,
        "notify.alert_group: role bob may not use alert group \"team\""
    );
    alice
        .execute("SELECT sched.grant_alert_group('bob', 'team')", &[])
        .unwrap();
    bob.execute(
        "SELECT sched.create_workflow('{\"name\": \"w\", \"notify\": {\"strategy\": \"failure\", \"alert_group\": \"team\"}, \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"}]}')",
        &[],
    )
    .unwrap();
    let err = error_of(bob.query_one(
        "SELECT sched.start_workflow('w', '{}', '{\"notify\": {\"alert_group\": \"nope\"}}')",
        &[],
    ));
    assert!(
        err.contains("options.notify.alert_group: alert group \"nope\" does not exist"),
        "{err}"
    );
    let err = error_of(bob.query_one(
        "SELECT sched.start_workflow('w', '{}', '{\"notify\": {\"strategy\": \"sometimes\"}}')",
        &[],
    ));
    assert!(
        err.contains("options.notify.strategy: \"sometimes\" is not a valid notify strategy"),
        "{err}"
    );
    // Nor may its owner add a script channel later.
    let err = error_of(alice.query_one(
        "SELECT sched.alter_alert_group('team', '[{\"type\": \"script\", \"command\": \"id\"}]')",
        &[],
    ));
    assert!(
        err.contains("permission denied for an alert group with a script channel"),
        "{err}"
    );
    alice
        .execute(
            "SELECT sched.alter_alert_group('team', '[{\"type\": \"EMAIL\", \"to\": [\"all@example.com\"], \"cc\": [\"boss@example.com\"]}]')",
            &[],
        )
        .unwrap();
    // Its addresses are for its owner (and sched_admin); others see the channels' types.
    let channels = |db: &mut Client| -> Value {
        db.query_one(
            "SELECT channels FROM sched.alert_groups WHERE name = 'team'",
            &[],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(
        channels(&mut alice),
        json!([{"type": "email", "to": ["all@example.com"], "cc": ["boss@example.com"]}])
    );
    assert_eq!(channels(&mut bob), json!([{"type": "email"}]));
    // Who uses it is named only to those who may see that workflow.
    let err = error_of(alice.query_one("SELECT sched.drop_alert_group('team')", &[]));
    assert!(
        err.contains("alert group \"team\" is in use by a workflow of another role"),
        "{err}"
    );
    bob.execute("SELECT sched.drop_workflow('w')", &[]).unwrap();
    alice
        .execute("SELECT sched.drop_alert_group('team')", &[])
        .unwrap();
    // A superuser (a member of sched_admin) may set a script channel.
    db.execute(
        "SELECT sched.create_alert_group('script', '[{\"type\": \"script\", \"command\": \"cat >/dev/null\"}]')",
        &[],
    )
    .unwrap();
}

#[test]
fn email_webhook_and_script_channels_deliver_and_retry() {
    let cluster = Cluster::start(&[
        "sched.alert_retry_delay = '200ms'",
        "sched.alert_max_attempts = 3",
    ]);
    let mut db = cluster.connect();
    let smtp = Smtp::start(&cluster.dir);
    let hook = Hook::start();
    let script_out = cluster.dir.join("script-alert.json");
    let channels = json!([
        {"type": "email", "to": ["ops@example.com"], "cc": ["lead@example.com"]},
        {"type": "webhook", "url": hook.url("/flaky")},
        {"type": "webhook", "endpoint": "secret-hook", "format": "slack"},
        {"type": "webhook", "url": hook.url("/down"), "format": "feishu"},
        {"type": "script", "command": format!("cat > {}; id -un > {0}.user; echo \"$SCHED_ALERT_EVENT\" >> {0}.event", script_out.display())},
        {"type": "webhook", "url": "http://localhost:9/elsewhere"},
    ]);
    db.execute("SELECT sched.create_alert_group('ops', $1)", &[&channels])
        .unwrap();
    define(
        &mut db,
        r#"{"name": "nightly", "notify": {"strategy": "failure", "alert_group": "ops"},
            "tasks": [{"name": "extract", "type": "shell", "script": "true"},
                      {"name": "load", "type": "shell", "script": "echo broken >&2; exit 7", "deps": ["extract"]}]}"#,
    );
    let _tasks = cluster.worker("w1", &[]);
    let id = start(&mut db, "nightly");
    assert_eq!(wait(&mut db, id, 60), "failed");
    // Raised with no alert worker running: the outbox holds it.
    let pending: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.alerts WHERE workflow_instance_id = $1 AND state = 'pending'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(pending, 6);

    let config = alerts_file(&cluster, smtp.port, &hook);
    let _alerts = cluster.worker(
        "alerts",
        &[
            "--group",
            "alerts-only",
            "--alerts",
            config.to_str().unwrap(),
        ],
    );

    let mail = &smtp.wait_messages(1)[0];
    let parsed = mailparse::parse_mail(mail).unwrap();
    assert_eq!(
        header(&parsed, "Subject"),
        format!("pg_sched: workflow nightly failed (instance {id})")
    );
    assert!(header(&parsed, "From").contains("sched@example.com"));
    assert!(header(&parsed, "To").contains("ops@example.com"));
    assert!(header(&parsed, "Cc").contains("lead@example.com"));
    let rcpt = header(&parsed, "X-RcptTo");
    assert!(
        rcpt.contains("ops@example.com") && rcpt.contains("lead@example.com"),
        "{rcpt}"
    );
    let text = parts(&parsed)
        .into_iter()
        .find(|p| p.0 == "text/plain")
        .map(|p| String::from_utf8(p.1).unwrap())
        .unwrap();
    assert!(
        text.contains("Tasks that did not succeed: load (attempt"),
        "{text}"
    );
    assert!(text.contains("exit code 7"), "{text}");
    assert!(
        text.contains(&format!("psql -c \"SELECT * FROM sched.task_instances WHERE workflow_instance_id = {id} ORDER BY id\"")),
        "{text}"
    );

    // The first POST to /flaky failed; the retry succeeded.
    let flaky = hook.wait_requests("/flaky", 2);
    assert_eq!(flaky[1].body["event"], "workflow_failed");
    assert_eq!(flaky[1].body["workflow_instance_id"], id);
    assert_eq!(flaky[1].body["details"]["tasks"][0]["task"], "load");
    let secret = hook.wait_requests("/secret/T0K3N", 1);
    assert_eq!(secret[0].authorization.as_deref(), Some("Bearer s3cret"));
    assert!(
        secret[0].body["text"]
            .as_str()
            .unwrap()
            .starts_with("pg_sched: workflow nightly failed")
    );

    let script: Value = wait_for(Duration::from_secs(60), "the script's output", || {
        let event = std::fs::read_to_string(format!("{}.event", script_out.display())).ok()?;
        (event.trim() == "workflow_failed").then_some(())?;
        serde_json::from_str(&std::fs::read_to_string(&script_out).ok()?).ok()
    });
    assert_eq!(script["workflow_instance_id"], id);
    // A root worker runs scripts as its default tenant, never as root.
    assert_eq!(
        std::fs::read_to_string(format!("{}.user", script_out.display()))
            .unwrap()
            .trim(),
        "nobody"
    );

    // /down fails every time: after three attempts it is failed, with the reason.
    let states: Vec<(i32, String, i32, Option<String>)> = wait_for(
        Duration::from_secs(60),
        "every delivery to be sent or failed",
        || {
            let rows: Vec<(i32, String, i32, Option<String>)> = db
                .query(
                    "SELECT channel_no, state, attempts, last_error FROM sched.alerts WHERE workflow_instance_id = $1 ORDER BY channel_no",
                    &[&id],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
            rows.iter().all(|r| r.1 != "pending").then_some(rows)
        },
    );
    let summary: Vec<(i32, &str, i32)> = states.iter().map(|s| (s.0, s.1.as_str(), s.2)).collect();
    assert_eq!(
        summary,
        [
            (1, "sent", 1),
            (2, "sent", 2),
            (3, "sent", 1),
            (4, "failed", 3),
            (5, "sent", 1),
            (6, "failed", 3)
        ]
    );
    assert!(
        states[3].3.as_deref().unwrap().contains("HTTP 500"),
        "{:?}",
        states[3]
    );
    assert!(
        states[5]
            .3
            .as_deref()
            .unwrap()
            .contains("is not under an allowed_urls prefix"),
        "{:?}",
        states[5]
    );
    assert_eq!(hook.requests("/down").len(), 3);
    assert_eq!(hook.requests("/down")[0].body["msg_type"], "text");
    // The endpoint's secret URL never reaches what users read.
    let errors: i64 = db
        .query_one("SELECT count(*) FROM sched.alerts WHERE message LIKE '%T0K3N%' OR last_error LIKE '%T0K3N%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(errors, 0);
}

#[test]
fn a_sql_result_is_mailed_as_a_table_and_a_csv_attachment() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let smtp = Smtp::start(&cluster.dir);
    let hook = Hook::start();
    db.execute(
        "SELECT sched.create_alert_group('reports', '[{\"type\": \"email\", \"to\": [\"bi@example.com\"]}]')",
        &[],
    )
    .unwrap();
    define(
        &mut db,
        r#"{"name": "report", "params": {"day": "2026-11-30"}, "tasks": [{"name": "totals", "type": "sql",
            "sql": "SELECT g AS n, 'row ' || g AS label, CASE WHEN g = 2 THEN '<b>&, \"x\"' END AS odd FROM generate_series(1, 1500) g",
            "send_result": {"alert_group": "reports", "title": "Totals for ${day}", "rows": 5}}]}"#,
    );
    let config = alerts_file(&cluster, smtp.port, &hook);
    let _worker = cluster.worker(
        "w1",
        &["--alerts", config.to_str().unwrap(), "--group", "default"],
    );
    let id = start(&mut db, "report");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let mail = &smtp.wait_messages(1)[0];
    let parsed = mailparse::parse_mail(mail).unwrap();
    assert_eq!(header(&parsed, "Subject"), "Totals for 2026-11-30");
    let all = parts(&parsed);
    let html = all
        .iter()
        .find(|p| p.0 == "text/html")
        .map(|p| String::from_utf8(p.1.clone()).unwrap())
        .unwrap();
    assert_eq!(
        html.matches("<tr>").count(),
        6,
        "a header and 5 rows: {html}"
    );
    assert!(
        html.contains("<th>n</th><th>label</th><th>odd</th>"),
        "{html}"
    );
    assert!(
        html.contains("<td>&lt;b&gt;&amp;, &quot;x&quot;</td>"),
        "{html}"
    );
    let text = all
        .iter()
        .find(|p| p.0 == "text/plain")
        .map(|p| String::from_utf8(p.1.clone()).unwrap())
        .unwrap();
    assert!(
        text.contains("returned 1500 rows; the first 1000 are attached"),
        "{text}"
    );
    let (_, csv, name) = all
        .iter()
        .find(|p| p.0 == "text/csv")
        .expect("a CSV attachment");
    assert!(name.as_deref().unwrap().ends_with(".csv"));
    let csv = String::from_utf8(csv.clone()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1001, "a header and the 1,000 kept rows");
    assert_eq!(lines[0], "n,label,odd");
    assert_eq!(lines[1], "1,row 1,");
    assert_eq!(lines[2], "2,row 2,\"<b>&, \"\"x\"\"\"");
    assert_eq!(lines[1000], "1000,row 1000,");
    let event: String = db
        .query_one(
            "SELECT event FROM sched.alerts WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(event, "sql_result");
}

#[test]
fn timeouts_and_fault_tolerance_alert_the_group_whatever_the_strategy() {
    let cluster = Cluster::start(&["sched.worker_timeout = 2"]);
    let mut db = cluster.connect();
    let hook = Hook::start();
    let gate = cluster.dir.join("gate");
    let wait_gate = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    db.execute(
        "SELECT sched.create_alert_group('ops', $1)",
        &[&json!([{"type": "webhook", "url": hook.url("/ops")}])],
    )
    .unwrap();
    define(
        &mut db,
        &json!({"name": "late", "timeout": {"after": "1 s"}, "notify": {"strategy": "none", "alert_group": "ops"},
                "tasks": [{"name": "slow", "type": "shell", "timeout": {"after": "1 s"}, "script": wait_gate}]})
        .to_string(),
    );
    define(
        &mut db,
        &json!({"name": "lost", "worker_group": "doomed", "notify": {"strategy": "none", "alert_group": "ops"},
                "tasks": [{"name": "victim", "type": "shell", "script": wait_gate}]})
        .to_string(),
    );
    let config = alerts_file(&cluster, free_port(), &hook);
    let _alerts = cluster.worker(
        "alerts",
        &["--alerts", config.to_str().unwrap(), "--group", "default"],
    );
    let mut doomed = cluster.worker("doomed", &["--group", "doomed"]);
    let late = start(&mut db, "late");
    let lost = start(&mut db, "lost");
    wait_running(&mut db, lost, 1);
    doomed.signal(libc::SIGKILL);
    let _ = doomed.wait_exit(Duration::from_secs(30));

    let got: BTreeSet<(String, i64)> = wait_for(Duration::from_secs(90), "three alerts", || {
        let seen: BTreeSet<(String, i64)> = hook
            .requests("/ops")
            .iter()
            .map(|r| {
                (
                    r.body["event"].as_str().unwrap_or_default().to_owned(),
                    r.body["workflow_instance_id"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        (seen.len() >= 3).then_some(seen)
    });
    assert_eq!(
        got,
        BTreeSet::from([
            ("fault_tolerance".to_owned(), lost),
            ("task_timeout".to_owned(), late),
            ("workflow_timeout".to_owned(), late),
        ])
    );
    let fault = hook
        .requests("/ops")
        .into_iter()
        .find(|r| r.body["event"] == "fault_tolerance")
        .unwrap();
    assert_eq!(fault.body["details"]["tasks"][0]["task"], "victim");
    assert_eq!(fault.body["details"]["tasks"][0]["worker"], "doomed");
    assert!(
        fault.body["message"]
            .as_str()
            .unwrap()
            .contains("victim (attempt")
    );
    std::fs::write(&gate, "").unwrap();
    let _other = cluster.worker("rescuer", &["--group", "doomed"]);
    assert_eq!(wait(&mut db, late, 60), "succeeded");
    assert_eq!(wait(&mut db, lost, 60), "succeeded");
    // Strategy none: the ends alerted nothing.
    assert!(
        events(&mut db, late)
            .iter()
            .all(|e| !e.starts_with("workflow_") || e == "workflow_timeout")
    );
    assert!(
        !events(&mut db, lost)
            .iter()
            .any(|e| e.starts_with("workflow_"))
    );
}

/// A test of an alert group (`sched.test_alert_group`, the console's "Send a test") goes to
/// each of its channels as an engine alert would, concerns no instance, shows its deliveries
/// and errors in sched.alerts to the group's owner only, and may be sent by its owner only.
#[test]
fn a_test_alert_reaches_every_channel_of_its_group() {
    let cluster = Cluster::start(&[
        "sched.alert_retry_delay = '200ms'",
        "sched.alert_max_attempts = 2",
    ]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let smtp = Smtp::start(&cluster.dir);
    let hook = Hook::start();
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    let channels = json!([
        {"type": "email", "to": ["ops@example.com"]},
        {"type": "webhook", "url": hook.url("/hook")},
        {"type": "webhook", "url": hook.url("/down")},
    ]);
    alice
        .execute(
            "SELECT sched.create_alert_group('oncall', $1)",
            &[&channels],
        )
        .unwrap();
    // Granted its use, bob still may not test it: its channels are alice's.
    db.execute("SELECT sched.grant_alert_group('bob', 'oncall')", &[])
        .unwrap();
    let e = error_of(bob.query("SELECT sched.test_alert_group('oncall')", &[]));
    assert!(
        e.contains("permission denied for alert group \"oncall\""),
        "{e}"
    );
    let e = error_of(alice.query("SELECT sched.test_alert_group('nope')", &[]));
    assert!(
        e.contains("name: alert group \"nope\" does not exist"),
        "{e}"
    );
    let id: i64 = alice
        .query_one("SELECT sched.test_alert_group('oncall')", &[])
        .unwrap()
        .get(0);

    let config = alerts_file(&cluster, smtp.port, &hook);
    let _alerts = cluster.worker(
        "alerts",
        &[
            "--group",
            "alerts-only",
            "--alerts",
            config.to_str().unwrap(),
        ],
    );
    let mail = &smtp.wait_messages(1)[0];
    let parsed = mailparse::parse_mail(mail).unwrap();
    assert_eq!(
        header(&parsed, "Subject"),
        "pg_sched: test of alert group oncall"
    );
    assert!(header(&parsed, "To").contains("ops@example.com"));
    let hooked = hook.wait_requests("/hook", 1);
    assert_eq!(hooked[0].body["event"], "test");
    assert_eq!(hooked[0].body["workflow_instance_id"], 0);
    assert_eq!(hooked[0].body["details"]["sent_by"], "alice");

    // The owner sees each delivery, the failing one with its error; bob sees none of it.
    let states = wait_for(
        Duration::from_secs(60),
        "every delivery to be sent or failed",
        || {
            let rows: Vec<(String, Option<String>, Option<String>)> = alice
                .query(
                    "SELECT state, workflow, last_error FROM sched.alerts WHERE id = $1 ORDER BY channel_no",
                    &[&id],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            (rows.len() == 3 && rows.iter().all(|r| r.0 != "pending")).then_some(rows)
        },
    );
    let summary: Vec<(&str, Option<&str>)> = states
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_deref()))
        .collect();
    assert_eq!(summary, [("sent", None), ("sent", None), ("failed", None)]);
    assert!(
        states[2]
            .2
            .as_deref()
            .unwrap_or_default()
            .contains("HTTP 500"),
        "{states:?}"
    );
    let seen: i64 = bob
        .query_one("SELECT count(*) FROM sched.alerts WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
}
