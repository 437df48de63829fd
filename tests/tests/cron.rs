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
