//! Faults that must lose nothing and run nothing twice: the database going away, users'
//! transactions holding locks, reports that cannot succeed, sick workers.

use std::time::Duration;

use sched_tests::*;

/// Each task appends its name to `runs` once per run, so the file counts executions.
fn counting_spec(runs: &std::path::Path, nap_s: u32) -> String {
    let run = |name: &str| format!("echo {name} >> {}; sleep {nap_s}", runs.display());
    serde_json::json!({
        "name": "counted",
        "tasks": [
            {"name": "a", "type": "shell", "script": run("a")},
            {"name": "b", "type": "shell", "script": run("b")},
            {"name": "c", "type": "shell", "script": format!("echo c >> {}", runs.display()), "deps": ["a", "b"]}
        ]
    })
    .to_string()
}

fn runs_of(runs: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_to_string(runs)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[test]
fn a_database_restart_longer_than_the_worker_timeout_fails_nothing_over() {
    let cluster = Cluster::start(&["sched.worker_timeout = 3"]);
    let runs = cluster.dir.join("runs");
    let mut db = cluster.connect();
    define(&mut db, &counting_spec(&runs, 8));
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "counted");
    wait_for(Duration::from_secs(30), "a and b to run", || {
        (runs_of(&runs) == ["a", "b"]).then_some(())
    });
    drop(db);

    cluster.stop_server();
    // The outage lasts until the worker has failed five heartbeats (one a second), well past
    // the 3 s timeout: heartbeats from before it must not count once the server is back.
    let log = cluster.dir.join("worker-w1.log");
    wait_for(Duration::from_secs(60), "five failed heartbeats", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (text.matches("heartbeat failed").count() >= 5).then_some(())
    });
    cluster.start_server();

    let mut db = cluster.connect();
    assert_eq!(wait(&mut db, id, 120), "succeeded");
    assert_eq!(
        task_states(&mut db, id),
        [
            ("a".to_owned(), "succeeded".to_owned(), 1),
            ("b".to_owned(), "succeeded".to_owned(), 1),
            ("c".to_owned(), "succeeded".to_owned(), 1)
        ]
    );
    assert_eq!(runs_of(&runs), ["a", "b", "c"]);
    let dead: i64 = db
        .query_one("SELECT count(*) FROM sched.worker WHERE NOT alive", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        dead, 0,
        "a worker was declared dead because the database was down"
    );
}

#[test]
fn an_open_stop_transaction_stalls_neither_failover_nor_other_completions() {
    let cluster = Cluster::start(&["sched.worker_timeout = 2"]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "CREATE ROLE alice LOGIN IN ROLE sched_user;
             CREATE ROLE bob LOGIN IN ROLE sched_user;
             SELECT sched.grant_worker_group('alice', 'g1'), sched.grant_worker_group('bob', 'g1'),
                    sched.grant_worker_group('bob', 'g2');",
        )
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    // alice's instance has a long task and a short one that finishes while her stop is open.
    define(
        &mut alice,
        r#"{"name": "held", "worker_group": "g1", "tasks": [
              {"name": "long", "type": "shell", "script": "sleep 600"},
              {"name": "short", "type": "shell", "script": "sleep 1"}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "chain", "worker_group": "g1", "tasks": [
              {"name": "a", "type": "shell", "script": "true"},
              {"name": "b", "type": "shell", "script": "true", "deps": ["a"]},
              {"name": "c", "type": "shell", "script": "true", "deps": ["b"]}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "victim", "worker_group": "g2", "tasks": [{"name": "a", "type": "shell", "script": "sleep 600"}]}"#,
    );
    let _w1 = cluster.worker("w1", &["--group", "g1", "--slots", "8"]);
    let mut w2 = cluster.worker("w2", &["--group", "g2"]);
    let held = start(&mut alice, "held");
    let victim = start(&mut bob, "victim");
    wait_for(Duration::from_secs(30), "the long tasks to run", || {
        let running = |db: &mut Client, id| {
            task_states(db, id)
                .iter()
                .any(|(t, s, _)| t.as_str() != "short" && s == "running")
        };
        (running(&mut alice, held) && running(&mut bob, victim)).then_some(())
    });

    // alice stops her instance and leaves the transaction open, holding its lock.
    let mut open = cluster.connect_as("alice");
    open.batch_execute(&format!("BEGIN; SELECT sched.stop_workflow({held})"))
        .unwrap();

    // A dead worker's task is still failed over ...
    w2.signal(libc::SIGKILL);
    w2.wait_exit(Duration::from_secs(10));
    wait_for(
        Duration::from_secs(30),
        "the victim's task to fail over",
        || {
            let states = task_states(&mut bob, victim);
            (states.len() == 2 && states[0].1 == "need_fault_tolerance").then_some(())
        },
    );
    // ... and other users' tasks complete, also after alice's short task finished.
    let chain = start(&mut bob, "chain");
    assert_eq!(wait(&mut bob, chain, 60), "succeeded");
    wait_for(
        Duration::from_secs(30),
        "alice's short task to finish",
        || {
            std::process::Command::new("pgrep")
                .args(["-f", "^sleep 1$"])
                .output()
                .ok()
                .filter(|o| !o.status.success())
        },
    );
    let chain2 = start(&mut bob, "chain");
    assert_eq!(wait(&mut bob, chain2, 60), "succeeded");

    // Once alice commits, her deferred report lands and the stop completes.
    open.batch_execute("COMMIT").unwrap();
    assert_eq!(wait(&mut alice, held, 60), "stopped");
    let states = task_states(&mut alice, held);
    assert!(
        states.contains(&("short".to_owned(), "succeeded".to_owned(), 1)),
        "{states:?}"
    );
    assert!(
        states.contains(&("long".to_owned(), "killed".to_owned(), 1)),
        "{states:?}"
    );
}

