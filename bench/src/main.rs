//! `make bench`: the hot path (claim → run → complete → successors ready → next claim) measured
//! on a real cluster with real workers, next to PostgreSQL's own floor (`pgbench -N`) measured
//! on the same cluster in the same run. Prints a table and writes bench/results/latest.json.
//! Figures are reported, never asserted. `sched-bench month` runs only the month, on a cluster
//! of its own as in the whole run, and puts its result into latest.json in place of the last.

mod measure;
mod month;

use std::process::Command;
use std::time::{Duration, Instant};

use measure::{define, round, scrape, summary};
use sched_tests::{Client, Cluster, Console, Worker, pg_bin, require_passwords, wait_for};
use serde_json::{Value, json};

const CHAIN_RUNS: usize = 5;
const IDLE_SAMPLES: usize = 200;
/// Fires of the every-second schedule of cron_lateness: a minute.
const CRON_FIRES: i64 = 60;
const THROUGHPUT_TASKS: usize = 10_000;
const THROUGHPUT_RUNS: usize = 3;
const DRAIN_RUNS: usize = 3;
/// One-task instances started in one commit, drained at the concurrency people configure.
const DRAIN_INSTANCES: i64 = 5_000;
const WIDE_TASKS: usize = 10_000;
const WIDE_RUNS: usize = 3;
/// Issue 31's bigger DAGs: a fan-out of 100,000 and a chain of 10,000, each run once.
const BIG_WIDE_TASKS: usize = 100_000;
const DEEP_TASKS: usize = 10_000;
/// deep10k's hops at its start and at its end: the first and the last this many.
const DEEP_WINDOW: usize = 100;
/// soak: SOAK_BATCHES instances of SOAK_BATCH `empty` tasks, one after the other.
const SOAK_BATCH: usize = 10_000;
const SOAK_BATCHES: usize = 100;
/// Batches in "the first" and "the last" 100k tasks.
const SOAK_WINDOW: usize = 10;
const PGBENCH_SECONDS: &str = "5";
/// console_lists: workflow instances in the database, and requests timed per page.
const LIST_INSTANCES: i64 = 1_000_000;
const LIST_REQUESTS: usize = 20;
/// How many times each read of wide100k's run is timed (the DOT text of 100,000 tasks among them).
const INSTANCE_READS: usize = 5;

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/results/latest.json");
    if std::env::args().nth(1).as_deref() == Some("month") {
        let result = month::month();
        let mut report: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .expect("bench/results/latest.json of an earlier whole run");
        let scenarios = report["scenarios"].as_array_mut().unwrap();
        scenarios.retain(|s| s["scenario"] != "month");
        scenarios.push(result);
        report["month_date"] = json!(iso_now());
        print_table(&report);
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
        println!("\nwritten to bench/results/latest.json");
        return;
    }
    // Durable commits, as in production: the floor and our figures pay the same fsync.
    // track_commit_timestamp gives idle_start the server's own commit time of each start.
    let cluster = Cluster::start(&[
        "fsync = on",
        "synchronous_commit = on",
        "track_commit_timestamp = on",
    ]);
    let mut db = cluster.connect();
    let mut results = Vec::new();

    let floor = pgbench_floor(&cluster);
    println!("{}", serde_json::to_string_pretty(&floor).unwrap());

    let workers = [
        cluster.worker("bench-1", &["--slots", "2"]),
        cluster.worker("bench-2", &["--slots", "2"]),
    ];
    results.push(chain40(&mut db));
    results.push(chain40_params(&mut db));
    results.push(retry_chain(&mut db));
    results.push(cron_lateness(&mut db));
    results.push(event_latency(&mut db));
    results.push(deep10k(&mut db));
    drop(workers);
    results.push(idle_start(&cluster, &mut db));

    // One worker of 10 slots: Graphile Worker's concurrency 10 (../shared/peers).
    let workers = [cluster.worker("bench-10-1", &["--slots", "10"])];
    results.push(drains(&mut db, 1, 10));
    drop(workers);

    // The slots people configure: every claim and completion carries a few tasks, not hundreds.
    let workers = [
        cluster.worker("bench-16-1", &["--slots", "16"]),
        cluster.worker("bench-16-2", &["--slots", "16"]),
    ];
    results.push(drains(&mut db, 2, 16));
    results.push(wide(&mut db, WIDE_TASKS, 16));
    results.push(wide(&mut db, BIG_WIDE_TASKS, 16));
    drop(workers);
    results.push(many_workers(&cluster, &mut db));

    // Shell throughput is bound by process start latency, not CPU, below ~32 slots a worker.
    let workers = [
        cluster.worker("bench-shell-1", &["--slots", "32"]),
        cluster.worker("bench-shell-2", &["--slots", "32"]),
    ];
    results.push(throughput(&mut db, "shell", "throughput_shell"));
    drop(workers);
    let workers = [
        cluster.worker("bench-empty-1", &["--slots", "1000"]),
        cluster.worker("bench-empty-2", &["--slots", "1000"]),
    ];
    results.push(throughput(&mut db, "empty", "throughput_empty"));
    results.push(drains(&mut db, 2, 1000));
    results.push(wide10k(&mut db));
    results.push(wide(&mut db, BIG_WIDE_TASKS, 1000));
    results.push(dynamic10k(&mut db));
    results.push(memory(&mut db, &workers[0]));
    // It leaves a million task instances of history behind, for console_lists.
    results.push(soak(&mut db));
    drop(workers);
    // Last: it changes pg_hba.conf (the console needs passwords checked).
    results.push(console_lists(&cluster, &mut db));
    let postgres: String = db.query_one("SHOW server_version", &[]).unwrap().get(0);
    // Last, on a cluster of its own: its table sizes are its own.
    drop(db);
    drop(cluster);
    results.push(month::month());

    let report = json!({
        "date": iso_now(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "postgres": postgres,
        "floor": floor,
        "scenarios": results,
    });
    print_table(&report);
    std::fs::write(path, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
    println!("\nwritten to bench/results/latest.json");
}

/// `pgbench -N` (one-row updates, no branch contention) at 1 and 4 clients.
fn pgbench_floor(cluster: &Cluster) -> Value {
    let conn = cluster.conn_string("postgres");
    let mut db = cluster.connect();
    db.batch_execute("CREATE DATABASE pgbench").unwrap();
    let conn = conn.replace("dbname=postgres", "dbname=pgbench");
    run(Command::new(pg_bin().join("pgbench")).args(["-q", "-i", "-s", "1", &conn]));
    let mut floor = serde_json::Map::new();
    for clients in ["1", "4"] {
        let out = run(Command::new(pg_bin().join("pgbench")).args([
            "-N",
            "-c",
            clients,
            "-j",
            clients,
            "-T",
            PGBENCH_SECONDS,
            &conn,
        ]));
        let tps = grab(&out, "tps = ");
        let latency = grab(&out, "latency average = ");
        floor.insert(
            format!("pgbench_n_{clients}_client"),
            json!({"tps": round(tps), "latency_ms": round(latency)}),
        );
    }
    // The same commit at 100 a second, one client: what a commit costs a machine that idles
    // between transactions, as idle_start's claim does.
    let out = run(Command::new(pg_bin().join("pgbench")).args([
        "-N",
        "-R",
        "100",
        "-T",
        PGBENCH_SECONDS,
        &conn,
    ]));
    floor.insert(
        "pgbench_n_1_client_100_per_s".into(),
        json!({"latency_ms": round(grab(&out, "latency average = "))}),
    );
    Value::Object(floor)
}

fn chain40(db: &mut Client) -> Value {
    chain(db, "chain40", |_| json!({"script": "true"}), json!({}))
}

/// chain40 where every task reads two globals and the value its predecessor passed, and
/// passes one OUT value on: what parameters cost on the hot path.
fn chain40_params(db: &mut Client) -> Value {
    chain(
        db,
        "chain40_params",
        |i| {
            json!({
                "script": format!(": ${{g1}} ${{g2}} ${{v}}; echo '#{{setValue(v={i})}}'"),
                "out": ["v"],
            })
        },
        json!({"g1": "$[yyyyMMdd-1]", "g2": "eu"}),
    )
}

/// chain40 where every task fails its first attempt and succeeds on its retry (retry_interval
/// 0): what a retry costs on the hot path.
fn retry_chain(db: &mut Client) -> Value {
    let marks = std::env::temp_dir().join("sched-bench-retry");
    let _ = std::fs::remove_dir_all(&marks);
    std::fs::create_dir_all(&marks).unwrap();
    let _ = std::process::Command::new("chmod")
        .arg("777")
        .arg(&marks)
        .status();
    let result = chain(
        db,
        "retry_chain",
        |_| {
            json!({
                "script": format!(
                    "f={}/$SCHED_WORKFLOW_INSTANCE_ID-$SCHED_TASK_NAME; [ -e $f ] || {{ : > $f; exit 1; }}",
                    marks.display()
                ),
                "retries": 1, "retry_interval": "0 s",
            })
        },
        json!({}),
    );
    let _ = std::fs::remove_dir_all(&marks);
    result
}

/// A chain of 40 shell tasks, each made of `task(i)`, in a workflow with `params`.
fn chain(db: &mut Client, scenario: &str, task: impl Fn(usize) -> Value, params: Value) -> Value {
    let tasks: Vec<Value> = (0..40)
        .map(|i| {
            let mut t = task(i);
            t["name"] = json!(format!("t{i:02}"));
            t["type"] = json!("shell");
            if i > 0 {
                t["deps"] = json!([format!("t{:02}", i - 1)]);
            }
            t
        })
        .collect();
    let name = format!("bench_{scenario}");
    define(db, json!({"name": name, "params": params, "tasks": tasks}));
    let mut totals = Vec::new();
    let mut hops = Vec::new();
    for _ in 0..CHAIN_RUNS {
        let id = start(db, &name);
        wait_finished(db, id, Duration::from_secs(120));
        let row = db
            .query_one(
                "SELECT extract(epoch FROM ended_at - created_at)::float8 FROM sched.workflow_instance WHERE id = $1",
                &[&id],
            )
            .unwrap();
        totals.push(row.get::<_, f64>(0) * 1000.0);
        let rows = db
            .query(
                "SELECT extract(epoch FROM started_at - lag(ended_at) OVER (ORDER BY id))::float8
                 FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY id",
                &[&id],
            )
            .unwrap();
        hops.extend(
            rows.iter()
                .filter_map(|r| r.get::<_, Option<f64>>(0))
                .map(|s| s * 1000.0),
        );
    }
    json!({
        "scenario": scenario,
        "runs": CHAIN_RUNS,
        "total_ms": summary(&mut totals),
        "hop_ms": summary(&mut hops),
    })
}

/// A `* * * * * ?` (Quartz, every second) schedule for 60 s: how long after each fire time
/// its instance was created, and how many fire times got no instance.
fn cron_lateness(db: &mut Client) -> Value {
    define(
        db,
        json!({"name": "bench_cron", "tasks": [{"name": "t", "type": "empty"}]}),
    );
    let id: i64 = db
        .query_one("SELECT sched.schedule('bench_cron', '* * * * * ?')", &[])
        .unwrap()
        .get(0);
    let count = |db: &mut Client| -> i64 {
        db.query_one(
            "SELECT count(*) FROM sched.workflow_instance WHERE schedule_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while count(db) < CRON_FIRES && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    db.execute("SELECT sched.unschedule($1)", &[&id]).unwrap();
    let rows = db
        .query(
            "SELECT extract(epoch FROM created_at - schedule_time)::float8 * 1000,
                    extract(epoch FROM schedule_time)::float8
             FROM sched.workflow_instance WHERE schedule_id = $1 ORDER BY schedule_time",
            &[&id],
        )
        .unwrap();
    let mut late: Vec<f64> = rows.iter().map(|r| r.get::<_, f64>(0)).collect();
    let times: Vec<f64> = rows.iter().map(|r| r.get::<_, f64>(1)).collect();
    let span = match (times.first(), times.last()) {
        (Some(first), Some(last)) => (last - first) as i64 + 1,
        _ => 0,
    };
    json!({
        "scenario": "cron_lateness",
        "runs": 1,
        "fires": times.len(),
        "missed": span - times.len() as i64,
        "lateness_ms": summary(&mut late),
    })
}

/// Idle start: a one-task workflow started while nothing else runs, on one worker of 2 slots.
/// The task's start is the worker's own `started_at` (after the spawn for `shell`), timed from
/// the start's commit on the server's clock and from the moment the start call returned, which
/// is what Graphile Worker's harness times (../shared/peers). The worker's metrics give its
/// claim round trip (execution and durable commit); the rest is the notification, the wake-up
/// and, for `shell`, the spawn.
fn idle_start(cluster: &Cluster, db: &mut Client) -> Value {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let worker = cluster.worker("bench-idle", &["--slots", "2", "--metrics-listen", &listen]);
    let claims = || -> Option<(f64, f64)> {
        let text = scrape(&listen)?;
        let metric = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
        };
        Some((
            metric("sched_worker_claim_duration_seconds_sum")?,
            metric("sched_worker_claim_duration_seconds_count")?,
        ))
    };
    wait_for(Duration::from_secs(30), "the worker's metrics", claims);
    let mut result = json!({"scenario": "idle_start", "runs": IDLE_SAMPLES});
    for (kind, task) in [
        (
            "shell",
            json!({"name": "t", "type": "shell", "script": "true"}),
        ),
        ("empty", json!({"name": "t", "type": "empty"})),
    ] {
        let name = format!("bench_single_{kind}");
        define(db, json!({"name": name, "tasks": [task]}));
        let (sum0, count0) = claims().unwrap();
        let (mut from_commit, mut from_ack, mut commit_to_ack) = idle_samples(db, &name);
        let (sum1, count1) = claims().unwrap();
        let figures = json!({
            "commit_to_running_ms": summary(&mut from_commit),
            "ack_to_running_ms": summary(&mut from_ack),
            "commit_to_ack_ms": summary(&mut commit_to_ack),
            "claim_round_trip_mean_ms": round((sum1 - sum0) * 1000.0 / (count1 - count0).max(1.0)),
        });
        // The shell figures keep the keys of earlier results.
        if kind == "shell" {
            for (k, v) in figures.as_object().unwrap() {
                result[k] = v.clone();
            }
        } else {
            result[kind] = figures;
        }
    }
    drop(worker);
    result
}

/// `IDLE_SAMPLES` starts of the one-task workflow `name`, each waited for: its task's start
/// after the start's commit, after the start call returned, and the one after the other.
fn idle_samples(db: &mut Client, name: &str) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut from_commit, mut from_ack, mut commit_to_ack) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..IDLE_SAMPLES {
        let id = start(db, name);
        let ack = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            * 1000.0;
        wait_finished(db, id, Duration::from_secs(30));
        let row = db
            .query_one(
                // The command row is written once, by the start: its xmin is the start's transaction.
                "SELECT (extract(epoch FROM pg_xact_commit_timestamp(c.xmin)) * 1000)::float8,
                        (extract(epoch FROM t.started_at) * 1000)::float8
                 FROM sched.command c JOIN sched.task_instance t ON t.workflow_instance_id = c.workflow_instance_id
                 WHERE c.workflow_instance_id = $1 AND c.command_type = 'start_process'",
                &[&id],
            )
            .unwrap();
        let (commit, started): (f64, f64) = (row.get(0), row.get(1));
        from_commit.push(started - commit);
        from_ack.push(started - ack);
        commit_to_ack.push(ack - commit);
    }
    (from_commit, from_ack, commit_to_ack)
}

