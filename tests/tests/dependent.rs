//! DEPENDENT: tasks that wait on other workflows' instances for the periods their date values
//! name, woken when such an instance ends; AND/OR, the wait policy, parameter passing,
//! self-dependency and dependent backfill.

use std::time::Duration;

use sched_tests::*;
use serde_json::json;

fn utc(cluster: &Cluster) -> Client {
    let mut db = cluster.connect();
    db.batch_execute("SET TimeZone = 'UTC'").unwrap();
    db
}

fn start_at(db: &mut Client, name: &str, at: &str) -> i64 {
    db.query_one(
        "SELECT sched.start_workflow($1, '{}', jsonb_build_object('schedule_time', $2::text))",
        &[&name, &at],
    )
    .expect("start_workflow")
    .get(0)
}

fn task_state(db: &mut Client, id: i64, task: &str) -> String {
    db.query_one(
        "SELECT state FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = $2 ORDER BY id DESC LIMIT 1",
        &[&id, &task],
    )
    .unwrap()
    .get(0)
}

fn waiting(db: &mut Client, id: i64, task: &str) {
    wait_for(Duration::from_secs(30), &format!("{task} waiting"), || {
        let log = task_output(db, id, task);
        (log.iter().any(|l| l.starts_with("dependent: waiting"))
            && task_state(db, id, task) == "running")
            .then_some(())
    });
}

fn dependent(name: &str, items: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    let mut d = json!({"name": "d", "type": "dependent", "groups": [{"items": items}],
                       "check_interval": "5 min"});
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    json!({"name": name, "tasks": [d, {"name": "next", "type": "shell", "deps": ["d"], "script": "echo next"}]})
}

#[test]
fn waits_for_the_upstream_daily_run_and_succeeds_as_it_lands() {
    let cluster = Cluster::start(&[]);
    let mut db = utc(&cluster);
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "up", "tasks": [{"name": "load", "type": "shell",
            "script": format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())}]})
        .to_string(),
    );
    define(
        &mut db,
        &dependent(
            "down",
            json!([{"workflow": "up", "cycle": "day", "date_value": "today"}]),
            json!({}),
        )
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    // Nothing of today yet; yesterday's run does not count.
    let yesterday = start_at(&mut db, "up", "2024-03-14 02:00:00+00");
    let down = start_at(&mut db, "down", "2024-03-15 05:00:00+00");
    waiting(&mut db, down, "d");
    let up = start_at(&mut db, "up", "2024-03-15 02:00:00+00");
    assert_eq!(
        task_state(&mut db, down, "d"),
        "running",
        "still waiting while up runs"
    );
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, yesterday, 60), "succeeded");
    assert_eq!(wait(&mut db, up, 60), "succeeded");
    assert_eq!(wait(&mut db, down, 60), "succeeded");
    // Woken by the upstream's end, not by its check_interval of 5 minutes. Both ended_at are
    // their transaction's start, and the master's transaction may begin a moment before the
    // upstream's commit it then reads: the lag may be a little below zero.
    let lag: f64 = db
        .query_one(
            "SELECT extract(epoch FROM d.ended_at - u.ended_at)::float8
             FROM sched.task_instances d, sched.workflow_instances u
             WHERE d.workflow_instance_id = $1 AND d.task = 'd' AND u.id = $2",
            &[&down, &up],
        )
        .unwrap()
        .get(0);
    assert!(
        (-1.0..1.0).contains(&lag),
        "dependent ended {lag} s after its upstream"
    );
    let log = task_output(&mut db, down, "d");
    assert!(log.iter().any(|l| l == &format!("dependent: succeeded: up day today: succeeded (instance {up})")), "{log:?}");
    assert_eq!(task_state(&mut db, down, "next"), "succeeded");
}