#[test]
fn output_is_bounded_per_line_and_per_attempt_and_the_worker_stays_small() {
    let cluster = Cluster::start(&["sched.max_log_bytes_per_task = '1MB'"]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "loud", "tasks": [
              {"name": "zeros", "type": "shell", "script": "head -c 4G /dev/zero"},
              {"name": "chatty", "type": "shell", "script": "yes 'hello world' | head -c 3000000"},
              {"name": "binary", "type": "shell", "script": "printf 'caf\\xc3\\xa9 \\xff\\xfe end\\n'"},
              {"name": "many", "type": "shell", "script": "seq 1 100000"},
              {"name": "names", "type": "shell", "out": ["k"],
               "script": "awk 'BEGIN { for (i = 0; i < 2000000; i++) printf \"%s{setValue(key_%0100d=v)}\\n\", \"$\", i }'"}]}"#,
    );
    let worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "loud");
    let mut peak = 0;
    wait_for(Duration::from_secs(300), "the loud tasks to finish", || {
        peak = peak.max(rss_kb(worker.pid()));
        matches!(instance_state(&mut db, id).as_str(), "succeeded" | "failed").then_some(())
    });
    assert_eq!(instance_state(&mut db, id), "succeeded");
    assert!(peak < 64 * 1024, "worker RSS reached {peak} kB");

    let zeros = task_output(&mut db, id, "zeros");
    assert_eq!(zeros.len(), 1);
    assert!(
        zeros[0].ends_with(&format!(
            "[sched-worker: line cut, {} more bytes dropped]",
            (4u64 << 30) - 65536
        )),
        "{}",
        &zeros[0][zeros[0].len() - 80..]
    );

    let chatty = task_output(&mut db, id, "chatty");
    let stored: usize = chatty.iter().map(|l| l.len() + 1).sum();
    assert!(stored <= 1024 * 1024 + 200, "{stored} bytes stored");
    let last = chatty.last().unwrap();
    assert!(
        last.starts_with(
            "[sched-worker: output past sched.max_log_bytes_per_task (1048576 bytes):"
        ) && last.ends_with("more bytes dropped]"),
        "{last}"
    );

    assert_eq!(
        task_output(&mut db, id, "binary"),
        ["café \u{FFFD}\u{FFFD} end"]
    );
    let many = task_output(&mut db, id, "many");
    assert_eq!(many.len(), 100_000);
    assert_eq!(many.last().map(String::as_str), Some("100000"));
    // Two million undeclared setValue names (250 MB of them) were read and not kept.
    let names: serde_json::Value = db
        .query_one(
            "SELECT out_params FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'names'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(names, serde_json::json!({"k": ""}));
    let printed = task_output(&mut db, id, "names");
    assert!(
        printed[0].starts_with("${setValue(key_0000"),
        "{}",
        printed[0]
    );
    assert!(
        printed.last().unwrap().contains("more bytes dropped"),
        "the names task stopped early"
    );
}

#[test]
fn reports_get_through_a_statement_timeout_on_the_worker_role_and_an_encoding_that_cannot_store_them()
 {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    admin
        .batch_execute(&format!(
            "ALTER ROLE {WORKER_ROLE} SET statement_timeout = '1ms'"
        ))
        .unwrap();
    admin
        .batch_execute(
            "CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
        )
        .unwrap();
    let latin1_url = format!("host={} user=postgres dbname=latin1", cluster.dir.display());
    let mut latin1 = Client::connect(&latin1_url, postgres::NoTls).unwrap();
    latin1.batch_execute("CREATE EXTENSION pg_sched").unwrap();
    define(
        &mut latin1,
        r#"{"name": "accents", "tasks": [{"name": "a", "type": "shell",
              "script": "echo before; printf 'caf\\xc3\\xa9 \\xe2\\x82\\xacuro \\xe6\\x97\\xa5\\xe6\\x9c\\xac\\n'; echo after; seq 1 5000"}]}"#,
    );
    let mut cmd = cluster.worker_command("w1");
    cmd.arg("--database-url").arg(format!(
        "host={} user={WORKER_ROLE} dbname=latin1",
        cluster.dir.display()
    ));
    let _worker = cluster.start_worker_in(&latin1_url, "w1", &mut cmd);
    let id = start(&mut latin1, "accents");
    assert_eq!(wait(&mut latin1, id, 60), "succeeded");
    let out = task_output(&mut latin1, id, "a");
    assert_eq!(out.len(), 5003, "every line stored: {:?}", &out[..3]);
    assert_eq!(out[0], "before");
    assert_eq!(out[1], "caf\\u{e9} \\u{20ac}uro \\u{65e5}\\u{672c}");
    assert_eq!(out[2], "after");
}

#[test]
fn a_worker_that_cannot_create_task_directories_hands_its_tasks_to_the_others() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let tasks: Vec<serde_json::Value> = (0..20)
        .map(|i| serde_json::json!({"name": format!("t{i}"), "type": "shell", "script": "true"}))
        .collect();
    define(
        &mut db,
        &serde_json::json!({"name": "many", "tasks": tasks}).to_string(),
    );
    let sick_dir = cluster.dir.join("sick-work");
    let mut cmd = std::process::Command::new(worker_bin());
    cmd.args(["--name", "sick", "--slots", "8", "--database-url"])
        .arg(cluster.conn_string(WORKER_ROLE))
        .arg("--work-dir")
        .arg(&sick_dir);
    let _sick = cluster.start_worker("sick", &mut cmd);
    // Its work directory becomes a file: even root cannot create task directories in it.
    std::fs::remove_dir_all(&sick_dir).unwrap();
    std::fs::write(&sick_dir, "").unwrap();

    let id = start(&mut db, "many");
    wait_for(
        Duration::from_secs(30),
        "the sick worker to back off",
        || {
            db.query_one(
                "SELECT status FROM sched.workers WHERE name = 'sick' AND alive",
                &[],
            )
            .unwrap()
            .get::<_, Option<String>>(0)
            .filter(|s| s.starts_with("backing off"))
        },
    );
    let _healthy = cluster.worker("healthy", &["--slots", "8"]);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let states = task_states(&mut db, id);
    assert_eq!(states.len(), 20, "one attempt per task: {states:?}");
    assert!(
        states.iter().all(|(_, s, a)| s == "succeeded" && *a == 1),
        "{states:?}"
    );
    let on_sick: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1 AND worker = 'sick'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(on_sick, 0);
}

