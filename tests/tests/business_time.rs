//! Business time in the schedule's zone (DolphinScheduler's schedule time zone) on a UTC
//! server: schedule fires, backfills and manual starts compute `system.biz.date`,
//! `system.biz.curdate`, `system.datetime` and `$[...]` in the zone of the schedule, the
//! backfill, the start or the workflow, never in the session's or the server's; backfill dry
//! runs; the NOTICE of a start no live worker serves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

/// A connection that keeps the NOTICEs it receives.
fn noticing(cluster: &Cluster) -> (Client, Arc<Mutex<Vec<String>>>) {
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = notices.clone();
    let mut config: postgres::Config = cluster.conn_string("postgres").parse().unwrap();
    config.notice_callback(move |n| seen.lock().unwrap().push(n.message().to_owned()));
    (config.connect(postgres::NoTls).unwrap(), notices)
}

/// Globals that show every business value an instance was created with.
fn spec(name: &str, extra: Value) -> String {
    let mut spec = json!({"name": name,
        "params": {"biz": "${system.biz.date}", "cur": "${system.biz.curdate}",
                   "at": "${system.datetime}", "dt": "$[yyyy-MM-dd-1]", "hour": "$[HH]"},
        "tasks": [{"name": "t", "type": "shell", "script": "echo ${biz} ${cur}"}]});
    if let Value::Object(fields) = extra {
        for (k, v) in fields {
            spec[k] = v;
        }
    }
    spec.to_string()
}

/// (schedule_time in UTC, zone, biz, cur, at, dt, hour) of an instance.
fn values(db: &mut Client, id: i64) -> (String, String, String, String, String, String, String) {
    let row = db
        .query_one(
            "SELECT to_char(schedule_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), time_zone, params
             FROM sched.workflow_instances WHERE id = $1",
            &[&id],
        )
        .unwrap();
    let params: Value = row.get(2);
    let p = |k: &str| params[k].as_str().unwrap_or_default().to_owned();
    (
        row.get(0),
        row.get(1),
        p("biz"),
        p("cur"),
        p("at"),
        p("dt"),
        p("hour"),
    )
}

/// The instances of a backfill, in date order: (schedule_time UTC, zone, biz, cur, dt).
fn backfilled(db: &mut Client, backfill: i64) -> Vec<(String, String, String, String, String)> {
    db.query(
        "SELECT d.instance_id FROM sched.backfill_dates d
         WHERE d.backfill_id = $1 AND d.instance_id IS NOT NULL ORDER BY d.schedule_time",
        &[&backfill],
    )
    .unwrap()
    .iter()
    .map(|r| {
        let (t, zone, biz, cur, _, dt, _) = values(db, r.get(0));
        (t, zone, biz, cur, dt)
    })
    .collect()
}

fn row(
    t: &str,
    zone: &str,
    biz: &str,
    cur: &str,
    dt: &str,
) -> (String, String, String, String, String) {
    (t.into(), zone.into(), biz.into(), cur.into(), dt.into())
}

fn parallel_backfill(db: &mut Client, workflow: &str, from: &str, to: &str, options: Value) -> i64 {
    let mut options = options;
    options["mode"] = "parallel".into();
    db.query_one(
        "SELECT sched.backfill($1, $2::text::date, $3::text::date, $4)",
        &[&workflow, &from, &to, &options],
    )
    .unwrap()
    .get::<_, Option<i64>>(0)
    .expect("a backfill id")
}

