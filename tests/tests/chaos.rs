//! Chaos (issue 23): a DAG of a few hundred short shell tasks on several workers while
//! workers are killed with SIGKILL and restarted at once, one is frozen with SIGSTOP past
//! sched.worker_timeout, PostgreSQL restarts without a checkpoint and a user holds an
//! ACCESS EXCLUSIVE lock on the attempts. The instance must succeed with no task skipped, run
//! out of order, run twice at the same time, or run again unless its earlier attempt was
//! failed over from a worker registration that the chaos killed or froze.
//!
//! Every task records its runs itself (its attempt id, start and end) in the cluster directory,
//! and holds a per-task `flock` for its whole run: a second copy that finds the lock taken
//! writes `overlap`. The database's own account is checked against those records.
//!
//! Sized for CI by default; `make chaos` runs it bigger and longer through CHAOS_TASKS,
//! CHAOS_WORKERS and CHAOS_SECONDS. CHAOS_SEED replays a run's DAG and plan of faults (their
//! timing still depends on the machine).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sched_tests::*;

/// Small, so that failovers happen within the time budget; well above the workers' 5 s floor
/// for a database call, so that the lock below can outlast calls without outlasting the
/// timeout.
const WORKER_TIMEOUT: Duration = Duration::from_secs(8);
/// What a worker waits for any database call but a heartbeat (half the timeout, at least 5 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const SLOTS: &str = "4";
/// A worker process that exits by itself (refused: its name is still registered and alive)
/// is started again after this, as a service manager's restart delay would.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// splitmix64: no dependency, and the same seed gives the same DAG and plan everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from + 1))
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

struct Task {
    name: String,
    deps: Vec<usize>,
    sleep_ms: u64,
}

/// Layers of random width (now and then a single task: a chain link where fan-in meets
/// fan-out); each task waits for one to three tasks of the layer before, sometimes also one
/// of the layer before that.
fn dag(rng: &mut Rng, tasks: usize, layers: usize) -> Vec<Task> {
    let width = (tasks / layers.max(1)).max(1) as u64;
    let mut out: Vec<Task> = Vec::with_capacity(tasks);
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    while out.len() < tasks {
        let w = if rng.chance(10) {
            1
        } else {
            1 + rng.below(2 * width - 1) as usize
        };
        let w = w.min(tasks - out.len());
        let start = out.len();
        for _ in 0..w {
            let mut deps = Vec::new();
            if let Some(&(from, to)) = bounds.last() {
                for _ in 0..1 + rng.below(3) {
                    deps.push(from + rng.below((to - from) as u64) as usize);
                }
                if bounds.len() >= 2 && rng.chance(25) {
                    let (from, to) = bounds[bounds.len() - 2];
                    deps.push(from + rng.below((to - from) as u64) as usize);
                }
                deps.sort_unstable();
                deps.dedup();
            }
            out.push(Task {
                name: format!("t{:05}", out.len()),
                deps,
                sleep_ms: 50 + rng.below(351),
            });
        }
        bounds.push((start, out.len()));
    }
    out
}

/// Each run records itself: `start`, `overlap` if its task's lock is held by another run
/// (then it waits for the lock), and `end`. Times in microseconds of the wall clock, from
/// bash's own clock rather than a `date` process per line. `tried` runs once the lock was
/// tried, whatever the outcome.
fn run_script(dir: &Path, name: &str, tried: &str, body: &str) -> String {
    let now = "${EPOCHREALTIME//[.,]/}";
    let me = format!("{name} $SCHED_TASK_INSTANCE_ID");
    format!(
        "r={runs}; exec 9>>{locks}/{name}\n\
         echo \"start {me} {now}\" >> $r\n\
         flock -n 9 || echo \"overlap {me} {now}\" >> $r\n\
         {tried}\n\
         flock 9\n\
         {body}\n\
         echo \"end {me} {now}\" >> $r\n",
        runs = dir.join("runs").display(),
        locks = dir.join("locks").display(),
    )
}

