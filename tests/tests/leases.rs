//! Leases the database and a worker disagree on: an attempt the database believes runs on a
//! live worker that does not have it (its claim or its report went with a lost commit), an
//! outcome that reaches the database after its attempt was failed over, and a worker frozen
//! past its deadline.

use std::time::Duration;

use sched_tests::*;

fn worker_id(db: &mut Client, name: &str) -> i64 {
    wait_for(Duration::from_secs(30), "the worker to register", || {
        db.query_opt(
            "SELECT id FROM sched.worker WHERE name = $1 AND alive",
            &[&name],
        )
        .unwrap()
        .map(|r| r.get(0))
    })
}

/// The queued attempt of `task`, once it is queued.
fn queued(db: &mut Client, instance: i64, task: &str) -> i64 {
    wait_for(Duration::from_secs(30), "the task to be queued", || {
        db.query_opt(
            "SELECT id FROM sched.task_instances
             WHERE workflow_instance_id = $1 AND task = $2 AND state = 'queued'",
            &[&instance, &task],
        )
        .unwrap()
        .map(|r| r.get(0))
    })
}

/// What a commit lost on the way to a standby leaves behind: the database believes the worker
/// claimed the attempt `claimed_ago`, and the worker never heard of it.
fn believe_running(db: &mut Client, attempt: i64, worker: i64, claimed_ago: &str) {
    db.execute(
        "UPDATE sched.task_instance SET state = 'running', worker_id = $2,
                started_at = now() - $3::text::interval
         WHERE id = $1",
        &[&attempt, &worker, &claimed_ago],
    )
    .unwrap();
}

fn heartbeats(db: &mut Client, worker: i64) -> std::time::SystemTime {
    db.query_one(
        "SELECT last_heartbeat FROM sched.worker WHERE id = $1",
        &[&worker],
    )
    .unwrap()
    .get(0)
}

#[test]
fn an_attempt_a_live_worker_does_not_run_is_failed_over_once_past_the_grace() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let mut db = cluster.connect();
    // Nobody serves `elsewhere` at first, so the attempt waits queued for the test to plant.
    define(
        &mut db,
        r#"{"name": "lost", "tasks": [
              {"name": "a", "type": "shell", "script": "true", "worker_group": "elsewhere"},
              {"name": "b", "type": "shell", "script": "true", "worker_group": "elsewhere"}]}"#,
    );
    let _w = cluster.worker("w", &[]);
    let w = worker_id(&mut db, "w");
    let id = start(&mut db, "lost");
    let fresh = queued(&mut db, id, "a");
    let stale = queued(&mut db, id, "b");
    // Claimed a moment ago: its answer may still be on the way to the worker.
    believe_running(&mut db, fresh, w, "0 s");
    believe_running(&mut db, stale, w, "1 min");

    wait_for(
        Duration::from_secs(30),
        "the stale attempt to be failed over",
        || {
            let state: String = db
                .query_one(
                    "SELECT state FROM sched.task_instances WHERE id = $1",
                    &[&stale],
                )
                .unwrap()
                .get(0);
            (state == "need_fault_tolerance").then_some(())
        },
    );
    // Two more heartbeats: the fresh one is left alone within the grace.
    let seen = heartbeats(&mut db, w);
    wait_for(Duration::from_secs(30), "two more heartbeats", || {
        (heartbeats(&mut db, w) > seen).then_some(())
    });
    let seen = heartbeats(&mut db, w);
    wait_for(Duration::from_secs(30), "another heartbeat", || {
        (heartbeats(&mut db, w) > seen).then_some(())
    });
    let state: String = db
        .query_one(
            "SELECT state FROM sched.task_instances WHERE id = $1",
            &[&fresh],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, "running", "an attempt within the grace was taken");

    // Once the grace is over for it too, and a worker serves the group, the instance ends.
    db.execute(
        "UPDATE sched.task_instance SET started_at = now() - interval '1 min' WHERE id = $1",
        &[&fresh],
    )
    .unwrap();
    let _other = cluster.worker("other", &["--group", "elsewhere"]);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let attempts = task_states(&mut db, id);
    for task in ["a", "b"] {
        assert!(
            attempts
                .iter()
                .any(|(t, s, n)| t == task && *n == 1 && s == "need_fault_tolerance"),
            "{task}'s lost attempt was not failed over: {attempts:?}"
        );
        assert!(
            attempts
                .iter()
                .any(|(t, s, n)| t == task && *n == 2 && s == "succeeded"),
            "{task} did not run again: {attempts:?}"
        );
    }
}