#[test]
fn a_worker_killed_with_sigkill_leaves_no_task_processes_behind() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // The task's own children, not only its first process, must go.
    define(
        &mut db,
        r#"{"name": "nest", "tasks": [{"name": "a", "type": "shell",
              "script": "(exec -a orphan-$SCHED_TASK_INSTANCE_ID sleep 600) & (exec -a orphan-$SCHED_TASK_INSTANCE_ID sleep 600) & wait"}]}"#,
    );
    let mut worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "nest");
    let task: i64 = wait_for(Duration::from_secs(30), "the task to run", || {
        db.query_opt(
            "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1 AND state = 'running'",
            &[&id],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    let alive = || {
        std::process::Command::new("pgrep")
            .args(["-c", "-f", &format!("^orphan-{task} ")])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<i32>()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    wait_for(Duration::from_secs(10), "both children to start", || {
        (alive() == 2).then_some(())
    });
    worker.signal(libc::SIGKILL);
    worker.wait_exit(Duration::from_secs(10));
    wait_for(
        Duration::from_secs(10),
        "the task's processes to be killed",
        || (alive() == 0).then_some(()),
    );
}

#[test]
fn a_worker_cut_off_from_the_database_kills_its_tasks_before_they_are_failed_over() {
    let cluster = Cluster::start(&["sched.worker_timeout = 4"]);
    let proxy = Proxy::start(&cluster);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "cut", "tasks": [{"name": "a", "type": "shell",
              "script": "exec -a fenced-$SCHED_TASK_INSTANCE_ID sleep 600"}]}"#,
    );
    let mut cmd = cluster.worker_command("far");
    cmd.arg("--database-url").arg(format!(
        "host=127.0.0.1 port={} user={WORKER_ROLE} dbname=postgres",
        proxy.port
    ));
    let _far = cluster.start_worker("far", &mut cmd);
    let id = start(&mut db, "cut");
    let first = running_attempt(&mut db, id);
    let running = || process_runs(&format!("fenced-{first}"));
    wait_for(Duration::from_secs(10), "the task's process", || {
        running().then_some(())
    });

    proxy.blackhole();
    let _near = cluster.worker("near", &[]);
    let killed_at = wait_for(
        Duration::from_secs(20),
        "the cut-off worker to kill its task",
        || (!running()).then(std::time::SystemTime::now),
    );
    let second_started: std::time::SystemTime = wait_for(
        Duration::from_secs(30),
        "the failed-over attempt to start",
        || {
            db.query_opt(
                "SELECT started_at FROM sched.task_instances
                 WHERE workflow_instance_id = $1 AND attempt = 2 AND state = 'running'",
                &[&id],
            )
            .unwrap()
            .map(|r| r.get(0))
        },
    );
    assert!(
        killed_at <= second_started,
        "the first attempt still ran when the second started ({killed_at:?} > {second_started:?})"
    );
    assert_eq!(task_states(&mut db, id)[0].1, "need_fault_tolerance");
}

#[test]
fn the_heartbeat_follows_a_reloaded_worker_timeout() {
    let cluster = Cluster::start(&["sched.worker_timeout = 6"]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &[]);
    db.batch_execute("ALTER SYSTEM SET sched.worker_timeout = 3")
        .unwrap();
    db.batch_execute("SELECT pg_reload_conf()").unwrap();
    let mut beats: Vec<std::time::SystemTime> = Vec::new();
    wait_for(
        Duration::from_secs(30),
        "five heartbeats after the reload",
        || {
            let (at, alive): (std::time::SystemTime, bool) = db
                .query_one(
                    "SELECT last_heartbeat, alive FROM sched.worker WHERE name = 'w1'",
                    &[],
                )
                .map(|r| (r.get(0), r.get(1)))
                .unwrap();
            assert!(alive, "declared dead after the reload");
            if beats.last() != Some(&at) {
                beats.push(at);
            }
            (beats.len() >= 7).then_some(())
        },
    );
    // The first two beats may still come at the old pace (every 2 s); then every second.
    let gaps: Vec<Duration> = beats[2..]
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap())
        .collect();
    assert!(
        gaps.iter().all(|g| *g < Duration::from_millis(1600)),
        "heartbeats after the reload came every {gaps:?}"
    );
}