/// The gate runs until the chaos is over, so the instance outlasts it on any machine, and it
/// is the long task that the frozen worker is running: short tasks end before any failover.
fn gate_script(dir: &Path) -> String {
    let marker = dir.join("gate-tried.$SCHED_TASK_INSTANCE_ID");
    let done = dir.join("done");
    run_script(
        dir,
        "gate",
        &format!(": > {}", marker.display()),
        &format!(
            "n=0; while [ ! -e {done} ]; do sleep 0.1; n=$((n+1)); [ $n -lt 6000 ] || exit 1; done",
            done = done.display()
        ),
    )
}

/// A worker as a service manager runs one: started again when it exits.
struct Service {
    name: String,
    worker: Worker,
    spawned: Instant,
    spawned_at: SystemTime,
    starts: u32,
    killed: bool,
}

struct Fleet<'a> {
    cluster: &'a Cluster,
    services: Vec<Service>,
}

impl<'a> Fleet<'a> {
    fn start(cluster: &'a Cluster, n: usize) -> Fleet<'a> {
        let services = (1..=n)
            .map(|i| {
                let name = format!("w{i}");
                Service {
                    worker: spawn_worker(cluster, &name),
                    name,
                    spawned: Instant::now(),
                    spawned_at: SystemTime::now(),
                    starts: 1,
                    killed: false,
                }
            })
            .collect();
        Fleet { cluster, services }
    }

    /// Starts again every worker that exited: at once after our SIGKILL, else after the
    /// restart delay.
    fn supervise(&mut self) {
        for s in &mut self.services {
            if s.worker.child.try_wait().unwrap().is_none() {
                continue;
            }
            if s.killed || s.spawned.elapsed() >= RESTART_DELAY {
                s.worker = spawn_worker(self.cluster, &s.name);
                s.spawned = Instant::now();
                s.spawned_at = SystemTime::now();
                s.starts += 1;
                s.killed = false;
            }
        }
    }

    /// Waits, keeping the workers running; the chaos's own pacing, not a wait for a condition.
    fn pause(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.supervise();
            std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
        }
    }

    fn index(&self, name: &str) -> usize {
        self.services.iter().position(|s| s.name == name).unwrap()
    }
}

fn spawn_worker(cluster: &Cluster, name: &str) -> Worker {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cluster.dir.join(format!("worker-{name}.log")))
        .expect("worker log");
    let child = cluster
        .worker_command(name)
        .arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .args(["--slots", SLOTS])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", worker_bin().display()));
    Worker {
        child,
        name: name.to_owned(),
    }
}

/// A connection that survives the server's restart: a failed call drops it, the next one
/// connects again.
struct Watch {
    url: String,
    client: Option<Client>,
}

impl Watch {
    fn call<T>(&mut self, f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>) -> Option<T> {
        if self.client.is_none() {
            self.client = Client::connect(&self.url, postgres::NoTls).ok();
        }
        let result = f(self.client.as_mut()?);
        if result.is_err() {
            self.client = None;
        }
        result.ok()
    }

    fn instance_state(&mut self, id: i64) -> Option<String> {
        self.call(|c| {
            c.query_one(
                "SELECT state::text FROM sched.workflow_instance WHERE id = $1",
                &[&id],
            )
            .map(|r| r.get(0))
        })
    }
}

fn finished(state: &str) -> bool {
    matches!(state, "succeeded" | "failed" | "stopped" | "paused")
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Kill,
    Freeze,
    RestartDatabase,
    LockAttempts,
}

/// A worker process the chaos killed or froze: registrations of its name that were alive at
/// that moment died of it.
struct Victim {
    name: String,
    at: SystemTime,
    how: &'static str,
}

/// What the chaos did and when, printed as it happens and kept to explain what follows.
struct Journal {
    t0: i64,
    entries: Vec<(i64, String)>,
}

impl Journal {
    fn at(&self, t: i64) -> String {
        format!("+{:.2}s", (t - self.t0) as f64 / 1e6)
    }

    fn note(&mut self, what: String) {
        let now = micros(SystemTime::now());
        println!("chaos {}: {what}", self.at(now));
        self.entries.push((now, what));
    }

