//! Workers: many instances on two workers, failover after SIGKILL, graceful shutdown, CLI,
//! and whom a ready task wakes.

use std::collections::HashMap;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use sched_tests::metrics::{get, metrics_port, scrape};
use sched_tests::*;

#[test]
fn many_instances_on_two_workers_run_every_task_exactly_once() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let runs = cluster.dir.join("runs");
    // A fan-out and a join, so that concurrent completions on two workers race on the join.
    let mut tasks = vec![serde_json::json!({"name": "root", "type": "shell",
        "script": format!("echo $SCHED_TASK_INSTANCE_ID >> {}", runs.display())})];
    for i in 0..8 {
        tasks.push(
            serde_json::json!({"name": format!("mid{i}"), "type": "shell", "deps": ["root"],
            "script": format!("echo $SCHED_TASK_INSTANCE_ID >> {}", runs.display())}),
        );
    }
    tasks.push(serde_json::json!({"name": "join", "type": "shell",
        "deps": (0..8).map(|i| format!("mid{i}")).collect::<Vec<_>>(),
        "script": format!("echo $SCHED_TASK_INSTANCE_ID >> {}", runs.display())}));
    db.execute(
        "SELECT sched.create_workflow($1)",
        &[&serde_json::json!({"name": "fan", "tasks": tasks})],
    )
    .unwrap();

    let _w1 = cluster.worker("w1", &["--slots", "4"]);
    let _w2 = cluster.worker("w2", &["--slots", "4"]);
    let instances: Vec<i64> = (0..30).map(|_| start(&mut db, "fan")).collect();
    for id in &instances {
        assert_eq!(wait(&mut db, *id, 120), "succeeded", "instance {id}");
    }

    let rows = db
        .query(
            "SELECT id, workflow_instance_id, task, state, attempt, worker FROM sched.task_instances
             WHERE workflow = 'fan'",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 30 * 10, "one attempt per task per instance");
    let mut per_worker: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        assert_eq!(r.get::<_, String>(3), "succeeded");
        assert_eq!(r.get::<_, i32>(4), 1);
        *per_worker.entry(r.get(5)).or_default() += 1;
    }
    assert_eq!(
        per_worker.len(),
        2,
        "both workers ran tasks: {per_worker:?}"
    );

    let ran = std::fs::read_to_string(&runs).unwrap();
    let mut ids: Vec<i64> = ran.lines().map(|l| l.parse().unwrap()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "no task instance ran twice");
    assert_eq!(ids.len(), 300, "every task instance ran");
}

#[test]
fn a_worker_killed_mid_task_is_failed_over_and_the_workflow_succeeds() {
    let cluster = Cluster::start(&["sched.worker_timeout = 2"]);
    let mut db = cluster.connect();
    let started = cluster.dir.join("started");
    define(
        &mut db,
        &serde_json::json!({"name": "survivor", "tasks": [
            {"name": "work", "type": "shell",
             "script": format!("if [ ! -e {0} ]; then echo $$ > {0}; sleep 300; fi; echo done", started.display())},
            {"name": "after", "type": "shell", "script": "echo after", "deps": ["work"]}]})
        .to_string(),
    );
    let mut doomed = cluster.worker("doomed", &[]);
    let id = start(&mut db, "survivor");
    wait_for(
        Duration::from_secs(30),
        "the first attempt to start",
        || {
            std::fs::read_to_string(&started)
                .ok()
                .filter(|s| s.ends_with('\n'))
                .map(|_| ())
        },
    );
    doomed.signal(libc::SIGKILL);
    doomed.wait_exit(Duration::from_secs(10));
    // Its orphaned `sleep 300` may live on (as in DolphinScheduler, a lost worker's processes are
    // not fenced off the host); the second attempt sees the marker and finishes at once.
    let _rescuer = cluster.worker("rescuer", &[]);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let orphan: i32 = std::fs::read_to_string(&started)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe { libc::killpg(orphan, libc::SIGKILL) };

    let rows = db
        .query(
            "SELECT task, state, attempt, worker FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY id",
            &[&id],
        )
        .unwrap();
    let got: Vec<(String, String, i32, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        got,
        [
            (
                "work".into(),
                "need_fault_tolerance".into(),
                1,
                "doomed".into()
            ),
            ("work".into(), "succeeded".into(), 2, "rescuer".into()),
            ("after".into(), "succeeded".into(), 1, "rescuer".into()),
        ]
    );
    let alive: bool = db
        .query_one("SELECT alive FROM sched.workers WHERE name = 'doomed'", &[])
        .unwrap()
        .get(0);
    assert!(!alive, "the killed worker is marked dead");
}