/// Shared buffers the claim statement inside sched.claim_tasks touched, from auto_explain.
fn claim_buffers(cluster: &Cluster, worker_id: i64) -> u64 {
    let (mut db, notices) = {
        let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = notices.clone();
        let db =
            <postgres::Config as std::str::FromStr>::from_str(&cluster.conn_string("postgres"))
                .unwrap()
                .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_owned()))
                .connect(postgres::NoTls)
                .unwrap();
        (db, notices)
    };
    db.batch_execute(
        "LOAD 'auto_explain';
         SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
         SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on;
         SET auto_explain.log_level = notice;",
    )
    .unwrap();
    let claimed = db
        .query("SELECT * FROM sched.claim_tasks($1, 1)", &[&worker_id])
        .unwrap();
    assert_eq!(claimed.len(), 1, "the claim found the one ready task");
    let plans = notices.lock().unwrap().clone();
    let plan = plans
        .iter()
        .find(|p| p.contains("FOR UPDATE SKIP LOCKED"))
        .unwrap_or_else(|| panic!("no plan of the claim among {plans:?}"));
    // The top node's line carries the statement's whole buffer count.
    let buffers = plan
        .lines()
        .find(|l| l.trim_start().starts_with("Buffers:"))
        .unwrap_or_else(|| panic!("no buffer counts in {plan}"));
    buffers
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_backlog_in_a_group_nobody_serves_leaves_claims_for_others_flat() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "one", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let worker: i64 = db
        .query_one(
            "SELECT sched.register_worker('manual', 'h', ARRAY['default'], 1)",
            &[],
        )
        .unwrap()
        .get(0);
    start(&mut db, "one");
    let quiet = claim_buffers(&cluster, worker);

    // 200,000 queued tasks for a worker group no worker serves.
    db.batch_execute(
        "INSERT INTO sched.task_instance (workflow_instance_id, task_id, state, worker_group, workflow_priority, task_priority)
         SELECT ti.workflow_instance_id, ti.task_id, 'queued', 'nobody_serves_this', 2, 2
         FROM sched.task_instance ti, generate_series(1, 200000)
         WHERE ti.id = (SELECT min(id) FROM sched.task_instance);
         ANALYZE sched.task_instance;",
    )
    .unwrap();
    start(&mut db, "one");
    let busy = claim_buffers(&cluster, worker);
    assert!(
        busy <= quiet * 2 + 10,
        "a claim touched {quiet} buffers before the foreign backlog and {busy} with it"
    );
}

fn exists(db: &mut Client, relation: &str) -> bool {
    db.query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation])
        .unwrap()
        .get(0)
}

#[test]
fn log_partitions_are_made_ahead_and_dropped_after_the_retention() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let day = |db: &mut Client, offset: i32| -> String {
        db.query_one(
            "SELECT 'sched.task_log_line_' || to_char((now() AT TIME ZONE 'UTC')::date + $1::integer, 'YYYYMMDD')",
            &[&offset],
        )
        .unwrap()
        .get(0)
    };
    let (today, tomorrow) = (day(&mut db, 0), day(&mut db, 1));
    wait_for(
        Duration::from_secs(30),
        "the master to make today's log partition",
        || (exists(&mut db, &today) && exists(&mut db, &tomorrow)).then_some(()),
    );
    define(
        &mut db,
        r#"{"name": "talk", "tasks": [{"name": "a", "type": "shell", "script": "seq 1 3"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "talk");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let stored: i64 = db
        .query_one(&format!("SELECT count(*) FROM {today}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(stored, 3, "the lines are in today's partition");

    // Forty days later, with 30 days of retention.
    db.batch_execute(
        "SELECT sched._maintain_logs((now() AT TIME ZONE 'UTC')::date + 40, '30 days')",
    )
    .unwrap();
    assert!(
        !exists(&mut db, &today),
        "today's partition outlived the retention"
    );
    for offset in 39..=42 {
        let ahead = day(&mut db, offset);
        assert!(exists(&mut db, &ahead), "{ahead} was not made");
    }
    assert!(task_output(&mut db, id, "a").is_empty());
}

#[test]
fn finished_history_expires_after_the_retention_and_unfinished_never_does() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.execute(
        "SELECT sched.create_alert_group('ops', '[{\"type\": \"webhook\", \"url\": \"http://127.0.0.1:9/x\"}]')",
        &[],
    )
    .unwrap();
    define(
        &mut db,
        r#"{"name": "join", "notify": {"strategy": "all", "alert_group": "ops"},
            "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty"},
              {"name": "c", "type": "empty", "deps": ["a", "b"]}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "waits", "worker_group": "nobody", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let done = start(&mut db, "join");
    assert_eq!(wait(&mut db, done, 60), "succeeded");
    let pending = start(&mut db, "waits");
    let counters: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.join_progress WHERE workflow_instance_id = $1",
            &[&done],
        )
        .unwrap()
        .get(0);
    assert_eq!(counters, 0, "join counters outlived their instance");

    // A minute after the end, the attempts leave the hot table for the history; the views and
    // the logs still show them.
    wait_history_partition(&mut db);
    let archived: i32 = db
        .query_one("SELECT sched._archive_finished(now() + '2 minutes')", &[])
        .unwrap()
        .get(0);
    assert_eq!(archived, 1);
    let hot: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_instance WHERE workflow_instance_id = $1",
            &[&done],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        hot, 0,
        "the finished instance's attempts stayed in the hot table"
    );
    assert_eq!(task_states(&mut db, done).len(), 3);

    let alerted: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.alerts WHERE workflow_instance_id = $1",
            &[&done],
        )
        .unwrap()
        .get(0);
    assert_eq!(alerted, 1);
    let expired: i32 = db
        .query_one(
            "SELECT sched._expire_history(now() + '100 days', '90 days')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(expired, 1);
    let left: Vec<i64> = db
        .query("SELECT id FROM sched.workflow_instances ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, [pending]);
    let attempts: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&done],
        )
        .unwrap()
        .get(0);
    assert_eq!(attempts, 0);
    // Its alert and the alert's outbox row went with it.
    let alerts: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM sched.alert) + (SELECT count(*) FROM sched.alert_delivery)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(alerts, 0);
    assert_eq!(
        task_states(&mut db, pending).len(),
        1,
        "the unfinished instance kept its attempt"
    );
}

