//! Liveness: tells the database every few seconds that this registration is alive, and
//! fences the worker when it cannot.
//!
//! A `false` answer means the master declared it dead and failed its tasks over; the worker
//! loop must then kill what it runs (its leases are void) and register again. When no
//! heartbeat has got through for two thirds of sched.worker_timeout, the master may be about
//! to fail its tasks over, so the worker fences itself first: it kills its tasks and claims
//! nothing until the database answers again. Only while the latest try was refused by a
//! server that is down (connection refused, shutting down, starting up) does it wait instead:
//! then no master is running to fail anything over, and one that starts counts silence from
//! its own start.
//!
//! Each heartbeat lists the attempts the worker runs or has yet to report, so that an attempt
//! the database believes runs here after a lost commit (a promoted asynchronous standby) is
//! taken back instead of staying running for ever. Each renews, too, the deadline the
//! watchdog holds (see watchdog.rs), which is the fence's: two thirds of sched.worker_timeout.
//!
//! Every answer also carries the server's current settings, so a reload of
//! sched.worker_timeout or sched.max_log_bytes_per_task reaches the worker.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use sched_core::protocol::HEARTBEAT_PERIOD_MAX_MS;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::db;
use crate::metrics;
use crate::output;
use crate::slots::Slots;
use crate::watchdog;

/// What the heartbeat tells the worker loop.
#[derive(Debug)]
pub enum Beat {
    /// The database declared this registration dead.
    Lost(i64),
    /// Silent too long while the database may be up: kill everything of this registration,
    /// claim nothing. A registration the worker has replaced already is not fenced again: its
    /// tasks were killed when it was replaced, and the new one's are not void.
    Fence(i64),
    /// Heard from the database again after this registration was fenced.
    Reachable(i64),
}

/// Heartbeats come every 3 s, or three times per sched.worker_timeout when that is shorter,
/// so that a live worker is never declared dead between two beats (`sched._heartbeat_period`
/// says the same to the database).
pub fn interval(worker_timeout: Option<Duration>) -> Duration {
    const DEFAULT: Duration = Duration::from_millis(HEARTBEAT_PERIOD_MAX_MS);
    const FLOOR: Duration = Duration::from_millis(100);
    match worker_timeout {
        Some(timeout) => (timeout / 3).clamp(FLOOR, DEFAULT),
        None => DEFAULT,
    }
}

/// The first retry of a failed heartbeat; each further one waits twice as long, up to a period.
const RETRY_FIRST: Duration = Duration::from_millis(100);

/// How long without a heartbeat the worker keeps its tasks.
fn fence_after(worker_timeout: Duration) -> Duration {
    worker_timeout * 2 / 3
}

pub struct Shared {
    pub pool: Pool,
    pub worker_id: Arc<AtomicI64>,
    pub running: Arc<AtomicUsize>,
    /// What the next heartbeat says about this worker's health; None is healthy.
    pub status: Arc<Mutex<Option<String>>>,
    pub slots: Arc<Slots>,
    /// Set to the registration a fence voided.
    pub fenced: Arc<AtomicI64>,
    /// The task instances the current registration runs or has yet to report: the database
    /// takes from it any attempt it believes runs here that is not listed.
    pub leases: Arc<Mutex<Vec<i64>>>,
    /// This process's registration token: an id the database gave another registration too
    /// (after an asynchronous failover) is not this worker's.
    pub token: i64,
}

impl Shared {
    /// Kills every task and claims nothing until the database answers again. Here, not in the
    /// worker loop: that may be waiting on the silent database. A registration the worker loop
    /// has already replaced (it heard it was declared dead) had its tasks killed then.
    fn fence(&self, id: i64) {
        if self.worker_id.load(Ordering::SeqCst) != id {
            return;
        }
        metrics::fenced(true);
        self.fenced
            .store(self.worker_id.load(Ordering::Relaxed), Ordering::SeqCst);
        self.slots.hold(true);
        watchdog::fence();
    }
}