#[test]
fn sigterm_lets_running_tasks_finish_then_exits_zero() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let started = cluster.dir.join("started");
    define(
        &mut db,
        &serde_json::json!({"name": "graceful", "tasks": [
            {"name": "t", "type": "shell", "script": format!("touch {}; sleep 1; echo finished", started.display())}]})
        .to_string(),
    );
    let mut worker = cluster.worker("w1", &["--shutdown-grace", "60"]);
    let id = start(&mut db, "graceful");
    wait_for(Duration::from_secs(30), "the task to start", || {
        started.exists().then_some(())
    });
    worker.signal(libc::SIGTERM);
    let status = worker.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(instance_state(&mut db, id), "succeeded");
    let alive: bool = db
        .query_one("SELECT alive FROM sched.workers WHERE name = 'w1'", &[])
        .unwrap()
        .get(0);
    assert!(!alive, "a clean shutdown deregisters");
}

#[test]
fn sigterm_kills_what_outlives_the_grace_period_and_reports_it() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let started = cluster.dir.join("started");
    define(
        &mut db,
        &serde_json::json!({"name": "lingering", "tasks": [
            {"name": "t", "type": "shell", "script": format!("touch {}; sleep 300", started.display())}]})
        .to_string(),
    );
    let mut worker = cluster.worker("w1", &["--shutdown-grace", "1"]);
    let id = start(&mut db, "lingering");
    wait_for(Duration::from_secs(30), "the task to start", || {
        started.exists().then_some(())
    });
    worker.signal(libc::SIGTERM);
    let status = worker.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(
        task_states(&mut db, id),
        [("t".to_owned(), "killed".to_owned(), 1)]
    );
    assert_eq!(instance_state(&mut db, id), "failed");
}

#[test]
fn bad_flags_and_an_unreachable_database_exit_non_zero_saying_what_to_fix() {
    let out = std::process::Command::new(worker_bin())
        .args(["--database-url", "host=/nonexistent", "--slots", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--slots"), "{stderr}");

    let out = std::process::Command::new(worker_bin())
        .args([
            "--database-url",
            "host=/nonexistent-dir user=nobody dbname=nowhere",
        ])
        .env_remove("SCHED_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot register with the database"),
        "{stderr}"
    );
    assert!(stderr.contains("--database-url"), "{stderr}");

    let out = std::process::Command::new(worker_bin())
        .env_remove("SCHED_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--database-url"));
}

#[test]
fn the_master_comes_back_after_being_terminated_and_still_fails_over() {
    let cluster = Cluster::start(&["sched.worker_timeout = 2"]);
    let mut db = cluster.connect();
    let master_pid = |db: &mut Client| -> Option<i32> {
        db.query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_sched master'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
    };
    let first = wait_for(Duration::from_secs(30), "the master to run", || {
        master_pid(&mut db)
    });
    db.execute("SELECT pg_terminate_backend($1)", &[&first])
        .unwrap();
    wait_for(Duration::from_secs(30), "a new master", || {
        master_pid(&mut db).filter(|pid| *pid != first)
    });

    // A registered worker that never heartbeats again is declared dead by the new master.
    let mut worker_db = cluster.connect_as(WORKER_ROLE);
    let ghost: i64 = worker_db
        .query_one(
            "SELECT sched.register_worker('ghost', 'nowhere', ARRAY['default'], 1)",
            &[],
        )
        .unwrap()
        .get(0);
    wait_for(
        Duration::from_secs(30),
        "the ghost worker to be declared dead",
        || {
            let alive: bool = db
                .query_one("SELECT alive FROM sched.worker WHERE id = $1", &[&ghost])
                .unwrap()
                .get(0);
            (!alive).then_some(())
        },
    );
    let still: Option<bool> = worker_db
        .query_one("SELECT sched.heartbeat($1, 0)", &[&ghost])
        .unwrap()
        .get(0);
    assert_eq!(
        still,
        Some(false),
        "a dead worker's heartbeat tells it to register again"
    );
}