#[test]
fn waiting_with_the_procedure_lets_the_vacuum_horizon_move() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "nap", "tasks": [{"name": "a", "type": "shell", "script": "sleep 600"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "nap");
    let url = cluster.conn_string("postgres");
    let waiter = std::thread::spawn(move || {
        let mut w = Client::connect(&url, postgres::NoTls).unwrap();
        w.query_one("CALL sched.wait_for_workflow($1, '120 s')", &[&id])
            .unwrap()
            .get::<_, String>(0)
    });
    let pid: i32 = wait_for(Duration::from_secs(30), "the waiter to wait", || {
        db.query_opt(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE 'CALL sched.wait_for_workflow%'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    let later: i64 = db.query_one("SELECT txid_current()", &[]).unwrap().get(0);
    wait_for(
        Duration::from_secs(30),
        "the waiter's snapshot to move past a later transaction",
        || {
            let xmin: Option<i64> = db
                .query_one(
                    "SELECT backend_xmin::text::bigint FROM pg_stat_activity WHERE pid = $1",
                    &[&pid],
                )
                .unwrap()
                .get(0);
            xmin.filter(|x| *x > later).map(|_| ())
        },
    );
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(waiter.join().unwrap(), "stopped");
}

#[test]
fn worker_sessions_commit_durably_and_stay_open_whatever_their_role_says() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // What an administrator may have set for every session of the workers' role; a trigger
    // on the worker table records what the worker's sessions really run with.
    db.batch_execute(&format!(
        "ALTER ROLE {WORKER_ROLE} SET synchronous_commit = off;
         ALTER ROLE {WORKER_ROLE} SET idle_session_timeout = '1s';
         CREATE TABLE public.seen (synchronous_commit text, idle_session_timeout text);
         CREATE FUNCTION public.record_settings() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO public.seen VALUES (current_setting('synchronous_commit'), current_setting('idle_session_timeout'));
             RETURN NEW;
         END $$;
         CREATE TRIGGER record_settings BEFORE UPDATE ON sched.task_instance
             FOR EACH ROW EXECUTE FUNCTION public.record_settings();"
    ))
    .unwrap();
    // Claims and reports, which the worker acts on, commit durably (heartbeats need not: see
    // sched.heartbeat).
    define(
        &mut db,
        r#"{"name": "one", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "one");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let seen: Vec<(String, String)> = wait_for(
        Duration::from_secs(30),
        "a claim to record its session's settings",
        || {
            let rows = db.query("SELECT DISTINCT * FROM public.seen", &[]).unwrap();
            (!rows.is_empty()).then(|| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        },
    );
    assert_eq!(seen, vec![("on".to_owned(), "0".to_owned())]);
}

#[test]
fn a_long_lock_on_the_attempts_neither_fences_a_healthy_worker_nor_runs_a_task_twice() {
    // Calls time out after 5 s, heartbeats after 2 s, and the worker fences itself after 4 s
    // without one.
    let cluster = Cluster::start(&["sched.worker_timeout = 6"]);
    let mut db = cluster.connect();
    let runs = cluster.dir.join("runs");
    define(&mut db, &counting_spec(&runs, 1));
    let worker = cluster.worker("w1", &["--slots", "4"]);
    let id = start(&mut db, "counted");
    wait_running(&mut db, id, 2);
    // What VACUUM FULL or ALTER TABLE takes, held while the worker's calls wait behind it
    // and time out (four times: past the fence's 4 s, and long enough for every pooled connection to have a statement stuck behind the lock).
    let mut locker = cluster.connect();
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE sched.task_instance IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let log = cluster.dir.join(format!("worker-{}.log", worker.name));
    wait_for(
        Duration::from_secs(60),
        "two of the worker's calls to time out behind the lock",
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            (text.matches("did not answer within").count() >= 4).then_some(())
        },
    );
    lock.commit().unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(runs_of(&runs), ["a", "b", "c"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("killing tasks"), "{text}");
    assert!(!text.contains("heartbeat failed"), "{text}");
    let alive: bool = db
        .query_one(
            "SELECT alive FROM sched.worker WHERE name = 'w1' ORDER BY id LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(alive, "the worker's first registration was lost");
}

/// Stops the server and starts a worker named "early", returned with its log once it says it
/// waits for the database.
fn worker_waiting_for_its_database(cluster: &Cluster) -> (Worker, std::path::PathBuf) {
    cluster.stop_server();
    let log = cluster.dir.join("worker-early.log");
    let mut cmd = cluster.worker_command("early");
    cmd.arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let worker = Worker {
        child: cmd.spawn().unwrap(),
        name: "early".to_owned(),
    };
    wait_for(
        Duration::from_secs(30),
        "the worker to say it waits for the database",
        || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("cannot register yet")
                .then_some(())
        },
    );
    (worker, log)
}

#[test]
fn a_worker_started_before_its_database_waits_for_it_and_registers_once() {
    let cluster = Cluster::start(&[]);
    let (mut worker, _) = worker_waiting_for_its_database(&cluster);
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker gave up"
    );
    cluster.start_server();
    let mut db = cluster.connect();
    wait_for(Duration::from_secs(60), "the worker to register", || {
        let alive: i64 = db
            .query_one(
                "SELECT count(*) FROM sched.worker WHERE name = 'early' AND alive",
                &[],
            )
            .unwrap()
            .get(0);
        (alive == 1).then_some(())
    });
    define(
        &mut db,
        r#"{"name": "after", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let id = start(&mut db, "after");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let registrations: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.worker WHERE name = 'early'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(registrations, 1);
}

#[test]
fn a_worker_told_to_stop_while_it_waits_for_its_database_exits_cleanly() {
    let cluster = Cluster::start(&[]);
    let (mut worker, log) = worker_waiting_for_its_database(&cluster);
    worker.signal(libc::SIGTERM);
    let status = worker.wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "{status:?}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("stopped before registering")
    );
}

#[test]
fn a_registration_retried_after_its_answer_was_lost_is_the_same_registration() {
    let cluster = Cluster::start(&[]);
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let register = |db: &mut Client, token: i64| {
        db.query_one(
            "SELECT sched.register_worker('w', 'h', ARRAY['default'], 1, $1)",
            &[&token],
        )
        .map(|r| r.get::<_, i64>(0))
    };
    let first = register(&mut worker, 42).unwrap();
    assert_eq!(register(&mut worker, 42).unwrap(), first);
    // Another process of the same name is still refused while this one lives.
    let err = error_of(register(&mut worker, 43));
    assert!(err.contains("is registered and alive"), "{err}");
    let rows: i64 = cluster
        .connect()
        .query_one("SELECT count(*) FROM sched.worker WHERE name = 'w'", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

#[test]
fn the_master_waits_quietly_for_its_database_and_starts_once_it_exists() {
    let cluster = Cluster::start(&["sched.database = 'later'"]);
    let mut db = cluster.connect();
    wait_for(
        Duration::from_secs(30),
        "the launcher to say it waits",
        || {
            cluster
                .server_log()
                .contains("waiting for database \"later\"")
                .then_some(())
        },
    );
    // A few of the launcher's looks later, it has said so once and failed nothing.
    let launcher_looks = || -> i64 {
        let mut db = cluster.connect();
        db.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_sched launcher'",
            &[],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(launcher_looks(), 1);
    db.batch_execute("CREATE DATABASE later").unwrap();
    let mut later = postgres::Client::connect(
        &format!("host={} user=postgres dbname=later", cluster.dir.display()),
        postgres::NoTls,
    )
    .unwrap();
    later.batch_execute("CREATE EXTENSION pg_sched").unwrap();
    wait_for(Duration::from_secs(30), "the master to start", || {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE backend_type = 'pg_sched master' AND datname = 'later'",
                &[],
            )
            .unwrap()
            .get(0);
        (n == 1).then_some(())
    });
    let log = cluster.server_log();
    assert_eq!(
        log.matches("waiting for database \"later\"").count(),
        1,
        "{log}"
    );
    assert!(!log.contains("does not exist"), "{log}");
    // Not even once on a fresh cluster, whose shared catalogs' cache file is not written yet.
    assert!(!log.contains("FATAL"), "{log}");
    // It fails over in that database.
    define(
        &mut later,
        r#"{"name": "there", "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let mut cmd = cluster.worker_command("there");
    cmd.arg("--database-url").arg(format!(
        "host={} user={WORKER_ROLE} dbname=later",
        cluster.dir.display()
    ));
    let _w = cluster.start_worker_in(
        &format!("host={} user=postgres dbname=later", cluster.dir.display()),
        "there",
        &mut cmd,
    );
    let id = start(&mut later, "there");
    assert_eq!(wait(&mut later, id, 60), "succeeded");
}

#[test]
fn a_day_that_began_before_its_partition_keeps_its_rows_in_the_default_partition() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    // A line of a day no partition was made for yet, as on a fresh install.
    db.batch_execute(
        "INSERT INTO sched.task_log_line (task_instance_id, line_no, day, line)
         VALUES (1, 1, DATE '2030-01-02', 'early')",
    )
    .unwrap();
    db.execute(
        "SELECT sched._maintain_logs(DATE '2030-01-02', interval '7 days')",
        &[],
    )
    .unwrap();
    // Moving it would hide it for a moment from readers planned across the attach.
    assert!(!exists(&mut db, "sched.task_log_line_20300102"));
    assert!(exists(&mut db, "sched.task_log_line_20300103"));
    let left: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_log_line_default WHERE line = 'early'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 1);
}

/// A worker that speaks the protocol in SQL, with `slots` slots of group `default`: its
/// connection and its registration.
fn sql_worker(cluster: &Cluster, name: &str, slots: i32) -> (Client, i64) {
    let mut c = cluster.connect_as(WORKER_ROLE);
    let id = c
        .query_one(
            "SELECT sched.register_worker($1, 'h', ARRAY['default'], $2)",
            &[&name, &slots],
        )
        .unwrap()
        .get(0);
    (c, id)
}

/// The id of one task that worker `w` claimed, once there is one.
fn claim_one(c: &mut Client, w: i64) -> i64 {
    wait_for(Duration::from_secs(30), "a task to claim", || {
        c.query(
            "SELECT task_instance_id FROM sched.claim_tasks($1, 1)",
            &[&w],
        )
        .unwrap()
        .first()
        .map(|r| r.get(0))
    })
}

/// Two workers report on tasks of one instance at the same moment, each in its own open
/// transaction, as their pools do. Reports of successes share the instance's lock: the second
/// ends its attempt at once, not handed back deferred, and waits for the first only to decide
/// whether the instance has ended, so the last of the two ends it. A failure report still
/// locks the instance alone, and is deferred while another report holds it.
#[test]
fn reports_of_successes_in_one_instance_proceed_side_by_side_and_the_last_ends_it() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "sides", "tasks": [
              {"name": "a", "type": "empty"}, {"name": "b", "type": "empty"},
              {"name": "c", "type": "empty", "deps": ["a"]}, {"name": "d", "type": "empty", "deps": ["b"]},
              {"name": "e", "type": "empty", "deps": ["c"]}, {"name": "f", "type": "empty", "deps": ["d"]}]}"#,
    );
    // A chain never runs two tasks at once, and a task decided in the database may fail the
    // instance or reach another: their reports lock the instance alone.
    define(
        &mut db,
        r#"{"name": "chain", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty", "deps": ["a"]}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "decided", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty"},
              {"name": "c", "type": "conditions", "deps": ["a"],
               "conditions": {"groups": [{"items": [{"task": "a", "status": "succeeded"}]}]},
               "on_success": ["b"], "on_failure": []}]}"#,
    );
    let alone: Vec<(String, bool)> = db
        .query(
            "SELECT w.name, v.reports_alone FROM sched.workflow w JOIN sched.workflow_version v ON v.workflow_id = w.id
             ORDER BY w.name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        alone,
        [
            ("chain".into(), true),
            ("decided".into(), true),
            ("sides".into(), false)
        ]
    );
    let id = start(&mut db, "sides");
    let (mut one, w1) = sql_worker(&cluster, "one", 1);
    let (mut two, w2) = sql_worker(&cluster, "two", 1);
    let two_pid: i32 = two
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut watch = cluster.connect();
    // `one` reports in an open transaction; `two` reports meanwhile, from another thread. A
    // report of a success gets as far as ending its attempt (it holds the row lock of its
    // update of sched.task_instance) and waits while `one` is open; a failure report is
    // deferred while `one` is open. Returns whether two's report was deferred.
    let mut side_by_side = |one: &mut Client,
                            two: Client,
                            t1: i64,
                            t2: i64,
                            code2: i32|
     -> (Client, bool) {
        one.batch_execute("BEGIN").unwrap();
        one.query(
            "SELECT * FROM sched.complete_tasks($1, ARRAY[$2::bigint], ARRAY[0])",
            &[&w1, &t1],
        )
        .unwrap();
        let reporting = std::thread::spawn(move || {
            let mut two = two;
            let deferred: Vec<bool> = two
                .query(
                    "SELECT deferred FROM sched.complete_tasks($1, ARRAY[$2::bigint], ARRAY[$3::integer])",
                    &[&w2, &t2, &code2],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            (two, deferred == [true])
        });
        if code2 == 0 {
            wait_for(
                Duration::from_secs(30),
                "the second report to end its attempt and wait",
                || {
                    let waiting: bool = watch
                    .query_one(
                        "SELECT bool_or(NOT granted) AND bool_or(granted AND relation = 'sched.task_instance'::regclass
                                                                 AND mode = 'RowExclusiveLock')
                         FROM pg_catalog.pg_locks WHERE pid = $1",
                        &[&two_pid],
                    )
                    .unwrap()
                    .get::<_, Option<bool>>(0)
                    .unwrap_or(false);
                    (waiting || reporting.is_finished()).then_some(())
                },
            );
            assert!(
                !reporting.is_finished(),
                "the second report did not wait for the first to commit"
            );
        } else {
            wait_for(
                Duration::from_secs(30),
                "the failure report to return",
                || reporting.is_finished().then_some(()),
            );
        }
        one.batch_execute("COMMIT").unwrap();
        reporting.join().unwrap()
    };

    let (t1, t2) = (claim_one(&mut one, w1), claim_one(&mut two, w2));
    let (mut two, deferred) = side_by_side(&mut one, two, t1, t2, 0);
    assert!(!deferred, "a report of a success was deferred");
    let (t1, t2) = (claim_one(&mut one, w1), claim_one(&mut two, w2));
    let (mut two, deferred) = side_by_side(&mut one, two, t1, t2, 1);
    assert!(
        deferred,
        "a failure report did not wait to lock the instance alone"
    );
    two.query(
        "SELECT * FROM sched.complete_tasks($1, ARRAY[$2::bigint], ARRAY[0])",
        &[&w2, &t2],
    )
    .unwrap();

    // The last two tasks: neither report sees the other's end before it commits, yet the
    // instance ends.
    let (t1, t2) = (claim_one(&mut one, w1), claim_one(&mut two, w2));
    let (_, deferred) = side_by_side(&mut one, two, t1, t2, 0);
    assert!(!deferred, "a report of a success was deferred");
    assert_eq!(instance_state(&mut db, id), "succeeded");
    let states = task_states(&mut db, id);
    assert_eq!(states.len(), 6, "{states:?}");
    assert!(
        states.iter().all(|(_, s, a)| s == "succeeded" && *a == 1),
        "{states:?}"
    );
}

