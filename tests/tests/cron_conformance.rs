//! Cron conformance through SQL: the Quartz 2.3 and Vixie cron forms fire as those
//! schedulers fire them, steps larger than their field are refused naming the field,
//! sched.cron_prev finds the fire times cron_next finds, and descriptions say what a step
//! really fires on (the rules have unit and property tests in sched-core's cron module).

use sched_tests::*;

fn fires(db: &mut Client, sql: &str, expr: &str, n: i32, at: &str, tz: &str) -> Vec<String> {
    db.query(
        &format!(
            "SELECT to_char(f AT TIME ZONE $4, 'YYYY-MM-DD HH24:MI:SS Dy') FROM {sql}($1, $2, $3::text::timestamptz, $4) f"
        ),
        &[&expr, &n, &at, &tz],
    )
    .unwrap_or_else(|e| panic!("{sql}({expr}): {e}"))
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn next(db: &mut Client, expr: &str, n: i32, after: &str, tz: &str) -> Vec<String> {
    fires(db, "sched.cron_next", expr, n, after, tz)
}

fn prev(db: &mut Client, expr: &str, n: i32, before: &str, tz: &str) -> Vec<String> {
    fires(db, "sched.cron_prev", expr, n, before, tz)
}

#[test]
fn quartz_and_vixie_forms_fire_and_oversized_steps_are_refused_naming_the_field() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let db = &mut alice;
    // L-nW: the weekday nearest n days before the last day. June 2024 ends on a Sunday
    // (the 30th); L-1W is Saturday the 29th, so Friday the 28th.
    assert_eq!(
        next(db, "0 0 12 L-1W * ?", 2, "2024-06-01 00:00+00", "UTC"),
        ["2024-06-28 12:00:00 Fri", "2024-07-30 12:00:00 Tue"]
    );
    // Wrapped Quartz ranges: hours 13-0, FRI-MON, NOV-FEB.
    assert_eq!(
        next(db, "0 0 13-0 * * ?", 3, "2024-03-15 22:30+00", "UTC"),
        [
            "2024-03-15 23:00:00 Fri",
            "2024-03-16 00:00:00 Sat",
            "2024-03-16 13:00:00 Sat"
        ]
    );
    assert_eq!(
        next(
            db,
            "0 0 9 ? * FRI-MON",
            5,
            "2024-03-13 00:00+00",
            "Asia/Shanghai"
        ),
        [
            "2024-03-15 09:00:00 Fri",
            "2024-03-16 09:00:00 Sat",
            "2024-03-17 09:00:00 Sun",
            "2024-03-18 09:00:00 Mon",
            "2024-03-22 09:00:00 Fri"
        ]
    );
    assert_eq!(
        next(db, "0 0 0 1 NOV-FEB ?", 5, "2024-03-15 00:00+00", "UTC"),
        [
            "2024-11-01 00:00:00 Fri",
            "2024-12-01 00:00:00 Sun",
            "2025-01-01 00:00:00 Wed",
            "2025-02-01 00:00:00 Sat",
            "2025-11-01 00:00:00 Sat"
        ]
    );
    // A bare /n steps from the field's first value: minutes 0/20, days 1/10.
    assert_eq!(
        next(db, "0 /20 * * * ?", 3, "2024-03-15 12:05+00", "UTC"),
        [
            "2024-03-15 12:20:00 Fri",
            "2024-03-15 12:40:00 Fri",
            "2024-03-15 13:00:00 Fri"
        ]
    );
    assert_eq!(
        next(db, "0 0 0 /10 * ?", 3, "2024-03-02 00:00+00", "UTC"),
        [
            "2024-03-11 00:00:00 Mon",
            "2024-03-21 00:00:00 Thu",
            "2024-03-31 00:00:00 Sun"
        ]
    );
    // Quartz FRI/2 runs from Friday by 2 to Saturday: Fridays only.
    assert_eq!(
        next(db, "0 0 12 ? * FRI/2", 2, "2024-03-13 00:00+00", "UTC"),
        ["2024-03-15 12:00:00 Fri", "2024-03-22 12:00:00 Fri"]
    );
    // Vixie cron: SUN closing a range is 7.
    assert_eq!(
        next(db, "0 0 * * MON-SUN", 2, "2024-03-15 12:00+00", "UTC"),
        ["2024-03-16 00:00:00 Sat", "2024-03-17 00:00:00 Sun"]
    );
    for (expr, expected) in [
        (
            "0/120 * * * * ?",
            "cron: second: (field 1) \"0/120\" has a step larger than the field; allowed: a step from 1 to 59",
        ),
        (
            "0 0/120 * * * ?",
            "cron: minute: (field 2) \"0/120\" has a step larger than the field; allowed: a step from 1 to 59",
        ),
        (
            "0 0 0/120 * * ?",
            "cron: hour: (field 3) \"0/120\" has a step larger than the field; allowed: a step from 1 to 23",
        ),
        (
            "0 0 0 ? * 1/8",
            "cron: day-of-week: (field 6) \"1/8\" has a step larger than the field; allowed: a step from 1 to 7",
        ),
        (
            "0 0 0 1 1/13 ?",
            "cron: month: (field 5) \"1/13\" has a step larger than the field; allowed: a step from 1 to 12",
        ),
        (
            "0 0 0 1/32 * ?",
            "cron: day-of-month: (field 4) \"1/32\" has a step larger than the field; allowed: a step from 1 to 31",
        ),
        (
            "0 0 * * FRI-MON",
            "cron: day-of-week: (field 5) \"FRI-MON\" is a range whose start is after its end",
        ),
    ] {
        for sql in [
            "SELECT sched.cron_next($1)",
            "SELECT sched.cron_prev($1)",
            "SELECT sched.cron_describe($1)",
            "SELECT sched.cron_parse($1)::text",
        ] {
            let err = error_of(db.query(sql, &[&expr]));
            assert!(err.contains(expected), "{sql} {expr}: {err}");
        }
    }
    // The new forms come back from the builder's structure.
    let one = |db: &mut Client, sql: &str, expr: &str| -> String {
        db.query_one(sql, &[&expr]).unwrap().get(0)
    };
    for expr in [
        "0 0 12 L-3W * ?",
        "0 0 13-0 ? * 6-2",
        "0 50-10/5 22-2/2 28-3 11-2 ?",
    ] {
        assert_eq!(
            one(db, "SELECT sched.cron_build(sched.cron_parse($1))", expr),
            expr
        );
    }
    assert_eq!(
        one(
            db,
            "SELECT sched.cron_parse($1)->'day_of_month'->0 ->> 'offset'",
            "0 0 12 L-3W * ?"
        ),
        "3"
    );
    assert_eq!(
        one(
            db,
            "SELECT sched.cron_build(sched.cron_parse($1))",
            "0 /5 * * * ?"
        ),
        "0 0/5 * * * ?"
    );
    assert_eq!(
        one(
            db,
            "SELECT sched.cron_build(sched.cron_parse($1))",
            "0 0 * * MON-SUN"
        ),
        "0 0 * * 1-7"
    );
}

