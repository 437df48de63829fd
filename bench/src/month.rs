//! Issue 31's month: production load on a cluster of its own until `MONTH_ATTEMPTS` attempts
//! have run. 200 workflows fire every second (a second stands for an hour: a month of hourly
//! fires in 12 minutes, and the run goes on past it), on 5 workers: fan-outs of `empty` tasks,
//! shell tasks with a retry that succeeds and a failure that alerts by mail (a real SMTP
//! server), SQL tasks and SWITCH branches, while the master archives and retention runs.
//! Reported per tenth of the attempts: their rate, hops, the workers' claim round trip, the
//! master's functions, table sizes, autovacuum, the master's vacuums and the backlog.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use sched_tests::{Client, Cluster, Smtp, Worker, free_port, wait_for};
use serde_json::{Value, json};

use crate::measure::{define, round, scrape, summary};

const WORKFLOWS: usize = 200;
const WORKERS: usize = 5;
const SLOTS: &str = "100";
/// `empty` tasks between each workflow's start and join: about 3,800 attempts a second in all,
/// what two cores keep up with while the master archives (26 gave 5,700 a second until the
/// archiving began a minute in, then fell behind).
const FAN: usize = 16;
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// Hops are read from every HOP_SAMPLE-th instance.
const HOP_SAMPLE: i64 = 10;
/// The master's functions whose time is reported (track_functions = 'pl').
const MASTER_FUNCTIONS: [&str; 7] = [
    "_policy_tick",
    "_fire_schedules",
    "_start",
    "_drain_events",
    "_master_tick",
    "_archive_finished",
    "_expire_history",
];
/// The tables a month must keep steady, and the history that grows by design (dropped a day's
/// partition at a time after sched.history_retention).
const TABLES: [&str; 6] = [
    "task_instance",
    "workflow_instance",
    "command",
    "join_progress",
    "alert",
    "task_instance_history",
];