/// Issue 31's many workers: 8 workers of 16 slots against one database, beside the figures of
/// two (chain40, drain_2x16, idle_start): every NOTIFY wakes all eight, and the completions of
/// one instance's tasks all lock its row.
fn many_workers(cluster: &Cluster, db: &mut Client) -> Value {
    let workers: Vec<Worker> = (1..=8)
        .map(|i| cluster.worker(&format!("bench-8x16-{i}"), &["--slots", "16"]))
        .collect();
    let chain = chain(db, "chain40_8x16", |_| json!({"script": "true"}), json!({}));
    let drains = drains(db, 8, 16);
    define(
        db,
        json!({"name": "bench_single_8x16", "tasks": [{"name": "t", "type": "empty"}]}),
    );
    let (mut from_commit, mut from_ack, _) = idle_samples(db, "bench_single_8x16");
    drop(workers);
    json!({
        "scenario": "many_workers",
        "workers": "8 x 16 slots",
        "chain40_total_ms": chain["total_ms"],
        "chain40_hop_ms": chain["hop_ms"],
        "instance_tasks_per_s": drains["instance_tasks_per_s"],
        "one_task_instances_per_s": drains["one_task_instances_per_s"],
        "idle_start_empty_commit_to_running_ms": summary(&mut from_commit),
        "idle_start_empty_ack_to_running_ms": summary(&mut from_ack),
    })
}