    /// The last few things the chaos did before `t`.
    fn before(&self, t: i64) -> String {
        let earlier: Vec<String> = self
            .entries
            .iter()
            .filter(|(e, _)| *e <= t)
            .rev()
            .take(2)
            .map(|(e, what)| format!("{} {what}", self.at(*e)))
            .collect();
        if earlier.is_empty() {
            "nothing yet".to_owned()
        } else {
            earlier.join("; ")
        }
    }
}

#[derive(Default, Debug)]
struct Run {
    start: Option<i64>,
    end: Option<i64>,
    overlap: Option<i64>,
    starts: u32,
}

fn count_in_logs(cluster: &Cluster, names: &[String], needle: &str) -> usize {
    names
        .iter()
        .map(|n| {
            std::fs::read_to_string(cluster.dir.join(format!("worker-{n}.log")))
                .unwrap_or_default()
                .matches(needle)
                .count()
        })
        .sum()
}

/// One attempt of a task, as the database recorded it.
struct Attempt {
    task: String,
    id: i64,
    number: i32,
    state: String,
    worker: Option<i64>,
    kill_reason: Option<String>,
}

struct Registration {
    name: String,
    alive: bool,
    registered: SystemTime,
    ended: Option<SystemTime>,
}

#[test]
fn chaos_skips_reorders_doubles_and_repeats_nothing_unexplained() {
    let test_began = Instant::now();
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .map(|s| s.trim().parse::<u64>().expect("CHAOS_SEED is a number"))
        .unwrap_or_else(|| {
            micros(SystemTime::now()) as u64 ^ (u64::from(std::process::id()) << 32)
        });
    let tasks = env_number("CHAOS_TASKS", 300) as usize;
    let workers = env_number("CHAOS_WORKERS", 3) as usize;
    let seconds = env_number("CHAOS_SECONDS", 25);
    assert!(tasks >= 1, "CHAOS_TASKS must be at least 1");
    // The frozen worker's task must be failed over to another worker while it is frozen.
    assert!(workers >= 2, "CHAOS_WORKERS must be at least 2");
    println!(
        "chaos: seed {seed} (CHAOS_SEED={seed} replays this DAG and plan), {tasks} tasks, \
         {workers} workers x {SLOTS} slots, {seconds} s of chaos"
    );

    let mut rng = Rng(seed);
    // About two layers a second of chaos keeps short tasks running through most of it.
    let layers = ((seconds * 2) as usize).clamp(3, (tasks / 2).max(3));
    let dag = dag(&mut rng, tasks, layers);
    let mut finish = vec![0u64; dag.len()];
    for (i, t) in dag.iter().enumerate() {
        finish[i] = t.deps.iter().map(|&d| finish[d]).max().unwrap_or(0) + t.sleep_ms;
    }
    println!(
        "chaos: {} edges; the longest path sleeps {:.1} s",
        dag.iter().map(|t| t.deps.len()).sum::<usize>(),
        *finish.iter().max().unwrap() as f64 / 1000.0
    );

    let cluster = Cluster::start(&[&format!(
        "sched.worker_timeout = {}",
        WORKER_TIMEOUT.as_secs()
    )]);
    println!("chaos: cluster in {}", cluster.dir.display());
    let dir = cluster.dir.join("chaos");
    std::fs::create_dir_all(dir.join("locks")).unwrap();
    for d in [dir.clone(), dir.join("locks")] {
        // Tasks run as nobody when the worker is root.
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    }
    let mut spec_tasks: Vec<serde_json::Value> = dag
        .iter()
        .map(|t| {
            let nap = format!("sleep {}.{:03}", t.sleep_ms / 1000, t.sleep_ms % 1000);
            serde_json::json!({
                "name": t.name, "type": "shell", "script": run_script(&dir, &t.name, "", &nap),
                "deps": t.deps.iter().map(|&d| dag[d].name.clone()).collect::<Vec<_>>()
            })
        })
        .collect();
    spec_tasks
        .push(serde_json::json!({"name": "gate", "type": "shell", "script": gate_script(&dir)}));
    let deps_of: BTreeMap<String, Vec<String>> = spec_tasks
        .iter()
        .map(|t| {
            let deps = t["deps"]
                .as_array()
                .map(|a| a.iter().map(|d| d.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            (t["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect();
    let mut db = cluster.connect();
    define(
        &mut db,
        &serde_json::json!({"name": "chaos", "tasks": spec_tasks}).to_string(),
    );

    let mut fleet = Fleet::start(&cluster, workers);
    let names: Vec<String> = fleet.services.iter().map(|s| s.name.clone()).collect();
    wait_for(Duration::from_secs(60), "every worker to register", || {
        let alive: i64 = db
            .query_one(
                "SELECT count(*) FROM sched.worker WHERE alive AND name = ANY($1)",
                &[&names],
            )
            .unwrap()
            .get(0);
        (alive as usize == names.len()).then_some(())
    });
    let id = start(&mut db, "chaos");
    drop(db);
    let t0 = Instant::now();
    let mut journal = Journal {
        t0: micros(SystemTime::now()),
        entries: Vec::new(),
    };
    let mut watch = Watch {
        url: cluster.conn_string("postgres"),
        client: None,
    };

    // Each round has every kind of fault once, in a random order, among random kills;
    // `make chaos` gets a round a minute.
    let rounds = (seconds / 60).max(1);
    let round_len = Duration::from_secs(seconds) / rounds as u32;
    let mut plan: Vec<(usize, Event)> = Vec::new();
    for r in 0..rounds as usize {
        let mut round = vec![
            Event::Kill,
            Event::Kill,
            Event::Kill,
            Event::Freeze,
            Event::RestartDatabase,
            Event::LockAttempts,
        ];
        for i in (1..round.len()).rev() {
            round.swap(i, rng.below(i as u64 + 1) as usize);
        }
        plan.extend(round.into_iter().map(|e| (r, e)));
    }
    println!(
        "chaos: plan {:?}, a round every {} s, and more kills until {seconds} s",
        plan.iter().map(|(_, e)| e).collect::<Vec<_>>(),
        round_len.as_secs()
    );

    let mut victims: Vec<Victim> = Vec::new();
    let mut freezes = 0;
    let mut ended_early: Option<String> = None;
    let mut plan = plan.into_iter().peekable();
    fleet.pause(rng.millis(1000, 3000));
    loop {
        if let Some(state) = watch.instance_state(id).filter(|s| finished(s)) {
            ended_early = Some(state);
            break;
        }
        let event = match plan.peek() {
            Some((r, _)) if t0.elapsed() >= round_len * *r as u32 => plan.next().unwrap().1,
            None if t0.elapsed() >= Duration::from_secs(seconds) => break,
            _ => Event::Kill,
        };
        match event {
            Event::Kill => {
                let i = rng.below(fleet.services.len() as u64) as usize;
                let s = &mut fleet.services[i];
                victims.push(Victim {
                    name: s.name.clone(),
                    at: SystemTime::now(),
                    how: "SIGKILL",
                });
                s.worker.signal(libc::SIGKILL);
                s.killed = true;
                journal.note(format!(
                    "SIGKILL {} (pid {}), restarted at once",
                    s.name,
                    s.worker.pid()
                ));
            }
            Event::Freeze => {
                // The worker whose current process runs the gate: a registration made by the
                // process that is running now, not one a killed process left behind.
                let (attempt, name) = wait_for(
                    Duration::from_secs(90),
                    "the gate to run on a live worker",
                    || {
                        fleet.supervise();
                        let (attempt, name, registered): (i64, String, SystemTime) = watch
                            .call(|c| {
                                c.query_opt(
                                    "SELECT ti.id, w.name, w.registered_at FROM sched.task_instance ti
                                     JOIN sched.task_definition td ON td.id = ti.task_id
                                     JOIN sched.worker w ON w.id = ti.worker_id
                                     WHERE ti.workflow_instance_id = $1 AND td.name = 'gate'
                                       AND ti.state = 'running' AND w.alive",
                                    &[&id],
                                )
                            })
                            .flatten()
                            .map(|r| (r.get(0), r.get(1), r.get(2)))?;
                        let s = &fleet.services[fleet.index(&name)];
                        let current = registered >= s.spawned_at
                            && dir.join(format!("gate-tried.{attempt}")).exists();
                        current.then_some((attempt, name))
                    },
                );
                let i = fleet.index(&name);
                victims.push(Victim {
                    name: name.clone(),
                    at: SystemTime::now(),
                    how: "SIGSTOP",
                });
                fleet.services[i].worker.signal(libc::SIGSTOP);
                let frozen = Instant::now();
                journal.note(format!(
                    "SIGSTOP {name} (pid {}), which runs the gate (attempt {attempt})",
                    fleet.services[i].worker.pid()
                ));
                // Frozen until the gate's failed-over attempt has started elsewhere and tried
                // its lock: any overlap with the frozen worker's copy is then on record.
                let next: i64 = wait_for(
                    WORKER_TIMEOUT + Duration::from_secs(60),
                    "the gate's failed-over attempt to start on another worker",
                    || {
                        fleet.supervise();
                        let next: Option<i64> = watch
                            .call(|c| {
                                c.query_opt(
                                    "SELECT max(ti.id) FROM sched.task_instance ti
                                     JOIN sched.task_definition td ON td.id = ti.task_id
                                     WHERE ti.workflow_instance_id = $1 AND td.name = 'gate' AND ti.id > $2",
                                    &[&id, &attempt],
                                )
                            })
                            .flatten()
                            .and_then(|r| r.get(0));
                        next.filter(|n| dir.join(format!("gate-tried.{n}")).exists())
                    },
                );
                fleet.services[i].worker.signal(libc::SIGCONT);
                freezes += 1;
                journal.note(format!(
                    "SIGCONT {name} after {:.1} s; the gate's attempt {next} has started",
                    frozen.elapsed().as_secs_f64()
                ));
            }
            Event::RestartDatabase => {
                journal.note("PostgreSQL stop -m immediate".to_owned());
                cluster.stop_server();
                let down = rng.millis(300, 2000);
                fleet.pause(down);
                cluster.start_server();
                watch.client = None;
                journal.note(format!(
                    "PostgreSQL started again after {:.1} s down",
                    down.as_secs_f64()
                ));
            }
            Event::LockAttempts => {
                let timeouts = "the database did not answer within";
                let before = count_in_logs(&cluster, &names, timeouts);
                let mut locker = cluster.connect();
                let mut lock = locker.transaction().unwrap();
                lock.batch_execute("LOCK TABLE sched.task_instance IN ACCESS EXCLUSIVE MODE")
                    .unwrap();
                journal.note("LOCK TABLE sched.task_instance IN ACCESS EXCLUSIVE MODE".to_owned());
                // Until a call has timed out behind it (or could have), and well within the
                // worker timeout: no healthy worker may be declared dead or fence for it.
                let held = Instant::now();
                let most = WORKER_TIMEOUT - Duration::from_secs(1);
                while held.elapsed() < CALL_TIMEOUT
                    || (held.elapsed() < most
                        && count_in_logs(&cluster, &names, timeouts) == before)
                {
                    fleet.pause(Duration::from_millis(100));
                }
                lock.commit().unwrap();
                journal.note(format!(
                    "lock released after {:.1} s; {} worker calls timed out behind it",
                    held.elapsed().as_secs_f64(),
                    count_in_logs(&cluster, &names, timeouts) - before
                ));
            }
        }
        // Within a round, short pauses; between rounds and after the last, kills alone, a
        // few per worker timeout: any faster and the workers would hardly ever be registered.
        let milestone = plan
            .peek()
            .map_or(Duration::from_secs(seconds), |(r, _)| round_len * *r as u32);
        let gap = if plan.peek().is_some() && t0.elapsed() >= milestone {
            rng.millis(500, 2500)
        } else {
            rng.millis(2000, 2 * WORKER_TIMEOUT.as_millis() as u64)
                .min(milestone.saturating_sub(t0.elapsed()))
        };
        fleet.pause(gap.max(Duration::from_millis(500)));
    }
    std::fs::write(dir.join("done"), "").unwrap();
    journal.note(format!(
        "chaos over ({} kills, {freezes} freezes)",
        victims.iter().filter(|v| v.how == "SIGKILL").count()
    ));
    let state = wait_for(
        Duration::from_secs(120 + tasks as u64 / 20),
        "the instance to end",
        || {
            fleet.supervise();
            watch.instance_state(id).filter(|s| finished(s))
        },
    );
    journal.note(format!("instance {id} {state}"));
    let at = |t: i64| journal.at(t);

    // What the database says: every attempt, and the registration it ran on.
    let mut db = cluster.connect();
    let attempts: Vec<Attempt> = db
        .query(
            "SELECT td.name, ti.id, ti.attempt, ti.state::text, ti.worker_id, ti.kill_reason
             FROM (SELECT id, workflow_instance_id, task_id, attempt, state, worker_id, kill_reason FROM sched.task_instance
                   UNION ALL
                   SELECT id, workflow_instance_id, task_id, attempt, state, worker_id, kill_reason FROM sched.task_instance_history) ti
             JOIN sched.task_definition td ON td.id = ti.task_id
             WHERE ti.workflow_instance_id = $1 ORDER BY td.name, ti.attempt, ti.id",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| Attempt {
            task: r.get(0),
            id: r.get(1),
            number: r.get(2),
            state: r.get(3),
            worker: r.get(4),
            kill_reason: r.get(5),
        })
        .collect();
    let registrations: HashMap<i64, Registration> = db
        .query(
            "SELECT id, name, alive, registered_at, ended_at FROM sched.worker",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let registration = Registration {
                name: r.get(1),
                alive: r.get(2),
                registered: r.get(3),
                ended: r.get(4),
            };
            (r.get(0), registration)
        })
        .collect();

    // What the tasks say: every run of every attempt.
    let mut runs: BTreeMap<(String, i64), Run> = BTreeMap::new();
    let text = std::fs::read_to_string(dir.join("runs")).unwrap_or_default();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let [kind, task, attempt, t] = f[..] else {
            panic!(
                "a garbled record in {}: {line:?}",
                dir.join("runs").display()
            );
        };
        let run = runs
            .entry((task.to_owned(), attempt.parse().unwrap()))
            .or_default();
        let t: i64 = t.parse().unwrap();
        match kind {
            "start" => {
                run.starts += 1;
                run.start = Some(t);
            }
            "end" => run.end = Some(t),
            "overlap" => run.overlap = Some(t),
            _ => panic!("an unknown record: {line:?}"),
        }
    }

    let mut by_task: BTreeMap<&str, Vec<&Attempt>> = BTreeMap::new();
    for a in &attempts {
        by_task.entry(a.task.as_str()).or_default().push(a);
    }
    let victim_of = |worker: Option<i64>| -> Option<&Victim> {
        let r = registrations.get(&worker?)?;
        let ended = r.ended?;
        victims
            .iter()
            .find(|v| !r.alive && v.name == r.name && r.registered <= v.at && ended >= v.at)
    };
    let describe = |worker: Option<i64>| -> String {
        match worker.and_then(|w| registrations.get(&w).map(|r| (w, r))) {
            Some((w, r)) => format!(
                "{} (registration {w}, {})",
                r.name,
                if r.alive { "alive" } else { "dead" }
            ),
            None => "no worker".to_owned(),
        }
    };

    let mut overlaps = Vec::new();
    let mut skipped = Vec::new();
    let mut disorder = Vec::new();
    let mut unexplained = Vec::new();
    let mut doubled = Vec::new();
    let mut lost_registrations = Vec::new();
    let mut spared: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    if let Some(state) = &ended_early {
        skipped.push(format!(
            "the instance ended ({state}) while the chaos was still on"
        ));
    }
    if state != "succeeded" {
        skipped.push(format!("instance {id} ended {state}, not succeeded"));
    }
    let final_run = |task: &str| -> Option<(i64, &Run)> {
        let last = by_task.get(task)?.last()?;
        (last.state == "succeeded")
            .then(|| runs.get(&(task.to_owned(), last.id)).map(|r| (last.id, r)))
            .flatten()
    };
    let mut reexecuted = 0;
    for (task, deps) in &deps_of {
        let Some(list) = by_task.get(task.as_str()) else {
            skipped.push(format!("{task}: no attempt at all"));
            continue;
        };
        let last = list.last().unwrap();
        if last.state != "succeeded" {
            skipped.push(format!(
                "{task}: its last attempt {} ended {} on {}",
                last.id,
                last.state,
                describe(last.worker)
            ));
            continue;
        }
        let Some((_, run)) = final_run(task) else {
            skipped.push(format!(
                "{task}: its successful attempt {} left no record of a run",
                last.id
            ));
            continue;
        };
        let (Some(start), Some(end)) = (run.start, run.end) else {
            skipped.push(format!(
                "{task}: the run of its successful attempt {} did not finish: {run:?}",
                last.id
            ));
            continue;
        };
        for dep in deps {
            match final_run(dep).and_then(|(a, r)| r.end.map(|e| (a, e))) {
                Some((dep_attempt, dep_end)) if dep_end > start => disorder.push(format!(
                    "{task} (attempt {}) started at {} before its predecessor {dep} (attempt {dep_attempt}) ended at {}",
                    last.id,
                    at(start),
                    at(dep_end)
                )),
                Some(_) => {}
                None => disorder.push(format!(
                    "{task} (attempt {}) ran at {}-{} but its predecessor {dep} has no finished successful run",
                    last.id,
                    at(start),
                    at(end)
                )),
            }
        }

        // Runs of this task by time; the flock caught overlaps, including with runs that were
        // killed before they could record their end.
        let mut mine: Vec<(i64, &Run)> = runs
            .range((task.clone(), i64::MIN)..=(task.clone(), i64::MAX))
            .map(|((_, a), r)| (*a, r))
            .collect();
        mine.sort_by_key(|(_, r)| r.start);
        if mine.len() > 1 {
            reexecuted += 1;
        }
        for (attempt, run) in &mine {
            if run.starts > 1 {
                doubled.push(format!(
                    "{task}: attempt {attempt} ran {} times",
                    run.starts
                ));
            }
            if !list.iter().any(|a| a.id == *attempt) {
                doubled.push(format!(
                    "{task}: a run of attempt {attempt}, which is not one of its attempts"
                ));
            }
            if let Some(t) = run.overlap {
                let holders: Vec<String> = mine
                    .iter()
                    .filter(|(a, r)| {
                        a != attempt && r.start.is_some_and(|s| s <= t) && r.end.is_none_or(|e| e > t)
                    })
                    .map(|(a, r)| {
                        let worker = list.iter().find(|x| x.id == *a).and_then(|x| x.worker);
                        let cause = match victim_of(worker) {
                            Some(v) if v.how == "SIGSTOP" => format!(
                                "; that worker was frozen (SIGSTOP) at {}: its task kept running after its attempt was failed over",
                                at(micros(v.at))
                            ),
                            Some(v) => format!("; that worker was killed ({}) at {}", v.how, at(micros(v.at))),
                            None => String::new(),
                        };
                        format!(
                            "attempt {a} on {} (started {}, {}){cause}",
                            describe(worker),
                            at(r.start.unwrap()),
                            r.end.map_or("never recorded its end: killed".to_owned(), |e| format!("ended {}", at(e)))
                        )
                    })
                    .collect();
                overlaps.push(format!(
                    "{task}: attempt {attempt} started at {} while another run held the task's lock: {}",
                    at(t),
                    if holders.is_empty() { "no recorded run".to_owned() } else { holders.join(", ") }
                ));
            }
        }
        for w in mine.windows(2) {
            let ((a1, r1), (a2, r2)) = (w[0], w[1]);
            if let (Some(e1), Some(s2)) = (r1.end, r2.start)
                && s2 < e1
                && r2.overlap.is_none()
            {
                overlaps.push(format!(
                    "{task}: attempt {a2} started at {} before attempt {a1} ended at {} (and the lock did not see it)",
                    at(s2),
                    at(e1)
                ));
            }
        }

        for earlier in &list[..list.len() - 1] {
            let lost = earlier.state == "need_fault_tolerance"
                || (earlier.state == "killed"
                    && earlier.kill_reason.as_deref() == Some("failover"));
            let dead = earlier
                .worker
                .and_then(|w| registrations.get(&w))
                .is_some_and(|r| !r.alive);
            if !(lost && dead) {
                unexplained.push(format!(
                    "{task}: attempt {} (#{}) ended {} (kill reason {:?}) on {}, yet the task ran again",
                    earlier.id,
                    earlier.number,
                    earlier.state,
                    earlier.kill_reason,
                    describe(earlier.worker)
                ));
            } else if victim_of(earlier.worker).is_none() {
                spared
                    .entry(earlier.worker.unwrap())
                    .or_default()
                    .push(format!("{task} (attempt {})", earlier.id));
            }
        }
    }
    for (registration, lost) in &spared {
        let name = &registrations[registration].name;
        let ended = registrations[registration].ended.map_or(0, micros);
        let log = cluster.dir.join(format!("worker-{name}.log"));
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        lost_registrations.push(format!(
            "{name}: registration {registration} ended at {} though the chaos neither killed nor froze it \
             ({} fences for silence, {} failed heartbeats in {}); before that the chaos did: {}; \
             failed over with it and run again: {}",
            at(ended),
            log_text.matches("killing tasks and claiming nothing").count(),
            log_text.matches("heartbeat failed").count(),
            log.display(),
            journal.before(ended),
            lost.join(", ")
        ));
    }
    let mut toothless = Vec::new();
    if freezes > 0 && by_task.get("gate").is_none_or(|l| l.len() <= freezes) {
        toothless.push(format!(
            "the gate has {} attempts after {freezes} freezes of the worker running it",
            by_task.get("gate").map_or(0, |l| l.len())
        ));
    }

    // What the workers went through, as evidence beside the verdict.
    let evidence: Vec<String> = [
        ("calls timed out", "did not answer within"),
        ("heartbeats failed", "heartbeat failed"),
        ("fences for silence", "killing tasks and claiming nothing"),
        ("fences for a freeze", "frozen past its deadline"),
        ("declared dead", "declared dead by the database"),
        (
            "restarts refused (name still registered)",
            "is registered and alive",
        ),
    ]
    .iter()
    .map(|(what, needle)| format!("{what} {}", count_in_logs(&cluster, &names, needle)))
    .collect();
    println!("chaos: worker logs: {}", evidence.join(", "));
    let dead: Vec<String> = registrations
        .iter()
        .filter(|(_, r)| !r.alive)
        .map(|(id, r)| format!("{} ({id})", r.name))
        .collect();
    println!(
        "chaos: {} tasks, {} attempts, {} runs recorded; {reexecuted} tasks ran more than once; \
         dead registrations: {}; worker starts: {}",
        deps_of.len(),
        attempts.len(),
        runs.len(),
        dead.join(", "),
        fleet
            .services
            .iter()
            .map(|s| format!("{} {}", s.name, s.starts))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut report = String::new();
    for (title, found) in [
        (
            "SKIPPED (a task without a successful final attempt and run)",
            &skipped,
        ),
        ("OVERLAP (two runs of one task at the same time)", &overlaps),
        (
            "OUT OF ORDER (a task started before a predecessor ended)",
            &disorder,
        ),
        ("RUN TWICE (one attempt run more than once)", &doubled),
        (
            "RE-EXECUTION WITHOUT A FAILOVER (an earlier attempt that is not need_fault_tolerance on a dead registration)",
            &unexplained,
        ),
        ("THE CHAOS DID NOT BITE", &toothless),
        (
            "A WORKER THE CHAOS SPARED LOST ITS REGISTRATION (README: neither a restart of the server nor a lock on the attempts fences or kills a healthy worker)",
            &lost_registrations,
        ),
    ] {
        if !found.is_empty() {
            let _ = writeln!(report, "{title}: {} cases", found.len());
            for f in found.iter().take(20) {
                let _ = writeln!(report, "  {f}");
            }
        }
    }
    println!(
        "chaos: test took {:.1} s",
        test_began.elapsed().as_secs_f64()
    );
    assert!(
        report.is_empty(),
        "chaos (seed {seed}; CHAOS_SEED={seed} replays it; cluster dir {} kept) found:\n{report}",
        cluster.dir.display()
    );
}