#[test]
fn fires_backfills_and_manual_starts_compute_business_dates_in_the_schedules_zone() {
    let cluster = Cluster::start(&["TimeZone = 'UTC'"]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &[]);

    // A 04:00 Shanghai schedule fires at 20:00 UTC the day before: its business day is
    // Shanghai's (DolphinScheduler: biz.date is the day before the schedule time's day).
    define(&mut db, &spec("shanghai", json!({})));
    let schedule: i64 = db
        .query_one(
            "SELECT sched.schedule('shanghai', '0 0 4 * * ?', '{\"timezone\": \"Asia/Shanghai\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    let shanghai = parallel_backfill(&mut db, "shanghai", "2024-03-01", "2024-03-03", json!({}));
    assert_eq!(
        backfilled(&mut db, shanghai),
        vec![
            row(
                "2024-02-29 20:00",
                "Asia/Shanghai",
                "20240229",
                "20240301",
                "2024-02-29"
            ),
            row(
                "2024-03-01 20:00",
                "Asia/Shanghai",
                "20240301",
                "20240302",
                "2024-03-01"
            ),
            row(
                "2024-03-02 20:00",
                "Asia/Shanghai",
                "20240302",
                "20240303",
                "2024-03-02"
            ),
        ],
        "the range is three Shanghai days, so three fires"
    );
    let zone: String = db
        .query_one(
            "SELECT time_zone FROM sched.backfills WHERE id = $1",
            &[&shanghai],
        )
        .unwrap()
        .get(0);
    assert_eq!(zone, "Asia/Shanghai");

    // A fire of the schedule, its clock set to a past fire time.
    db.batch_execute(&format!(
        "UPDATE sched.schedule SET next_fire_at = '2024-03-09 20:00+00', end_at = '2024-03-10 00:00+00'
         WHERE id = {schedule};
         SELECT sched._wake_master();"
    ))
    .unwrap();
    let fired: i64 = wait_for(Duration::from_secs(60), "the schedule's fire", || {
        db.query_opt(
            "SELECT id FROM sched.workflow_instances i JOIN sched.workflow_instance wi USING (id)
             WHERE wi.schedule_id = $1",
            &[&schedule],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    assert_eq!(
        values(&mut db, fired),
        (
            "2024-03-09 20:00".into(),
            "Asia/Shanghai".into(),
            "20240309".into(),
            "20240310".into(),
            "20240310040000".into(),
            "2024-03-09".into(),
            "04".into()
        )
    );

    // New York across the spring-forward (2024-03-10) and fall-back (2024-11-03) changes: a
    // 01:30 schedule fires once a local day, at 06:30 or 05:30 UTC.
    define(&mut db, &spec("new_york", json!({})));
    db.execute(
        "SELECT sched.schedule('new_york', '0 30 1 * * ?', '{\"timezone\": \"America/New_York\"}')",
        &[],
    )
    .unwrap();
    let spring = parallel_backfill(&mut db, "new_york", "2024-03-09", "2024-03-11", json!({}));
    let autumn = parallel_backfill(&mut db, "new_york", "2024-11-02", "2024-11-04", json!({}));
    let spring_days = vec![
        row(
            "2024-03-09 06:30",
            "America/New_York",
            "20240308",
            "20240309",
            "2024-03-08",
        ),
        row(
            "2024-03-10 06:30",
            "America/New_York",
            "20240309",
            "20240310",
            "2024-03-09",
        ),
        row(
            "2024-03-11 05:30",
            "America/New_York",
            "20240310",
            "20240311",
            "2024-03-10",
        ),
    ];
    assert_eq!(backfilled(&mut db, spring), spring_days);
    assert_eq!(
        backfilled(&mut db, autumn),
        vec![
            row(
                "2024-11-02 05:30",
                "America/New_York",
                "20241101",
                "20241102",
                "2024-11-01"
            ),
            row(
                "2024-11-03 05:30",
                "America/New_York",
                "20241102",
                "20241103",
                "2024-11-02"
            ),
            row(
                "2024-11-04 06:30",
                "America/New_York",
                "20241103",
                "20241104",
                "2024-11-03"
            ),
        ],
        "the repeated 01:30 fires once"
    );
    // Its fires across the spring-forward, the clock set back to them.
    let new_york: i64 = db
        .query_one(
            "SELECT id FROM sched.schedules WHERE workflow = 'new_york'",
            &[],
        )
        .unwrap()
        .get(0);
    db.batch_execute(&format!(
        "UPDATE sched.schedule SET next_fire_at = '2024-03-09 06:30+00', end_at = '2024-03-11 06:00+00'
         WHERE id = {new_york};
         SELECT sched._wake_master();"
    ))
    .unwrap();
    let fires: Vec<i64> = wait_for(Duration::from_secs(60), "three fires", || {
        let ids: Vec<i64> = db
            .query(
                "SELECT id FROM sched.workflow_instance WHERE schedule_id = $1 ORDER BY schedule_time",
                &[&new_york],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        (ids.len() == 3).then_some(ids)
    });
    let fired: Vec<(String, String, String, String, String)> = fires
        .iter()
        .map(|id| {
            let (t, zone, biz, cur, _, dt, _) = values(&mut db, *id);
            (t, zone, biz, cur, dt)
        })
        .collect();
    assert_eq!(
        fired, spring_days,
        "the fires run as the backfill of their days did"
    );

    // No schedule: midnights of UTC, or of options.timezone.
    define(&mut db, &spec("plain", json!({})));
    let utc = parallel_backfill(&mut db, "plain", "2024-03-01", "2024-03-03", json!({}));
    assert_eq!(
        backfilled(&mut db, utc),
        vec![
            row(
                "2024-03-01 00:00",
                "UTC",
                "20240229",
                "20240301",
                "2024-02-29"
            ),
            row(
                "2024-03-02 00:00",
                "UTC",
                "20240301",
                "20240302",
                "2024-03-01"
            ),
            row(
                "2024-03-03 00:00",
                "UTC",
                "20240302",
                "20240303",
                "2024-03-02"
            ),
        ]
    );
    let tokyo = parallel_backfill(
        &mut db,
        "plain",
        "2024-03-01",
        "2024-03-01",
        json!({"timezone": "Asia/Tokyo"}),
    );
    assert_eq!(
        backfilled(&mut db, tokyo),
        vec![row(
            "2024-02-29 15:00",
            "Asia/Tokyo",
            "20240229",
            "20240301",
            "2024-02-29"
        )]
    );

    // Manual starts with a schedule_time: options.timezone, else the workflow's timezone,
    // else UTC; a time with an offset is that instant whatever the zone.
    define(
        &mut db,
        &spec("zoned", json!({"timezone": "Asia/Shanghai"})),
    );
    let start = |db: &mut Client, name: &str, options: Value| -> i64 {
        db.query_one(
            "SELECT sched.start_workflow($1, '{}', $2)",
            &[&name, &options],
        )
        .unwrap()
        .get(0)
    };
    let by_spec = start(
        &mut db,
        "zoned",
        json!({"schedule_time": "2024-03-15 02:30"}),
    );
    assert_eq!(
        values(&mut db, by_spec),
        (
            "2024-03-14 18:30".into(),
            "Asia/Shanghai".into(),
            "20240314".into(),
            "20240315".into(),
            "20240315023000".into(),
            "2024-03-14".into(),
            "02".into()
        )
    );
    let by_option = start(
        &mut db,
        "zoned",
        json!({"schedule_time": "2024-03-15 02:30", "timezone": "America/New_York"}),
    );
    assert_eq!(values(&mut db, by_option).0, "2024-03-15 06:30");
    assert_eq!(values(&mut db, by_option).1, "America/New_York");
    let with_offset = start(
        &mut db,
        "zoned",
        json!({"schedule_time": "2024-03-15 02:30+08", "timezone": "America/New_York"}),
    );
    let (t, zone, biz, cur, at, _, _) = values(&mut db, with_offset);
    assert_eq!(
        (
            t.as_str(),
            zone.as_str(),
            biz.as_str(),
            cur.as_str(),
            at.as_str()
        ),
        (
            "2024-03-14 18:30",
            "America/New_York",
            "20240313",
            "20240314",
            "20240314143000"
        )
    );
    let in_utc = start(&mut db, "plain", json!({"schedule_time": "2024-03-15"}));
    assert_eq!(values(&mut db, in_utc).0, "2024-03-15 00:00");
    assert_eq!(values(&mut db, in_utc).1, "UTC");
    // The session's TimeZone plays no part.
    db.batch_execute("SET TimeZone = 'Pacific/Kiritimati'")
        .unwrap();
    let kiritimati = start(&mut db, "plain", json!({"schedule_time": "2024-03-15"}));
    assert_eq!(values(&mut db, kiritimati).0, "2024-03-15 00:00");
    db.batch_execute("SET TimeZone = 'UTC'").unwrap();

    // Refusals name the field.
    let err = error_of(db.query_one(
        "SELECT sched.start_workflow('plain', '{}', '{\"timezone\": \"Mars/Base\"}')",
        &[],
    ));
    assert!(
        err.contains("options.timezone: \"Mars/Base\" is not an IANA time zone name"),
        "{err}"
    );
    let err = error_of(db.query_one(
        "SELECT sched.start_workflow('plain', '{}', '{\"schedule_time\": \"yesterday-ish\"}')",
        &[],
    ));
    assert!(
        err.contains("options.schedule_time: \"yesterday-ish\" is not a timestamp"),
        "{err}"
    );
    let err = error_of(db.query_one(
        "SELECT sched.create_workflow('{\"name\": \"bad_zone\", \"timezone\": \"CET+1\", \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"}]}')",
        &[],
    ));
    assert!(
        err.contains("timezone: \"CET+1\" is not an IANA time zone name"),
        "{err}"
    );

    // sched.resolve reads schedule_time in the zone it is given, UTC by default.
    let resolved: (String, String) = {
        let r = db
            .query_one(
                "SELECT sched.resolve('${system.biz.curdate}', '{}', '2024-03-14 20:00+00'),
                        sched.resolve('${system.biz.curdate}', '{}', '2024-03-14 20:00+00', 'Asia/Shanghai')",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(resolved, ("20240314".into(), "20240315".into()));
}

#[test]
fn a_backfill_dry_run_lists_its_dates_and_starts_nothing() {
    let cluster = Cluster::start(&["TimeZone = 'UTC'"]);
    let mut db = cluster.connect();
    define(&mut db, &spec("nightly", json!({})));
    db.execute(
        "SELECT sched.schedule('nightly', '0 0 4 * * ?', '{\"timezone\": \"Asia/Shanghai\"}')",
        &[],
    )
    .unwrap();

    let preview: Vec<(i32, String, String, String)> = db
        .query(
            "SELECT position, to_char(schedule_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                    business_date::text, time_zone
             FROM sched.backfill_preview('nightly', date '2024-03-01', date '2024-03-03') ORDER BY position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let z = "Asia/Shanghai".to_owned();
    assert_eq!(
        preview,
        vec![
            (1, "2024-03-02 20:00".into(), "2024-03-03".into(), z.clone()),
            (2, "2024-03-01 20:00".into(), "2024-03-02".into(), z.clone()),
            (3, "2024-02-29 20:00".into(), "2024-03-01".into(), z.clone()),
        ],
        "newest first, as DolphinScheduler's complement runs by default"
    );

    let (mut noticed, notices) = noticing(&cluster);
    let id: Option<i64> = noticed
        .query_one(
            "SELECT sched.backfill('nightly', date '2024-03-01', date '2024-03-03', '{\"dry_run\": true, \"order\": \"asc\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(id, None);
    let said = notices.lock().unwrap().join("\n");
    assert!(
        said.contains("dry run: backfill of \"nightly\" would run 3 date(s), in this order (local times of Asia/Shanghai): 2024-03-01 04:00:00, 2024-03-02 04:00:00, 2024-03-03 04:00:00"),
        "{said}"
    );
    let (backfills, instances): (i64, i64) = {
        let r = db
            .query_one(
                "SELECT (SELECT count(*) FROM sched.backfills), (SELECT count(*) FROM sched.workflow_instances)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((backfills, instances), (0, 0), "a dry run starts nothing");
    let err = error_of(db.query_one(
        "SELECT sched.backfill('nightly', date '2024-03-01', date '2024-03-03', '{\"dry_run\": \"yes\"}')",
        &[],
    ));
    assert!(
        err.contains("options.dry_run: must be true or false"),
        "{err}"
    );

    // The CLI's --dry-run and --timezone.
    let text = cluster.sched_expect(
        "postgres",
        &[
            "backfill",
            "nightly",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-02",
            "--dry-run",
            "--timezone",
            "America/New_York",
        ],
        0,
    );
    // Two New York days hold the 04:00 Shanghai fires of 2024-03-01 15:00 and 2024-03-02 15:00 local.
    assert!(
        text.contains("2024-03-02 15:00:00  2024-03-02     America/New_York"),
        "{text}"
    );
    assert!(
        text.contains("2024-03-01 15:00:00  2024-03-01     America/New_York"),
        "{text}"
    );
    assert!(
        text.contains("dry run: 2 date(s), nothing started"),
        "{text}"
    );
    let instances: i64 = db
        .query_one("SELECT count(*) FROM sched.workflow_instances", &[])
        .unwrap()
        .get(0);
    assert_eq!(instances, 0);
}

#[test]
fn a_start_no_live_worker_serves_says_so_naming_the_group() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("SELECT sched.grant_worker_group('postgres', 'etl-hosts')")
        .unwrap();
    define(
        &mut db,
        &json!({"name": "grouped", "tasks": [
            {"name": "a", "type": "shell", "script": "true"},
            {"name": "b", "type": "shell", "script": "true", "worker_group": "etl-hosts"},
            {"name": "c", "type": "sql", "sql": "SELECT 1"}]})
        .to_string(),
    );
    let (mut noticed, notices) = noticing(&cluster);
    let first: i64 = noticed
        .query_one("SELECT sched.start_workflow('grouped')", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        notices.lock().unwrap().clone(),
        vec![format!(
            "no live worker serves worker group \"default\", \"etl-hosts\"; instance {first}'s tasks there wait in queued until one does"
        )]
    );

    // Registered when this returns.
    let _worker = cluster.worker("w1", &["--group", "default"]);
    notices.lock().unwrap().clear();
    let second: i64 = noticed
        .query_one("SELECT sched.start_workflow('grouped')", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        notices.lock().unwrap().clone(),
        vec![format!(
            "no live worker serves worker group \"etl-hosts\"; instance {second}'s tasks there wait in queued until one does"
        )]
    );
    let unserved: Vec<String> = wait_for(Duration::from_secs(30), "b queued, unserved", || {
        let rows: Vec<String> = db
            .query(
                "SELECT worker_group FROM sched.unserved_tasks WHERE workflow_instance_id = $1",
                &[&second],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        (!rows.is_empty()).then_some(rows)
    });
    assert_eq!(unserved, vec!["etl-hosts".to_owned()]);
    let text = cluster.sched_expect("postgres", &["status", &second.to_string()], 0);
    assert!(
        text.contains("warning: no live worker serves worker group \"etl-hosts\"; its queued tasks wait until one does"),
        "{text}"
    );
}
