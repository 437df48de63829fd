//! High availability: a primary with a streaming standby, workers on a multi-host connection
//! string, and the failovers and crashes whose guarantees the README's "High availability"
//! section states.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use sched_tests::ha::Standby;
use sched_tests::*;
use serde_json::json;

/// `n` shell tasks t00 -> t01 -> ...; each appends "<instance>:<task>" to `runs` once per
/// run, so the file counts executions.
fn chain_spec(name: &str, runs: &Path, n: usize, nap: &str) -> String {
    let tasks: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let mut task = json!({
                "name": format!("t{i:02}"),
                "type": "shell",
                "script": format!(
                    "echo $SCHED_WORKFLOW_INSTANCE_ID:$SCHED_TASK_NAME >> {}; sleep {nap}",
                    runs.display()
                ),
            });
            if i > 0 {
                task["deps"] = json!([format!("t{:02}", i - 1)]);
            }
            task
        })
        .collect();
    json!({"name": name, "tasks": tasks}).to_string()
}

/// One task that appends its fire time (the business time, to the second) to `fired`.
fn ticker_spec(fired: &Path) -> String {
    json!({"name": "ticker", "tasks": [{"name": "t", "type": "shell",
        "script": format!("echo $[yyyyMMddHHmmss] >> {}", fired.display())}]})
    .to_string()
}

fn lines_of(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// How many times each "<instance>:<task>" ran.
fn runs_of(runs: &Path) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for line in lines_of(runs) {
        *count.entry(line).or_insert(0) += 1;
    }
    count
}

/// Asserts that every task of every chain ran at least once; returns those that ran more.
fn check_every_task_ran(runs: &Path, chains: &[i64], n: usize) -> Vec<(String, usize)> {
    let ran = runs_of(runs);
    for id in chains {
        for i in 0..n {
            let key = format!("{id}:t{i:02}");
            assert!(ran.contains_key(&key), "{key} never ran; runs: {ran:?}");
        }
    }
    ran.into_iter().filter(|(_, n)| *n > 1).collect()
}