/// A report that claims a task of its own instance in the same call leaves that attempt active
/// past its commit, so the instance cannot end there: it skips the instance row's lock that
/// decides the end, and another such report does not wait for it. The reports that claim
/// nothing still decide the end, and the instance ends.
#[test]
fn a_report_that_claims_a_task_of_its_instance_does_not_wait_to_decide_its_end() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "flat", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty"},
              {"name": "c", "type": "empty"}, {"name": "d", "type": "empty"}]}"#,
    );
    let id = start(&mut db, "flat");
    let (mut one, w1) = sql_worker(&cluster, "one", 2);
    let (mut two, w2) = sql_worker(&cluster, "two", 2);
    let (a, b) = (claim_one(&mut one, w1), claim_one(&mut two, w2));
    // Reports a success and claims one task, returning the claimed task's instance and id.
    let report = |c: &mut Client, w: i64, t: i64, token: i64| -> Vec<(i64, i64)> {
        c.query(
            "SELECT workflow_instance_id, task_instance_id
             FROM sched.complete_tasks($1, ARRAY[$2::bigint], ARRAY[0], claim_max => 1, claim_token => $3)",
            &[&w, &t, &token],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    one.batch_execute("BEGIN").unwrap();
    let claimed_by_one = report(&mut one, w1, a, 101);
    assert_eq!(claimed_by_one.len(), 1, "{claimed_by_one:?}");
    assert_eq!(claimed_by_one[0].0, id);
    let two_pid: i32 = two
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let reporting = std::thread::spawn(move || {
        let claimed = report(&mut two, w2, b, 202);
        (two, claimed)
    });
    let mut watch = cluster.connect();
    wait_for(
        Duration::from_secs(30),
        "the second report to return or to wait for a lock",
        || {
            let waiting: bool = watch
                .query_one(
                    "SELECT coalesce(bool_or(NOT granted), false) FROM pg_catalog.pg_locks WHERE pid = $1",
                    &[&two_pid],
                )
                .unwrap()
                .get(0);
            (waiting || reporting.is_finished()).then_some(())
        },
    );
    assert!(
        reporting.is_finished(),
        "the second report waited for the first, though both claimed a task of their instance"
    );
    let (mut two, claimed_by_two) = reporting.join().unwrap();
    assert_eq!(claimed_by_two.len(), 1, "{claimed_by_two:?}");
    assert_eq!(claimed_by_two[0].0, id);
    one.batch_execute("COMMIT").unwrap();
    assert_eq!(instance_state(&mut db, id), "running");

    // The last two reports claim nothing: they decide the end.
    let (c, d) = (claimed_by_one[0].1, claimed_by_two[0].1);
    assert!(report(&mut one, w1, c, 103).is_empty());
    assert_eq!(instance_state(&mut db, id), "running");
    assert!(report(&mut two, w2, d, 203).is_empty());
    assert_eq!(instance_state(&mut db, id), "succeeded");
    let states = task_states(&mut db, id);
    assert!(
        states.iter().all(|(_, s, a)| s == "succeeded" && *a == 1),
        "{states:?}"
    );
}

/// Reports that share an instance's lock keep coming while eight workers drain it; a row lock
/// is not queued, so a stop waited for a gap between them: until the instance had run out of
/// tasks. Queued at the instance's gate, it takes effect at once.
#[test]
fn a_stop_takes_effect_while_eight_workers_drain_the_instance() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let total = 20_000;
    let tasks: Vec<_> = (0..total)
        .map(|i| serde_json::json!({"name": format!("t{i}"), "type": "empty"}))
        .collect();
    define(
        &mut db,
        &serde_json::json!({"name": "busy", "tasks": tasks}).to_string(),
    );
    let _workers: Vec<_> = (0..8)
        .map(|i| cluster.worker(&format!("w{i}"), &["--slots", "16"]))
        .collect();
    let id = start(&mut db, "busy");
    let succeeded = |db: &mut Client| -> i64 {
        db.query_one(
            "SELECT count(*) FROM sched.task_instance WHERE workflow_instance_id = $1 AND state = 'succeeded'",
            &[&id],
        )
        .unwrap()
        .get(0)
    };
    wait_for(Duration::from_secs(60), "the drain to be under way", || {
        (succeeded(&mut db) >= 500).then_some(())
    });
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    let at_stop = succeeded(&mut db);
    assert!(
        at_stop < total / 2,
        "the stop took effect only after {at_stop} of {total} tasks had succeeded"
    );
    assert_eq!(wait(&mut db, id, 60), "stopped");
    let killed: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_instance WHERE workflow_instance_id = $1 AND state = 'killed'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed + succeeded(&mut db), total);
}