/// Events to starts, each as commit to commit on the server's clock: a row inserted into a
/// watched table (no debounce) to the instance its trigger created (the master's start), and
/// the commit that ended an upstream instance (its row's last writer) to the one that created
/// its downstream instance: the same one, so 0.
fn event_latency(db: &mut Client) -> Value {
    db.batch_execute("CREATE TABLE bench_events (id bigint)")
        .unwrap();
    define(
        db,
        json!({"name": "bench_on_insert", "tasks": [{"name": "t", "type": "empty"}]}),
    );
    define(
        db,
        json!({"name": "bench_upstream", "tasks": [{"name": "t", "type": "empty"}]}),
    );
    define(
        db,
        json!({"name": "bench_downstream", "tasks": [{"name": "t", "type": "empty"}]}),
    );
    db.query_one(
        "SELECT sched.on_table_change('bench_events', 'bench_on_insert', '{\"operations\": [\"insert\"]}')",
        &[],
    )
    .unwrap();
    db.query_one(
        "SELECT sched.on_workflow_end('bench_upstream', 'bench_downstream')",
        &[],
    )
    .unwrap();
    let mut table = Vec::new();
    for i in 0..IDLE_SAMPLES as i64 {
        let xid: String = db
            .query_one(
                "INSERT INTO bench_events VALUES ($1) RETURNING pg_current_xact_id()::text",
                &[&i],
            )
            .unwrap()
            .get(0);
        wait_for(
            Duration::from_secs(30),
            "the table's trigger to start",
            || {
                let n: i64 = db
                .query_one(
                    "SELECT count(*) FROM sched.workflow_instance wi JOIN sched.workflow w ON w.id = wi.workflow_id
                     WHERE w.name = 'bench_on_insert'",
                    &[],
                )
                .unwrap()
                .get(0);
                (n > i).then_some(())
            },
        );
        let ms: f64 = db
            .query_one(
                "SELECT (extract(epoch FROM pg_xact_commit_timestamp(c.xmin) - pg_xact_commit_timestamp($1::text::xid)) * 1000)::float8
                 FROM sched.command c JOIN sched.workflow w ON w.id = c.workflow_id
                 WHERE w.name = 'bench_on_insert' ORDER BY c.id DESC LIMIT 1",
                &[&xid],
            )
            .unwrap()
            .get(0);
        table.push(ms);
    }
    let mut upstream = Vec::new();
    for _ in 0..IDLE_SAMPLES {
        let id = start(db, "bench_upstream");
        wait_finished(db, id, Duration::from_secs(30));
        let ms: f64 = db
            .query_one(
                "SELECT (extract(epoch FROM pg_xact_commit_timestamp(c.xmin) - pg_xact_commit_timestamp(u.xmin)) * 1000)::float8
                 FROM sched.workflow_instance u, sched.trigger_fire f, sched.command c
                 WHERE u.id = $1 AND f.fire_key = 'instance:' || u.id AND c.workflow_instance_id = f.workflow_instance_id",
                &[&id],
            )
            .unwrap()
            .get(0);
        upstream.push(ms);
    }
    json!({
        "scenario": "event_latency",
        "runs": IDLE_SAMPLES,
        "table_insert_to_instance_ms": summary(&mut table),
        "upstream_end_to_instance_ms": summary(&mut upstream),
    })
}

