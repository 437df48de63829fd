//! The cron helpers in SQL, as a visual builder calls them (the rules have unit tests in
//! sched-core's cron module).

use sched_tests::*;

#[test]
fn cron_next_lists_fire_times_in_a_zone_and_refuses_bad_input_naming_the_field() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let fires = |db: &mut Client, expr: &str, n: i32, after: &str, tz: &str| -> Vec<String> {
        db.query(
            "SELECT to_char(f AT TIME ZONE $4, 'YYYY-MM-DD HH24:MI:SS') FROM sched.cron_next($1, $2, $3::text::timestamptz, $4) f",
            &[&expr, &n, &after, &tz],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert_eq!(
        fires(
            &mut alice,
            "0 30 2 ? * MON-FRI",
            3,
            "2024-03-15 12:00:00+00",
            "Asia/Shanghai"
        ),
        [
            "2024-03-18 02:30:00",
            "2024-03-19 02:30:00",
            "2024-03-20 02:30:00"
        ]
    );
    // Berlin skips 02:30 on the day summer time starts.
    assert_eq!(
        fires(
            &mut alice,
            "30 2 * * *",
            2,
            "2024-03-30 12:00:00+00",
            "Europe/Berlin"
        ),
        ["2024-04-01 02:30:00", "2024-04-02 02:30:00"]
    );
    let n: i64 = alice
        .query_one(
            "SELECT count(*) FROM sched.cron_next('* * * * * ?', 1000)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1000);
    for (sql, expected) in [
        (
            "SELECT sched.cron_next('0 0 12 ? * MOX')",
            "cron: day-of-week: (field 6) \"MOX\" is not a day",
        ),
        (
            "SELECT sched.cron_next('0 0 * * *', 0)",
            "n: must be between 1 and 1000, got 0",
        ),
        (
            "SELECT sched.cron_next('0 0 * * *', 1, now(), 'Mars/Olympus')",
            "timezone: \"Mars/Olympus\" is not an IANA time zone name",
        ),
    ] {
        let err = error_of(alice.query(sql, &[]));
        assert!(err.contains(expected), "{sql}: {err}");
    }
}

#[test]
fn cron_describe_parse_and_build_serve_a_visual_builder() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let one = |db: &mut Client, sql: &str| -> String { db.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        one(&mut alice, "SELECT sched.cron_describe('0 30 2 1 * ?')"),
        "At 02:30, on day 1 of the month"
    );
    assert_eq!(
        one(
            &mut alice,
            "SELECT sched.cron_describe('0 15 10 ? * MON-FRI', 'zh')"
        ),
        "在 10:15，仅星期一至星期五"
    );
    // What a builder edits comes back as the same expression.
    assert_eq!(
        one(
            &mut alice,
            "SELECT sched.cron_build(sched.cron_parse('0 0/5 14 L * ? 2025'))"
        ),
        "0 0/5 14 L * ? 2025"
    );
    assert_eq!(
        one(
            &mut alice,
            "SELECT sched.cron_parse('0 15 10 ? * 6#3')->'day_of_week'->0->>'kind'"
        ),
        "nth_weekday"
    );
    assert_eq!(
        one(
            &mut alice,
            r#"SELECT sched.cron_build(jsonb_set(sched.cron_parse('0 0 12 * * ?'), '{hour}', '[{"kind": "range", "from": 9, "to": 17}]'))"#
        ),
        "0 0 9-17 * * ?"
    );
    for (sql, expected) in [
        (
            r#"SELECT sched.cron_build('{"dialect": "unix", "minute": [{"kind": "value", "value": 75}], "hour": [{"kind": "every"}], "day_of_month": [{"kind": "every"}], "month": [{"kind": "every"}], "day_of_week": [{"kind": "every"}]}')"#,
            "spec.minute: (field 1) \"75\" is not a number 0-59",
        ),
        (
            "SELECT sched.cron_describe('0 0 * * *', 'fr')",
            "lang: \"fr\" is not supported; allowed: en, zh",
        ),
        (
            "SELECT sched.cron_parse('0 0 * *')",
            "cron: \"0 0 * *\" has 4 fields",
        ),
    ] {
        let err = error_of(alice.query(sql, &[]));
        assert!(err.contains(expected), "{sql}: {err}");
    }
}
