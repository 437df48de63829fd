//! Backfill (补数): one instance per date, serial or parallel with a limit, the dates of the
//! workflow's schedule or every midnight, stopping at the first failure, cancel.

use std::path::Path;
use std::time::Duration;

use sched_tests::*;
use serde_json::json;

fn gated(gate: &Path) -> String {
    format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())
}

/// (business date, state, started, ended) of a backfill's dates, in their order.
fn dates(db: &mut Client, backfill: i64) -> Vec<(String, String)> {
    db.query(
        "SELECT to_char(d.schedule_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), d.state
         FROM sched.backfill_dates d WHERE d.backfill_id = $1 ORDER BY d.position",
        &[&backfill],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn backfill_state(db: &mut Client, backfill: i64) -> String {
    db.query_one(
        "SELECT state FROM sched.backfills WHERE id = $1",
        &[&backfill],
    )
    .unwrap()
    .get(0)
}

fn wait_backfill(db: &mut Client, backfill: i64) -> String {
    wait_for(Duration::from_secs(120), "the backfill to end", || {
        let state = backfill_state(db, backfill);
        (state != "running").then_some(state)
    })
}

/// The most of these instances that ran at the same time.
fn most_at_once(db: &mut Client, backfill: i64) -> i64 {
    db.query_one(
        "WITH i AS (SELECT wi.started_at, wi.ended_at FROM sched.backfill_dates d
                    JOIN sched.workflow_instance wi ON wi.id = d.instance_id WHERE d.backfill_id = $1),
              e AS (SELECT started_at AS at, 1 AS n FROM i UNION ALL SELECT ended_at, -1 FROM i)
         SELECT max(s)::bigint FROM (SELECT sum(n) OVER (ORDER BY at, n) AS s FROM e) x",
        &[&backfill],
    )
    .unwrap()
    .get(0)
}

#[test]
fn seven_days_in_serial_then_in_parallel_by_three() {
    let cluster = Cluster::start(&["TimeZone = 'UTC'"]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "daily", "tasks": [{"name": "t", "type": "shell", "script": "echo day=${system.biz.curdate}"}]}"#,
    );
    // The parallel run's first dates wait until the test has seen three of them running.
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "held", "tasks": [{"name": "t", "type": "shell", "script": gated(&gate)}]})
            .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id: i64 = db
        .query_one(
            "SELECT sched.backfill('daily', date '2024-03-01', date '2024-03-07')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait_backfill(&mut db, id), "succeeded");
    let got = dates(&mut db, id);
    // DolphinScheduler's default order: latest first.
    let expected: Vec<(String, String)> = (1..=7)
        .rev()
        .map(|d| (format!("2024-03-{d:02}"), "succeeded".to_owned()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(most_at_once(&mut db, id), 1);
    // Each instance ran for its date, as complement_data.
    let outputs: Vec<(String, String)> = db
        .query(
            "SELECT c.command_type, l.line FROM sched.backfill_dates d
             JOIN sched.commands c ON c.workflow_instance_id = d.instance_id
             JOIN sched.task_instances ti ON ti.workflow_instance_id = d.instance_id,
             sched.task_log(ti.id) l(line)
             WHERE d.backfill_id = $1 ORDER BY d.position",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected: Vec<(String, String)> = (1..=7)
        .rev()
        .map(|d| ("complement_data".to_owned(), format!("day=202403{d:02}")))
        .collect();
    assert_eq!(outputs, expected);

    // Seven days in parallel, three at a time, oldest first.
    let id: i64 = db
        .query_one(
            "SELECT sched.backfill('held', date '2024-04-01', date '2024-04-07', '{\"mode\": \"parallel\", \"parallelism\": 3, \"order\": \"asc\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    wait_for(Duration::from_secs(60), "three dates running", || {
        let (running, pending): (i64, i64) = {
            let r = db
                .query_one(
                    "SELECT running, pending FROM sched.backfills WHERE id = $1",
                    &[&id],
                )
                .unwrap();
            (r.get(0), r.get(1))
        };
        (running == 3 && pending == 4).then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait_backfill(&mut db, id), "succeeded");
    let got = dates(&mut db, id);
    assert_eq!(got.len(), 7);
    assert_eq!(got[0].0, "2024-04-01");
    assert!(
        most_at_once(&mut db, id) <= 3,
        "{}",
        most_at_once(&mut db, id)
    );
    assert!(most_at_once(&mut db, id) >= 2, "it ran in parallel");
    let days: Vec<String> = db
        .query(
            "SELECT ti.params->>'system.biz.curdate' FROM sched.backfill_dates d
             JOIN sched.task_instances ti ON ti.workflow_instance_id = d.instance_id
             WHERE d.backfill_id = $1 ORDER BY 1",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<String> = (1..=7).map(|d| format!("202404{d:02}")).collect();
    assert_eq!(
        days, expected,
        "every date once, as the business date of its tasks"
    );
    let (total, succeeded, pending): (i64, i64, i64) = {
        let r = db
            .query_one(
                "SELECT total, succeeded, pending FROM sched.backfills WHERE id = $1",
                &[&id],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((total, succeeded, pending), (7, 7, 0));

    // A list is used as given, duplicates removed.
    let list: Vec<String> = ["2024-05-02", "2024-05-01", "2024-05-02"]
        .iter()
        .map(|d| format!("{d} 00:00:00+00"))
        .collect();
    let id: i64 = db
        .query_one(
            "SELECT sched.backfill('daily', $1::text[]::timestamptz[], '{\"order\": \"asc\"}')",
            &[&list],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait_backfill(&mut db, id), "succeeded");
    let got: Vec<String> = dates(&mut db, id).into_iter().map(|(d, _)| d).collect();
    assert_eq!(got, ["2024-05-01", "2024-05-02"]);
}

#[test]
fn a_serial_backfill_stops_at_the_first_failure_and_follows_the_schedule() {
    let cluster = Cluster::start(&["TimeZone = 'UTC'"]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "picky", "tasks": [{"name": "t", "type": "shell", "script": "[ ${system.biz.curdate} != 20240305 ]"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let id: i64 = db
        .query_one("SELECT sched.backfill('picky', '2024-03-01'::timestamptz, '2024-03-07'::timestamptz, '{\"order\": \"asc\"}')", &[])
        .unwrap()
        .get(0);
    assert_eq!(wait_backfill(&mut db, id), "failed");
    let states: Vec<String> = dates(&mut db, id).into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        states,
        [
            "succeeded",
            "succeeded",
            "succeeded",
            "succeeded",
            "failed",
            "pending",
            "pending"
        ]
    );
    // on_failure continue runs the rest.
    let id: i64 = db
        .query_one(
            "SELECT sched.backfill('picky', '2024-03-04'::timestamptz, '2024-03-06'::timestamptz, '{\"order\": \"asc\", \"on_failure\": \"continue\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait_backfill(&mut db, id), "failed");
    let states: Vec<String> = dates(&mut db, id).into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, ["succeeded", "failed", "succeeded"]);

    // With a schedule, the dates are its fire times in the range: Mondays at 06:00.
    define(
        &mut db,
        r#"{"name": "weekly", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    db.execute(
        "SELECT sched.schedule('weekly', '0 0 6 ? * MON', '{\"enabled\": true}')",
        &[],
    )
    .unwrap();
    let id: i64 = db
        .query_one("SELECT sched.backfill('weekly', '2024-03-01'::timestamptz, '2024-03-25 06:00:00+00'::timestamptz, '{\"order\": \"asc\"}')", &[])
        .unwrap()
        .get(0);
    assert_eq!(wait_backfill(&mut db, id), "succeeded");
    let times: Vec<String> = db
        .query(
            "SELECT to_char(schedule_time, 'YYYY-MM-DD HH24:MI Dy') FROM sched.backfill_dates WHERE backfill_id = $1 ORDER BY position",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        times,
        [
            "2024-03-04 06:00 Mon",
            "2024-03-11 06:00 Mon",
            "2024-03-18 06:00 Mon",
            "2024-03-25 06:00 Mon"
        ]
    );
}

#[test]
fn cancel_stops_what_is_pending_and_optionally_what_runs() {
    let cluster = Cluster::start(&["TimeZone = 'UTC'"]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "slow", "tasks": [{"name": "t", "type": "shell", "script": gated(&gate)}]})
            .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let keep: i64 = db
        .query_one(
            "SELECT sched.backfill('slow', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz)",
            &[],
        )
        .unwrap()
        .get(0);
    let stop: i64 = db
        .query_one(
            "SELECT sched.backfill('slow', '2024-02-01'::timestamptz, '2024-02-03'::timestamptz)",
            &[],
        )
        .unwrap()
        .get(0);
    let first_running = |db: &mut Client, b: i64| {
        wait_for(Duration::from_secs(30), "the first date to run", || {
            (dates(db, b)[0].1 == "running").then_some(())
        })
    };
    first_running(&mut db, keep);
    first_running(&mut db, stop);
    db.execute("SELECT sched.cancel_backfill($1)", &[&keep])
        .unwrap();
    db.execute("SELECT sched.cancel_backfill($1, true)", &[&stop])
        .unwrap();
    assert_eq!(backfill_state(&mut db, keep), "cancelled");
    let states: Vec<String> = dates(&mut db, stop).into_iter().map(|(_, s)| s).collect();
    assert_eq!(&states[1..], ["cancelled", "cancelled"]);
    wait_for(Duration::from_secs(60), "the stopped date to end", || {
        (dates(&mut db, stop)[0].1 == "stopped").then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    wait_for(Duration::from_secs(60), "the kept date to finish", || {
        (dates(&mut db, keep)[0].1 == "succeeded").then_some(())
    });
    let states: Vec<String> = dates(&mut db, keep).into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, ["succeeded", "cancelled", "cancelled"]);
    let err = error_of(db.execute("SELECT sched.cancel_backfill($1)", &[&keep]));
    assert!(
        err.contains("is cancelled; cancel applies to running backfills"),
        "{err}"
    );

    for (sql, expected) in [
        (
            "SELECT sched.backfill('slow', '2024-01-03'::timestamptz, '2024-01-01'::timestamptz)",
            "to: must not be before from",
        ),
        (
            "SELECT sched.backfill('nope', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz)",
            "workflow: \"nope\" does not exist",
        ),
        (
            "SELECT sched.backfill('slow', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz, '{\"mode\": \"random\"}')",
            "options.mode: \"random\" is not allowed; allowed: serial, parallel",
        ),
        (
            "SELECT sched.backfill('slow', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz, '{\"parallelism\": 2}')",
            "options.parallelism: applies to mode parallel",
        ),
        (
            "SELECT sched.backfill('slow', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz, '{\"mode\": \"parallel\", \"parallelism\": 0}')",
            "options.parallelism: must be a whole number from 1 to 1000",
        ),
        (
            "SELECT sched.backfill('slow', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz, '{\"order\": \"random\"}')",
            "options.order: \"random\" is not allowed; allowed: desc, asc",
        ),
        (
            "SELECT sched.backfill('slow', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz, '{\"on_failure\": \"panic\"}')",
            "options.on_failure: \"panic\" is not allowed; allowed: stop, continue",
        ),
        (
            "SELECT sched.backfill('slow', '2024-01-01'::timestamptz, '2024-01-03'::timestamptz, '{\"speed\": 1}')",
            "options.speed: unknown option",
        ),
        (
            "SELECT sched.backfill('slow', '{}'::timestamptz[])",
            "dates: must be a non-empty array of timestamps",
        ),
    ] {
        let err = error_of(db.execute(sql, &[]));
        assert!(err.contains(expected), "{sql}: {err}");
    }
}