/// 10,000 independent tasks made ready by one commit, drained by the two running workers.
fn throughput(db: &mut Client, task_type: &str, scenario: &str) -> Value {
    let name = format!("bench_{scenario}");
    let tasks: Vec<Value> = (0..THROUGHPUT_TASKS)
        .map(|i| {
            let mut t = json!({"name": format!("t{i}"), "type": task_type});
            if task_type == "shell" {
                t["script"] = json!("true");
            }
            t
        })
        .collect();
    define(db, json!({"name": name, "tasks": tasks}));
    let mut rates = Vec::new();
    for _ in 0..THROUGHPUT_RUNS {
        rates.push(drain_rate(db, &name, THROUGHPUT_TASKS));
    }
    json!({
        "scenario": scenario,
        "runs": THROUGHPUT_RUNS,
        "tasks": THROUGHPUT_TASKS,
        "workers": 2,
        "tasks_per_s": summary(&mut rates),
    })
}

/// `empty` tasks drained by the `workers` running, of `slots` slots each: 10,000 independent
/// tasks of one instance, and 5,000 one-task instances started in one commit (each with its
/// instance's bookkeeping: started, advanced, finished).
fn drains(db: &mut Client, workers: usize, slots: usize) -> Value {
    let tasks: Vec<Value> = (0..THROUGHPUT_TASKS)
        .map(|i| json!({"name": format!("t{i}"), "type": "empty"}))
        .collect();
    let many = format!("bench_drain_{workers}x{slots}");
    define(db, json!({"name": many, "tasks": tasks}));
    let one = format!("bench_one_{workers}x{slots}");
    define(
        db,
        json!({"name": one, "tasks": [{"name": "t", "type": "empty"}]}),
    );
    let mut in_instance = Vec::new();
    let mut instances = Vec::new();
    for _ in 0..DRAIN_RUNS {
        in_instance.push(drain_rate(db, &many, THROUGHPUT_TASKS));
        instances.push(instances_rate(db, &one));
    }
    json!({
        "scenario": format!("drain_{workers}x{slots}"),
        "workers": format!("{workers} x {slots} slots"),
        "runs": DRAIN_RUNS,
        "tasks": THROUGHPUT_TASKS,
        "instances": DRAIN_INSTANCES,
        "instance_tasks_per_s": summary(&mut in_instance),
        "one_task_instances_per_s": summary(&mut instances),
    })
}

/// Starts `DRAIN_INSTANCES` instances of the one-task workflow `name` in one commit and
/// returns instances per second from that commit to the last task's end.
fn instances_rate(db: &mut Client, name: &str) -> f64 {
    let mut tx = db.transaction().unwrap();
    let row = tx
        .query_one(
            "SELECT min(id), max(id) FROM (SELECT sched.start_workflow($1) AS id
                                             FROM generate_series(1, $2::bigint)) s",
            &[&name, &DRAIN_INSTANCES],
        )
        .unwrap();
    let (first, last): (i64, i64) = (row.get(0), row.get(1));
    // Nothing is visible to the workers before the commit, a moment after this.
    let committed: f64 = tx
        .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    wait_for(Duration::from_secs(600), "the instances to finish", || {
        let left: i64 = db
            .query_one(
                "SELECT count(*) FROM sched.workflow_instance
                  WHERE id BETWEEN $1 AND $2 AND state::text <> 'succeeded'",
                &[&first, &last],
            )
            .unwrap()
            .get(0);
        (left == 0).then_some(())
    });
    let ended: f64 = db
        .query_one(
            "SELECT extract(epoch FROM max(ended_at))::float8 FROM sched.workflow_instance
              WHERE id BETWEEN $1 AND $2",
            &[&first, &last],
        )
        .unwrap()
        .get(0);
    DRAIN_INSTANCES as f64 / (ended - committed)
}

/// start → 10,000 parallel `empty` tasks → end.
fn wide10k(db: &mut Client) -> Value {
    let spec = fan_out("bench_wide10k", WIDE_TASKS);
    let mut creates = Vec::new();
    let mut runs = Vec::new();
    for run in 0..WIDE_RUNS {
        let t = Instant::now();
        db.query_one("SELECT sched.create_workflow($1, $2)", &[&spec, &(run > 0)])
            .unwrap();
        creates.push(t.elapsed().as_secs_f64() * 1000.0);
        let id = start(db, "bench_wide10k");
        wait_finished(db, id, Duration::from_secs(600));
        runs.push(instance_ms(db, id));
    }
    json!({
        "scenario": "wide10k",
        "runs": WIDE_RUNS,
        "create_ms": summary(&mut creates),
        "run_ms": summary(&mut runs),
    })
}