pub fn spawn(shared: Shared, settings: db::Settings, beats: mpsc::UnboundedSender<Beat>) {
    tokio::spawn(async move {
        let mut timeout = settings.worker_timeout.unwrap_or(Duration::from_secs(30));
        let mut every = interval(Some(timeout));
        db::set_call_timeout(timeout, every);
        let mut last_ok = Instant::now();
        let mut server_down = true;
        let mut fenced = false;
        let mut next = Instant::now() + every;
        let mut retry = RETRY_FIRST;
        watchdog::renew(fence_after(timeout));
        loop {
            let fence_at = (!fenced && !server_down).then(|| last_ok + fence_after(timeout));
            // Biased: when a heartbeat has just failed, both may be due, and the fence must
            // not wait for one more try (another heartbeat period) to time out.
            tokio::select! {
                biased;
                () = crate::timer::until(fence_at) => {
                    warn!(silent = ?last_ok.elapsed(), "no heartbeat got through for two thirds of sched.worker_timeout; killing tasks and claiming nothing until the database answers");
                    fenced = true;
                    let id = shared.worker_id.load(Ordering::SeqCst);
                    shared.fence(id);
                    if beats.send(Beat::Fence(id)).is_err() {
                        return;
                    }
                    continue;
                }
                () = tokio::time::sleep_until(next) => {}
            }
            next = Instant::now() + every;
            let id = shared.worker_id.load(Ordering::Relaxed);
            let load = shared.running.load(Ordering::Relaxed) as i32;
            let said = shared.status.lock().ok().and_then(|s| s.clone());
            let leases = shared.leases.lock().map(|l| l.clone()).unwrap_or_default();
            let beat = match db::heartbeat(
                &shared.pool,
                id,
                load,
                said.as_deref(),
                &leases,
                shared.token,
            )
            .await
            {
                Ok((alive, now)) => {
                    last_ok = Instant::now();
                    retry = RETRY_FIRST;
                    server_down = true;
                    // Frozen past the deadline (SIGSTOP, a stalled VM): the watchdog has killed
                    // the tasks, and their attempts may be failed over already.
                    if watchdog::renew(fence_after(timeout)) && !fenced {
                        warn!(
                            "this worker was frozen past its deadline; its tasks were killed, and it registers again"
                        );
                        fenced = true;
                        shared.fence(id);
                        if beats.send(Beat::Fence(id)).is_err() {
                            return;
                        }
                    }
                    if let Some(t) = now.worker_timeout.filter(|t| *t != timeout) {
                        info!(worker_timeout = ?t, "sched.worker_timeout changed");
                        timeout = t;
                        every = interval(Some(t));
                        db::set_call_timeout(t, every);
                        next = Instant::now() + every;
                    }
                    if let Some(cap) = now.max_log_bytes {
                        output::set_log_cap(cap);
                    }
                    match (alive, std::mem::take(&mut fenced)) {
                        (false, _) => Some(Beat::Lost(id)),
                        (true, true) => Some(Beat::Reachable(id)),
                        (true, false) => None,
                    }
                }
                Err(err) => {
                    server_down = db::is_server_down(&err);
                    // Tried again soon, not a period later: the fence falls due two periods
                    // after the last answer, and a connection a restarting server closed must
                    // get its refused (server down) try in before that.
                    next = Instant::now() + retry.min(every);
                    retry = (retry * 2).min(every);
                    // No master runs while no server answers: the deadline moves on with the
                    // tries. Silence from a server that is up lets it run out, as the fence does.
                    if server_down && watchdog::renew(fence_after(timeout)) && !fenced {
                        warn!("this worker was frozen past its deadline; its tasks were killed");
                        fenced = true;
                        shared.fence(id);
                        if beats.send(Beat::Fence(id)).is_err() {
                            return;
                        }
                    }
                    metrics::heartbeat_failed();
                    warn!(error = %format!("{err:#}"), "heartbeat failed");
                    None
                }
            };
            if let Some(beat) = beat
                && beats.send(beat).is_err()
            {
                return;
            }
        }
    });
}
