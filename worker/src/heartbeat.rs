//! Liveness: tells the database every few seconds that this registration is alive. A `false`
//! answer means the master declared it dead and failed its tasks over; the worker loop must
//! then kill what it runs (its leases are void) and register again.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use tracing::warn;

use crate::db;

/// Heartbeats come every 3 s, or three times per sched.worker_timeout when that is shorter,
/// so that a live worker is never declared dead between two beats.
pub fn interval(worker_timeout: Option<Duration>) -> Duration {
    const DEFAULT: Duration = Duration::from_secs(3);
    const FLOOR: Duration = Duration::from_millis(100);
    match worker_timeout {
        Some(timeout) => (timeout / 3).clamp(FLOOR, DEFAULT),
        None => DEFAULT,
    }
}

pub fn spawn(
    pool: Pool,
    interval: Duration,
    worker_id: Arc<AtomicI64>,
    running: Arc<AtomicUsize>,
    status: Arc<Mutex<Option<String>>>,
    lost: mpsc::UnboundedSender<i64>,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let id = worker_id.load(Ordering::Relaxed);
            let load = running.load(Ordering::Relaxed) as i32;
            let said = status.lock().ok().and_then(|s| s.clone());
            match db::heartbeat(&pool, id, load, said.as_deref()).await {
                Ok(true) => {}
                Ok(false) => {
                    if lost.send(id).is_err() {
                        return;
                    }
                }
                Err(err) => warn!(error = %format!("{err:#}"), "heartbeat failed"),
            }
        }
    });
}
