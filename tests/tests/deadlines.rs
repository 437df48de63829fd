//! Deadlines: a scheduled run must have succeeded by a time counted from its fire, not from its
//! start, so a run that never started misses it too; a miss alerts once, and the views show it.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use sched_tests::*;
use serde_json::json;

fn error_of<T>(result: Result<T, postgres::Error>) -> String {
    match result {
        Ok(_) => panic!("the call should have failed"),
        Err(e) => e.as_db_error().unwrap().message().to_owned(),
    }
}

#[test]
fn a_run_that_never_started_misses_its_deadline_and_the_alert_is_mailed_once() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let smtp = Smtp::start(&cluster.dir);
    db.execute(
        "SELECT sched.create_alert_group('ops', '[{\"type\": \"email\", \"to\": [\"ops@example.com\"]}]')",
        &[],
    )
    .unwrap();
    define(
        &mut db,
        r#"{"name": "nightly", "deadline": "1 s", "notify": {"alert_group": "ops"},
            "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    // Offline: it fires nothing, yet each fire's deadline counts.
    let schedule: i64 = db
        .query_one(
            "SELECT sched.schedule('nightly', '*/2 * * * * ?', '{\"enabled\": false}')",
            &[],
        )
        .unwrap()
        .get(0);
    let config = cluster.dir.join("alerts.json");
    std::fs::write(
        &config,
        json!({"smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none",
                        "from": "pg_sched <sched@example.com>"}})
        .to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _alerts = cluster.worker("alerts", &["--alerts", config.to_str().unwrap()]);

    let (fire, deadline): (std::time::SystemTime, std::time::SystemTime) =
        wait_for(Duration::from_secs(60), "a missed deadline", || {
            db.query_opt(
                "SELECT fire_at, deadline_at FROM sched.deadlines
                 WHERE schedule_id = $1 AND state = 'missed' ORDER BY fire_at LIMIT 1",
                &[&schedule],
            )
            .unwrap()
            .map(|r| (r.get(0), r.get(1)))
        });
    assert_eq!(
        deadline.duration_since(fire).unwrap(),
        Duration::from_secs(1)
    );
    let row = db
        .query_one(
            "SELECT instance_id, business_date IS NOT NULL FROM sched.deadlines
             WHERE schedule_id = $1 AND fire_at = $2",
            &[&schedule, &fire],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), None, "no instance started");
    let (message, workflow): (String, Option<String>) = {
        let r = db
            .query_one(
                "SELECT message, workflow FROM sched.alerts
                 WHERE event = 'deadline_missed' AND details->>'fire_at' IS NOT NULL
                   AND (details->>'fire_at')::timestamptz = $1",
                &[&fire],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(
        message.contains("no instance of it started (the schedule is offline)"),
        "{message}"
    );
    assert_eq!(workflow.as_deref(), Some("nightly"));
    let mail = &smtp.wait_messages(1)[0];
    let mail = String::from_utf8_lossy(mail);
    assert!(
        mail.contains("pg_sched: workflow nightly missed its deadline"),
        "{mail}"
    );
    // Once per fire: a fire's deadline is decided once.
    let alerts: i64 = db
        .query_one(
            "SELECT count(*) - count(DISTINCT details->>'fire_at') FROM sched.alert WHERE event = 'deadline_missed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(alerts, 0);
    db.execute("SELECT sched.unschedule($1)", &[&schedule])
        .unwrap();
}

#[test]
fn a_run_that_succeeds_in_time_meets_its_deadline_and_bad_deadlines_are_named() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &[]);
    define(
        &mut db,
        r#"{"name": "quick", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    // The schedule's own deadline; its workflow has none.
    let schedule: i64 = db
        .query_one(
            "SELECT sched.schedule('quick', '*/2 * * * * ?', '{\"deadline\": \"20 s\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    let deadline: Option<String> = db
        .query_one(
            "SELECT deadline FROM sched.schedules WHERE id = $1",
            &[&schedule],
        )
        .unwrap()
        .get(0);
    assert_eq!(deadline.as_deref(), Some("20 s"));
    let (instance, state): (i64, String) = wait_for(
        Duration::from_secs(90),
        "a met deadline",
        || {
            db.query_opt(
                "SELECT instance_id, instance_state::text FROM sched.deadlines WHERE schedule_id = $1 AND state = 'met' LIMIT 1",
                &[&schedule],
            )
            .unwrap()
            .map(|r| (r.get(0), r.get(1)))
        },
    );
    assert_eq!(state, "succeeded");
    let alerts: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.alert WHERE event = 'deadline_missed' AND workflow_instance_id = $1",
            &[&instance],
        )
        .unwrap()
        .get(0);
    assert_eq!(alerts, 0);
    db.execute("SELECT sched.unschedule($1)", &[&schedule])
        .unwrap();

    // Bad deadlines name their field and change nothing.
    let err = error_of(db.query_one(
        r#"SELECT sched.create_workflow('{"name": "late", "deadline": "soon", "tasks": [{"name": "a", "type": "empty"}]}')"#,
        &[],
    ));
    assert!(
        err.contains("deadline: \"soon\" is not a time of day on the business date"),
        "{err}"
    );
    let err = error_of(db.query_one(
        "SELECT sched.schedule('quick', '0 0 6 * * ?', '{\"deadline\": \"+1 06:00\"}')",
        &[],
    ));
    assert!(
        err.starts_with("options.deadline: \"+1 06:00\" is not"),
        "{err}"
    );
    let err = error_of(db.query_one(
        "SELECT sched.schedule('quick', '0 0 6 * * ?', '{\"deadline\": 6}')",
        &[],
    ));
    assert!(
        err.starts_with("options.deadline: must be a string"),
        "{err}"
    );
    let schedules: i64 = db
        .query_one("SELECT count(*) FROM sched.schedule", &[])
        .unwrap()
        .get(0);
    assert_eq!(schedules, 0);
}

#[test]
fn a_revoked_alert_group_gets_no_deadline_alert() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user;
         SELECT sched.create_alert_group('ops', '[{\"type\": \"email\", \"to\": [\"ops@example.com\"]}]');
         SELECT sched.grant_alert_group('alice', 'ops');",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "late", "deadline": "1 s", "notify": {"alert_group": "ops"},
            "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let schedule: i64 = alice
        .query_one(
            "SELECT sched.schedule('late', '*/2 * * * * ?', '{\"enabled\": false}')",
            &[],
        )
        .unwrap()
        .get(0);
    db.execute("SELECT sched.revoke_alert_group('alice', 'ops')", &[])
        .unwrap();
    // Whatever missed after the revoke is recorded, and goes to no group.
    let revoked_at: std::time::SystemTime = db.query_one("SELECT now()", &[]).unwrap().get(0);
    let group: Option<String> = wait_for(Duration::from_secs(60), "a missed deadline", || {
        db.query_opt(
            "SELECT a.alert_group FROM sched.alert a
             WHERE a.event = 'deadline_missed' AND a.created_at > $1 LIMIT 1",
            &[&revoked_at],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    assert_eq!(group, None);
    let deliveries: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.alert_delivery d JOIN sched.alert a ON a.id = d.alert_id
             WHERE a.event = 'deadline_missed' AND a.created_at > $1",
            &[&revoked_at],
        )
        .unwrap()
        .get(0);
    assert_eq!(deliveries, 0);
    alice
        .execute("SELECT sched.unschedule($1)", &[&schedule])
        .unwrap();
}