#[test]
fn losing_the_database_connections_mid_task_loses_and_repeats_nothing() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let started = cluster.dir.join("started");
    let runs = cluster.dir.join("runs");
    define(
        &mut db,
        &serde_json::json!({"name": "flaky_network", "tasks": [
            {"name": "t", "type": "shell",
             "script": format!("echo run >> {}; touch {}; sleep 1; echo done", runs.display(), started.display())},
            {"name": "next", "type": "shell", "script": "echo next", "deps": ["t"]}]})
        .to_string(),
    );
    // No fallback polling: after the cut only a re-established LISTEN can wake the worker.
    let _worker = cluster.worker("w1", &["--poll-interval-ms", "600000"]);
    // Its LISTEN connection is made after it registers: the cut must find it.
    wait_for(Duration::from_secs(30), "the worker to listen", || {
        let listening: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = 'sched-worker' AND query ILIKE 'LISTEN%'",
                &[],
            )
            .unwrap()
            .get(0);
        (listening > 0).then_some(())
    });
    let id = start(&mut db, "flaky_network");
    wait_for(Duration::from_secs(30), "the task to start", || {
        started.exists().then_some(())
    });
    let cut: i64 = db
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sched-worker'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        cut >= 2,
        "the pool and the LISTEN connection were cut ({cut})"
    );
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(
        task_states(&mut db, id),
        [
            ("next".to_owned(), "succeeded".to_owned(), 1),
            ("t".to_owned(), "succeeded".to_owned(), 1)
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap(),
        "run\n",
        "the task ran once"
    );
    let log: Vec<String> = db
        .query(
            "SELECT sched.task_log(id) FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 't'",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(log, ["done"]);
    // The LISTEN connection came back too: a new start wakes the worker.
    let again = start(&mut db, "flaky_network");
    assert_eq!(wait(&mut db, again, 60), "succeeded");
}

#[test]
fn a_second_live_worker_with_the_same_name_is_refused() {
    let cluster = Cluster::start(&[]);
    let _first = cluster.worker("twin", &[]);
    let out = std::process::Command::new(worker_bin())
        .arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .args(["--name", "twin"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"worker "twin" is registered and alive"#),
        "{stderr}"
    );
    let mut db = cluster.connect();
    let live: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.workers WHERE name = 'twin' AND alive",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(live, 1, "the first registration is untouched");
}

#[test]
fn a_worker_that_cannot_report_after_the_grace_period_exits_non_zero_naming_the_tasks() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let started = cluster.dir.join("started");
    define(
        &mut db,
        &serde_json::json!({"name": "orphaned", "tasks": [
            {"name": "t", "type": "shell", "script": format!("touch {}; sleep 300", started.display())}]})
        .to_string(),
    );
    let mut worker = cluster.worker("w1", &["--shutdown-grace", "1"]);
    let id = start(&mut db, "orphaned");
    wait_for(Duration::from_secs(30), "the task to start", || {
        started.exists().then_some(())
    });
    let task: i64 = db
        .query_one(
            "SELECT id FROM sched.task_instance WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    drop(db);
    cluster.stop_server();
    worker.signal(libc::SIGTERM);
    let status = worker.wait_exit(Duration::from_secs(60));
    assert!(!status.success(), "exit status {status:?}");
    let log = std::fs::read_to_string(cluster.dir.join("worker-w1.log")).unwrap();
    assert!(
        log.contains("unreported") && log.contains(&task.to_string()),
        "{log}"
    );
}

/// A worker of `slots` slots in `group` that polls only every ten minutes, so that it claims
/// when woken, and serves its metrics; with the port they are served on.
fn quiet_worker(cluster: &Cluster, name: &str, group: &str, slots: &str) -> (Worker, u16) {
    let mut cmd = cluster.worker_command(name);
    cmd.arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .args(["--group", group, "--slots", slots])
        .args([
            "--poll-interval-ms",
            "600000",
            "--metrics-listen",
            "127.0.0.1:0",
        ]);
    let worker = cluster.start_worker(name, &mut cmd);
    let port = metrics_port(worker.pid(), &[]);
    (worker, port)
}

/// A cluster with the one-task workflow `one` and `n` workers of the default group that poll
/// only every ten minutes: what they claim, a wake-up made them claim.
fn idle_workers(n: usize) -> (Cluster, Client, Vec<(Worker, u16)>) {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "one", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    let idle = (0..n)
        .map(|i| quiet_worker(&cluster, &format!("idle{i}"), "default", "2"))
        .collect();
    (cluster, db, idle)
}

/// A wake-up that names a worker goes to that worker's channel, not to `sched_ready`, which
/// every worker listens on: the others' processes sleep on (with eight idle workers on two
/// cores, waking them all delayed the one named by about 0.2 ms).
#[test]
fn a_wake_up_that_names_a_worker_is_sent_on_its_own_channel_only() {
    let (cluster, mut db, _idle) = idle_workers(2);
    let ids: Vec<i64> = db
        .query("SELECT id FROM sched.worker WHERE alive ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids.len(), 2);
    let mut listener = cluster.connect();
    listener
        .batch_execute(&format!(
            "LISTEN sched_ready; LISTEN sched_ready_{}; LISTEN sched_ready_{}",
            ids[0], ids[1]
        ))
        .unwrap();
    let id = start(&mut db, "one");
    // The workers poll every ten minutes: the one named heard it on its channel.
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let mut heard: Vec<(String, String)> = Vec::new();
    let mut notifications = listener.notifications();
    let first = notifications
        .timeout_iter(Duration::from_secs(30))
        .next()
        .unwrap()
        .expect("the start's wake-up");
    heard.push((first.channel().to_owned(), first.payload().to_owned()));
    // Whatever the start's commit sent came with the first.
    let mut rest = notifications.iter();
    while let Some(n) = rest.next().unwrap() {
        heard.push((n.channel().to_owned(), n.payload().to_owned()));
    }
    let ran_on: i64 = db
        .query_one(
            "SELECT worker_id FROM sched.task_instance WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        heard,
        [(format!("sched_ready_{ran_on}"), format!("default {ran_on}"))],
        "one wake-up, on the channel of the worker that ran the task"
    );
}

#[test]
fn a_ready_task_wakes_one_idle_worker_and_one_that_cannot_take_it_wakes_the_others() {
    // Four idle workers of one group: each start wakes one of them, which claims the task.
    // Woken all together, as before, they made four claims per start.
    let (cluster, mut db, idle) = idle_workers(4);
    let claims = || -> f64 {
        idle.iter()
            .map(|(_, port)| get(&scrape(*port), "sched_worker_claims_total"))
            .sum()
    };
    let before = claims();
    const STARTS: usize = 12;
    for _ in 0..STARTS {
        let id = start(&mut db, "one");
        assert_eq!(wait(&mut db, id, 60), "succeeded");
    }
    // Each worker may still make the claim of its first connection (`Resync`) meanwhile.
    let made = claims() - before;
    assert!(
        made >= STARTS as f64 && made <= (STARTS + idle.len()) as f64,
        "{made} claims for {STARTS} starts"
    );

    // Two workers of one slot in another group, one of them busy. The one named is the one
    // with the most free slots at its last heartbeat, which a heartbeat may not have told yet:
    // here the busy one. It passes the wake-up on, and the other claims at once (both poll
    // only every ten minutes).
    let _pair: Vec<(Worker, u16)> = ["pair0", "pair1"]
        .iter()
        .map(|name| quiet_worker(&cluster, name, "g2", "1"))
        .collect();
    define(
        &mut db,
        r#"{"name": "busy", "worker_group": "g2", "tasks": [{"name": "t", "type": "shell", "script": "sleep 600"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "quick", "worker_group": "g2", "tasks": [{"name": "t", "type": "empty"}]}"#,
    );
    let busy = start(&mut db, "busy");
    wait_running(&mut db, busy, 1);
    let busy_worker: i64 = db
        .query_one(
            "SELECT worker_id FROM sched.task_instance WHERE workflow_instance_id = $1",
            &[&busy],
        )
        .unwrap()
        .get(0);
    let mut tx = db.transaction().unwrap();
    tx.execute(
        "UPDATE sched.worker SET running = CASE WHEN id = $1 THEN 0 ELSE 1 END
          WHERE alive AND 'g2' = ANY (groups)",
        &[&busy_worker],
    )
    .unwrap();
    let quick: i64 = tx
        .query_one("SELECT sched.start_workflow('quick')", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    assert_eq!(wait(&mut db, quick, 60), "succeeded");
    let ran_on: i64 = db
        .query_one(
            "SELECT worker_id FROM sched.task_instance WHERE workflow_instance_id = $1",
            &[&quick],
        )
        .unwrap()
        .get(0);
    assert_ne!(ran_on, busy_worker);
    db.execute("SELECT sched.stop_workflow($1)", &[&busy])
        .unwrap();
}
