//! The single writer of task outcomes: it batches log lines and completions, stores a task's
//! lines before its completion, and retries through lost connections so that no outcome is
//! lost. A retried completion that had in fact committed is refused the second time by the
//! lease check, so nothing is recorded twice. A completion the database defers (its workflow
//! instance is locked by someone's open transaction) is repeated later on its own, so that it
//! holds up no other report.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::db::{self, Claimed};
use crate::slots::Slots;

/// Log lines of still-running tasks wait this long to be sent together.
const LOG_BATCH_WINDOW: Duration = Duration::from_millis(200);
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long a deferred completion waits before it is reported again.
const DEFERRED_RETRY: Duration = Duration::from_millis(500);

/// What a worker must present with every report: the attempt and the registration that
/// claimed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub task_instance_id: i64,
    pub worker_id: i64,
}

/// How a task attempt ended, by the worker's clock.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub lease: Lease,
    pub exit_code: i32,
    pub started: SystemTime,
    pub ended: SystemTime,
}

#[derive(Debug)]
pub enum Report {
    Line {
        lease: Lease,
        line_no: i32,
        text: String,
    },
    Finished(Outcome),
}

/// Sent back to the worker loop once outcomes are durable (or refused).
#[derive(Debug)]
pub struct Reported {
    pub leases: Vec<Lease>,
    /// Claimed in the completing transaction; their slots are already taken.
    pub claimed: Vec<Claimed>,
    /// The database no longer knows the registration that claimed them.
    pub worker_gone: bool,
}

/// What the reporter shares with the worker loop.
pub struct Shared {
    pub pool: Pool,
    pub slots: Arc<Slots>,
    /// The current registration: only it may claim.
    pub worker_id: Arc<AtomicI64>,
}

pub fn spawn(
    shared: Shared,
    mut rx: mpsc::UnboundedReceiver<Report>,
    done: mpsc::UnboundedSender<Reported>,
) {
    tokio::spawn(async move {
        let pool = &shared.pool;
        let mut lines: Vec<(Lease, i32, String)> = Vec::new();
        let mut finished: Vec<Outcome> = Vec::new();
        let mut deferred: Vec<Outcome> = Vec::new();
        let mut deferred_due: Option<Instant> = None;
        loop {
            let woken_by_report = tokio::select! {
                first = rx.recv() => match first {
                    Some(first) => {
                        collect(first, &mut lines, &mut finished);
                        true
                    }
                    None => return,
                },
                () = sleep_until_some(deferred_due) => false,
            };
            let retried = if deferred_due.is_some_and(|at| at <= Instant::now()) {
                deferred_due = None;
                std::mem::take(&mut deferred)
            } else {
                Vec::new()
            };
            // Completions go out at once; a log-only batch waits briefly for company.
            let deadline = Instant::now() + LOG_BATCH_WINDOW;
            while woken_by_report {
                while let Ok(more) = rx.try_recv() {
                    collect(more, &mut lines, &mut finished);
                }
                if !finished.is_empty() {
                    break;
                }
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(more)) => collect(more, &mut lines, &mut finished),
                    Ok(None) | Err(_) => break,
                }
            }
            send_lines(pool, &mut lines).await;
            if !finished.is_empty() || !retried.is_empty() {
                let (reported, again) =
                    send_completions(&shared, std::mem::take(&mut finished), retried).await;
                if !again.is_empty() {
                    deferred.extend(again);
                    deferred_due.get_or_insert_with(|| Instant::now() + DEFERRED_RETRY);
                }
                for r in reported {
                    if done.send(r).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn collect(report: Report, lines: &mut Vec<(Lease, i32, String)>, finished: &mut Vec<Outcome>) {
    match report {
        Report::Line {
            lease,
            line_no,
            text,
        } => lines.push((lease, line_no, text)),
        Report::Finished(outcome) => finished.push(outcome),
    }
}

async fn send_lines(pool: &Pool, lines: &mut Vec<(Lease, i32, String)>) {
    while !lines.is_empty() {
        let worker_id = lines[0].0.worker_id;
        let (mine, rest): (Vec<_>, Vec<_>) = lines
            .drain(..)
            .partition(|(l, _, _)| l.worker_id == worker_id);
        *lines = rest;
        let ids: Vec<i64> = mine.iter().map(|(l, _, _)| l.task_instance_id).collect();
        let nos: Vec<i32> = mine.iter().map(|(_, n, _)| *n).collect();
        let texts: Vec<String> = mine.into_iter().map(|(_, _, t)| t).collect();
        retry("append_log", || {
            db::append_log(pool, worker_id, &ids, &nos, &texts)
        })
        .await;
    }
}

/// Reports `finished` (whose slots are still taken) and `retried` (deferred before; their
/// slots went back then). Returns what was reported and what the database deferred again.
async fn send_completions(
    shared: &Shared,
    finished: Vec<Outcome>,
    retried: Vec<Outcome>,
) -> (Vec<Reported>, Vec<Outcome>) {
    let mut out = Vec::new();
    let mut again = Vec::new();
    let mut pending: Vec<(Outcome, bool)> = finished
        .into_iter()
        .map(|o| (o, true))
        .chain(retried.into_iter().map(|o| (o, false)))
        .collect();
    while !pending.is_empty() {
        let worker_id = pending[0].0.lease.worker_id;
        let (mine, rest): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(o, _)| o.lease.worker_id == worker_id);
        pending = rest;
        let holding = mine.iter().filter(|(_, fresh)| *fresh).count();
        let mine: Vec<Outcome> = mine.into_iter().map(|(o, _)| o).collect();
        // The finished tasks' slots plus any idle ones; a stale registration claims nothing and
        // its tasks' slots simply go back.
        let current = worker_id == shared.worker_id.load(Ordering::Relaxed);
        let reserved = if current {
            shared.slots.refill(holding)
        } else {
            0
        };
        // One token for every try: a retry after a lost answer gets the tasks the lost try claimed.
        let token = db::claim_token();
        let result = retry("complete_tasks", || {
            db::complete_and_claim(&shared.pool, worker_id, &mine, reserved as i32, token)
        })
        .await;
        let worker_gone = result.is_none();
        let db::Completed { claimed, deferred } = result.unwrap_or_default();
        shared.slots.give(if current {
            reserved - claimed.len()
        } else {
            holding
        });
        debug!(
            completed = mine.len() - deferred.len(),
            deferred = deferred.len(),
            claimed = claimed.len(),
            "completions reported"
        );
        let (later, reported): (Vec<Outcome>, Vec<Outcome>) = mine
            .into_iter()
            .partition(|o| deferred.contains(&o.lease.task_instance_id));
        again.extend(later);
        out.push(Reported {
            leases: reported.iter().map(|o| o.lease).collect(),
            worker_gone,
            claimed,
        });
    }
    (out, again)
}

/// Retries until the call succeeds (Some) or the database says the registration is gone (None).
async fn retry<T, F, Fut>(what: &str, mut call: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut backoff = RETRY_MIN;
    loop {
        match call().await {
            Ok(value) => return Some(value),
            Err(err) if db::is_worker_gone(&err) => {
                warn!(error = %err, "{what} refused: this worker registration is gone");
                return None;
            }
            Err(err) => {
                warn!(error = %format!("{err:#}"), "{what} failed; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        }
    }
}
