//! Big instances: the plans the engine keeps for a session follow its tables' growth.

use std::time::Duration;

use sched_tests::*;

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
    define(
        &mut db,
        &format!(r#"{{"name": "wide", "tasks": [{}]}}"#, tasks.join(", ")),
    );
    let _worker = cluster.worker("w1", &["--slots", "16"]);
    let id = start(&mut db, "wide");
    assert_eq!(wait(&mut db, id, 300), "succeeded");

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