#[test]
fn stopping_an_instance_whose_attempt_the_worker_never_had_ends_it() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "ghost", "tasks": [
              {"name": "a", "type": "shell", "script": "true", "worker_group": "elsewhere"}]}"#,
    );
    let _w = cluster.worker("w", &[]);
    let w = worker_id(&mut db, "w");
    let id = start(&mut db, "ghost");
    let attempt = queued(&mut db, id, "a");
    believe_running(&mut db, attempt, w, "1 min");
    // Before the heartbeat takes it back: the kill request is what the worker answers.
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 30), "stopped");
    let state: String = db
        .query_one(
            "SELECT state FROM sched.task_instances WHERE id = $1",
            &[&attempt],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, "killed");
}

#[test]
fn a_task_that_finished_while_its_worker_was_cut_off_is_kept_as_a_late_report() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let proxy = Proxy::start(&cluster);
    let mut db = cluster.connect();
    let marks = cluster.dir.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    std::fs::set_permissions(&marks, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let spec = serde_json::json!({
        "name": "cut",
        "tasks": [
            // `quick` ends while the database cannot hear of it; `slow` is still running
            // when the worker fences itself.
            {"name": "quick", "type": "shell",
             "script": format!("touch {0}/quick.$SCHED_TASK_INSTANCE_ID; while [ ! -e {0}/cut ]; do sleep 0.05; done; sleep 0.3", marks.display())},
            {"name": "slow", "type": "shell",
             "script": format!("[ -e {0}/restored ] && exit 0; touch {0}/slow.$SCHED_TASK_INSTANCE_ID; sleep 600", marks.display())}
        ]
    });
    define(&mut db, &spec.to_string());
    let mut cmd = cluster.worker_command("far");
    cmd.arg("--slots")
        .arg("2")
        .arg("--database-url")
        .arg(format!(
            "host=127.0.0.1 port={} user={WORKER_ROLE} dbname=postgres",
            proxy.port
        ));
    let _far = cluster.start_worker("far", &mut cmd);
    let id = start(&mut db, "cut");
    let (quick, slow): (i64, i64) = wait_for(Duration::from_secs(30), "both tasks to run", || {
        let ids: Vec<(String, i64)> = std::fs::read_dir(&marks)
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let (task, id) = name.split_once('.')?;
                Some((task.to_owned(), id.parse().ok()?))
            })
            .collect();
        let find = |t: &str| ids.iter().find(|(n, _)| n == t).map(|(_, id)| *id);
        Some((find("quick")?, find("slow")?))
    });

    proxy.blackhole();
    std::fs::write(marks.join("cut"), "").unwrap();
    // The master fails both over while the worker is cut off.
    wait_for(
        Duration::from_secs(30),
        "both attempts to be failed over",
        || {
            let n: i64 = db
                .query_one(
                    "SELECT count(*) FROM sched.task_instances
                     WHERE id IN ($1, $2) AND state = 'need_fault_tolerance'",
                    &[&quick, &slow],
                )
                .unwrap()
                .get(0);
            (n == 2).then_some(())
        },
    );
    std::fs::write(marks.join("restored"), "").unwrap();
    proxy.restore();

    let late: i32 = wait_for(Duration::from_secs(60), "the late report", || {
        db.query_opt(
            "SELECT late_exit_code FROM sched.task_instances WHERE id = $1 AND late_exit_code IS NOT NULL",
            &[&quick],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    assert_eq!(late, 0, "quick finished with exit 0 and must be kept so");
    // The task the fence killed was not a failure: nothing of it is reported.
    let slow_late: Option<i32> = db
        .query_one(
            "SELECT late_exit_code FROM sched.task_instances WHERE id = $1",
            &[&slow],
        )
        .unwrap()
        .get(0);
    assert_eq!(slow_late, None);
    let state: String = db
        .query_one(
            "SELECT state FROM sched.task_instances WHERE id = $1",
            &[&quick],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        state, "need_fault_tolerance",
        "a late report changes nothing"
    );
    assert_eq!(wait(&mut db, id, 120), "succeeded");
}

#[test]
fn a_worker_frozen_past_its_deadline_kills_its_tasks_before_anyone_else_runs_them() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let mut db = cluster.connect();
    let log = cluster.dir.join("runs");
    let spec = serde_json::json!({
        "name": "frozen",
        "tasks": [{"name": "a", "type": "shell",
                   "script": format!("echo start >> {0}; (exec -a frozen-$SCHED_TASK_INSTANCE_ID sleep 12); echo end >> {0}", log.display())}]
    });
    define(&mut db, &spec.to_string());
    let cold = cluster.worker("cold", &[]);
    let id = start(&mut db, "frozen");
    let first = running_attempt(&mut db, id);
    let first_runs = || process_runs(&format!("frozen-{first}"));
    wait_for(Duration::from_secs(10), "the task's process", || {
        first_runs().then_some(())
    });
    cold.signal(libc::SIGSTOP);
    // Another worker takes the failed-over attempt; the frozen one's task must be dead by then.
    let _warm = cluster.worker("warm", &[]);
    wait_for(
        Duration::from_secs(60),
        "the failed-over attempt to be claimed",
        || {
            db.query_opt(
                "SELECT 1 FROM sched.task_instances
                 WHERE workflow_instance_id = $1 AND attempt = 2 AND state = 'running'",
                &[&id],
            )
            .unwrap()
            .map(|_| ())
        },
    );
    assert!(
        !first_runs(),
        "the frozen worker's task still runs beside its new attempt"
    );
    cold.signal(libc::SIGCONT);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let runs = std::fs::read_to_string(&log).unwrap();
    assert_eq!(runs.matches("start").count(), 2, "{runs}");
    assert_eq!(
        runs.matches("end").count(),
        1,
        "the killed run never ended: {runs}"
    );
    // Its outcome was void: the attempt stays failed over, not killed, and nothing came late.
    let first_state: (String, Option<i32>) = db
        .query_one(
            "SELECT state, late_exit_code FROM sched.task_instances WHERE id = $1",
            &[&first],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(first_state, ("need_fault_tolerance".to_owned(), None));
    let ended: Vec<Option<String>> = db
        .query(
            "SELECT ended_why FROM sched.workers WHERE name = 'cold' ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ended,
        [Some("timed_out".to_owned()), None],
        "the frozen registration was declared dead, the next one lives"
    );
}

#[test]
fn a_worker_whose_id_was_given_to_another_registration_registers_again() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let mut db = cluster.connect();
    // It polls every ten minutes: after registering again it is woken on its new channel.
    let _w = cluster.worker("w", &["--poll-interval-ms", "600000"]);
    let old = worker_id(&mut db, "w");
    // What a promoted asynchronous standby can do: its sequence had not seen this worker's
    // registration, and gave the id to another process.
    db.execute(
        "UPDATE sched.worker SET registration_token = registration_token + 1 WHERE id = $1",
        &[&old],
    )
    .unwrap();
    let new: i64 = wait_for(Duration::from_secs(60), "a registration of its own", || {
        db.query_opt(
            "SELECT id FROM sched.worker WHERE name = 'w' AND alive AND id <> $1",
            &[&old],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    assert!(new > old);
    define(
        &mut db,
        r#"{"name": "after", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let id = start(&mut db, "after");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
}

/// A restarted worker takes over its silent registration, which fails over what it ran and so
/// waits while something holds the attempts (here a LOCK TABLE): its new registration is
/// heard from when it is made, not from when it began to wait, or the master would declare it
/// dead as soon as it committed.
#[test]
fn a_registration_that_waited_for_a_lock_counts_its_first_heartbeat_from_when_it_is_made() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let protocol: i32 = db
        .query_one("SELECT sched._worker_protocol()", &[])
        .unwrap()
        .get(0);
    let register = "SELECT sched.register_worker('w', 'h', ARRAY['default'], 1, $1, $2)";
    let old: i64 = worker
        .query_one(register, &[&7i64, &protocol])
        .unwrap()
        .get(0);
    db.execute(
        "UPDATE sched.worker SET last_heartbeat = now() - interval '1 min' WHERE id = $1",
        &[&old],
    )
    .unwrap();

    let mut holder = cluster.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE sched.task_instance IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let restarted = std::thread::spawn(move || -> i64 {
        worker
            .query_one(register, &[&8i64, &protocol])
            .unwrap()
            .get(0)
    });
    wait_for(
        Duration::from_secs(30),
        "the registration to wait for the lock",
        || {
            db.query_opt(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%register_worker%'",
                &[],
            )
            .unwrap()
        },
    );
    let released: std::time::SystemTime = holder
        .query_one("SELECT clock_timestamp()", &[])
        .unwrap()
        .get(0);
    holder.batch_execute("COMMIT").unwrap();
    let new = restarted.join().unwrap();
    assert_ne!(new, old);
    let heard: std::time::SystemTime = db
        .query_one(
            "SELECT last_heartbeat FROM sched.worker WHERE id = $1",
            &[&new],
        )
        .unwrap()
        .get(0);
    assert!(
        heard >= released,
        "the new registration's first heartbeat ({heard:?}) is from before the lock was released ({released:?})"
    );
}