/// start → `n` parallel `empty` tasks → end, run once by the two workers of `slots` slots
/// each that are running: creation and run, as a user would see them.
fn wide(db: &mut Client, n: usize, slots: usize) -> Value {
    let name = format!("bench_wide{}k_{slots}", n / 1000);
    let spec = fan_out(&name, n);
    db.execute("SET sched.max_tasks = 1000000", &[]).unwrap();
    let t = Instant::now();
    db.query_one("SELECT sched.create_workflow($1, true)", &[&spec])
        .unwrap();
    let create_ms = t.elapsed().as_secs_f64() * 1000.0;
    let id = start(db, &name);
    wait_finished(db, id, Duration::from_secs(1800));
    json!({
        "scenario": format!("wide{}k_{slots}_slots", n / 1000),
        "workers": format!("2 x {slots} slots"),
        "tasks": n + 2,
        "create_ms": round(create_ms),
        "run_ms": round(instance_ms(db, id)),
    })
}

/// A chain of 10,000 `empty` tasks: whether a hop costs at task 9,999 what it costs at task 1
/// (no completion looks at the DAG or the instance's other attempts).
fn deep10k(db: &mut Client) -> Value {
    let tasks: Vec<Value> = (0..DEEP_TASKS)
        .map(|i| match i {
            0 => json!({"name": "d0", "type": "empty"}),
            _ => json!({"name": format!("d{i}"), "type": "empty", "deps": [format!("d{}", i - 1)]}),
        })
        .collect();
    let t = Instant::now();
    db.query_one(
        "SELECT sched.create_workflow($1, true)",
        &[&json!({"name": "bench_deep10k", "tasks": tasks})],
    )
    .unwrap();
    let create_ms = t.elapsed().as_secs_f64() * 1000.0;
    let id = start(db, "bench_deep10k");
    wait_finished(db, id, Duration::from_secs(1800));
    let hops: Vec<f64> = db
        .query(
            "SELECT (extract(epoch FROM started_at - lag(ended_at) OVER (ORDER BY id)) * 1000)::float8
             FROM sched.task_instance WHERE workflow_instance_id = $1 ORDER BY id",
            &[&id],
        )
        .unwrap()
        .iter()
        .filter_map(|r| r.get::<_, Option<f64>>(0))
        .collect();
    let mut first = hops[..DEEP_WINDOW].to_vec();
    let mut last = hops[hops.len() - DEEP_WINDOW..].to_vec();
    let mut all = hops;
    json!({
        "scenario": "deep10k",
        "workers": "2 x 2 slots",
        "create_ms": round(create_ms),
        "run_ms": round(instance_ms(db, id)),
        "hop_ms": summary(&mut all),
        "first_100_hops_ms": summary(&mut first),
        "last_100_hops_ms": summary(&mut last),
    })
}

