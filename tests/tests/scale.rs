//! Big instances: the plans the engine keeps for a session follow its tables' growth.

use std::time::Duration;

use sched_tests::*;

/// Defines a workflow of `tasks` (spec texts) and runs it once, with a worker of 16 slots.
fn run_to_success(cluster: &Cluster, db: &mut Client, name: &str, tasks: &[String]) {
    define(
        db,
        &format!(r#"{{"name": "{name}", "tasks": [{}]}}"#, tasks.join(", ")),
    );
    let _worker = cluster.worker("w1", &["--slots", "16"]);
    let id = start(db, name);
    assert_eq!(wait(db, id, 600), "succeeded");
}

/// Autovacuum is off, so only the master can have analysed the table: once an instance's
/// attempts have more than doubled sched.task_instance, its statistics know of them, which
/// invalidates every session's cached plans of the engine (made while the table was empty).
#[test]
fn the_master_analyses_an_engine_table_once_it_has_outgrown_its_statistics() {
    let cluster = Cluster::start(&["autovacuum = off"]);
    let mut db = cluster.connect();
    let analysed = |db: &mut Client| -> (i64, f32) {
        let row = db
            .query_one(
                "SELECT s.analyze_count, c.reltuples FROM pg_stat_user_tables s
                 JOIN pg_class c ON c.oid = s.relid WHERE s.relid = 'sched.task_instance'::regclass",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(analysed(&mut db).0, 0);

    let fan_out = 3000;
    let mut tasks = vec![r#"{"name": "start", "type": "empty"}"#.to_string()];
    tasks.extend(
        (0..fan_out).map(|i| format!(r#"{{"name": "t{i}", "type": "empty", "deps": ["start"]}}"#)),
    );
    let all: Vec<String> = (0..fan_out).map(|i| format!(r#""t{i}""#)).collect();
    tasks.push(format!(
        r#"{{"name": "end", "type": "empty", "deps": [{}]}}"#,
        all.join(", ")
    ));
    run_to_success(&cluster, &mut db, "wide", &tasks);

    let (count, rows) = wait_for(
        Duration::from_secs(60),
        "the master to analyse sched.task_instance",
        || {
            let (count, rows) = analysed(&mut db);
            (count > 0).then_some((count, rows))
        },
    );
    assert!(
        rows >= 1000.0,
        "the analysis saw the instance's attempts ({rows} rows, {count} analyses)"
    );
    // Doubling: a table that keeps its size is not analysed again and again.
    assert!(count <= 4, "{count} analyses of one growth");
}

/// Every claimed attempt leaves a dead entry at the head of the ready queue, which every claim
/// of its group steps over until a vacuum removes it. Autovacuum is on but visits the database
/// only every ten minutes here: after a burst the master vacuums sched.task_instance itself (a
/// VACUUM, which autovacuum's count does not include), and a claim of the empty queue reads a
/// few index pages again, not one for every two hundred tasks of the burst.
#[test]
fn the_master_vacuums_the_task_table_soon_after_a_burst() {
    let cluster = Cluster::start(&["autovacuum_naptime = '10min'"]);
    let mut db = cluster.connect();
    run_to_success(&cluster, &mut db, "burst", &independent_tasks(BURST));
    wait_vacuumed(&mut db);
}

/// A vacuum that finds the table locked skips it, saying so in the server log, and the master
/// vacuums it once the lock is gone.
#[test]
fn the_master_s_vacuum_skips_a_locked_task_table_and_runs_once_it_is_free() {
    let cluster = Cluster::start(&["autovacuum_naptime = '10min'"]);
    let mut db = cluster.connect();
    let mut locker = cluster.connect();
    locker
        .batch_execute("BEGIN; LOCK TABLE sched.task_instance IN SHARE UPDATE EXCLUSIVE MODE")
        .unwrap();
    run_to_success(&cluster, &mut db, "burst", &independent_tasks(BURST));
    wait_for(
        Duration::from_secs(60),
        "the master's vacuum to skip the locked table",
        || {
            cluster
                .server_log()
                .contains(r#"skipping vacuum of "task_instance" --- lock not available"#)
                .then_some(())
        },
    );
    assert_eq!(vacuum_count(&mut db), 0);
    locker.batch_execute("ROLLBACK").unwrap();
    wait_vacuumed(&mut db);
}

const BURST: usize = 20_000;

fn independent_tasks(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r#"{{"name": "t{i}", "type": "empty"}}"#))
        .collect()
}

fn vacuum_count(db: &mut Client) -> i64 {
    db.query_one(
        "SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'sched.task_instance'::regclass",
        &[],
    )
    .unwrap()
    .get(0)
}

/// Waits for a vacuum of sched.task_instance after which a claim of the empty queue reads at
/// most 40 pages: the master keeps the dead rows under ten thousand, about half of them the
/// queue's (25 pages at most), against 100 pages for the burst's 20,000 entries.
fn wait_vacuumed(db: &mut Client) {
    // What a claim of the empty queue reads: the whole dead head, without a vacuum.
    let pages_read = |db: &mut Client| -> i64 {
        let plan: serde_json::Value = db
            .query_one(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
                 SELECT q.id FROM sched.task_instance q
                 WHERE q.state = 'queued' AND q.worker_group = 'default'
                 ORDER BY q.workflow_priority, q.task_priority, q.id LIMIT 16 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .unwrap()
            .get(0);
        let top = &plan[0]["Plan"];
        top["Shared Hit Blocks"].as_i64().unwrap() + top["Shared Read Blocks"].as_i64().unwrap()
    };
    wait_for(
        Duration::from_secs(60),
        "the master to vacuum sched.task_instance, and a claim of the empty queue to read at most 40 pages",
        || (vacuum_count(db) > 0 && pages_read(db) <= 40).then_some(()),
    );
}

/// An instance's tasks come in DAG order a page at a time: the depths are kept at definition
/// (the spec lists tasks in any order), the pages add up to the whole list, and a run started
/// from some tasks is ordered, and paged, within its own scope. The CLI's status pages too.
#[test]
fn an_instance_s_tasks_come_a_page_at_a_time_in_dag_order() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "paged", "tasks": [
            {"name": "d", "type": "empty", "deps": ["c", "b"]},
            {"name": "c", "type": "empty", "deps": ["a"]},
            {"name": "b", "type": "empty", "deps": ["a"]},
            {"name": "a", "type": "empty"},
            {"name": "e", "type": "empty", "deps": ["d"]},
            {"name": "z", "type": "empty"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "paged");
    assert_eq!(wait(&mut db, id, 60), "succeeded");

    type Row = (String, i32, Vec<String>, String);
    let page = |db: &mut Client, id: i64, after: Option<&str>, max: Option<i32>| -> Vec<Row> {
        db.query(
            "SELECT task, depth, deps, state FROM sched.instance_tasks($1, $2, $3)",
            &[&id, &after, &max],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
    };
    let all = page(&mut db, id, None, None);
    let row = |t: &str, d: i32, deps: &[&str]| -> Row {
        (
            t.to_string(),
            d,
            deps.iter().map(|x| x.to_string()).collect(),
            "succeeded".to_string(),
        )
    };
    assert_eq!(
        all,
        [
            row("a", 0, &[]),
            row("z", 0, &[]),
            row("c", 1, &["a"]),
            row("b", 1, &["a"]),
            row("d", 2, &["b", "c"]),
            row("e", 3, &["d"]),
        ]
    );
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let next = page(&mut db, id, after.as_deref(), Some(2));
        if next.is_empty() {
            break;
        }
        assert!(next.len() <= 2);
        after = Some(next.last().unwrap().0.clone());
        paged.extend(next);
    }
    assert_eq!(paged, all);

    let err = error_of(db.query("SELECT * FROM sched.instance_tasks($1, 'nope', 10)", &[&id]));
    assert!(err.contains("after:") && err.contains("\"nope\""), "{err}");
    let err = error_of(db.query("SELECT * FROM sched.instance_tasks($1, NULL, 0)", &[&id]));
    assert!(
        err.contains("max_rows: must be between 1 and 1000"),
        "{err}"
    );

    // Downstream of c: c, d (whose other upstream task b is outside the run) and e.
    let scoped: i64 = db
        .query_one(
            "SELECT sched.start_workflow('paged', '{}', '{\"start_tasks\": [\"c\"]}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, scoped, 60), "succeeded");
    let whole = page(&mut db, scoped, None, None);
    assert_eq!(
        whole,
        [row("c", 0, &[]), row("d", 1, &["c"]), row("e", 2, &["d"])]
    );
    let mut paged = page(&mut db, scoped, None, Some(1));
    paged.extend(page(&mut db, scoped, Some("c"), Some(1)));
    paged.extend(page(&mut db, scoped, Some("d"), Some(5)));
    assert_eq!(paged, whole);
    let err = error_of(db.query(
        "SELECT * FROM sched.instance_tasks($1, 'a', 10)",
        &[&scoped],
    ));
    assert!(err.contains("has no task \"a\""), "{err}");

    let text = cluster.sched_expect("postgres", &["status", &id.to_string(), "--limit", "4"], 0);
    assert!(
        text.contains(&format!("more tasks follow: sched status {id} --after 'b'")),
        "{text}"
    );
    assert!(!text.contains(" d "), "{text}");
    let text = cluster.sched_expect(
        "postgres",
        &["--json", "status", &id.to_string(), "--after", "b"],
        0,
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["d", "e"]);
    assert!(json["next_after"].is_null(), "{json}");
}

/// Every claim first looks for what an earlier try of itself claimed (a retry whose answer was
/// lost): it finds them by its token, instead of reading every task its worker is running. The
/// reads are this session's own (`pg_stat_xact_user_tables`), so the master's do not count.
#[test]
fn a_claim_finds_an_earlier_try_of_itself_without_reading_what_its_worker_runs() {
    let cluster = Cluster::start(&["sched.worker_timeout = '10min'"]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "one", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    let running = 2000;
    db.execute(
        "SELECT count(sched.start_workflow('one')) FROM generate_series(1, $1)",
        &[&running],
    )
    .unwrap();
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let w: i64 = worker
        .query_one(
            "SELECT sched.register_worker('w', 'h', ARRAY['default'], 5000)",
            &[],
        )
        .unwrap()
        .get(0);
    let claim = |worker: &mut Client, max: i32, token: i64| -> i64 {
        worker
            .query_one(
                "SELECT count(*) FROM sched.claim_tasks($1, $2, $3)",
                &[&w, &max, &token],
            )
            .unwrap()
            .get(0)
    };
    let mut claimed = 0;
    for token in 0..running / 10 {
        claimed += claim(&mut worker, 10, token as i64);
    }
    assert_eq!(claimed, running as i64);
    db.batch_execute("ANALYZE sched.task_instance").unwrap();

    // The session's counts pile up until they are flushed: start from nothing.
    worker
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .unwrap();
    let mut tx = worker.transaction().unwrap();
    let found: i64 = tx
        .query_one(
            "SELECT count(*) FROM sched.claim_tasks($1, 10, $2)",
            &[&w, &(running as i64)],
        )
        .unwrap()
        .get(0);
    assert_eq!(found, 0, "nothing is left to claim");
    let read: i64 = tx
        .query_one(
            "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables
             WHERE relid = 'sched.task_instance'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    tx.rollback().unwrap();
    assert!(
        read < 100,
        "a claim read {read} attempts while its worker runs {running}"
    );
    assert_eq!(
        claim(&mut worker, 10, 7),
        10,
        "a retry still gets what its first try claimed"
    );
}

/// An instance's attempts come by the same pages as its tasks: every attempt of the page's
/// tasks (a retry is one, each run's are), none of another page's, and only to whom may see
/// the run.
#[test]
fn an_instance_s_attempts_come_by_the_pages_of_its_tasks() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "retried", "tasks": [
            {"name": "a", "type": "empty"},
            {"name": "b", "type": "shell", "deps": ["a"], "script": "exit 3", "retries": 1, "retry_interval": "0 s"},
            {"name": "c", "type": "empty", "deps": ["a"]}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "retried");
    assert_eq!(wait(&mut db, id, 60), "failed");
    db.execute("SELECT sched.rerun_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "failed");

    type Row = (i64, String, i32, i32, String);
    let attempts = |db: &mut Client, after: Option<&str>, max: Option<i32>| -> Vec<Row> {
        db.query(
            "SELECT id, task, run, retry, state FROM sched.instance_attempts($1, $2, $3)",
            &[&id, &after, &max],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
    };
    let all = attempts(&mut db, None, None);
    let everything: Vec<Row> = db
        .query(
            "SELECT id, task, run, retry, state FROM sched.task_instances
             WHERE workflow_instance_id = $1 ORDER BY id",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(all, everything);
    let of = |rows: &[Row], task: &str| -> Vec<(i32, i32, String)> {
        rows.iter()
            .filter(|r| r.1 == task)
            .map(|r| (r.2, r.3, r.4.clone()))
            .collect()
    };
    let failed = |run, retry| (run, retry, "failed".to_owned());
    assert_eq!(
        of(&all, "b"),
        [failed(1, 0), failed(1, 1), failed(2, 0), failed(2, 1)]
    );

    // The pages of instance_tasks: a, then b, then c.
    let first = attempts(&mut db, None, Some(1));
    assert!(
        first.iter().all(|r| r.1 == "a") && !first.is_empty(),
        "{first:?}"
    );
    let second = attempts(&mut db, Some("a"), Some(1));
    assert_eq!(of(&second, "b"), of(&all, "b"));
    assert_eq!(second.len(), 4, "{second:?}");
    let rest = attempts(&mut db, Some("b"), Some(1000));
    assert!(
        rest.iter().all(|r| r.1 == "c") && !rest.is_empty(),
        "{rest:?}"
    );
    assert_eq!(first.len() + second.len() + rest.len(), all.len());

    let err = error_of(db.query("SELECT * FROM sched.instance_attempts($1, 'nope')", &[&id]));
    assert!(err.contains("after:") && err.contains("\"nope\""), "{err}");
    let err = error_of(db.query(
        "SELECT * FROM sched.instance_attempts($1, NULL, 1001)",
        &[&id],
    ));
    assert!(
        err.contains("max_rows: must be between 1 and 1000"),
        "{err}"
    );
    // Another user's run is not theirs to read, nor is one that does not exist.
    db.batch_execute("CREATE ROLE eve IN ROLE sched_user; SET ROLE eve")
        .unwrap();
    let err = error_of(db.query("SELECT * FROM sched.instance_attempts($1)", &[&id]));
    assert!(err.contains(&format!("workflow instance {id}")), "{err}");
    let err = error_of(db.query("SELECT * FROM sched.instance_attempts(999999)", &[]));
    assert!(err.contains("does not exist"), "{err}");
}
