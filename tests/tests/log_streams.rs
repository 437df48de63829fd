//! Where a log line came from (stdout or stderr, or the worker about the attempt), the email
//! recipients an alert went to, the positions `sched.resolve` gives in its errors, and errors of
//! the schedule functions without pg_sched's insides in their CONTEXT.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use postgres::error::ErrorPosition;
use sched_tests::*;
use serde_json::json;

fn attempt(db: &mut Client, id: i64, task: &str) -> i64 {
    db.query_one(
        "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2",
        &[&id, &task],
    )
    .unwrap()
    .get(0)
}

/// (line_no, stream, line) of an attempt, from sched.task_log_lines.
fn lines(db: &mut Client, ti: i64) -> Vec<(i32, String, String)> {
    db.query(
        "SELECT line_no, stream, line FROM sched.task_log_lines($1, 0, 100000)",
        &[&ti],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[test]
fn each_line_keeps_its_stream_in_the_order_read() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // Each line waits until the worker has stored the one before, so the order the worker
    // reads the two pipes in is the order they were written in.
    let stored = format!(
        "psql -h {} -U postgres -d postgres -Atc \"SELECT count(*) FROM sched.task_log_line WHERE task_instance_id = $SCHED_TASK_INSTANCE_ID\"",
        cluster.dir.display()
    );
    let script = format!(
        r#"n=0
say() {{
  echo "$2" >&$1; n=$((n+1))
  for i in $(seq 600); do [ "$({stored})" -ge $n ] && return; sleep 0.05; done
  exit 3
}}
say 1 one; say 2 two; say 2 three; say 1 four; say 2 five
for i in $(seq 200); do echo "out $i"; echo "err $i" >&2; done
"#
    );
    define(
        &mut db,
        &json!({"name": "streams", "tasks": [
            {"name": "both", "type": "shell", "script": script},
            {"name": "bad_out", "type": "shell", "script": "echo '#{setValue(n=abc)}'",
             "out": [{"name": "n", "type": "integer"}]}
        ]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "streams");
    assert_eq!(wait(&mut db, id, 120), "failed");

    let ti = attempt(&mut db, id, "both");
    let got = lines(&mut db, ti);
    let first: Vec<(i32, &str, &str)> = got[..5]
        .iter()
        .map(|(n, s, l)| (*n, s.as_str(), l.as_str()))
        .collect();
    assert_eq!(
        first,
        [
            (1, "out", "one"),
            (2, "err", "two"),
            (3, "err", "three"),
            (4, "out", "four"),
            (5, "err", "five")
        ]
    );
    // The burst: every line on its stream, each stream in its own order, numbered as read.
    assert_eq!(got.len(), 405);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, (n, _, _))| *n == i as i32 + 1)
    );
    for stream in ["out", "err"] {
        let of_stream: Vec<&str> = got[5..]
            .iter()
            .filter(|(_, s, _)| s == stream)
            .map(|(_, _, l)| l.as_str())
            .collect();
        let expected: Vec<String> = (1..=200).map(|i| format!("{stream} {i}")).collect();
        assert_eq!(of_stream, expected, "stream {stream}");
    }
    // sched.task_log gives the text alone, as before; following gives the stream too.
    let text: Vec<String> = db
        .query("SELECT sched.task_log($1, 0, 5)", &[&ti])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(text, ["one", "two", "three", "four", "five"]);
    // The view has a row per line with its stream, for the attempts the reader may see.
    let viewed: Vec<(String, String)> = db
        .query(
            "SELECT stream, line FROM sched.task_logs WHERE task_instance_id = $1 ORDER BY line_no LIMIT 3",
            &[&ti],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        viewed,
        [
            ("out".into(), "one".into()),
            ("err".into(), "two".into()),
            ("err".into(), "three".into())
        ]
    );
    db.batch_execute("CREATE ROLE outsider LOGIN IN ROLE sched_user")
        .unwrap();
    let seen: i64 = cluster
        .connect_as("outsider")
        .query_one("SELECT count(*) FROM sched.task_logs", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, 0, "another role's lines are not shown");
    // `sched logs --streams` marks each line, whole and followed alike.
    for follow in [false, true] {
        let id = id.to_string();
        let mut args = vec!["logs", &id, "both", "--streams"];
        if follow {
            args.push("--follow");
        }
        let printed = cluster.sched_expect("postgres", &args, 0);
        let head: Vec<&str> = printed.lines().take(5).collect();
        assert_eq!(
            head,
            [
                "out│ one",
                "err│ two",
                "err│ three",
                "out│ four",
                "err│ five"
            ],
            "follow {follow}: {printed}"
        );
        assert_eq!(printed.lines().count(), 405);
    }
    let followed: Vec<(i32, String, String)> = db
        .query(
            "SELECT line_no, line, stream FROM sched.task_log_follow($1, 3, '0 s')",
            &[&ti],
        )
        .unwrap()
        .iter()
        .take(2)
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        followed,
        [
            (4, "four".to_owned(), "out".to_owned()),
            (5, "five".to_owned(), "err".to_owned())
        ]
    );

    // The console's log page says each line's stream beside it.
    db.batch_execute("CREATE ROLE viewer LOGIN PASSWORD 'viewer-pw' IN ROLE sched_admin")
        .unwrap();
    require_passwords(&cluster);
    let console = Console::start(&cluster);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let signed_in = agent
        .post(&format!("{}/api/login", console.base))
        .send_json(json!({"user": "viewer", "password": "viewer-pw"}))
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page: serde_json::Value = agent
        .get(&format!(
            "{}/api/attempts/{ti}/log?skip=1&limit=4",
            console.base
        ))
        .header("cookie", &cookie)
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(page["lines"], json!(["two", "three", "four", "five"]));
    assert_eq!(page["streams"], json!(["err", "err", "out", "err"]));

    // The worker's own line about an attempt is on err, after what the task printed.
    let ti = attempt(&mut db, id, "bad_out");
    let got = lines(&mut db, ti);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (got[0].1.as_str(), got[0].2.as_str()),
        ("out", "#{setValue(n=abc)}")
    );
    assert_eq!(got[1].1, "err");
    assert!(got[1].2.starts_with("sched-worker: "), "{got:?}");
}