/// The spec of workflow `name`: start → `n` parallel `empty` tasks → end.
fn fan_out(name: &str, n: usize) -> Value {
    let mut tasks = vec![json!({"name": "start", "type": "empty"})];
    tasks.extend(
        (0..n).map(|i| json!({"name": format!("w{i}"), "type": "empty", "deps": ["start"]})),
    );
    tasks.push(json!({"name": "end", "type": "empty",
        "deps": (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>()}));
    json!({"name": name, "tasks": tasks})
}

/// Milliseconds from an instance's creation to its end.
fn instance_ms(db: &mut Client, id: i64) -> f64 {
    db.query_one(
        "SELECT (extract(epoch FROM ended_at - created_at) * 1000)::float8 FROM sched.workflow_instance WHERE id = $1",
        &[&id],
    )
    .unwrap()
    .get(0)
}

/// One dynamic task over a 10,000-element literal list of `empty` inline tasks that each export
/// an OUT value. Expansion is the start's transaction (the dynamic task is the root: its
/// elements are written and queued there); the run is the instance's; gathering is
/// `_gather_elements` over the finished run, timed alone.
fn dynamic10k(db: &mut Client) -> Value {
    let spec = json!({"name": "bench_dynamic10k", "tasks": [
        {"name": "each", "type": "dynamic", "over": {"n": (0..WIDE_TASKS).collect::<Vec<_>>()},
         "run": {"type": "empty", "out": [{"name": "v", "default": "1"}]}}]});
    db.query_one("SELECT sched.create_workflow($1, true)", &[&spec])
        .unwrap();
    let mut expansions = Vec::new();
    let mut runs = Vec::new();
    let mut gathers = Vec::new();
    for _ in 0..WIDE_RUNS {
        let t = Instant::now();
        let id = start(db, "bench_dynamic10k");
        expansions.push(t.elapsed().as_secs_f64() * 1000.0);
        wait_finished(db, id, Duration::from_secs(600));
        runs.push(instance_ms(db, id));
        let t = Instant::now();
        let gathered: i32 = db
            .query_one(
                "SELECT jsonb_array_length((sched._gather_elements($1, e.id, 1)->>'v')::jsonb)
                 FROM sched.task_definition e JOIN sched.workflow_instance wi ON wi.id = $1
                 JOIN sched.task_definition d ON d.id = e.element_of AND d.workflow_version_id = wi.workflow_version_id",
                &[&id],
            )
            .unwrap()
            .get(0);
        gathers.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(
            gathered as usize, WIDE_TASKS,
            "every element's value gathered"
        );
    }
    json!({
        "scenario": "dynamic_10k",
        "runs": WIDE_RUNS,
        "elements": WIDE_TASKS,
        "expand_ms": summary(&mut expansions),
        "run_ms": summary(&mut runs),
        "gather_ms": summary(&mut gathers),
    })
}

/// 1,000,000 `empty` tasks drained in batches of 10,000 while history piles up: the hot path
/// must not slow down as the tables grow (goal: the last 100k within 10 % of the first).
fn soak(db: &mut Client) -> Value {
    let tasks: Vec<Value> = (0..SOAK_BATCH)
        .map(|i| json!({"name": format!("t{i}"), "type": "empty"}))
        .collect();
    define(db, json!({"name": "bench_soak", "tasks": tasks}));
    let mut rates = Vec::new();
    for _ in 0..SOAK_BATCHES {
        rates.push(drain_rate(db, "bench_soak", SOAK_BATCH));
    }
    // Tasks per second over a window of batches: tasks divided by the time they took.
    let over = |batches: &[f64]| {
        round(
            batches.len() as f64 * SOAK_BATCH as f64
                / batches.iter().map(|r| SOAK_BATCH as f64 / r).sum::<f64>(),
        )
    };
    let first = over(&rates[..SOAK_WINDOW]);
    let last = over(&rates[rates.len() - SOAK_WINDOW..]);
    json!({
        "scenario": "soak",
        "runs": 1,
        "tasks": SOAK_BATCH * SOAK_BATCHES,
        "first_100k_tasks_per_s": first,
        "last_100k_tasks_per_s": last,
        "last_vs_first": round(last / first),
    })
}

/// The console's list pages at a million workflow instances (and soak's million task
/// attempts), as a program calls them: HTTP with an API token, timed at the client, so the
/// figure is the server's answer including its JSON. First and deep pages, filters that match
/// many and none, the task runs, and the home page's numbers.
fn console_lists(cluster: &Cluster, db: &mut Client) -> Value {
    define(
        db,
        json!({"name": "bench_list", "tasks": [{"name": "t", "type": "empty"}]}),
    );
    let _worker = cluster.worker("bench-list", &[]);
    let first = start(db, "bench_list");
    wait_finished(db, first, Duration::from_secs(60));
    // Copies of that finished run, each with the command that started it, spread over the year
    // before it (one every 31 s, the newest id the latest) as a million runs of a schedule
    // would be: the home page reads a range of them.
    let (columns, values): (String, String) = {
        let row = db
            .query_one(
                "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position),
                        string_agg(CASE WHEN data_type = 'timestamp with time zone'
                                        THEN format('%I - (n - g) * interval ''31 s''', column_name)
                                        ELSE quote_ident(column_name) END, ', ' ORDER BY ordinal_position)
                 FROM information_schema.columns
                 WHERE table_schema = 'sched' AND table_name = 'workflow_instance' AND column_name <> 'id'",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    db.batch_execute(&format!(
        "INSERT INTO sched.workflow_instance ({columns})
         SELECT {values} FROM sched.workflow_instance, generate_series(2, {LIST_INSTANCES}) AS g,
              (SELECT {LIST_INSTANCES} AS n) AS k WHERE id = {first};
         INSERT INTO sched.command (command_type, workflow_id, workflow_instance_id, issued_by)
         SELECT 'start_process', workflow_id, id, 'bench' FROM sched.workflow_instance WHERE id > {first};
         ANALYZE sched.workflow_instance; ANALYZE sched.command;
         CREATE ROLE bench_user LOGIN PASSWORD 'bench-user-pw' IN ROLE sched_user;
         CREATE ROLE bench_few LOGIN PASSWORD 'bench-few-pw' IN ROLE sched_user;
         CREATE ROLE bench_api LOGIN PASSWORD 'bench-api-pw' IN ROLE sched_api;
         UPDATE sched.workflow SET owner = 'bench_user'::regrole
          WHERE name IN ('bench_list', 'bench_soak', 'bench_wide100k_1000');
         UPDATE sched.workflow SET owner = 'bench_few'::regrole WHERE name = 'bench_single';"
    ))
    .unwrap();
    // Soak's attempts are archived (moved from task_instance to the history) a minute after
    // their run ended; the pages are timed once that is done and vacuum has cleared what it
    // left behind, as the master's vacuum soon would, not while a newest-first scan still steps
    // over a million dead rows.
    wait_for(Duration::from_secs(900), "soak's attempts archived", || {
        let left: i64 = db
            .query_one("SELECT count(*) FROM sched.task_instance", &[])
            .unwrap()
            .get(0);
        (left < SOAK_BATCH as i64).then_some(())
    });
    db.batch_execute("VACUUM ANALYZE sched.task_instance")
        .unwrap();
    db.batch_execute("VACUUM ANALYZE sched.task_instance_history")
        .unwrap();
    // bench_user sees the million runs and soak's million attempts; bench_few only
    // idle_start's few hundred among them, the worst case of a keyset page.
    let mut token_of = |role: &str| -> String {
        db.batch_execute(&format!("SET ROLE {role}")).unwrap();
        let token = db
            .query_one("SELECT sched.create_api_token('bench')", &[])
            .unwrap()
            .get(0);
        db.batch_execute("RESET ROLE").unwrap();
        token
    };
    let token = token_of("bench_user");
    let few = token_of("bench_few");
    let total: i64 = db
        .query_one("SELECT count(*) FROM sched.workflow_instance", &[])
        .unwrap()
        .get(0);
    let middle: i64 = db
        .query_one(
            "SELECT max(id) - $1::bigint / 2 FROM sched.workflow_instance",
            &[&LIST_INSTANCES],
        )
        .unwrap()
        .get(0);
    // wide100k's 1,000-slot run, archived like the rest: a window of its tasks in the console
    // (the first, and one half-way down its 100,000), and the SQL the CLI and a BI tool read.
    let wide: i64 = db
        .query_one(
            "SELECT max(i.id) FROM sched.workflow_instance i JOIN sched.workflow w ON w.id = i.workflow_id
             WHERE w.name = 'bench_wide100k_1000'",
            &[],
        )
        .unwrap()
        .get(0);
    let mut sql_figures = serde_json::Map::new();
    for (name, sql) in [
        (
            "instance_tasks_first_page",
            "SELECT count(*) FROM sched.instance_tasks($1, NULL, 1000)",
        ),
        (
            "instance_tasks_deep_page",
            "SELECT count(*) FROM sched.instance_tasks($1, 'w50000', 1000)",
        ),
        (
            "instance_attempts_deep_page",
            "SELECT count(*) FROM sched.instance_attempts($1, 'w50000', 1000)",
        ),
        (
            "instance_graph_dot",
            "SELECT length(sched.instance_graph($1))::bigint",
        ),
    ] {
        let mut samples = Vec::new();
        for _ in 0..INSTANCE_READS {
            let began = Instant::now();
            db.query_one(sql, &[&wide]).unwrap();
            samples.push(began.elapsed().as_secs_f64() * 1000.0);
        }
        sql_figures.insert(format!("{name}_ms"), summary(&mut samples));
    }
    require_passwords(cluster);
    let url = format!(
        "host={} dbname=postgres user=bench_api password=bench-api-pw",
        cluster.dir.display()
    );
    let console = Console::start_with(cluster, &["--token-database-url", &url]);
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let pages = [
        ("runs_few_visible", "/api/instances".to_owned(), &few),
        (
            "task_runs_few_visible",
            "/api/task_instances".to_owned(),
            &few,
        ),
        ("runs_first_page", "/api/instances".to_owned(), &token),
        (
            "runs_deep_page",
            format!("/api/instances?before={middle}"),
            &token,
        ),
        (
            "runs_by_workflow",
            "/api/instances?workflow=bench_list".to_owned(),
            &token,
        ),
        (
            "runs_by_state_many",
            "/api/instances?state=succeeded".to_owned(),
            &token,
        ),
        (
            "runs_by_state_none",
            "/api/instances?state=failed".to_owned(),
            &token,
        ),
        (
            "task_runs_first_page",
            "/api/task_instances".to_owned(),
            &token,
        ),
        ("home", "/api/dashboard".to_owned(), &token),
        // What the home page waits for, and its attempts' chart, which it asks for apart.
        (
            "home_page",
            "/api/dashboard?task_states=false".to_owned(),
            &token,
        ),
        (
            "home_task_chart",
            "/api/dashboard/task_states".to_owned(),
            &token,
        ),
        (
            "instance_100k_first_window",
            format!("/api/instances/{wide}"),
            &token,
        ),
        (
            "instance_100k_deep_window",
            format!("/api/instances/{wide}?after=w50000"),
            &token,
        ),
    ];
    let mut figures = serde_json::Map::new();
    for (name, path, token) in pages {
        let mut samples = Vec::new();
        for _ in 0..LIST_REQUESTS {
            let began = Instant::now();
            agent
                .get(&format!("{}{path}", console.base))
                .header("authorization", &format!("Bearer {token}"))
                .call()
                .unwrap_or_else(|e| panic!("GET {path}: {e}"))
                .body_mut()
                .read_to_string()
                .unwrap();
            samples.push(began.elapsed().as_secs_f64() * 1000.0);
        }
        figures.insert(format!("{name}_ms"), summary(&mut samples));
    }
    json!({
        "scenario": "console_lists",
        "runs": LIST_REQUESTS,
        "instances": total,
        "pages": figures,
        "wide100k_reads": sql_figures,
    })
}

/// Starts `name` (all of whose `tasks` are ready at once) and returns tasks per second from
/// the first becoming ready to the last ending.
fn drain_rate(db: &mut Client, name: &str, tasks: usize) -> f64 {
    let id = start(db, name);
    wait_finished(db, id, Duration::from_secs(600));
    let secs: f64 = db
        .query_one(
            "SELECT extract(epoch FROM max(ended_at) - min(queued_at))::float8
             FROM sched.task_instance WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    tasks as f64 / secs
}

fn memory(db: &mut Client, worker: &Worker) -> Value {
    let master: i32 = wait_for(Duration::from_secs(10), "the master", || {
        db.query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_sched master'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    json!({
        "scenario": "memory",
        "runs": 1,
        "master_rss_mb": rss_mb(master),
        "worker_rss_mb": rss_mb(worker.pid()),
    })
}

fn rss_mb(pid: i32) -> f64 {
    round(sched_tests::rss_kb(pid) as f64 / 1024.0)
}

fn start(db: &mut Client, name: &str) -> i64 {
    db.query_one("SELECT sched.start_workflow($1)", &[&name])
        .unwrap()
        .get(0)
}

fn wait_finished(db: &mut Client, id: i64, limit: Duration) {
    wait_for(limit, "the instance to finish", || {
        let state: String = db
            .query_one(
                "SELECT state::text FROM sched.workflow_instance WHERE id = $1",
                &[&id],
            )
            .unwrap()
            .get(0);
        match state.as_str() {
            "succeeded" => Some(()),
            "running" => None,
            other => panic!("benchmark instance {id} ended {other}"),
        }
    });
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn grab(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} in pgbench output:\n{text}"))
}

fn iso_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn print_table(report: &Value) {
    let floor1 = report["floor"]["pgbench_n_1_client"]["latency_ms"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let tps4 = report["floor"]["pgbench_n_4_client"]["tps"]
        .as_f64()
        .unwrap_or(f64::NAN);
    println!(
        "\n{:<34} {:>12} {:>12} {:>12}  vs floor",
        "figure", "p50", "p95", "p99"
    );
    let line = |label: &str, v: &Value, ratio_to: f64| {
        let p50 = v["p50"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:<34} {:>12.3} {:>12.3} {:>12.3}  {:.1}x",
            label,
            p50,
            v["p95"].as_f64().unwrap_or(f64::NAN),
            v["p99"].as_f64().unwrap_or(f64::NAN),
            p50 / ratio_to
        );
    };
    println!(
        "{:<34} {:>12.3}  (1 client latency, ms)  {:>10.0} tps at 4 clients",
        "pgbench -N floor", floor1, tps4
    );
    println!(
        "{:<34} {:>12.3}  (1 client at 100 commits/s, ms)",
        "pgbench -N idle floor",
        report["floor"]["pgbench_n_1_client_100_per_s"]["latency_ms"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    let drained = |label: &str, s: &Value| {
        println!(
            "{:<34} {:>12.0} tasks/s in one instance, {:.0} one-task instances/s  ({})",
            label,
            s["instance_tasks_per_s"]["p50"]
                .as_f64()
                .unwrap_or(f64::NAN),
            s["one_task_instances_per_s"]["p50"]
                .as_f64()
                .unwrap_or(f64::NAN),
            s["workers"].as_str().unwrap_or("")
        )
    };
    for s in report["scenarios"].as_array().unwrap() {
        match s["scenario"].as_str().unwrap() {
            name @ ("chain40" | "chain40_params" | "retry_chain") => {
                line(&format!("{name} total (ms)"), &s["total_ms"], floor1);
                line(&format!("{name} hop (ms)"), &s["hop_ms"], floor1);
            }
            "cron_lateness" => {
                line(
                    "cron_lateness: fire time → instance (ms)",
                    &s["lateness_ms"],
                    floor1,
                );
                println!(
                    "{:<34} {:>12} of {} fires",
                    "cron_lateness missed", s["missed"], s["fires"]
                );
            }
            "event_latency" => {
                line(
                    "event: insert → instance (ms)",
                    &s["table_insert_to_instance_ms"],
                    floor1,
                );
                line(
                    "event: upstream end → instance (ms)",
                    &s["upstream_end_to_instance_ms"],
                    floor1,
                );
            }
            "idle_start" => {
                for (label, v) in [("shell", s), ("empty", &s["empty"])] {
                    line(
                        &format!("idle_start {label} commit→running (ms)"),
                        &v["commit_to_running_ms"],
                        floor1,
                    );
                    line(
                        &format!("idle_start {label} ack→running (ms)"),
                        &v["ack_to_running_ms"],
                        floor1,
                    );
                    println!(
                        "{:<34} {:>12.3}  (mean, worker's metrics)",
                        format!("idle_start {label} claim round trip"),
                        v["claim_round_trip_mean_ms"].as_f64().unwrap_or(f64::NAN)
                    );
                }
            }
            "throughput_shell" => println!(
                "{:<34} {:>12.0} tasks/s  ({:.2} of 4-client tps)",
                "throughput_shell",
                s["tasks_per_s"]["p50"].as_f64().unwrap_or(f64::NAN),
                s["tasks_per_s"]["p50"].as_f64().unwrap_or(f64::NAN) / tps4
            ),
            "throughput_empty" => println!(
                "{:<34} {:>12.0} tasks/s  ({:.2} of 4-client tps)",
                "throughput_empty",
                s["tasks_per_s"]["p50"].as_f64().unwrap_or(f64::NAN),
                s["tasks_per_s"]["p50"].as_f64().unwrap_or(f64::NAN) / tps4
            ),
            "many_workers" => {
                line("8x16 chain40 hop (ms)", &s["chain40_hop_ms"], floor1);
                drained("8x16 drains", s);
                line(
                    "8x16 idle_start empty ack→running",
                    &s["idle_start_empty_ack_to_running_ms"],
                    floor1,
                );
            }
            name if name.starts_with("drain_") => drained(name, s),
            "wide10k" => {
                line("wide10k create (ms)", &s["create_ms"], floor1);
                line("wide10k run (ms)", &s["run_ms"], floor1);
            }
            "deep10k" => {
                println!(
                    "{:<34} {:>12}  (create {} ms)",
                    "deep10k run (ms)", s["run_ms"], s["create_ms"]
                );
                line("deep10k hop (ms)", &s["hop_ms"], floor1);
                line(
                    "deep10k first 100 hops (ms)",
                    &s["first_100_hops_ms"],
                    floor1,
                );
                line("deep10k last 100 hops (ms)", &s["last_100_hops_ms"], floor1);
            }
            name if name.starts_with("wide") && s["workers"].is_string() => println!(
                "{:<34} {:>12}  (create {} ms, {})",
                format!("{name} run (ms)"),
                s["run_ms"],
                s["create_ms"],
                s["workers"].as_str().unwrap_or("")
            ),
            "dynamic_10k" => {
                line("dynamic_10k expand (ms)", &s["expand_ms"], floor1);
                line("dynamic_10k run (ms)", &s["run_ms"], floor1);
                line("dynamic_10k gather (ms)", &s["gather_ms"], floor1);
            }
            "memory" => println!(
                "{:<34} master {} MB, worker {} MB",
                "resident memory", s["master_rss_mb"], s["worker_rss_mb"]
            ),
            "console_lists" => {
                println!("console pages at {} instances:", s["instances"]);
                for (name, v) in s["pages"].as_object().unwrap() {
                    line(&format!("  {name}"), v, floor1);
                }
                println!("reads of wide100k's run (SQL):");
                for (name, v) in s["wide100k_reads"].as_object().unwrap() {
                    line(&format!("  {name}"), v, floor1);
                }
            }
            "soak" => println!(
                "{:<34} first 100k {:.0} tasks/s, last 100k {:.0} tasks/s ({:.2}x)",
                "soak: 1M empty tasks",
                s["first_100k_tasks_per_s"].as_f64().unwrap_or(f64::NAN),
                s["last_100k_tasks_per_s"].as_f64().unwrap_or(f64::NAN),
                s["last_vs_first"].as_f64().unwrap_or(f64::NAN)
            ),
            "month" => {
                println!(
                    "{:<34} {} attempts in {:.0} s, {} instances ({} failed, {} alerts sent)",
                    "month",
                    s["attempts"],
                    s["seconds"].as_f64().unwrap_or(f64::NAN),
                    s["instances"],
                    s["failed_instances"],
                    s["alerts_sent"]
                );
                line("month hop (ms)", &s["hop_ms"], floor1);
                let tenths = s["tenths"].as_array().unwrap();
                for (label, t) in [("first", &tenths[0]), ("last", &tenths[tenths.len() - 1])] {
                    println!(
                        "{:<34} {:.0} attempts/s, hop p50 {} p99 {}, claim {} ms, policy tick {} ms, hot table {} MB",
                        format!("month {label} tenth"),
                        t["attempts_per_s"].as_f64().unwrap_or(f64::NAN),
                        t["hop_ms"]["p50"],
                        t["hop_ms"]["p99"],
                        t["claim_round_trip_mean_ms"],
                        t["master_functions"]["_policy_tick"]["mean_ms"],
                        t["table_mb"]["task_instance"]
                    );
                }
                println!(
                    "{:<34} {:.2}x",
                    "month last vs first tenth",
                    s["last_vs_first_attempts_per_s"]
                        .as_f64()
                        .unwrap_or(f64::NAN)
                );
            }
            _ => {}
        }
    }
}
