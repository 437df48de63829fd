//! The worker loop: claim up to the free slots whenever work may be there (a NOTIFY, a slot
//! freed, the fallback poll), start what was claimed, kill what the database asks to kill,
//! and shut down gracefully on SIGTERM.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use deadpool_postgres::Pool;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::alerts;
use crate::config::{self, Config};
use crate::datasources::Datasources;
use crate::db;
use crate::executor;
use crate::heartbeat::{self, Beat};
use crate::metrics;
use crate::notifier::{self, Wake};
use crate::os;
use crate::output;
use crate::protocol::{Claimed, Lease};
use crate::reporter;
use crate::slots::Slots;
use crate::users;
use crate::wakeups::Budget;
use crate::watchdog;
use crate::workdir::WorkDir;

const REGISTER_RETRY_MAX: Duration = Duration::from_secs(5);
/// After the grace period: how long killed tasks' outcomes may take to reach the database.
const REPORT_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
enum Shutdown {
    No,
    /// No more claims; running tasks may finish until `kill_at`.
    Draining {
        kill_at: Instant,
    },
    /// Everything left was killed; its outcomes are being reported.
    Killed {
        give_up_at: Instant,
    },
}

struct Registration {
    name: String,
    host: String,
    groups: Vec<String>,
    slots: usize,
    /// This process's, for every registration it makes (see db::register).
    token: i64,
}

/// The first registration waits for a database that is down, starting or out of connections,
/// as the worker's later calls do, instead of exiting: workers are often started with, or
/// before, their database.
const FIRST_REGISTRATION_BACKOFF_MAX: Duration = Duration::from_secs(30);

pub async fn run(config: Config) -> Result<()> {
    os::find_bash().map_err(|e| anyhow::anyhow!(e))?;
    if let Err(why) = executor::find_python(&config.python) {
        warn!("{why}; python tasks will fail on this worker");
    }
    executor::set_spark_home(config.spark_home.clone());
    let url = config.database_url().map_err(|e| anyhow::anyhow!(e))?;
    let pg_config = db::connect_config(&url)?;
    if config.database_url.is_some() && pg_config.get_password().is_some() {
        warn!(
            "the password in --database-url (or SCHED_DATABASE_URL) can be read by local users \
             from the process list or environment; put the connection string in --database-url-file"
        );
    }
    users::init(config.default_tenant.as_deref()).map_err(|e| anyhow::anyhow!(e))?;
    // Before registering: a registered worker may be given tasks at once. A root worker's
    // tasks run as other users, who must be able to reach their own directories by path
    // (many tools open files by absolute path), so others may search it but not list it.
    let create_mode = if os::euid() == 0 { 0o711 } else { 0o700 };
    let work_dir = Arc::new(
        WorkDir::open(
            &config.work_dir().map_err(|e| anyhow::anyhow!(e))?,
            create_mode,
        )
        .map_err(|e| anyhow::anyhow!(e))?,
    );
    let datasources = Arc::new(match &config.datasources {
        Some(path) => Datasources::load(path).map_err(|e| anyhow::anyhow!(e))?,
        None => Datasources::default(),
    });
    let pool = db::pool(pg_config.clone())?;
    let database_config = pg_config.clone();
    let registration = Registration {
        name: config.name(),
        host: config::host_name(),
        groups: config.groups(),
        slots: config.slots(),
        token: db::registration_token(),
    };
    // Before registering: once registered the worker is seen as live, and a SIGTERM sent then
    // must start a graceful shutdown, not kill the process with the default action.
    let mut signals = Signals::install()?;
    let mut backoff = Duration::from_secs(1);
    let first_id = loop {
        let attempt = db::register(
            &pool,
            &registration.name,
            &registration.host,
            &registration.groups,
            registration.slots as i32,
            registration.token,
        );
        let outcome = tokio::select! {
            outcome = attempt => outcome,
            () = signals.recv() => {
                info!("stopped before registering");
                return Ok(());
            }
        };
        match outcome {
            Ok(id) => break id,
            Err(err) if db::is_protocol_refused(&err) => return Err(err),
            // A socket directory that does not exist is a mistake in the connection string, not
            // a server that is down (whose directory is there, without the socket).
            Err(err) if db::is_transient(&err) && missing_socket_dir(&pg_config).is_none() => {
                warn!(error = %format!("{err:#}"), "cannot register yet; retrying in {backoff:?}");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = signals.recv() => {
                        info!("stopped before registering");
                        return Ok(());
                    }
                }
                backoff = (backoff * 2).min(FIRST_REGISTRATION_BACKOFF_MAX);
            }
            Err(err) => return Err(anyhow::anyhow!(describe_connect_error(&err, &pg_config))),
        }
    };
    info!(worker_id = first_id, name = %registration.name, slots = registration.slots, groups = ?registration.groups, "registered");

    let worker_id = Arc::new(AtomicI64::new(first_id));
    let registered = Arc::new(Notify::new());
    let running_count = Arc::new(AtomicUsize::new(0));
    let leases = Arc::new(Mutex::new(Vec::new()));
    let slots = Arc::new(Slots::new(registration.slots));
    let (wake_tx, wake_rx) = mpsc::unbounded_channel();
    let alert_wake = match &config.alerts {
        Some(path) => {
            let settings = alerts::Settings::load(path).map_err(|e| anyhow::anyhow!(e))?;
            let (tx, rx) = mpsc::unbounded_channel();
            alerts::spawn(
                pool.clone(),
                worker_id.clone(),
                settings,
                work_dir.path().to_owned(),
                rx,
            );
            Some(tx)
        }
        None => None,
    };
    notifier::spawn(
        pg_config,
        registration.groups.clone(),
        worker_id.clone(),
        registered.clone(),
        wake_tx,
        alert_wake,
    );
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let fenced = Arc::new(AtomicI64::new(0));
    let reports = reporter::spawn(
        reporter::Shared {
            pool: pool.clone(),
            slots: slots.clone(),
            worker_id: worker_id.clone(),
        },
        done_tx,
    );
    let (beat_tx, beat_rx) = mpsc::unbounded_channel();
    let settings = db::settings(&pool).await.unwrap_or_default();
    if let Some(cap) = settings.max_log_bytes {
        output::set_log_cap(cap);
    }
    let status = Arc::new(Mutex::new(None));
    // Before the heartbeat, which gives it its first deadline.
    if let Err(err) = watchdog::start() {
        warn!(error = %err, "cannot start the watchdog: if this worker is killed with SIGKILL or frozen, its tasks keep running");
    }
    heartbeat::spawn(
        heartbeat::Shared {
            pool: db::heartbeat_pool(database_config.clone())?,
            worker_id: worker_id.clone(),
            running: running_count.clone(),
            status: status.clone(),
            slots: slots.clone(),
            fenced: fenced.clone(),
            leases: leases.clone(),
            token: registration.token,
        },
        settings,
        beat_tx,
    );

    let mut worker = Worker {
        pool: pool.clone(),
        registration,
        context: executor::Context {
            work_dir,
            reports,
            pool: pool.clone(),
            database: database_config,
            datasources,
        },
        worker_id,
        registered,
        running_count,
        leases,
        slots,
        running: HashMap::new(),
        recovering: None,
        pending_claim: None,
        budget: Budget::new(),
        breaker: Breaker::default(),
        status,
        fenced,
    };
    worker
        .event_loop(&config, signals, wake_rx, done_rx, beat_rx)
        .await
}

