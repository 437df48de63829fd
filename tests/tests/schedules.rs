//! Schedules: fired by the master as their owner, once per fire time whatever happens to the
//! master, with misfire policies for fires missed while the server was down.

use std::time::{Duration, Instant};

use sched_tests::*;
use serde_json::json;

/// (schedule time, seconds between it and the instance's creation) of a schedule's fires.
fn fires(db: &mut Client, schedule: i64) -> Vec<(f64, f64)> {
    db.query(
        "SELECT extract(epoch FROM schedule_time)::float8, extract(epoch FROM created_at - schedule_time)::float8
         FROM sched.workflow_instance WHERE schedule_id = $1 ORDER BY schedule_time",
        &[&schedule],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn wait_fires(db: &mut Client, schedule: i64, n: usize) {
    wait_for(
        Duration::from_secs(60),
        &format!("{n} fires of schedule {schedule}"),
        || (fires(db, schedule).len() >= n).then_some(()),
    );
}

#[test]
fn a_one_second_schedule_fires_every_second_once_even_across_a_master_crash() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "ticker", "tasks": [{"name": "t", "type": "shell", "script": "echo day=${system.biz.curdate}"}]}"#,
    );
    let id: i64 = alice
        .query_one("SELECT sched.schedule('ticker', '* * * * * ?')", &[])
        .unwrap()
        .get(0);
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    wait_fires(&mut db, id, 3);
    // The master dies mid-run; the postmaster starts a new one, which catches up.
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pg_sched master'",
        &[],
    )
    .unwrap();
    wait_fires(&mut db, id, 14);
    alice
        .execute("SELECT sched.unschedule($1)", &[&id])
        .unwrap();
    let got = fires(&mut db, id);
    for pair in got.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, 1.0, "a gap or a duplicate: {got:?}");
    }
    // Fired as alice, as the scheduler, with the fire time as the business time.
    let (who, kind, n): (String, String, i64) = {
        let r = db
            .query_one(
                "SELECT min(wi.started_by), min(c.command_type), count(DISTINCT wi.id)
                 FROM sched.workflow_instance wi JOIN sched.command c ON c.workflow_instance_id = wi.id
                 WHERE wi.schedule_id = $1",
                &[&id],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((who.as_str(), kind.as_str()), ("alice", "scheduler"));
    assert_eq!(n as usize, got.len());
    let last: i64 = db
        .query_one(
            "SELECT max(id) FROM sched.workflow_instance WHERE schedule_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, last, 60), "succeeded");
    let expected: String = db
        .query_one(
            "SELECT 'day=' || to_char(schedule_time AT TIME ZONE 'UTC', 'YYYYMMDD') FROM sched.workflow_instance WHERE id = $1",
            &[&last],
        )
        .unwrap()
        .get(0);
    assert_eq!(task_output(&mut db, last, "t"), [expected]);
}

#[test]
fn fires_missed_while_the_server_was_down_follow_the_misfire_policy() {
    let cluster = Cluster::start(&["sched.misfire_threshold = 1", "TimeZone = 'UTC'"]);
    let mut db = cluster.connect();
    let mut ids = Vec::new();
    for policy in ["all", "latest", "none"] {
        define(
            &mut db,
            &json!({"name": format!("m_{policy}"), "tasks": [{"name": "t", "type": "empty"}]})
                .to_string(),
        );
        let id: i64 = db
            .query_one(
                "SELECT sched.schedule($1, '* * * * * ?', $2)",
                &[&format!("m_{policy}"), &json!({"misfire": policy})],
            )
            .unwrap()
            .get(0);
        ids.push(id);
    }
    for id in &ids {
        wait_fires(&mut db, *id, 2);
    }
    cluster.stop_server();
    let stopped = Instant::now();
    wait_for(Duration::from_secs(30), "four seconds of downtime", || {
        (stopped.elapsed() >= Duration::from_secs(4)).then_some(())
    });
    cluster.start_server();
    let mut db = cluster.connect();
    let up: f64 = db
        .query_one("SELECT extract(epoch FROM now())::float8", &[])
        .unwrap()
        .get(0);
    for id in &ids {
        wait_for(Duration::from_secs(60), "a fire after the restart", || {
            fires(&mut db, *id)
                .iter()
                .any(|(t, _)| *t > up + 1.0)
                .then_some(())
        });
    }
    // Fires decided at the restart: those made late, more than the threshold after their time.
    let late = |list: &[(f64, f64)]| list.iter().filter(|(t, l)| *t < up && *l > 1.0).count();
    let has_gap = |list: &[(f64, f64)]| list.windows(2).any(|p| p[1].0 - p[0].0 >= 2.0);
    let all = fires(&mut db, ids[0]);
    assert!(!has_gap(&all), "all: every missed fire is made up: {all:?}");
    assert!(late(&all) >= 2, "{all:?}");
    let latest = fires(&mut db, ids[1]);
    assert!(has_gap(&latest), "{latest:?}");
    assert_eq!(
        late(&latest),
        1,
        "latest: only the last missed fire: {latest:?}"
    );
    let none = fires(&mut db, ids[2]);
    assert!(has_gap(&none), "{none:?}");
    assert_eq!(late(&none), 0, "none: no missed fire: {none:?}");
}

#[test]
fn schedules_are_checked_and_turned_on_and_off_by_their_owner() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "daily", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    for (cron, options, expected) in [
        (
            "0 0 12 ? * MOX",
            json!({}),
            "cron: day-of-week: (field 6) \"MOX\" is not a day",
        ),
        (
            "0 2 * * *",
            json!({"timezone": "Mars/Olympus"}),
            "timezone: \"Mars/Olympus\" is not an IANA time zone name",
        ),
        (
            "0 2 * * *",
            json!({"misfire": "sometimes"}),
            "options.misfire: \"sometimes\" is not allowed; allowed: all, latest, none",
        ),
        (
            "0 2 * * *",
            json!({"often": true}),
            "options.often: unknown option",
        ),
        (
            "0 2 * * *",
            json!({"start": "soon"}),
            "options.start: \"soon\" is not a timestamp",
        ),
        (
            "0 2 * * *",
            json!({"start": "2030-01-02", "end": "2030-01-01"}),
            "options.end:",
        ),
        (
            "0 2 * * *",
            json!({"priority": "urgent"}),
            "options.priority",
        ),
        (
            "0 2 * * *",
            json!({"enabled": "yes"}),
            "options.enabled: must be true or false",
        ),
    ] {
        let err =
            error_of(alice.query_one("SELECT sched.schedule('daily', $1, $2)", &[&cron, &options]));
        assert!(err.contains(expected), "{cron} {options}: {err}");
    }
    let err = error_of(alice.query_one("SELECT sched.schedule('nope', '0 2 * * *')", &[]));
    assert!(err.contains("workflow: \"nope\" does not exist"), "{err}");
    let id: i64 = alice
        .query_one(
            "SELECT sched.schedule('daily', '30 2 * * *', '{\"timezone\": \"Asia/Shanghai\", \"priority\": \"high\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    let next = |db: &mut Client| -> Option<String> {
        db.query_one(
            "SELECT to_char(next_fire_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') FROM sched.schedules WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(next(&mut alice).as_deref(), Some("02:30"));
    alice
        .execute("SELECT sched.disable_schedule($1)", &[&id])
        .unwrap();
    assert_eq!(next(&mut alice), None);
    alice
        .execute("SELECT sched.enable_schedule($1)", &[&id])
        .unwrap();
    assert_eq!(next(&mut alice).as_deref(), Some("02:30"));
    let mut bob = cluster.connect_as("bob");
    let err = error_of(bob.execute("SELECT sched.unschedule($1)", &[&id]));
    assert!(err.contains("permission denied"), "{err}");
    let seen: i64 = bob
        .query_one("SELECT count(*) FROM sched.schedules", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
    alice
        .execute("SELECT sched.unschedule($1)", &[&id])
        .unwrap();
    let err = error_of(alice.execute("SELECT sched.unschedule($1)", &[&id]));
    assert!(err.contains("does not exist"), "{err}");

    // start and end bound the fires; offline from the start, nothing is due.
    let first = |db: &mut Client, options: serde_json::Value| -> Option<String> {
        let id: i64 = db
            .query_one(
                "SELECT sched.schedule('daily', '30 2 * * *', $1)",
                &[&options],
            )
            .unwrap()
            .get(0);
        db.query_one(
            "SELECT to_char(next_fire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM sched.schedules WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(
        first(&mut alice, json!({"start": "2030-01-01 00:00:00+00"})).as_deref(),
        Some("2030-01-01 02:30")
    );
    assert_eq!(
        first(&mut alice, json!({"end": "2020-01-01 00:00:00+00"})),
        None
    );
    assert_eq!(first(&mut alice, json!({"enabled": false})), None);
}

#[test]
fn alter_schedule_changes_a_schedule_in_place_and_a_refused_change_changes_nothing() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "nightly", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    let id: i64 = alice
        .query_one(
            "SELECT sched.schedule('nightly', '0 0 2 * * ?', '{\"timezone\": \"Asia/Shanghai\", \"end\": \"2099-01-01 00:00\", \"priority\": \"high\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    let row = |db: &mut Client| -> serde_json::Value {
        db.query_one(
            "SELECT to_jsonb(s) - 'created_at' FROM sched.schedules s WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0)
    };
    let before = row(&mut alice);

    // Refused changes name the field and change nothing.
    let mut bob = cluster.connect_as("bob");
    for (who, cron, options, expected) in [
        ("alice", Some("61 * * * * ?"), json!({}), "cron"),
        (
            "alice",
            None,
            json!({"timezone": "Mars/Olympus"}),
            "options.timezone",
        ),
        (
            "alice",
            None,
            json!({"misfire": "sometimes"}),
            "options.misfire",
        ),
        (
            "alice",
            None,
            json!({"colour": "red"}),
            "options.colour: unknown option",
        ),
        ("bob", None, json!({"enabled": false}), "permission denied"),
    ] {
        let c = if who == "alice" { &mut alice } else { &mut bob };
        let e = error_of(c.execute(
            "SELECT sched.alter_schedule($1, $2, $3)",
            &[&id, &cron, &options],
        ));
        assert!(e.contains(expected), "{cron:?} {options}: {e}");
        assert_eq!(
            row(&mut alice),
            before,
            "a refused change changed the schedule"
        );
    }
    let e = error_of(alice.execute("SELECT sched.alter_schedule(999999)", &[]));
    assert!(
        e.contains("schedule_id: schedule 999999 does not exist"),
        "{e}"
    );

    // A new expression keeps the rest; an option given replaces it, a null one removes it.
    alice
        .execute(
            "SELECT sched.alter_schedule($1, '0 30 3 * * ?', '{\"end\": null, \"priority\": \"low\"}')",
            &[&id],
        )
        .unwrap();
    let after = row(&mut alice);
    assert_eq!(after["id"], id);
    assert_eq!(after["cron"], "0 30 3 * * ?");
    assert_eq!(after["timezone"], "Asia/Shanghai");
    assert_eq!(after["end_at"], serde_json::Value::Null);
    assert_eq!(after["run_options"], json!({"priority": "low"}));
    let local: String = alice
        .query_one(
            "SELECT to_char(next_fire_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') FROM sched.schedules WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(local, "03:30");

    // Offline stays offline (no next fire) until enabled, and the change keeps it so.
    alice
        .execute(
            "SELECT sched.alter_schedule($1, NULL, '{\"enabled\": false}')",
            &[&id],
        )
        .unwrap();
    alice
        .execute("SELECT sched.alter_schedule($1, '0 0 4 * * ?')", &[&id])
        .unwrap();
    let off = row(&mut alice);
    assert_eq!(
        (off["enabled"].clone(), off["next_fire_at"].clone()),
        (json!(false), serde_json::Value::Null)
    );
    alice
        .execute("SELECT sched.enable_schedule($1)", &[&id])
        .unwrap();
    assert!(row(&mut alice)["next_fire_at"].is_string());
}