#[test]
fn cron_prev_mirrors_cron_next_and_descriptions_say_what_steps_fire_on() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let db = &mut alice;
    // Strictly before, latest first.
    assert_eq!(
        prev(
            db,
            "0 15 10 ? * MON-FRI",
            3,
            "2024-03-18 10:15:00+00",
            "UTC"
        ),
        [
            "2024-03-15 10:15:00 Fri",
            "2024-03-14 10:15:00 Thu",
            "2024-03-13 10:15:00 Wed"
        ]
    );
    assert_eq!(
        prev(
            db,
            "0 15 10 ? * MON-FRI",
            1,
            "2024-03-18 10:15:00.5+00",
            "UTC"
        ),
        ["2024-03-18 10:15:00 Mon"]
    );
    // New York: 02:30 is skipped on 2024-03-10; 01:30 happens twice on 2024-11-03 and
    // fired at its first occurrence (EDT).
    assert_eq!(
        prev(
            db,
            "30 2 * * *",
            2,
            "2024-03-11 12:00-04",
            "America/New_York"
        ),
        ["2024-03-11 02:30:00 Mon", "2024-03-09 02:30:00 Sat"]
    );
    let instants = |db: &mut Client, sql: &str| -> Vec<String> {
        db.query(
            &format!("SELECT to_char(f AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM {sql} f"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert_eq!(
        instants(
            db,
            "sched.cron_prev('0 30 1 * * ?', 2, '2024-11-04 00:00+00', 'America/New_York')"
        ),
        ["2024-11-03 05:30", "2024-11-02 05:30"]
    );
    // Before the second 01:45 (06:45 UTC, EST) the first 01:45 and 01:50 (EDT) fired.
    assert_eq!(
        instants(
            db,
            "sched.cron_prev('0 45,50 1 * * ?', 2, '2024-11-03 06:45+00', 'America/New_York')"
        ),
        ["2024-11-03 05:50", "2024-11-03 05:45"]
    );
    // The same fire times either way over a window.
    let window: Vec<String> = db
        .query(
            "SELECT (SELECT array_agg(f ORDER BY f)::text FROM sched.cron_next($1, 40, '2024-10-01 00:00+00', 'Europe/London') f),
                    (SELECT array_agg(f ORDER BY f)::text FROM sched.cron_prev($1, 40,
                        (SELECT max(f) FROM sched.cron_next($1, 40, '2024-10-01 00:00+00', 'Europe/London') f) + interval '1 second',
                        'Europe/London') f)",
            &[&"0 30 1 ? * SAT-MON"],
        )
        .unwrap()
        .iter()
        .flat_map(|r| [r.get::<_, String>(0), r.get::<_, String>(1)])
        .collect();
    assert_eq!(window[0], window[1]);
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.cron_prev('* * * * * ?', 1000)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1000);
    for (sql, expected) in [
        (
            "SELECT sched.cron_prev('0 0 * * *', 1001)",
            "n: must be between 1 and 1000, got 1001",
        ),
        (
            "SELECT sched.cron_prev('0 0 * * *', 1, now(), 'Mars/Olympus')",
            "timezone: \"Mars/Olympus\" is not an IANA time zone name",
        ),
    ] {
        let err = error_of(db.query(sql, &[]));
        assert!(err.contains(expected), "{sql}: {err}");
    }

    let describe = |db: &mut Client, expr: &str, lang: &str| -> String {
        db.query_one("SELECT sched.cron_describe($1, $2)", &[&expr, &lang])
            .unwrap()
            .get(0)
    };
    for (expr, en, zh) in [
        (
            "0 0 12 ? * FRI/2",
            "At 12:00, only on Friday",
            "在 12:00，仅星期五",
        ),
        (
            "0 0 12 ? * 1-5/2",
            "At 12:00, only on Sunday, Tuesday and Thursday",
            "在 12:00，仅星期日、星期二和星期四",
        ),
        (
            "0 0 12 2/3 * ?",
            "At 12:00, every 3 days from day 2 through day 29 of the month",
            "在 12:00，每月从2日起每3天，至29日",
        ),
        (
            "0 0 12 1 3/2 ?",
            "At 12:00, on day 1 of the month, every 2 months from March through November",
            "在 12:00，每月1日，从三月起每2个月，至十一月",
        ),
        (
            "0 10/15 * * * ?",
            "Every 15 minutes, minutes 10 through 55",
            "从第10分钟起每15分钟，至第55分钟",
        ),
        (
            "0 0 12 L-3W * ?",
            "At 12:00, on the weekday nearest 3 days before the last day of the month",
            "在 12:00，每月离最后一天前3天最近的工作日",
        ),
        (
            "0 0 9 ? * FRI-MON",
            "At 09:00, only on Friday through Monday",
            "在 09:00，仅星期五至星期一",
        ),
        (
            "0 0 9 1 NOV-FEB ?",
            "At 09:00, on day 1 of the month, only in November through February",
            "在 09:00，每月1日，仅在十一月至二月",
        ),
        (
            "0 30 13-0 * * ?",
            "At minute 30, between 13:00 and 23:59 and between 00:00 and 00:59",
            "在第30分钟，在 13:00 至 23:59 和 00:00 至 00:59 之间",
        ),
        (
            "0 0 * * MON-SUN",
            "At 00:00, only on Monday through Sunday",
            "在 00:00，仅星期一至星期日",
        ),
    ] {
        assert_eq!(describe(db, expr, "en"), en, "{expr}");
        assert_eq!(describe(db, expr, "zh"), zh, "{expr}");
    }
}