/// SIGTERM and SIGINT, which both ask the worker to stop.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

struct Worker {
    pool: Pool,
    registration: Registration,
    context: executor::Context,
    worker_id: Arc<AtomicI64>,
    /// Tells the notifier that a new registration has a channel of its own to listen on.
    registered: Arc<Notify>,
    running_count: Arc<AtomicUsize>,
    /// The task instances of `running` under the current registration, for the heartbeat.
    leases: Arc<Mutex<Vec<i64>>>,
    slots: Arc<Slots>,
    /// Claimed and not yet reported, with how to kill it.
    running: HashMap<Lease, Option<executor::Stop>>,
    /// Heard from the database after a fence: the fenced registration, ended once what
    /// finished before the fence is reported under it.
    recovering: Option<i64>,
    /// A claim whose answer was lost: its token and slots, kept for the retry.
    pending_claim: Option<(i64, usize)>,
    /// Paces claims and kill checks that find nothing (notifications can be spoofed).
    budget: Budget,
    breaker: Breaker,
    /// What the next heartbeat says about this worker's health; None is healthy.
    status: Arc<Mutex<Option<String>>>,
    /// The registration whose tasks were killed when the database went silent (0: none);
    /// their outcomes are void and never reported.
    fenced: Arc<AtomicI64>,
}

/// Tasks could not be started here (task directory, process): claim nothing for a while,
/// 1 s doubling to a minute, so that other workers take the queue.
#[derive(Default)]
struct Breaker {
    backoff: Duration,
    until: Option<Instant>,
}

const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

impl Worker {
    fn id(&self) -> i64 {
        self.worker_id.load(Ordering::Relaxed)
    }