/// Schedule times (epoch seconds) of a schedule's instances, in order.
fn fires(db: &mut Client, schedule: i64) -> Vec<f64> {
    db.query(
        "SELECT extract(epoch FROM schedule_time)::float8 FROM sched.workflow_instance
         WHERE schedule_id = $1 ORDER BY schedule_time",
        &[&schedule],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn instances_of(db: &mut Client, schedule: i64) -> Vec<i64> {
    db.query(
        "SELECT id FROM sched.workflow_instance WHERE schedule_id = $1 ORDER BY id",
        &[&schedule],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn now_epoch(db: &mut Client) -> f64 {
    db.query_one("SELECT extract(epoch FROM now())::float8", &[])
        .unwrap()
        .get(0)
}

fn succeeded_tasks(db: &mut Client, instance: i64) -> i64 {
    db.query_one(
        "SELECT count(*) FROM sched.task_instance WHERE workflow_instance_id = $1 AND state = 'succeeded'",
        &[&instance],
    )
    .unwrap()
    .get(0)
}

/// State of the latest attempt of `task` in `instance`, if it has one.
fn task_state(db: &mut Client, instance: i64, task: &str) -> Option<String> {
    db.query_opt(
        "SELECT ti.state::text FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
         WHERE ti.workflow_instance_id = $1 AND td.name = $2 ORDER BY ti.attempt DESC LIMIT 1",
        &[&instance, &task],
    )
    .unwrap()
    .map(|r| r.get(0))
}

/// Every attempt not yet ended, with what the database believes about it.
fn active_attempts(db: &mut Client) -> Vec<String> {
    db.query(
        "SELECT format('instance %s (%s) task %s attempt %s: %s on worker %s (id %s), claimed %s s ago, kill requested %s',
                       ti.workflow_instance_id, wi.state, td.name, ti.attempt, ti.state, w.name, ti.worker_id,
                       round(extract(epoch FROM now() - ti.started_at)::numeric, 1), ti.kill_requested)
         FROM sched.task_instance ti
         JOIN sched.workflow_instance wi ON wi.id = ti.workflow_instance_id
         JOIN sched.task_definition td ON td.id = ti.task_id
         LEFT JOIN sched.worker w ON w.id = ti.worker_id
         WHERE ti.state IN ('delayed', 'queued', 'dispatched', 'running')
         ORDER BY ti.id",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Waits until every instance of `ids` has ended and returns their states; on timeout,
/// panics naming what is left and every attempt not ended, as the database believes it.
fn wait_ended(db: &mut Client, ids: &[i64], limit: Duration) -> BTreeMap<i64, String> {
    let deadline = Instant::now() + limit;
    loop {
        let states: BTreeMap<i64, String> = db
            .query(
                "SELECT id, state::text FROM sched.workflow_instance WHERE id = ANY($1)",
                &[&ids],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            states.len(),
            ids.len(),
            "instances missing on this server: {ids:?}, found {states:?}"
        );
        if states
            .values()
            .all(|s| matches!(s.as_str(), "stopped" | "failed" | "succeeded"))
        {
            return states;
        }
        if Instant::now() >= deadline {
            panic!(
                "after {limit:?} these instances had not ended: {:?}\nattempts not ended:\n{}",
                states
                    .iter()
                    .filter(|(_, s)| !matches!(s.as_str(), "stopped" | "failed" | "succeeded"))
                    .collect::<Vec<_>>(),
                active_attempts(db).join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn worker_log(cluster: &Cluster, worker: &Worker) -> String {
    std::fs::read_to_string(cluster.dir.join(format!("worker-{}.log", worker.name)))
        .unwrap_or_default()
}

/// Lines of the workers' logs saying that a worker killed its tasks because the database
/// went silent (a fence, or its watchdog's deadline) or declared it dead.
fn fences(cluster: &Cluster, workers: &[Worker]) -> Vec<String> {
    workers
        .iter()
        .flat_map(|w| {
            worker_log(cluster, w)
                .lines()
                .filter(|l| {
                    ["killing tasks", "tasks were killed", "declared dead"]
                        .iter()
                        .any(|s| l.contains(s))
                })
                .map(|l| format!("{}: {l}", w.name))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Workers on the multi-host connection string of `primary` and `standby`.
fn failover_workers(primary: &Cluster, standby: &Standby, n: usize, slots: &str) -> Vec<Worker> {
    let url = standby.failover_url(primary, WORKER_ROLE);
    let watch = standby.failover_url(primary, "postgres");
    (1..=n)
        .map(|i| {
            let name = format!("w{i}");
            let mut cmd = primary.worker_command(&name);
            cmd.arg("--database-url").arg(&url).args(["--slots", slots]);
            primary.start_worker_in(&watch, &name, &mut cmd)
        })
        .collect()
}

/// The same processes still run, and each is registered and heartbeating on `db`'s server
/// since `since` (epoch seconds): a new registration is fine, a new process is not.
fn assert_workers_carried_on(db: &mut Client, workers: &mut [Worker], since: f64) {
    for w in workers.iter_mut() {
        assert!(
            w.child.try_wait().unwrap().is_none(),
            "worker {} (pid {}) exited",
            w.name,
            w.pid()
        );
        let name = w.name.clone();
        wait_for(
            Duration::from_secs(30),
            &format!("worker {name} to heartbeat on the new primary"),
            || {
                let n: i64 = db
                    .query_one(
                        "SELECT count(*) FROM sched.worker
                         WHERE name = $1 AND alive AND last_heartbeat > to_timestamp($2)",
                        &[&name, &since],
                    )
                    .unwrap()
                    .get(0);
                (n == 1).then_some(())
            },
        );
    }
}

/// Asserts that the fires of `schedule` are one a second with neither gap nor duplicate, that
/// each ran its task once, and that all succeeded; `fired` is the ticker's file.
fn check_fires(db: &mut Client, schedule: i64, fired: &Path) {
    let ticks = instances_of(db, schedule);
    let states = wait_ended(db, &ticks, Duration::from_secs(120));
    assert!(
        states.values().all(|s| s == "succeeded"),
        "fires that did not succeed: {states:?}"
    );
    let got = fires(db, schedule);
    for pair in got.windows(2) {
        assert_eq!(pair[1] - pair[0], 1.0, "a gap or a duplicate fire: {got:?}");
    }
    let mut ran = lines_of(fired);
    ran.sort();
    let mut once = ran.clone();
    once.dedup();
    assert_eq!(ran, once, "a fire ran its task twice");
    assert_eq!(ran.len(), got.len(), "fires {got:?} ran {ran:?}");
}

/// Schedules the defined `ticker` every second and, once it has fired three times, starts three
/// `chain`s and waits until each has `tasks_in` tasks done.
fn fire_and_start_chains(db: &mut Client, tasks_in: i64) -> (i64, Vec<i64>) {
    let schedule: i64 = db
        .query_one("SELECT sched.schedule('ticker', '* * * * * ?')", &[])
        .unwrap()
        .get(0);
    wait_for(Duration::from_secs(60), "three fires", || {
        (fires(db, schedule).len() >= 3).then_some(())
    });
    let chains: Vec<i64> = (0..3).map(|_| start(db, "chain")).collect();
    wait_for(
        Duration::from_secs(60),
        &format!("every chain to be {tasks_in} tasks in"),
        || {
            chains
                .iter()
                .all(|id| succeeded_tasks(db, *id) >= tasks_in)
                .then_some(())
        },
    );
    (schedule, chains)
}

/// What a promotion of a synchronous standby and a restart with asynchronous commit must both
/// leave, seen from `db` on the server that runs after `since` (epoch seconds): the master
/// fires again, every chain succeeds, each fire time once, nothing active, every task ran
/// exactly once, and the same worker processes carried on without fencing.
#[allow(clippy::too_many_arguments)]
fn assert_nothing_lost_or_repeated(
    cluster: &Cluster,
    db: &mut Client,
    workers: &mut [Worker],
    since: f64,
    schedule: i64,
    fired: &Path,
    chains: &[i64],
    runs: &Path,
) {
    wait_for(Duration::from_secs(60), "the master to fire again", || {
        (fires(db, schedule)
            .iter()
            .filter(|t| **t > since + 1.0)
            .count()
            >= 3)
            .then_some(())
    });
    let states = wait_ended(db, chains, Duration::from_secs(180));
    assert!(
        states.values().all(|s| s == "succeeded"),
        "chains: {states:?}"
    );
    db.execute("SELECT sched.unschedule($1)", &[&schedule])
        .unwrap();
    check_fires(db, schedule, fired);
    assert_eq!(active_attempts(db), Vec::<String>::new());
    let twice = check_every_task_ran(runs, chains, 10);
    assert!(twice.is_empty(), "ran more than once: {twice:?}");
    assert_workers_carried_on(db, workers, since);
    assert_eq!(fences(cluster, workers), Vec::<String>::new());
}

#[test]
fn promoting_a_synchronous_standby_mid_run_loses_no_attempt_and_repeats_no_fire() {
    let primary = Cluster::start(&[]);
    let standby = Standby::of(&primary, &[]);
    standby.make_synchronous(&primary);
    let runs = primary.dir.join("runs");
    let fired = primary.dir.join("fired");
    let mut db = primary.connect();
    define(&mut db, &chain_spec("chain", &runs, 10, "1"));
    define(&mut db, &ticker_spec(&fired));
    let mut workers = failover_workers(&primary, &standby, 3, "3");
    let (schedule, chains) = fire_and_start_chains(&mut db, 3);
    drop(db);

    primary.stop_server();
    standby.promote();
    let mut db = standby.connect();
    let promoted = now_epoch(&mut db);
    // A synchronous standby has every claim and completion a worker acted on, and no worker
    // fenced: nothing had to run again.
    assert_nothing_lost_or_repeated(
        &primary,
        &mut db,
        &mut workers,
        promoted,
        schedule,
        &fired,
        &chains,
        &runs,
    );
}

#[test]
fn promoting_an_asynchronous_standby_that_missed_commits_leaves_nothing_running() {
    // Not 3 s: a fence (a worker that hears nothing for two thirds of the timeout kills its
    // tasks and ends its registration, failing all of them over) would hide what this test is
    // about, attempts believed running on live workers that no longer have them, and the stop
    // and the promotion take a second or two. The grace of those attempts is at least 15 s
    // whatever the timeout.
    let primary = Cluster::start(&["sched.worker_timeout = 10"]);
    // Never reconnects around the paused walsender (it would get a new one, which streams).
    let standby = Standby::of(&primary, &["wal_receiver_timeout = 0"]);
    let runs = primary.dir.join("runs");
    let mut db = primary.connect();
    define(&mut db, &chain_spec("chain", &runs, 10, "0.5"));
    define(
        &mut db,
        &json!({"name": "held", "tasks": [
            {"name": "a", "type": "shell", "script": format!("echo $SCHED_WORKFLOW_INSTANCE_ID:a >> {}; sleep 2", runs.display())},
            {"name": "b", "type": "shell", "script": "sleep 600", "deps": ["a"]}]})
        .to_string(),
    );
    let mut workers = failover_workers(&primary, &standby, 2, "4");
    let chains: Vec<i64> = (0..3).map(|_| start(&mut db, "chain")).collect();
    wait_for(
        Duration::from_secs(60),
        "every chain to be two tasks in",
        || {
            chains
                .iter()
                .all(|id| succeeded_tasks(&mut db, *id) >= 2)
                .then_some(())
        },
    );
    let held = start(&mut db, "held");
    let mut replica = standby.connect();
    wait_for(
        Duration::from_secs(30),
        "the standby to see held's first task running",
        || (task_state(&mut replica, held, "a").as_deref() == Some("running")).then_some(()),
    );

    standby.pause_walsender(&primary);
    // Committed on the primary only: a finishes and b is claimed; every chain moves on.
    wait_for(
        Duration::from_secs(60),
        "the primary to commit what the standby will never have",
        || {
            let moved = chains
                .iter()
                .all(|id| succeeded_tasks(&mut db, *id) >= succeeded_tasks(&mut replica, *id) + 2);
            (moved
                && task_state(&mut db, held, "a").as_deref() == Some("succeeded")
                && task_state(&mut db, held, "b").as_deref() == Some("running"))
            .then_some(())
        },
    );
    assert_eq!(
        task_state(&mut replica, held, "a").as_deref(),
        Some("running")
    );
    drop((db, replica));
    standby.stop_primary(&primary);
    standby.promote();

    let mut db = standby.connect();
    let promoted = now_epoch(&mut db);
    // At once, while the attempt of a that the worker finished is still believed running.
    let mut tx = db.transaction().unwrap();
    let believed: String = tx
        .query_one(
            "SELECT ti.state::text FROM sched.task_instance ti JOIN sched.task_definition td ON td.id = ti.task_id
             WHERE ti.workflow_instance_id = $1 AND td.name = 'a' ORDER BY ti.attempt DESC LIMIT 1",
            &[&held],
        )
        .unwrap()
        .get(0);
    tx.execute("SELECT sched.stop_workflow($1)", &[&held])
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        believed, "running",
        "the stop was to find a's attempt believed running on a worker that no longer has it"
    );

    let mut all = chains.clone();
    all.push(held);
    let states = wait_ended(&mut db, &all, Duration::from_secs(120));
    for id in &chains {
        assert_eq!(states[id], "succeeded", "chain {id}: {states:?}");
    }
    assert_eq!(states[&held], "stopped");
    assert_eq!(
        task_states(&mut db, held),
        [("a".to_owned(), "killed".to_owned(), 1)],
        "a's attempt ends as the stop asked, and b was never claimed on this server"
    );
    assert_eq!(active_attempts(&mut db), Vec::<String>::new());
    // Tasks whose completion was lost ran again: what asynchronous replication can repeat.
    let twice = check_every_task_ran(&runs, &chains, 10);
    for id in &chains {
        assert!(
            twice
                .iter()
                .any(|(run, _)| run.starts_with(&format!("{id}:"))),
            "chain {id} repeated nothing, so no completion of it was lost: {twice:?}"
        );
    }
    assert_workers_carried_on(&mut db, &mut workers, promoted);
    assert_eq!(
        fences(&primary, &workers),
        Vec::<String>::new(),
        "a worker fenced during the failover, failing every attempt over: the case under test did not happen"
    );
}

#[test]
fn an_immediate_restart_with_asynchronous_commit_on_the_server_leaves_nothing_running() {
    let cluster = Cluster::start(&["synchronous_commit = off"]);
    let runs = cluster.dir.join("runs");
    let fired = cluster.dir.join("fired");
    let mut db = cluster.connect();
    // The test's own starts must outlive the crash: an instance id it waits for must exist.
    db.batch_execute("SET synchronous_commit = on").unwrap();
    define(&mut db, &chain_spec("chain", &runs, 10, "0.5"));
    define(&mut db, &ticker_spec(&fired));
    let mut workers = vec![
        cluster.worker("w1", &["--slots", "4"]),
        cluster.worker("w2", &["--slots", "4"]),
    ];
    let (schedule, chains) = fire_and_start_chains(&mut db, 2);
    drop(db);

    cluster.stop_server();
    cluster.start_server();
    let mut db = cluster.connect();
    let sync: String = db.query_one("SHOW synchronous_commit", &[]).unwrap().get(0);
    assert_eq!(sync, "off", "the server's default is asynchronous commit");
    let restarted = now_epoch(&mut db);
    // Workers commit durably whatever the server's default: nothing they acted on was lost.
    assert_nothing_lost_or_repeated(
        &cluster,
        &mut db,
        &mut workers,
        restarted,
        schedule,
        &fired,
        &chains,
        &runs,
    );
}

#[test]
fn workers_keep_their_tasks_while_no_server_takes_writes() {
    // Heartbeats every second; a worker that hears nothing fences itself after 2 s.
    let primary = Cluster::start(&["sched.worker_timeout = 3"]);
    let standby = Standby::of(&primary, &[]);
    standby.make_synchronous(&primary);
    let runs = primary.dir.join("runs");
    let mut db = primary.connect();
    define(&mut db, &chain_spec("chain", &runs, 6, "1"));
    let mut workers = failover_workers(&primary, &standby, 2, "2");
    let chains: Vec<i64> = (0..2).map(|_| start(&mut db, "chain")).collect();
    wait_for(
        Duration::from_secs(60),
        "every chain to be a task in",
        || {
            chains
                .iter()
                .all(|id| succeeded_tasks(&mut db, *id) >= 1)
                .then_some(())
        },
    );
    drop(db);
    let failed_beats = |w: &Worker| worker_log(&primary, w).matches("heartbeat failed").count();
    let before: Vec<usize> = workers.iter().map(failed_beats).collect();

    primary.stop_server();
    // The old primary is gone and the standby refuses writes: no master runs anywhere, so
    // nothing can be failed over, and a worker has no reason to kill its tasks.
    wait_for(
        Duration::from_secs(60),
        "every worker to miss four heartbeats",
        || {
            workers
                .iter()
                .zip(&before)
                .all(|(w, n)| failed_beats(w) >= n + 4)
                .then_some(())
        },
    );
    standby.promote();
    let mut db = standby.connect();
    let promoted = now_epoch(&mut db);
    let states = wait_ended(&mut db, &chains, Duration::from_secs(120));
    assert!(
        states.values().all(|s| s == "succeeded"),
        "chains: {states:?}"
    );
    assert_eq!(
        fences(&primary, &workers),
        Vec::<String>::new(),
        "a worker killed its tasks while no server took writes"
    );
    let twice = check_every_task_ran(&runs, &chains, 6);
    assert!(twice.is_empty(), "ran more than once: {twice:?}");
    assert_workers_carried_on(&mut db, &mut workers, promoted);
}

#[test]
fn workers_keep_their_tasks_while_the_only_synchronous_standby_is_gone() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let standby = Standby::of(&cluster, &[]);
    standby.make_synchronous(&cluster);
    let mut db = cluster.connect();
    // The test's own commits must not wait for the missing standby either.
    db.batch_execute("SET synchronous_commit = local").unwrap();
    let runs = cluster.dir.join("runs");
    let spec = json!({"name": "waits", "tasks": [
        {"name": "a", "type": "shell", "script": format!("touch {0}.a-started; sleep 8; echo a >> {0}", runs.display())},
        {"name": "b", "type": "shell", "script": format!("echo b >> {}", runs.display()), "deps": ["a"]}
    ]});
    define(&mut db, &spec.to_string());
    let workers = vec![cluster.worker("w1", &[])];
    let id = start(&mut db, "waits");
    let started = std::path::PathBuf::from(format!("{}.a-started", runs.display()));
    wait_for(Duration::from_secs(30), "a to start", || {
        started.exists().then_some(())
    });
    standby.stop();
    // Past the worker timeout with every commit waiting: a ends meanwhile, its report waits.
    wait_for(Duration::from_secs(30), "a to end", || {
        lines_of(&runs).contains(&"a".to_owned()).then_some(())
    });
    standby.restart(&cluster);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(lines_of(&runs), vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(fences(&cluster, &workers), Vec::<String>::new());
}
