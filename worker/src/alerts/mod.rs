//! Alert delivery, for a worker started with `--alerts FILE`. The file holds the secrets the
//! scheduler's tables never do: the SMTP server, its credentials and the sender, and webhook
//! endpoints whose URLs or headers carry tokens. A task of a loop of its own claims due
//! deliveries (`sched.claim_alerts`, SKIP LOCKED), sends each to its channel (email with
//! lettre, webhooks with reqwest, scripts with bash) and reports the outcomes; the database
//! decides retries. It shares nothing with the task loop but the connection pool.
//!
//! `settings` reads the file, `render` builds what each channel says, `deliver` sends it; this
//! module is the loop that claims, sends and reports.

mod deliver;
mod render;
mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::{info, warn};

pub use settings::Settings;

use crate::db;
use deliver::Sender;

/// Deliveries claimed at once, and sent at once at most.
const BATCH: i32 = 20;
const PARALLEL: usize = 8;
/// Each send must end well within the claim's lapse (2 minutes) so that no other worker
/// sends it a second time.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Without a NOTIFY, how often to look anyway (a lost notification, a due retry).
const POLL: Duration = Duration::from_secs(5);
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

pub fn spawn(
    pool: Pool,
    worker_id: Arc<AtomicI64>,
    settings: Settings,
    work_dir: std::path::PathBuf,
    mut wake: mpsc::UnboundedReceiver<()>,
) {
    let sender = Arc::new(Sender::new(settings, work_dir));
    info!("delivering alerts");
    tokio::spawn(async move {
        loop {
            let id = worker_id.load(Ordering::Relaxed);
            let pause = match round(&pool, id, &sender).await {
                Ok(Some(pause)) => pause,
                Ok(None) => continue,
                Err(err) => {
                    warn!(error = %format!("{err:#}"), "alert delivery: database call failed; retrying");
                    ERROR_BACKOFF
                }
            };
            tokio::select! {
                woke = wake.recv() => if woke.is_none() { return },
                _ = tokio::time::sleep(pause) => {}
            }
            while wake.try_recv().is_ok() {}
        }
    });
}

/// Claims and sends one batch. `None`: there may be more at once; otherwise how long to
/// wait, at most, before looking again.
async fn round(
    pool: &Pool,
    worker_id: i64,
    sender: &Arc<Sender>,
) -> anyhow::Result<Option<Duration>> {
    let claimed = db::claim_alerts(pool, worker_id, BATCH).await?;
    let full = claimed.len() as i32 == BATCH;
    let outcomes: Vec<(i64, i32, Option<String>)> = futures_util::stream::iter(claimed)
        .map(|alert| {
            let sender = sender.clone();
            async move {
                let outcome = match tokio::time::timeout(SEND_TIMEOUT, sender.send(&alert)).await {
                    Ok(Ok(())) => None,
                    Ok(Err(why)) => Some(why),
                    Err(_) => Some(format!("not sent within {SEND_TIMEOUT:?}")),
                };
                match &outcome {
                    None => info!(alert = alert.alert_id, channel = alert.channel_no, "alert sent"),
                    Some(why) => warn!(alert = alert.alert_id, channel = alert.channel_no, attempt = alert.attempt, error = %why, "alert not sent"),
                }
                (alert.alert_id, alert.channel_no, outcome)
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let due = db::report_alerts(pool, worker_id, &outcomes).await?;
    if full {
        return Ok(None);
    }
    let wait = due
        .map(|at| {
            SystemTime::from(at)
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
        .map_or(POLL, |d| d.min(POLL));
    Ok(Some(wait.max(Duration::from_millis(10))))
}
