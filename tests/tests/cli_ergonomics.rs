//! The `sched` command line in daily use, against a real cluster and a real worker: logs by
//! instance and task, run control saying what it did, progress that never runs backwards,
//! Ctrl-C while waiting, apply --prune dropping workflows that use each other, export
//! without defaults, and connection errors that name the server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sched_tests::*;
use serde_json::json;

/// A workflow of one task that prints `one`, waits for `gate` to exist, prints `two`.
fn define_gated(db: &mut Client, name: &str, gate: &std::path::Path) {
    define(
        db,
        &json!({"name": name, "tasks": [{"name": "waits", "type": "shell",
                "script": format!("echo one; while [ ! -e {} ]; do sleep 0.05; done; echo two", gate.display())}]})
        .to_string(),
    );
}

fn started(cluster: &Cluster, name: &str) -> i64 {
    cluster
        .sched_expect("postgres", &["start", name], 0)
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn logs_by_instance_and_task_and_run_control_says_what_it_did() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    let marker = cluster.dir.join("tried");
    define(
        &mut db,
        &json!({"name": "retried", "tasks": [
            {"name": "first", "type": "shell", "script": "echo first"},
            {"name": "flaky", "type": "shell", "deps": ["first"], "retries": 1, "retry_interval": "0 s",
             "script": format!("if [ -e {m} ]; then echo second try; else touch {m}; echo first try; exit 3; fi",
                               m = marker.display())}]})
        .to_string(),
    );
    define_gated(&mut db, "slow", &gate);
    define(
        &mut db,
        &json!({"name": "chain", "tasks": [
            {"name": "waits", "type": "shell",
             "script": format!("echo one; while [ ! -e {} ]; do sleep 0.05; done; echo two", gate.display())},
            {"name": "after", "type": "shell", "deps": ["waits"], "script": "echo after"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);

    // Progress lines (not a terminal) never go backwards, though the retry puts a failed
    // task back to waiting.
    let out = cluster.sched("postgres", &["start", "retried", "--wait"]);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
    let progress = lossy(&out.stderr);
    let counts: Vec<u64> = progress
        .lines()
        .filter_map(|l| l.split_once(": ")?.1.split_once('/')?.0.parse().ok())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]) && counts.last() == Some(&2),
        "{progress}"
    );
    let id: i64 = db
        .query_one(
            "SELECT max(id) FROM sched.workflow_instances WHERE workflow = 'retried'",
            &[],
        )
        .unwrap()
        .get(0);
    let ids = id.to_string();

    // `logs INSTANCE TASK` is the latest attempt; the attempt id still works.
    assert_eq!(
        cluster.sched_expect("postgres", &["logs", &ids, "flaky"], 0),
        "second try\n"
    );
    let first_attempt: i64 = db
        .query_one(
            "SELECT min(id) FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'flaky'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        cluster.sched_expect("postgres", &["logs", &first_attempt.to_string()], 0),
        "first try\n"
    );
    let out = cluster.sched("postgres", &["logs", &ids, "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        lossy(&out.stderr),
        format!("sched: instance {id} has no task \"nope\"; its tasks: first, flaky\n")
    );

    // --follow by instance and task streams the running attempt to its end, and waits for a
    // task that has not started yet.
    let chain = started(&cluster, "chain");
    wait_running(&mut db, chain, 1);
    let follow = |task: &str| {
        Command::new(sched_bin())
            .arg("--database-url")
            .arg(cluster.conn_string("postgres"))
            .args(["logs", &chain.to_string(), task, "--follow"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let running = follow("waits");
    let later = follow("after");
    wait_for(Duration::from_secs(30), "the first line stored", || {
        (!task_output(&mut db, chain, "waits").is_empty()).then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    assert_eq!(
        lossy(&running.wait_with_output().unwrap().stdout),
        "one\ntwo\n"
    );
    assert_eq!(lossy(&later.wait_with_output().unwrap().stdout), "after\n");
    assert_eq!(wait(&mut db, chain, 60), "succeeded");
    std::fs::remove_file(&gate).unwrap();

    // Run control prints what it did and the state it found.
    let paused = started(&cluster, "slow");
    let p = paused.to_string();
    wait_running(&mut db, paused, 1);
    assert_eq!(
        cluster.sched_expect("postgres", &["pause", &p], 0),
        format!("instance {paused}: pause requested (was running, now ready_pause)\n")
    );
    std::fs::write(&gate, "").unwrap();
    assert_eq!(
        cluster.sched_expect("postgres", &["wait", &p], 3),
        "paused\n"
    );
    std::fs::remove_file(&gate).unwrap();
    let resumed = cluster.sched_expect("postgres", &["resume", &p], 0);
    assert!(
        resumed.starts_with(&format!("instance {paused}: resumed (was paused")),
        "{resumed}"
    );
    // `slow` has one task, which finished before the pause took: resume ends the instance.
    assert_eq!(wait(&mut db, paused, 60), "succeeded");

    let killed = started(&cluster, "slow");
    wait_running(&mut db, killed, 1);
    let attempt = running_attempt(&mut db, killed);
    assert_eq!(
        cluster.sched_expect("postgres", &["kill", &attempt.to_string()], 0),
        format!(
            "attempt {attempt} (task \"waits\" of instance {killed}): kill requested (was running)\n"
        )
    );
    assert_eq!(wait(&mut db, killed, 60), "failed");
    let recovered = cluster.sched_expect("postgres", &["recover", &killed.to_string()], 0);
    assert!(
        recovered.starts_with(&format!(
            "instance {killed}: recovering its failed and killed tasks (was failed, now "
        )),
        "{recovered}"
    );
    wait_running(&mut db, killed, 1);
    assert_eq!(
        cluster.sched_expect("postgres", &["stop", &killed.to_string()], 0),
        format!("instance {killed}: stop requested (was running, now ready_stop)\n")
    );
    assert_eq!(wait(&mut db, killed, 60), "stopped");
    let rerun = cluster.sched_expect("postgres", &["--json", "rerun", &ids], 0);
    let rerun: serde_json::Value = serde_json::from_str(&rerun).unwrap();
    assert_eq!(rerun["was"], "succeeded");
    assert_eq!(rerun["action"], "rerun_workflow");
    // A refused command says why and prints nothing on stdout.
    let out = cluster.sched("postgres", &["stop", &killed.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(lossy(&out.stdout).is_empty());
    assert!(
        lossy(&out.stderr).contains("is already stopped"),
        "{}",
        lossy(&out.stderr)
    );
}

/// Spawns sched with stderr collected as it comes.
/// The CLI running with `args`, its stderr collected line by line as it comes (to wait on a
/// progress line), and the reader, to join once the CLI ended so that its last lines are in.
fn spawn_collecting(
    cluster: &Cluster,
    args: &[&str],
) -> (Child, Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let mut child = Command::new(sched_bin())
        .arg("--database-url")
        .arg(cluster.conn_string("postgres"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let pipe = child.stderr.take().unwrap();
    let collected = stderr.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut all = collected.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    (child, stderr, reader)
}

fn interrupt(child: &Child) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

#[test]
fn ctrl_c_while_waiting_says_how_to_reattach() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define_gated(&mut db, "held", &gate);
    let _worker = cluster.worker("w1", &[]);

    let id = start(&mut db, "held");
    wait_running(&mut db, id, 1);
    let (child, stderr, reader) = spawn_collecting(&cluster, &["wait", &id.to_string()]);
    wait_for(Duration::from_secs(30), "the first progress line", || {
        stderr
            .lock()
            .unwrap()
            .contains("0/1 tasks done")
            .then_some(())
    });
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr.lock().unwrap());
    assert_eq!(lossy(&out.stdout), "running\n");
    let said = stderr.lock().unwrap().clone();
    assert!(
        said.contains(&format!(
            "sched: stopped waiting; instance {id} goes on (running). Reattach with: sched wait {id}\n"
        )),
        "{said}"
    );
    assert_eq!(instance_state(&mut db, id), "running");

    // start --wait: the hint names the instance it started.
    let (child, stderr, reader) = spawn_collecting(&cluster, &["start", "held", "--wait"]);
    wait_for(Duration::from_secs(30), "the first progress line", || {
        stderr.lock().unwrap().contains("tasks done").then_some(())
    });
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr.lock().unwrap());
    let second: i64 = db
        .query_one(
            "SELECT max(id) FROM sched.workflow_instances WHERE workflow = 'held'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_ne!(second, id);
    let said = stderr.lock().unwrap().clone();
    assert!(
        said.contains(&format!("Reattach with: sched wait {second}\n")),
        "{said}"
    );

    // Reattached, it follows both to their end.
    std::fs::write(&gate, "").unwrap();
    for instance in [id, second] {
        assert_eq!(
            cluster.sched_expect("postgres", &["wait", &instance.to_string()], 0),
            "succeeded\n"
        );
    }
}

#[test]
fn apply_prune_drops_users_before_what_they_use() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let dir = cluster.dir.join("flows");
    std::fs::create_dir(&dir).unwrap();
    // By name the child would go first, and drop_workflow refuses a workflow still used.
    std::fs::write(
        dir.join("a_child.yaml"),
        "name: a_child\ntasks:\n  - name: work\n    type: empty\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("m_watcher.yaml"),
        "name: m_watcher\ntasks:\n  - name: after\n    type: dependent\n    groups:\n      \
         - items:\n          - {workflow: a_child, cycle: day, date_value: today}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("z_parent.yaml"),
        "name: z_parent\ntasks:\n  - name: run\n    type: sub_process\n    workflow: m_watcher\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("keep.yaml"),
        "name: keep\ntasks:\n  - name: a\n    type: empty\n",
    )
    .unwrap();
    let path = dir.to_str().unwrap();
    cluster.sched_expect("alice", &["apply", path], 0);
    let names = |db: &mut Client| -> Vec<String> {
        db.query("SELECT name FROM sched.workflows ORDER BY name", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(names(&mut db), ["a_child", "keep", "m_watcher", "z_parent"]);

    for file in ["a_child.yaml", "m_watcher.yaml", "z_parent.yaml"] {
        std::fs::remove_file(dir.join(file)).unwrap();
    }
    // The dry run lists the drops in the order they would run, and drops nothing.
    let dry = cluster.sched_expect("alice", &["apply", "--prune", "--dry-run", path], 0);
    assert_eq!(
        dry,
        "z_parent: dropped\n- workflow z_parent\nm_watcher: dropped\n- workflow m_watcher\n\
         a_child: dropped\n- workflow a_child\n(dry run: nothing was changed)\n"
    );
    assert_eq!(names(&mut db), ["a_child", "keep", "m_watcher", "z_parent"]);
    let dry: serde_json::Value = serde_json::from_str(&cluster.sched_expect(
        "alice",
        &["--json", "apply", "--prune", "--dry-run", path],
        0,
    ))
    .unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["changes"][0]["change"], "dropped");

    let pruned = cluster.sched_expect("alice", &["apply", "--prune", path], 0);
    assert!(pruned.contains("a_child: dropped"), "{pruned}");
    assert_eq!(names(&mut db), ["keep"]);
}

#[test]
fn export_leaves_defaults_out_in_a_stable_order() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // Defaults spelled out, keys in no particular order.
    define(
        &mut db,
        r#"{"tasks": [
              {"type": "shell", "script": "echo ${dt}", "name": "extract", "deps": [], "priority": "medium",
               "description": "", "enabled": true, "retries": 0, "timeout": {"after": "1 min", "strategy": "warn"}},
              {"deps": ["extract"], "name": "load", "type": "shell", "script": "echo load", "priority": "high"}],
            "failure_strategy": "continue", "priority": "medium", "name": "etl", "description": "",
            "execution_type": "parallel", "worker_group": "default",
            "params": {"dt": {"value": "2024-01-01", "type": "varchar"}}, "env": {}}"#,
    );
    db.batch_execute("SELECT sched.schedule('etl', '0 0 2 * * ?', '{\"timezone\": \"UTC\"}')")
        .unwrap();
    let exported = cluster.sched_expect("postgres", &["export", "etl"], 0);
    assert_eq!(
        exported,
        "name: etl\n\
         params:\n  dt: 2024-01-01\n\
         tasks:\n\
         - name: extract\n  type: shell\n  script: echo ${dt}\n  timeout:\n    after: 1 min\n\
         - name: load\n  type: shell\n  deps:\n  - extract\n  priority: high\n  script: echo load\n\
         schedules:\n- cron: 0 0 2 * * ?\n"
    );
    assert_eq!(
        cluster.sched_expect("postgres", &["export", "etl"], 0),
        exported
    );

    // It reads back as the same definition: apply changes nothing.
    let dir = cluster.dir.join("flows");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("etl.yaml"), &exported).unwrap();
    assert_eq!(
        cluster.sched_expect("postgres", &["apply", dir.to_str().unwrap()], 0),
        "no changes\n"
    );
}

#[test]
fn connection_errors_name_the_server_and_the_role() {
    let cluster = Cluster::start(&[]);
    let out = cluster.sched("nobody", &["ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        lossy(&out.stderr),
        format!(
            "sched: could not connect to {}:5432 as nobody: role \"nobody\" does not exist\n",
            cluster.dir.display()
        )
    );

    // From the environment, as psql reads it, to a socket directory with no server.
    let missing = cluster.dir.join("no-server-here");
    let out = Command::new(sched_bin())
        .args(["status", "1"])
        .env_remove("SCHED_DATABASE_URL")
        .env("PGHOST", &missing)
        .env("PGPORT", "5499")
        .env("PGUSER", "alice")
        .env("PGDATABASE", "postgres")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "sched: could not connect to {}:5499 as alice: ",
            missing.display()
        )),
        "{err}"
    );
}