/// `MONTH_ATTEMPTS`, or `BENCH_MONTH_ATTEMPTS` from the environment for a shorter look.
fn target() -> i64 {
    std::env::var("BENCH_MONTH_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

/// What the run looked like at one moment.
struct Sample {
    at: Instant,
    attempts: f64,
    claim_s: f64,
    claims: f64,
    report_s: f64,
    reports: f64,
    functions: Value,
    sizes: Value,
    autovacuums: i64,
    /// The master's vacuums of sched.task_instance (extension/src/vacuum.rs).
    master_vacuums: i64,
    dead_task_instances: i64,
    backlog: i64,
}

pub fn month() -> Value {
    let cluster = Cluster::start(&[
        "fsync = on",
        "synchronous_commit = on",
        "track_functions = 'pl'",
    ]);
    let mut db = cluster.connect();
    let smtp = Smtp::start(&cluster.dir);
    let alerts = cluster.dir.join("month-alerts.json");
    std::fs::write(
        &alerts,
        json!({"smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none",
                        "from": "pg_sched <sched@example.com>"}})
        .to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&alerts, std::fs::Permissions::from_mode(0o600)).unwrap();
    let marks = std::env::temp_dir().join("sched-bench-month");
    let _ = std::fs::remove_dir_all(&marks);
    std::fs::create_dir_all(&marks).unwrap();
    std::fs::set_permissions(&marks, std::fs::Permissions::from_mode(0o777)).unwrap();

    db.batch_execute(
        "SELECT sched.create_alert_group('month_ops', '[{\"type\": \"email\", \"to\": [\"ops@example.com\"]}]')",
    )
    .unwrap();
    for i in 0..WORKFLOWS {
        define(&mut db, workflow(i, &marks.display().to_string()));
    }
    let listens: Vec<String> = (0..WORKERS)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let workers: Vec<Worker> = listens
        .iter()
        .enumerate()
        .map(|(i, listen)| {
            let mut args = vec!["--slots", SLOTS, "--metrics-listen", listen];
            if i == 0 {
                args.extend(["--alerts", alerts.to_str().unwrap()]);
            }
            cluster.worker(&format!("month-{i}"), &args)
        })
        .collect();
    for listen in &listens {
        wait_for(Duration::from_secs(30), "a worker's metrics", || {
            scrape(listen)
        });
    }
    db.batch_execute("SELECT pg_catalog.pg_stat_reset()")
        .unwrap();
    let schedules: Vec<i64> = (0..WORKFLOWS)
        .map(|i| {
            db.query_one(
                "SELECT sched.schedule($1, '* * * * * ?')",
                &[&format!("month_{i:03}")],
            )
            .unwrap()
            .get(0)
        })
        .collect();

    let target = target();
    let started = Instant::now();
    let mut server_clock: f64 = db
        .query_one("SELECT extract(epoch FROM pg_catalog.now())::float8", &[])
        .unwrap()
        .get(0);
    let mut marks_at = vec![sample(&mut db, &listens)];
    let mut hops: Vec<Vec<f64>> = vec![Vec::new()];
    let mut all_hops = Vec::new();
    while marks_at.len() <= 10 {
        std::thread::sleep(SAMPLE_EVERY);
        let (clock, mut found) = hops_since(&mut db, server_clock);
        server_clock = clock;
        all_hops.extend_from_slice(&found);
        hops.last_mut().unwrap().append(&mut found);
        let now = sample(&mut db, &listens);
        if now.attempts >= (target as f64) * marks_at.len() as f64 / 10.0 {
            marks_at.push(now);
            hops.push(Vec::new());
        }
    }
    for id in &schedules {
        db.execute("SELECT sched.unschedule($1)", &[id]).unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let tenths: Vec<Value> = marks_at
        .windows(2)
        .zip(hops.iter_mut())
        .map(|(pair, hops)| tenth(&pair[0], &pair[1], hops))
        .collect();
    let (instances, failed, alerts_sent): (i64, i64, i64) = {
        let row = db
            .query_one(
                "SELECT (SELECT count(*) FROM sched.workflow_instance),
                        (SELECT count(*) FROM sched.workflow_instance WHERE state = 'failed'),
                        (SELECT count(*) FROM sched.alerts WHERE state = 'sent')",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    // Where the database's time went, by PL/pgSQL function (its own time, callees excluded).
    let functions: Value = db
        .query_one(
            "SELECT jsonb_agg(jsonb_build_object('function', funcname, 'calls', calls,
                                                 'self_s', round((self_time / 1000)::numeric, 1),
                                                 'mean_ms', round((total_time / calls)::numeric, 3))
                              ORDER BY self_time DESC)
             FROM (SELECT * FROM pg_catalog.pg_stat_user_functions WHERE schemaname = 'sched'
                   ORDER BY self_time DESC LIMIT 12) f",
            &[],
        )
        .unwrap()
        .get(0);
    // What failed, by task and exit code: the planned failures and any other.
    let failed_attempts: Value = db
        .query_one(
            "SELECT jsonb_agg(jsonb_build_object('task', name, 'exit_code', exit_code, 'attempts', n) ORDER BY n DESC)
             FROM (SELECT td.name, a.exit_code, count(*) AS n
                   FROM (SELECT task_id, exit_code FROM sched.task_instance WHERE state = 'failed'
                         UNION ALL
                         SELECT task_id, exit_code FROM sched.task_instance_history WHERE state = 'failed') a
                   JOIN sched.task_definition td ON td.id = a.task_id
                   GROUP BY td.name, a.exit_code) f",
            &[],
        )
        .unwrap()
        .get(0);
    let emails = smtp.messages().len();
    drop(workers);
    let _ = std::fs::remove_dir_all(&marks);
    let first = &tenths[0];
    let last = &tenths[tenths.len() - 1];
    json!({
        "scenario": "month",
        "runs": 1,
        "workflows": WORKFLOWS,
        "workers": format!("{WORKERS} x {SLOTS} slots"),
        "attempts": marks_at.last().unwrap().attempts,
        "seconds": round(seconds),
        "instances": instances,
        "failed_instances": failed,
        "alerts_sent": alerts_sent,
        "emails_received": emails,
        "hop_ms": summary(&mut all_hops),
        "last_vs_first_attempts_per_s": round(
            last["attempts_per_s"].as_f64().unwrap() / first["attempts_per_s"].as_f64().unwrap()
        ),
        "failed_attempts": failed_attempts,
        "functions_by_self_time": functions,
        "tenths": tenths,
    })
}

/// Workflow `i` of the month: a start, FAN `empty` tasks, a join, then by `i`: shell tasks
/// (one retried once, one failing every 50th instance for good, which alerts), a SQL task, a
/// SWITCH between two branches, or nothing more.
fn workflow(i: usize, marks: &str) -> Value {
    let mut tasks = vec![json!({"name": "start", "type": "empty"})];
    for f in 0..FAN {
        tasks.push(json!({"name": format!("f{f:02}"), "type": "empty", "deps": ["start"]}));
    }
    let fan: Vec<String> = (0..FAN).map(|f| format!("f{f:02}")).collect();
    tasks.push(json!({"name": "join", "type": "empty", "deps": fan}));
    match i % 10 {
        0 => {
            tasks.push(
                json!({"name": "extract", "type": "shell", "deps": ["join"], "script": "true"}),
            );
            tasks.push(json!({"name": "flaky", "type": "shell", "deps": ["extract"],
                "retries": 1, "retry_interval": "0 s",
                "script": format!("f={marks}/$SCHED_WORKFLOW_INSTANCE_ID; [ -e $f ] || {{ : > $f; exit 1; }}")}));
            tasks.push(
                json!({"name": "publish", "type": "shell", "deps": ["flaky"],
                "retries": 1, "retry_interval": "0 s",
                // A hash of the instance, not its id: the fires of a second take consecutive
                // ids in the same order every second, so `id % 50` would spare these workflows.
                "script": "[ $(( (SCHED_WORKFLOW_INSTANCE_ID * 2654435761 >> 16) % 50 )) -ne 0 ]"}),
            );
        }
        1 => tasks.push(json!({"name": "load", "type": "sql", "deps": ["join"],
            "sql": "SELECT count(*) FROM pg_catalog.pg_class"})),
        2..=4 => {
            tasks.push(json!({"name": "route", "type": "switch", "deps": ["join"],
                "cases": [{"when": "${n} > 4", "then": ["big"]}], "default": ["small"]}));
            tasks.push(json!({"name": "big", "type": "empty", "deps": ["route"]}));
            tasks.push(json!({"name": "small", "type": "empty", "deps": ["route"]}));
        }
        _ => {}
    }
    json!({
        "name": format!("month_{i:03}"),
        "params": {"n": (i % 10).to_string()},
        "notify": {"strategy": "failure", "alert_group": "month_ops"},
        "tasks": tasks,
    })
}

/// The hops (ms from a task's last predecessor's end to its start) of the sampled instances
/// that ended since `since` on the server's clock, and that clock now. Attempts stay on the hot
/// table a minute after their instance ends, so none is missed between samples.
fn hops_since(db: &mut Client, since: f64) -> (f64, Vec<f64>) {
    let clock: f64 = db
        .query_one("SELECT extract(epoch FROM pg_catalog.now())::float8", &[])
        .unwrap()
        .get(0);
    let rows = db
        .query(
            "SELECT (extract(epoch FROM a.started_at - max(p.ended_at)) * 1000)::float8
             FROM sched.workflow_instance wi
             JOIN sched.task_instance a ON a.workflow_instance_id = wi.id
                  AND a.retry = 0 AND a.started_at IS NOT NULL
             JOIN sched.task_instance p ON p.workflow_instance_id = wi.id
             JOIN sched.task_definition pd ON pd.id = p.task_id AND a.task_id = ANY (pd.successors)
             WHERE wi.ended_at > pg_catalog.to_timestamp($1) AND wi.ended_at <= pg_catalog.to_timestamp($2)
               AND wi.id % $3 = 0
             GROUP BY a.id, a.started_at",
            &[&since, &clock, &HOP_SAMPLE],
        )
        .unwrap();
    (clock, rows.iter().map(|r| r.get(0)).collect())
}

fn sample(db: &mut Client, listens: &[String]) -> Sample {
    let (mut attempts, mut claim_s, mut claims, mut report_s, mut reports) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    for listen in listens {
        let text = scrape(listen).expect("a worker's metrics");
        for line in text.lines() {
            let value = |l: &str| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
            if line.starts_with("sched_worker_tasks_completed_total{") {
                attempts += value(line).unwrap_or(0.0);
            } else if line.starts_with("sched_worker_claim_duration_seconds_sum ") {
                claim_s += value(line).unwrap_or(0.0);
            } else if line.starts_with("sched_worker_claim_duration_seconds_count ") {
                claims += value(line).unwrap_or(0.0);
            } else if line.starts_with("sched_worker_report_duration_seconds_sum ") {
                report_s += value(line).unwrap_or(0.0);
            } else if line.starts_with("sched_worker_report_duration_seconds_count ") {
                reports += value(line).unwrap_or(0.0);
            }
        }
    }
    let functions: Value = db
        .query_one(
            "SELECT coalesce(jsonb_object_agg(funcname, jsonb_build_object('calls', calls, 'ms', total_time)), '{}')
             FROM pg_catalog.pg_stat_user_functions
             WHERE schemaname = 'sched' AND funcname = ANY ($1)",
            &[&MASTER_FUNCTIONS.to_vec()],
        )
        .unwrap()
        .get(0);
    // A partitioned table's size is its partitions'; pg_partition_tree has no row for another.
    let sizes: Value = db
        .query_one(
            "SELECT jsonb_object_agg(t, round(s / 1048576.0, 1))
             FROM (SELECT t, (SELECT coalesce(sum(pg_catalog.pg_total_relation_size(relid)),
                                              pg_catalog.pg_total_relation_size(r))
                              FROM pg_catalog.pg_partition_tree(r)) AS s
                   FROM unnest($1::text[]) AS t, LATERAL (SELECT ('sched.' || t)::regclass AS r) rel) sizes",
            &[&TABLES.to_vec()],
        )
        .unwrap()
        .get(0);
    let row = db
        .query_one(
            "SELECT (SELECT sum(autovacuum_count)::bigint FROM pg_catalog.pg_stat_user_tables WHERE schemaname = 'sched'),
                    (SELECT n_dead_tup FROM pg_catalog.pg_stat_user_tables
                     WHERE schemaname = 'sched' AND relname = 'task_instance'),
                    (SELECT count(*) FROM sched.workflow_instance WHERE ended_at IS NULL),
                    (SELECT vacuum_count FROM pg_catalog.pg_stat_user_tables
                     WHERE schemaname = 'sched' AND relname = 'task_instance')",
            &[],
        )
        .unwrap();
    Sample {
        at: Instant::now(),
        attempts,
        claim_s,
        claims,
        report_s,
        reports,
        functions,
        sizes,
        autovacuums: row.get(0),
        master_vacuums: row.get(3),
        dead_task_instances: row.get(1),
        backlog: row.get(2),
    }
}

/// One tenth of the attempts: what it cost between its first and its last sample, and the
/// sizes at its end.
fn tenth(from: &Sample, to: &Sample, hops: &mut [f64]) -> Value {
    let seconds = (to.at - from.at).as_secs_f64();
    let functions: serde_json::Map<String, Value> = MASTER_FUNCTIONS
        .iter()
        .map(|f| {
            let delta = |key: &str| {
                to.functions[f][key].as_f64().unwrap_or(0.0)
                    - from.functions[f][key].as_f64().unwrap_or(0.0)
            };
            let calls = delta("calls");
            let mean = if calls > 0.0 {
                delta("ms") / calls
            } else {
                0.0
            };
            (
                (*f).to_owned(),
                json!({"calls": calls, "mean_ms": round(mean)}),
            )
        })
        .collect();
    json!({
        "attempts": to.attempts - from.attempts,
        "seconds": round(seconds),
        "attempts_per_s": round((to.attempts - from.attempts) / seconds),
        "hop_ms": if hops.is_empty() { Value::Null } else { summary(hops) },
        "claims": to.claims - from.claims,
        "claim_round_trip_mean_ms": round((to.claim_s - from.claim_s) * 1000.0 / (to.claims - from.claims).max(1.0)),
        "completions": to.reports - from.reports,
        "completion_round_trip_mean_ms": round((to.report_s - from.report_s) * 1000.0 / (to.reports - from.reports).max(1.0)),
        "master_functions": functions,
        "table_mb": to.sizes,
        "autovacuums": to.autovacuums - from.autovacuums,
        "master_vacuums": to.master_vacuums - from.master_vacuums,
        "task_instance_dead_rows": to.dead_task_instances,
        "unfinished_instances": to.backlog,
    })
}