    /// What the heartbeat tells the database about the tasks here.
    fn publish_running(&self) {
        self.running_count
            .store(self.running.len(), Ordering::Relaxed);
        let id = self.id();
        if let Ok(mut leases) = self.leases.lock() {
            leases.clear();
            leases.extend(
                self.running
                    .keys()
                    .filter(|l| l.worker_id == id)
                    .map(|l| l.task_instance_id),
            );
        }
    }

    async fn event_loop(
        &mut self,
        config: &Config,
        mut signals: Signals,
        mut wake: mpsc::UnboundedReceiver<Wake>,
        mut done: mpsc::UnboundedReceiver<reporter::Reported>,
        mut beats: mpsc::UnboundedReceiver<Beat>,
    ) -> Result<()> {
        let mut poll = tokio::time::interval(config.poll_interval());
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut want_claim = true;
        let mut want_kill_check = false;
        // Groups it was woken for by name since the last claim (`notifier::Wake::Ready`).
        let mut named: Vec<String> = Vec::new();
        let mut shutdown = Shutdown::No;

        loop {
            if let Some(fenced) = self.recovering
                && !self.running.keys().any(|l| l.worker_id == fenced)
            {
                self.recovering = None;
                // Declared dead meanwhile, it has registered again already.
                if fenced == self.id() {
                    self.recover().await;
                }
            }
            let allowed_at = self.budget.next_allowed();
            let allowed = allowed_at <= Instant::now();
            if allowed && want_kill_check {
                want_kill_check = false;
                self.kill_requested().await;
            }
            if self.registration.groups.is_empty() {
                // Serves no group (alerts only): there is nothing it could claim.
                want_claim = false;
            }
            let mut claimed = false;
            if allowed && matches!(shutdown, Shutdown::No) && want_claim {
                // With no slot free (busy, or the reporter is refilling them) the wish stays,
                // to be tried after the next event. A claim whose answer was lost is retried
                // first, with its token and slots.
                let (token, free) = match self.pending_claim.take() {
                    Some(pending) => pending,
                    None => (db::claim_token(), self.slots.take_all()),
                };
                if free > 0 {
                    want_claim = false;
                    claimed = true;
                    self.claim(token, free).await;
                }
            }
            // Woken by name, for its group, but not claiming now: the group's other workers
            // are woken instead of waiting for this one's next claim. Passing on is paced as
            // fruitless claims are, so that a flood of notifications naming it stays a few
            // round trips.
            if !named.is_empty() && allowed {
                if !claimed {
                    self.budget.spend();
                    if let Err(err) = db::wake_groups(&self.pool, &named).await {
                        warn!(error = %format!("{err:#}"), "could not pass a wake-up on to the other workers");
                    }
                }
                named.clear();
            }
            if !matches!(shutdown, Shutdown::No) && self.running.is_empty() {
                break;
            }
            let shutdown_timer = crate::timer::until(match shutdown {
                Shutdown::Draining { kill_at } => Some(kill_at),
                Shutdown::Killed { give_up_at } => Some(give_up_at),
                Shutdown::No => None,
            });
            let paced = (want_claim || want_kill_check) && !allowed;
            tokio::select! {
                Some(first) = wake.recv() => {
                    // Everything queued is folded into one claim and one kill check.
                    let mut next = Some(first);
                    while let Some(w) = next {
                        match w {
                            Wake::Ready { for_worker: None, .. } => want_claim = true,
                            Wake::Ready { group, for_worker: Some(id) } => if id == self.id() {
                                want_claim = true;
                                if !named.contains(&group) {
                                    named.push(group);
                                }
                            },
                            Wake::Kill(id) => want_kill_check |= id == self.id(),
                            Wake::Resync => { want_claim = true; want_kill_check = true }
                        }
                        next = wake.try_recv().ok();
                    }
                },
                () = tokio::time::sleep_until(allowed_at), if paced => {},
                () = crate::timer::until(self.breaker.until) => {
                    // Try again; the next failure doubles the backoff, a success ends it.
                    self.breaker.until = None;
                    self.slots.hold(false);
                    want_claim = true;
                },
                Some(reported) = done.recv() => {
                    for lease in &reported.leases {
                        self.running.remove(lease);
                    }
                    self.start_all(reported.claimed);
                    self.publish_running();
                    if reported.worker_gone && reported.leases.iter().any(|l| l.worker_id == self.id()) {
                        self.start_over().await;
                    }
                },
                Some(beat) = beats.recv() => match beat {
                    Beat::Lost(id) => if id == self.id() {
                        warn!(worker_id = id, "declared dead by the database (missed heartbeats); killing its tasks and registering again");
                        self.start_over().await;
                    },
                    Beat::Fence(id) => if id == self.id() {
                        self.fence();
                    },
                    Beat::Reachable(id) => if id == self.id() {
                        self.recovering = Some(id);
                    },
                },
                _ = poll.tick() => {
                    want_claim = true;
                    want_kill_check = true;
                },
                () = signals.recv() => shutdown = self.on_signal(shutdown, config),
                () = shutdown_timer => match shutdown {
                    Shutdown::Draining { .. } => {
                        warn!(count = self.running.len(), "grace period over; killing remaining tasks");
                        self.kill_all();
                        shutdown = Shutdown::Killed { give_up_at: Instant::now() + REPORT_WAIT };
                    }
                    _ => {
                        let ids: Vec<i64> = self.running.keys().map(|l| l.task_instance_id).collect();
                        anyhow::bail!(
                            "exiting with {} task outcome(s) unreported (task instances {ids:?}): the \
                             database did not accept them within {REPORT_WAIT:?}; the master will fail them over",
                            ids.len()
                        );
                    }
                },
            }
        }
        match tokio::time::timeout(REPORT_WAIT, db::deregister(&self.pool, self.id(), false)).await
        {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                warn!(error = %format!("{err:#}"), "could not deregister; the master will time this worker out")
            }
            Err(_) => warn!("could not deregister in time; the master will time this worker out"),
        }
        info!("stopped");
        Ok(())
    }

    /// SIGTERM or SIGINT: the first stops claiming and starts the grace period, a second one
    /// ends the grace period at once.
    fn on_signal(&self, shutdown: Shutdown, config: &Config) -> Shutdown {
        match shutdown {
            Shutdown::No => {
                self.slots.drain();
                info!(running = self.running.len(), grace = ?config.shutdown_grace(), "shutting down: no new claims");
                Shutdown::Draining {
                    kill_at: Instant::now() + config.shutdown_grace(),
                }
            }
            Shutdown::Draining { .. } => {
                info!("second signal: ending the grace period now");
                Shutdown::Draining {
                    kill_at: Instant::now(),
                }
            }
            killed @ Shutdown::Killed { .. } => killed,
        }
    }

    /// Claims up to `free` tasks; the slots taken for them are given back if unused.
    async fn claim(&mut self, token: i64, free: usize) {
        let id = self.id();
        match metrics::claim(db::claim(&self.pool, id, free as i32, token)).await {
            Ok(tasks) => {
                if tasks.is_empty() {
                    self.budget.spend();
                }
                self.slots.give(free.saturating_sub(tasks.len()));
                self.start_all(tasks);
            }
            Err(err) if db::is_worker_gone(&err) => {
                self.slots.give(free);
                self.start_over().await;
            }
            Err(err) => {
                // The claim may have committed before the answer was lost: keep its slots and
                // token so that the retry gets those tasks.
                self.pending_claim = Some((token, free));
                warn!(error = %format!("{err:#}"), "claim failed; retrying on the next wake-up");
            }
        }
    }

    fn start_all(&mut self, tasks: Vec<Claimed>) {
        metrics::claimed(tasks.len());
        for task in tasks {
            // Claimed under a registration that has since been declared dead: the master fails
            // it over, and running it here too would run it twice.
            if task.worker_id != self.id() {
                self.slots.give(1);
                continue;
            }
            let started = executor::start(&task, &self.context);
            if started.handed_back.is_none() {
                metrics::started();
            }
            match &started.handed_back {
                Some(why) => self.trip(why),
                None if started.stop.is_some() => self.heal(),
                None => {}
            }
            self.running.insert(
                Lease {
                    task_instance_id: task.task_instance_id,
                    worker_id: task.worker_id,
                },
                started.stop,
            );
        }
        self.publish_running();
        metrics::running(self.running.len());
    }

    fn trip(&mut self, why: &str) {
        if self.breaker.until.is_some() {
            return;
        }
        let backoff = (self.breaker.backoff * 2).clamp(BACKOFF_FIRST, BACKOFF_MAX);
        self.breaker = Breaker {
            backoff,
            until: Some(Instant::now() + backoff),
        };
        self.slots.hold(true);
        metrics::backing_off(true);
        let status = format!("backing off for {backoff:?}: tasks could not be started: {why}");
        warn!("{status}; they went back to the queue");
        if let Ok(mut s) = self.status.lock() {
            *s = Some(status);
        }
    }

    fn heal(&mut self) {
        if self.breaker.backoff.is_zero() {
            return;
        }
        info!("tasks start again; no longer backing off");
        self.breaker = Breaker::default();
        metrics::backing_off(false);
        if let Ok(mut s) = self.status.lock() {
            *s = None;
        }
    }

    async fn kill_requested(&mut self) {
        let id = self.id();
        match db::kill_requests(&self.pool, id).await {
            Ok(ids) => {
                if ids.is_empty() {
                    self.budget.spend();
                }
                let mut unknown = Vec::new();
                for task_instance_id in ids {
                    let lease = Lease {
                        task_instance_id,
                        worker_id: id,
                    };
                    match self.running.get(&lease) {
                        Some(Some(group)) => {
                            info!(task_instance_id, "killing task on request");
                            group.stop();
                        }
                        Some(None) => {}
                        None => unknown.push(task_instance_id),
                    }
                }
                // Never heard of here (its claim, or its report, went with a lost commit): the
                // database must end it, or its instance never stops.
                if !unknown.is_empty()
                    && let Err(err) = db::unknown_tasks(&self.pool, id, &unknown).await
                {
                    warn!(error = %format!("{err:#}"), "could not report kill requests for tasks unknown here");
                }
            }
            Err(err) if db::is_worker_gone(&err) => self.start_over().await,
            Err(err) => warn!(error = %format!("{err:#}"), "could not read kill requests"),
        }
    }

    fn kill_all(&self) {
        for group in self.running.values().flatten() {
            group.stop();
        }
    }

    /// The database went silent while it may be up: the master is about to fail this
    /// worker's tasks over, so they are killed now, before a second copy can start elsewhere.
    /// The heartbeat task did that already, without waiting for this loop; this is the
    /// loop's share (and kills what the heartbeat could not know of).
    fn fence(&mut self) {
        let id = self.id();
        self.fenced.store(id, Ordering::SeqCst);
        self.kill_all();
        self.slots.hold(true);
        if let Ok(mut s) = self.status.lock() {
            *s = Some("fenced: the database did not answer heartbeats; tasks were killed".into());
        }
    }

    /// Heard from the database after a fence: the old registration's tasks were killed, so it
    /// is ended (which fails them over if the master has not yet) and the worker starts anew.
    async fn recover(&mut self) {
        let old = self.id();
        if let Err(err) = db::deregister(&self.pool, old, true).await {
            warn!(error = %format!("{err:#}"), "could not end the fenced registration; the master will time it out");
        }
        self.start_over().await;
        info!(old_worker_id = old, "recovered from the fence");
    }

    /// The registration is gone (declared dead): every lease it held is void, so its processes
    /// are killed, their outcomes void like a fence's (their attempts are failed over), and the
    /// worker registers anew.
    async fn start_over(&mut self) {
        let old = self.id();
        watchdog::fence();
        for (lease, group) in &self.running {
            if let (true, Some(group)) = (lease.worker_id == old, group) {
                group.stop();
            }
        }
        let r = &self.registration;
        let mut backoff = Duration::from_millis(100);
        loop {
            match db::register(
                &self.pool,
                &r.name,
                &r.host,
                &r.groups,
                r.slots as i32,
                r.token,
            )
            .await
            {
                Ok(new_id) => {
                    self.worker_id.store(new_id, Ordering::Relaxed);
                    self.registered.notify_one();
                    metrics::fenced(false);
                    info!(old_worker_id = old, worker_id = new_id, "registered again");
                    if self.fenced.load(Ordering::SeqCst) != 0 {
                        self.slots.hold(self.breaker.until.is_some());
                        if let Ok(mut s) = self.status.lock() {
                            *s = None;
                        }
                    }
                    return;
                }
                Err(err) => {
                    warn!(error = %format!("{err:#}"), "registering again failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(REGISTER_RETRY_MAX);
                }
            }
        }
    }
}

/// A Unix-socket host of the connection string whose directory does not exist.
fn missing_socket_dir(config: &tokio_postgres::Config) -> Option<std::path::PathBuf> {
    config.get_hosts().iter().find_map(|h| match h {
        tokio_postgres::config::Host::Unix(dir) if !dir.is_dir() => Some(dir.clone()),
        _ => None,
    })
}

fn describe_connect_error(err: &anyhow::Error, config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "cannot register with the database (host {}, database {}, user {}): {err:#}\n\
         Check --database-url (or SCHED_DATABASE_URL), that the server is up, that the pg_sched \
         extension is installed there, and that the role is a member of sched_worker.",
        if hosts.is_empty() {
            "default".to_owned()
        } else {
            hosts.join(",")
        },
        config.get_dbname().unwrap_or("default"),
        config.get_user().unwrap_or("default"),
    )
}