#[test]
fn last_week_needs_all_seven_days() {
    let cluster = Cluster::start(&[]);
    let mut db = utc(&cluster);
    define(
        &mut db,
        &json!({"name": "daily", "tasks": [{"name": "t", "type": "empty"}]}).to_string(),
    );
    define(
        &mut db,
        &dependent(
            "weekly",
            json!([{"workflow": "daily", "cycle": "week", "date_value": "lastWeek"}]),
            json!({}),
        )
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    // 2024-03-13 is a Wednesday: last week is Monday 4 to Sunday 10 March.
    for day in [4, 5, 6, 7, 8, 10] {
        let id = start_at(&mut db, "daily", &format!("2024-03-{day:02} 01:00:00+00"));
        assert_eq!(wait(&mut db, id, 60), "succeeded");
    }
    let weekly = start_at(&mut db, "weekly", "2024-03-13 06:00:00+00");
    waiting(&mut db, weekly, "d");
    let log = task_output(&mut db, weekly, "d");
    assert!(
        log.iter()
            .any(|l| l.contains("daily week lastWeek: waiting")),
        "{log:?}"
    );
    let saturday = start_at(&mut db, "daily", "2024-03-09 01:00:00+00");
    assert_eq!(wait(&mut db, saturday, 60), "succeeded");
    assert_eq!(wait(&mut db, weekly, 60), "succeeded");
}

#[test]
fn or_of_two_items_and_a_failed_upstream_under_both_policies() {
    let cluster = Cluster::start(&[]);
    let mut db = utc(&cluster);
    define(
        &mut db,
        &json!({"name": "a", "tasks": [{"name": "t", "type": "shell", "script": "exit 1"}]})
            .to_string(),
    );
    define(
        &mut db,
        &json!({"name": "b", "tasks": [{"name": "t", "type": "empty"}]}).to_string(),
    );
    let mut either = dependent(
        "either",
        json!([{"workflow": "a", "cycle": "day", "date_value": "today"},
               {"workflow": "b", "task": "t", "cycle": "day", "date_value": "today"}]),
        json!({}),
    );
    either["tasks"][0]["groups"][0]["relation"] = json!("or");
    define(&mut db, &either.to_string());
    define(
        &mut db,
        &dependent(
            "strict",
            json!([{"workflow": "a", "cycle": "day", "date_value": "today"}]),
            json!({}),
        )
        .to_string(),
    );
    define(
        &mut db,
        &dependent(
            "patient",
            json!([{"workflow": "a", "cycle": "day", "date_value": "today"}]),
            json!({"on_failure": "wait", "wait_for": "2 s"}),
        )
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let a = start_at(&mut db, "a", "2024-03-15 01:00:00+00");
    assert_eq!(wait(&mut db, a, 60), "failed");

    // a failed, b has not run: OR waits for b.
    let either = start_at(&mut db, "either", "2024-03-15 06:00:00+00");
    waiting(&mut db, either, "d");
    let b = start_at(&mut db, "b", "2024-03-15 01:00:00+00");
    assert_eq!(wait(&mut db, b, 60), "succeeded");
    assert_eq!(wait(&mut db, either, 60), "succeeded");

    // fail: the failed upstream fails the task at once, and the instance with it.
    let strict = start_at(&mut db, "strict", "2024-03-15 06:00:00+00");
    assert_eq!(wait(&mut db, strict, 60), "failed");
    assert_eq!(task_state(&mut db, strict, "d"), "failed");

    // wait: it waits for a rerun of the upstream to succeed, until wait_for has passed.
    let patient = start_at(&mut db, "patient", "2024-03-15 06:00:00+00");
    waiting(&mut db, patient, "d");
    assert_eq!(wait(&mut db, patient, 60), "failed");
    let waited: f64 = db
        .query_one(
            "SELECT extract(epoch FROM ended_at - started_at)::float8 FROM sched.task_instances
             WHERE workflow_instance_id = $1 AND task = 'd'",
            &[&patient],
        )
        .unwrap()
        .get(0);
    assert!(waited >= 2.0, "waited {waited} s");
}

#[test]
fn parameter_passing_and_self_dependency() {
    let cluster = Cluster::start(&[]);
    let mut db = utc(&cluster);
    define(
        &mut db,
        &json!({"name": "producer", "tasks": [{"name": "t", "type": "shell",
            "script": "echo '${setValue(rows=42)}'", "out": [{"name": "rows"}]}]})
        .to_string(),
    );
    let mut consumer = dependent(
        "consumer",
        json!([{"workflow": "producer", "cycle": "day", "date_value": "today", "parameter_passing": true}]),
        json!({}),
    );
    consumer["tasks"][1]["script"] = json!("echo rows=${rows}");
    define(&mut db, &consumer.to_string());
    // Each run depends on yesterday's run of itself; the very first has none and goes ahead.
    define(
        &mut db,
        &dependent(
            "chain",
            json!([{"workflow": "chain", "cycle": "day", "date_value": "last1Days"}]),
            json!({}),
        )
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let p = start_at(&mut db, "producer", "2024-03-15 01:00:00+00");
    assert_eq!(wait(&mut db, p, 60), "succeeded");
    let c = start_at(&mut db, "consumer", "2024-03-15 08:00:00+00");
    assert_eq!(wait(&mut db, c, 60), "succeeded");
    assert_eq!(task_output(&mut db, c, "next"), ["rows=42"]);

    let first = start_at(&mut db, "chain", "2024-03-15 01:00:00+00");
    assert_eq!(wait(&mut db, first, 60), "succeeded");
    let gap = start_at(&mut db, "chain", "2024-03-20 01:00:00+00");
    waiting(&mut db, gap, "d");
    let day_before = start_at(&mut db, "chain", "2024-03-19 01:00:00+00");
    waiting(&mut db, day_before, "d");
    // Stopping the day before ends the period gap waits on without success: gap fails.
    db.execute("SELECT sched.stop_workflow($1)", &[&day_before])
        .unwrap();
    assert_eq!(wait(&mut db, day_before, 60), "stopped");
    assert_eq!(task_state(&mut db, day_before, "d"), "killed");
    assert_eq!(wait(&mut db, gap, 60), "failed");
    let log = task_output(&mut db, gap, "d");
    assert!(
        log.iter().any(|l| l
            == &format!("dependent: failed: chain day last1Days: failed (instance {day_before})")),
        "{log:?}"
    );
}

#[test]
fn a_dependent_backfill_backfills_the_workflows_that_depend_on_it() {
    let cluster = Cluster::start(&[]);
    let mut db = utc(&cluster);
    define(
        &mut db,
        &json!({"name": "source", "tasks": [{"name": "t", "type": "empty"}]}).to_string(),
    );
    define(
        &mut db,
        &json!({"name": "report", "tasks": [
            {"name": "unrelated", "type": "shell", "script": "echo never"},
            {"name": "d", "type": "dependent", "check_interval": "5 min",
             "groups": [{"items": [{"workflow": "source", "cycle": "day", "date_value": "today"}]}]},
            {"name": "build", "type": "shell", "deps": ["d"], "script": "echo ${system.biz.curdate}"}]})
        .to_string(),
    );
    // A weekly dependent is not in a daily backfill.
    define(
        &mut db,
        &dependent(
            "weekly",
            json!([{"workflow": "source", "cycle": "week", "date_value": "lastWeek"}]),
            json!({}),
        )
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let bf: i64 = db
        .query_one(
            "SELECT sched.backfill('source', ARRAY['2024-03-01 00:00+00', '2024-03-02 00:00+00']::timestamptz[],
                                   '{\"dependents\": true, \"mode\": \"parallel\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    let (dep_bf, workflow): (i64, String) =
        wait_for(Duration::from_secs(60), "both backfills succeeded", || {
            let rows = db
                .query(
                    "SELECT id, workflow, state, triggered_by FROM sched.backfills ORDER BY id",
                    &[],
                )
                .unwrap();
            let done = rows.len() == 2 && rows.iter().all(|r| r.get::<_, String>(2) == "succeeded");
            done.then(|| {
                assert_eq!(rows[1].get::<_, Option<i64>>(3), Some(bf));
                (rows[1].get(0), rows[1].get(1))
            })
        });
    assert_eq!(workflow, "report");
    let built: Vec<(String, String)> = db
        .query(
            "SELECT to_char(bd.schedule_time, 'YYYY-MM-DD'), string_agg(ti.task || '=' || ti.state, ',' ORDER BY ti.task)
             FROM sched.backfill_dates bd JOIN sched.task_instances ti ON ti.workflow_instance_id = bd.instance_id
             WHERE bd.backfill_id = $1 GROUP BY bd.schedule_time ORDER BY bd.schedule_time",
            &[&dep_bf],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        built,
        [
            (
                "2024-03-01".to_owned(),
                "build=succeeded,d=succeeded".to_owned()
            ),
            (
                "2024-03-02".to_owned(),
                "build=succeeded,d=succeeded".to_owned()
            )
        ]
    );
    let err = error_of(db.query_one(
        "SELECT sched.backfill('source', ARRAY['2024-03-01 00:00+00']::timestamptz[], '{\"dependents\": \"yes\"}')",
        &[],
    ));
    assert!(
        err.contains("options.dependents: must be true or false"),
        "{err}"
    );
}

#[test]
fn a_dependent_task_reads_only_what_its_owner_may_still_see() {
    let cluster = Cluster::start(&[]);
    let mut db = utc(&cluster);
    db.batch_execute(
        "CREATE ROLE team LOGIN; GRANT sched_user TO team;
         CREATE ROLE spy LOGIN; GRANT sched_user TO spy; GRANT team TO spy;",
    )
    .unwrap();
    let mut team = cluster.connect_as("team");
    team.batch_execute("SET TimeZone = 'UTC'").unwrap();
    define(
        &mut team,
        &json!({"name": "private", "tasks": [{"name": "t", "type": "empty"}]}).to_string(),
    );
    let mut spy = cluster.connect_as("spy");
    spy.batch_execute("SET TimeZone = 'UTC'").unwrap();
    define(
        &mut spy,
        &dependent(
            "peek",
            json!([{"workflow": "private", "cycle": "day", "date_value": "today"}]),
            json!({}),
        )
        .to_string(),
    );
    // Without membership the definition is refused.
    db.batch_execute("CREATE ROLE outsider LOGIN; GRANT sched_user TO outsider;")
        .unwrap();
    let mut outsider = cluster.connect_as("outsider");
    let err = error_of(outsider.query_one(
        "SELECT sched.create_workflow($1)",
        &[&dependent(
            "peek2",
            json!([{"workflow": "private", "cycle": "day", "date_value": "today"}]),
            json!({}),
        )],
    ));
    assert!(
        err.contains("permission denied for workflow \"private\""),
        "{err}"
    );

    let _worker = cluster.worker("w1", &[]);
    let private = start_at(&mut team, "private", "2024-03-15 01:00:00+00");
    assert_eq!(wait(&mut team, private, 60), "succeeded");
    // Membership revoked after the definition: the private run is not theirs to see any more.
    db.batch_execute("REVOKE team FROM spy").unwrap();
    let peek = start_at(&mut spy, "peek", "2024-03-15 06:00:00+00");
    assert_eq!(wait(&mut spy, peek, 60), "failed");
    let log = task_output(&mut spy, peek, "d");
    assert!(
        log.iter()
            .any(|l| l == "dependent: failed: private day today: failed"),
        "{log:?}"
    );
}