/// The X-RcptTo header of every message the server received.
fn recipients(smtp: &Smtp) -> Vec<String> {
    smtp.messages()
        .iter()
        .map(|mail| {
            use mailparse::MailHeaderMap;
            let parsed = mailparse::parse_mail(mail).unwrap();
            parsed
                .headers
                .get_first_value("X-RcptTo")
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn an_email_alert_names_its_recipients_to_the_groups_owner_only() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let smtp = Smtp::start(&cluster.dir);
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         SELECT sched.create_alert_group('ops', '[
             {\"type\": \"email\", \"to\": [\"ops@example.com\", \"dba@example.com\"], \"cc\": [\"lead@example.com\"]},
             {\"type\": \"email\", \"to\": [\"solo@example.com\"]}]');
         SELECT sched.grant_alert_group('alice', 'ops');",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "mailed", "notify": {"strategy": "all", "alert_group": "ops"},
            "tasks": [{"name": "t", "type": "shell", "script": "true"}]}"#,
    );
    let id = start(&mut alice, "mailed");
    let _worker = cluster.worker("w1", &[]);
    assert_eq!(wait(&mut alice, id, 60), "succeeded");
    let config = cluster.dir.join("alerts.json");
    std::fs::write(
        &config,
        json!({"smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none", "from": "sched@example.com"}})
            .to_string(),
    )
    .unwrap();
    // Readable by the worker alone, as it requires of a file that could hold secrets.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _alerts = cluster.worker(
        "alerts",
        &[
            "--group",
            "alerts-only",
            "--alerts",
            config.to_str().unwrap(),
        ],
    );
    let mut received = wait_for(Duration::from_secs(60), "two emails", || {
        let r = recipients(&smtp);
        (r.len() >= 2).then_some(r)
    });
    received.sort();

    let targets = |db: &mut Client| -> Vec<(String, Option<String>)> {
        db.query(
            "SELECT state, target FROM sched.alerts WHERE workflow_instance_id = $1 ORDER BY channel_no",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    // The server has the emails before the worker records them sent.
    wait_for(Duration::from_secs(30), "both deliveries recorded", || {
        targets(&mut db)
            .iter()
            .all(|(state, _)| state == "sent")
            .then_some(())
    });
    // The group's owner (here sched_admin too) sees where each email went.
    assert_eq!(
        targets(&mut db),
        [
            (
                "sent".to_owned(),
                Some("ops@example.com, dba@example.com, lead@example.com".to_owned())
            ),
            ("sent".to_owned(), Some("solo@example.com".to_owned()))
        ]
    );
    for (target, rcpt) in [
        (
            "ops@example.com, dba@example.com, lead@example.com",
            &received[0],
        ),
        ("solo@example.com", &received[1]),
    ] {
        for address in target.split(", ") {
            assert!(rcpt.contains(address), "{address} not among {rcpt}");
        }
    }
    // The workflow's owner, who may only use the group, sees the alerts but not the addresses.
    assert_eq!(
        targets(&mut alice),
        [("sent".to_owned(), None), ("sent".to_owned(), None)]
    );
}

#[test]
fn resolve_errors_point_at_the_character_written() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let error = |db: &mut Client, template: &str, params: serde_json::Value| {
        error_of(db.query_one(
            "SELECT sched.resolve($1, $2, '2024-03-15')",
            &[&template, &params],
        ))
    };
    // The second $[...], after a multi-byte character and a value longer than its reference:
    // position 21 of what was written, not of the text the value made.
    let err = error(
        &mut db,
        "${who} é $[yyyyMMdd] $[yyyyMMdd+x]",
        json!({"who": "wörld, and much more"}),
    );
    assert!(
        err.starts_with("template: $[yyyyMMdd+x] at position 21: \"x\" is not a number of days"),
        "{err}"
    );
    let err = error(&mut db, "日付 ${n}: $[yyyyMMdd+${n}]", json!({"n": "many"}));
    assert!(
        err.starts_with("template: $[yyyyMMdd+many] at position 9:"),
        "{err}"
    );
}

#[test]
fn schedule_errors_show_nothing_of_pg_scheds_insides() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "daily", "tasks": [{"name": "t", "type": "shell", "script": "true"}]}"#,
    );
    let schedule: i64 = alice
        .query_one("SELECT sched.schedule('daily', '0 3 * * *')", &[])
        .unwrap()
        .get(0);
    let mut bob = cluster.connect_as("bob");
    let cases = [
        (
            "alice",
            "SELECT sched.schedule('daily', 'bad cron')".to_owned(),
            "cron: \"bad cron\" has 2 fields",
        ),
        (
            "alice",
            "SELECT sched.schedule('daily', '0 3 * * *', '{\"timezone\": \"Mars/Olympus\"}')"
                .to_owned(),
            "options.timezone: \"Mars/Olympus\" is not an IANA time zone name",
        ),
        (
            "alice",
            "SELECT sched.schedule('nope', '0 3 * * *')".to_owned(),
            "workflow: \"nope\" does not exist",
        ),
        (
            "bob",
            "SELECT sched.schedule('daily', '0 3 * * *')".to_owned(),
            "permission denied for workflow \"daily\"",
        ),
        (
            "bob",
            format!("SELECT sched.disable_schedule({schedule})"),
            "permission denied for schedule",
        ),
        (
            "bob",
            format!("SELECT sched.enable_schedule({schedule})"),
            "permission denied for schedule",
        ),
        (
            "bob",
            format!("SELECT sched.unschedule({schedule})"),
            "permission denied for schedule",
        ),
        (
            "alice",
            "SELECT sched.unschedule(0)".to_owned(),
            "schedule 0 does not exist",
        ),
        (
            "alice",
            "SELECT sched.backfill('daily', '2024-02-01'::timestamptz, '2024-01-01'::timestamptz)"
                .to_owned(),
            "to: must not be before from",
        ),
        (
            "bob",
            "SELECT sched.backfill('daily', '2024-01-01'::timestamptz, '2024-01-02'::timestamptz)"
                .to_owned(),
            "permission denied for workflow \"daily\"",
        ),
    ];
    for (who, sql, expected) in cases {
        let client = if who == "alice" { &mut alice } else { &mut bob };
        let err = client.query(&sql, &[]).expect_err(&sql);
        let db_err = err.as_db_error().expect("a database error");
        assert!(
            db_err.message().contains(expected),
            "{sql}: {}",
            db_err.message()
        );
        assert_eq!(db_err.where_(), None, "{sql}: CONTEXT shown");
        assert!(
            !matches!(db_err.position(), Some(ErrorPosition::Internal { .. })),
            "{sql}: internal query shown"
        );
    }
    // A caller's own frames are still its CONTEXT.
    let err = alice
        .batch_execute("DO $$ BEGIN PERFORM sched.unschedule(0); END $$")
        .expect_err("unschedule(0)");
    let context = err
        .as_db_error()
        .unwrap()
        .where_()
        .unwrap_or_default()
        .to_owned();
    assert!(context.contains("inline_code_block"), "{context}");
    assert!(!context.contains("_unschedule"), "{context}");
}
