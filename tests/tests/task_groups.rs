//! Task groups: a group's size caps how many of its tasks run at once across workflows, slots
//! go by task_group_priority, and every way an attempt ends gives its slot back.

use sched_tests::*;
use serde_json::json;

/// The most attempts among `ids`' instances that ran at the same time.
fn most_at_once(db: &mut Client, ids: &[i64]) -> i64 {
    db.query_one(
        "WITH e AS (
             SELECT started_at AS at, 1 AS d FROM sched.task_instances WHERE workflow_instance_id = ANY($1) AND started_at IS NOT NULL
             UNION ALL
             SELECT ended_at, -1 FROM sched.task_instances WHERE workflow_instance_id = ANY($1) AND started_at IS NOT NULL)
         SELECT max(n)::bigint FROM (SELECT sum(d) OVER (ORDER BY at, d) AS n FROM e) s",
        &[&ids],
    )
    .unwrap()
    .get(0)
}

/// (slots in use, attempts waiting) of a task group.
fn usage(db: &mut Client, group: &str) -> (i64, i64) {
    let r = db
        .query_one(
            "SELECT in_use, waiting FROM sched.task_groups WHERE name = $1",
            &[&group],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

#[test]
fn a_group_of_two_caps_twenty_ready_tasks_across_workflows_and_hands_slots_by_priority() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // The tasks hold their slots until the test has seen who holds them.
    let gate = cluster.dir.join("gate");
    let script = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    db.execute(
        "SELECT sched.create_task_group('pool', 2, 'two at a time')",
        &[],
    )
    .unwrap();
    let tasks = |prefix: &str| -> Vec<serde_json::Value> {
        (0..10)
            .map(|i| {
                json!({"name": format!("{prefix}{i}"), "type": "shell", "task_group": "pool",
                       "task_group_priority": if prefix == "a" && i == 9 { 10 } else { 0 },
                       "script": script})
            })
            .collect()
    };
    define(
        &mut db,
        &json!({"name": "wa", "tasks": tasks("a")}).to_string(),
    );
    define(
        &mut db,
        &json!({"name": "wb", "tasks": tasks("b")}).to_string(),
    );
    // Queued before any worker is there: the slots are handed out when the tasks become ready.
    let a = start(&mut db, "wa");
    let b = start(&mut db, "wb");
    let (in_use, waiting) = usage(&mut db, "pool");
    assert_eq!((in_use, waiting), (2, 18));
    let first: Vec<String> = db
        .query(
            "SELECT task FROM sched.task_instances WHERE workflow_instance_id = $1 AND state = 'queued' ORDER BY task",
            &[&a],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The higher task_group_priority got a slot first, then queue order.
    assert_eq!(first, ["a0", "a9"]);
    // Eight free slots on the worker, two running tasks: the group decides.
    let _worker = cluster.worker("w1", &["--slots", "8"]);
    wait_running(&mut db, a, 2);
    assert_eq!(usage(&mut db, "pool"), (2, 18));
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, a, 120), "succeeded");
    assert_eq!(wait(&mut db, b, 120), "succeeded");
    assert_eq!(most_at_once(&mut db, &[a, b]), 2);
    let (in_use, waiting) = usage(&mut db, "pool");
    assert_eq!((in_use, waiting), (0, 0));
}

#[test]
fn failures_stops_and_kills_give_their_slots_back() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.execute("SELECT sched.create_task_group('one', 1)", &[])
        .unwrap();
    define(
        &mut db,
        r#"{"name": "g", "failure_strategy": "continue", "tasks": [
            {"name": "fails", "type": "shell", "task_group": "one", "task_group_priority": 5, "script": "exit 1"},
            {"name": "next", "type": "shell", "task_group": "one", "script": "echo next"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "hog", "tasks": [{"name": "sleeps", "type": "shell", "task_group": "one", "script": "sleep 600"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "g");
    assert_eq!(wait(&mut db, id, 60), "failed");
    assert_eq!(task_output(&mut db, id, "next"), ["next"]);

    let hog = start(&mut db, "hog");
    let queued_behind = start(&mut db, "g");
    wait_running(&mut db, hog, 1);
    let waiting: i64 = db
        .query_one(
            "SELECT waiting FROM sched.task_groups WHERE name = 'one'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(waiting, 2);
    db.execute("SELECT sched.stop_workflow($1)", &[&hog])
        .unwrap();
    assert_eq!(wait(&mut db, hog, 60), "stopped");
    assert_eq!(wait(&mut db, queued_behind, 60), "failed");
    assert_eq!(task_output(&mut db, queued_behind, "next"), ["next"]);

    // A waiting attempt that is stopped, and a kill of the holder, free the group too.
    let hog = start(&mut db, "hog");
    let behind = start(&mut db, "g");
    wait_running(&mut db, hog, 1);
    db.execute("SELECT sched.stop_workflow($1)", &[&behind])
        .unwrap();
    assert_eq!(wait(&mut db, behind, 60), "stopped");
    let sleeper: i64 = db
        .query_one(
            "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&hog],
        )
        .unwrap()
        .get(0);
    db.execute("SELECT sched.kill_task($1)", &[&sleeper])
        .unwrap();
    assert_eq!(wait(&mut db, hog, 60), "failed");
    let (in_use, waiting) = usage(&mut db, "one");
    assert_eq!((in_use, waiting), (0, 0));

    // The API checks what it is given and who asks.
    for (sql, expected) in [
        (
            "SELECT sched.create_task_group('one', 3)",
            "task group \"one\" already exists",
        ),
        (
            "SELECT sched.create_task_group('bad name', 3)",
            "name: \"bad name\" is not a valid task group name",
        ),
        (
            "SELECT sched.create_task_group('zero', 0)",
            "size: must be between 1 and 100000, got 0",
        ),
        (
            "SELECT sched.drop_task_group('one')",
            "task group \"one\" is used by workflow",
        ),
        (
            "SELECT sched.drop_task_group('nope')",
            "task group \"nope\" does not exist",
        ),
    ] {
        let err = error_of(db.execute(sql, &[]));
        assert!(err.contains(expected), "{sql}: {err}");
    }
    let err = error_of(db.query_one(
        "SELECT sched.create_workflow($1)",
        &[&json!({"name": "x", "tasks": [{"name": "t", "type": "empty", "task_group": "ghost"}]})],
    ));
    assert!(
        err.contains(
            "tasks[0].task_group: no task group \"ghost\"; create it with sched.create_task_group"
        ),
        "{err}"
    );
    db.execute(
        "SELECT sched.create_task_group('one', 3, 'wider', replace => true)",
        &[],
    )
    .unwrap();
    db.batch_execute("CREATE ROLE bob LOGIN IN ROLE sched_user")
        .unwrap();
    let err = error_of(
        cluster
            .connect_as("bob")
            .execute("SELECT sched.create_task_group('one', 1, '', true)", &[]),
    );
    assert!(err.contains("permission denied"), "{err}");
    let size: i32 = db
        .query_one("SELECT size FROM sched.task_groups WHERE name = 'one'", &[])
        .unwrap()
        .get(0);
    assert_eq!(size, 3);
}