/// Anyone may take an advisory lock, also on the key of another user's instance's gate. It
/// must stall nothing: a report that cannot get the gate locks the instance alone, and a stop
/// waits at the gate a second at most, then for the row as before.
#[test]
fn an_advisory_lock_on_an_instance_s_gate_stalls_neither_reports_nor_a_stop() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE mallory LOGIN").unwrap();
    define(
        &mut db,
        r#"{"name": "pair", "tasks": [{"name": "a", "type": "empty"}, {"name": "b", "type": "empty"},
              {"name": "c", "type": "empty"}]}"#,
    );
    let id = start(&mut db, "pair");
    let key = (id & 0x7fff_ffff) as i32;
    let gate = 1_935_893_860i32;
    let mut mallory = cluster.connect_as("mallory");
    let mut worker = cluster.connect_as(WORKER_ROLE);
    let w: i64 = worker
        .query_one(
            "SELECT sched.register_worker('w', 'h', ARRAY['default'], 3)",
            &[],
        )
        .unwrap()
        .get(0);
    let claimed: Vec<i64> = wait_for(Duration::from_secs(30), "three tasks to claim", || {
        let ids: Vec<i64> = worker
            .query(
                "SELECT task_instance_id FROM sched.claim_tasks($1, 3)",
                &[&w],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        (ids.len() == 3).then_some(ids)
    });
    let report = |c: &mut Client, t: i64| -> Vec<bool> {
        c.query(
            "SELECT deferred FROM sched.complete_tasks($1, ARRAY[$2::bigint], ARRAY[0])",
            &[&w, &t],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };

    // Held exclusively: the report is taken, not deferred.
    mallory
        .execute("SELECT pg_advisory_lock($1, $2)", &[&gate, &key])
        .unwrap();
    assert_eq!(report(&mut worker, claimed[0]), Vec::<bool>::new());
    mallory
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .unwrap();

    // Held shared, while a report holds the instance in an open transaction: the stop waits
    // for the report only.
    mallory
        .execute("SELECT pg_advisory_lock_shared($1, $2)", &[&gate, &key])
        .unwrap();
    worker.batch_execute("BEGIN").unwrap();
    assert_eq!(report(&mut worker, claimed[1]), Vec::<bool>::new());
    let mut stopper = cluster.connect();
    let stopping = std::thread::spawn(move || {
        stopper
            .execute("SELECT sched.stop_workflow($1)", &[&id])
            .unwrap();
    });
    let mut watch = cluster.connect();
    wait_for(Duration::from_secs(30), "the stop to wait", || {
        let waiting: i64 = watch
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_stat_activity
                 WHERE query LIKE 'SELECT sched.stop_workflow%' AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        (waiting > 0).then_some(())
    });
    worker.batch_execute("COMMIT").unwrap();
    wait_for(Duration::from_secs(30), "the stop to return", || {
        stopping.is_finished().then_some(())
    });
    stopping.join().unwrap();
    // The last task, asked to be killed, is reported so.
    worker
        .query(
            "SELECT * FROM sched.complete_tasks($1, ARRAY[$2::bigint], ARRAY[137], outcomes => ARRAY['killed'])",
            &[&w, &claimed[2]],
        )
        .unwrap();
    assert_eq!(wait(&mut db, id, 60), "stopped");
}
