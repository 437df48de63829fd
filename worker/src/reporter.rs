//! The single writer of task outcomes: it batches log lines and completions, stores a task's
//! lines before its completion, and retries through lost connections so that no outcome is
//! lost. A retried completion that had in fact committed is refused the second time by the
//! lease check, so nothing is recorded twice. A completion the database defers (its workflow
//! instance is locked by someone's open transaction) is repeated later on its own, so that it
//! holds up no other report.
//!
//! Nothing is retried forever for a reason that will not go away: batches are bounded in rows
//! and bytes, a batch of lines the database refuses as data (a character the server encoding
//! cannot store, say) is split down to single lines, a single line is stored with its non-ASCII
//! characters escaped, and failing that replaced by a line saying why. Lines wait in a bounded
//! queue, so a task that writes faster than the database stores waits on its pipe.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::db;
use crate::metrics;
use crate::protocol::{Claimed, Lease, Outcome, OutcomeKind, Stream};
use crate::slots::Slots;
use crate::watchdog;

/// Log lines of still-running tasks wait this long to be sent together.
const LOG_BATCH_WINDOW: Duration = Duration::from_millis(200);
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long a deferred completion waits before it is reported again.
const DEFERRED_RETRY: Duration = Duration::from_millis(500);
/// Bounds of one append_log call.
const BATCH_LINES: usize = 2_000;
const BATCH_BYTES: usize = 1024 * 1024;
/// Lines queued for the reporter before tasks' output waits.
const LINE_QUEUE: usize = 8_192;

struct Line {
    lease: Lease,
    line_no: i32,
    text: String,
    stream: Stream,
}

/// Where executors send output lines and outcomes. Outcomes have their own unbounded queue
/// (at most one per slot), lines a bounded one; an outcome is sent after its task's lines, and
/// the reporter takes every queued line before any outcome, so the order holds.
#[derive(Clone)]
pub struct Reports {
    lines: mpsc::Sender<Line>,
    finished: mpsc::UnboundedSender<Outcome>,
}

impl Reports {
    pub async fn line(&self, lease: Lease, line_no: i32, text: String, stream: Stream) {
        metrics::log_bytes(text.len());
        let _ = self
            .lines
            .send(Line {
                lease,
                line_no,
                text,
                stream,
            })
            .await;
    }

    pub fn finished(&self, outcome: Outcome) {
        metrics::queued();
        let _ = self.finished.send(outcome);
    }

    pub fn handed_back(&self, lease: Lease) {
        let now = SystemTime::now();
        self.finished(Outcome {
            lease,
            kind: OutcomeKind::Failed,
            exit_code: 0,
            started: now,
            ended: now,
            last_line: None,
            handed_back: true,
            out_params: None,
        });
    }
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

pub fn spawn(shared: Shared, done: mpsc::UnboundedSender<Reported>) -> Reports {
    let (lines_tx, mut lines_rx) = mpsc::channel(LINE_QUEUE);
    let (finished_tx, mut finished_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let pool = &shared.pool;
        let mut lines: Vec<Line> = Vec::new();
        let mut finished: Vec<Outcome> = Vec::new();
        let mut deferred: Vec<Outcome> = Vec::new();
        let mut deferred_due: Option<Instant> = None;
        loop {
            let woken_by_report = tokio::select! {
                line = lines_rx.recv() => match line {
                    Some(line) => { lines.push(line); true }
                    None => return,
                },
                outcome = finished_rx.recv() => match outcome {
                    Some(outcome) => { finished.push(outcome); true }
                    None => return,
                },
                () = crate::timer::until(deferred_due) => false,
            };
            let retried = if deferred_due.is_some_and(|at| at <= Instant::now()) {
                deferred_due = None;
                std::mem::take(&mut deferred)
            } else {
                Vec::new()
            };
            // Completions go out at once; a log-only batch waits briefly for company, but not
            // past a full batch.
            let deadline = Instant::now() + LOG_BATCH_WINDOW;
            if woken_by_report {
                loop {
                    while let Ok(outcome) = finished_rx.try_recv() {
                        finished.push(outcome);
                    }
                    // Lines after the outcomes, all of them: whatever a task wrote before it ended
                    // is queued by now, and must be stored before its completion.
                    while let Ok(line) = lines_rx.try_recv() {
                        lines.push(line);
                    }
                    if !finished.is_empty() || lines.len() >= BATCH_LINES {
                        break;
                    }
                    tokio::select! {
                        line = lines_rx.recv() => match line {
                            Some(line) => lines.push(line),
                            None => break,
                        },
                        outcome = finished_rx.recv() => match outcome {
                            Some(outcome) => finished.push(outcome),
                            None => break,
                        },
                        () = tokio::time::sleep_until(deadline) => break,
                    }
                }
            }
            for outcome in &mut finished {
                if let Some((line_no, text)) = outcome.last_line.take() {
                    lines.push(Line {
                        lease: outcome.lease,
                        line_no,
                        text,
                        stream: Stream::Err,
                    });
                }
            }
            send_lines(pool, &mut lines).await;
            // A task a fence killed did not fail: its attempt is failed over, and its outcome
            // is never reported. One that finished before the fence is reported as ever, late
            // if need be: finished work is never thrown away.
            let (void, kept): (Vec<Outcome>, Vec<Outcome>) = std::mem::take(&mut finished)
                .into_iter()
                .partition(|o| !o.handed_back && watchdog::voided(o.started, o.ended));
            finished = kept;
            if !void.is_empty() {
                shared.slots.give(void.len());
                metrics::voided(void.len());
                let voided = Reported {
                    leases: void.iter().map(|o| o.lease).collect(),
                    claimed: Vec::new(),
                    worker_gone: false,
                };
                if done.send(voided).is_err() {
                    return;
                }
            }
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
    Reports {
        lines: lines_tx,
        finished: finished_tx,
    }
}

/// Stores `lines` in bounded batches, one registration at a time.
async fn send_lines(pool: &Pool, lines: &mut Vec<Line>) {
    while !lines.is_empty() {
        let worker_id = lines[0].lease.worker_id;
        let (mine, rest): (Vec<_>, Vec<_>) = lines
            .drain(..)
            .partition(|l| l.lease.worker_id == worker_id);
        *lines = rest;
        let mut batch = Vec::new();
        let mut bytes = 0;
        for line in mine {
            if !batch.is_empty()
                && (batch.len() >= BATCH_LINES || bytes + line.text.len() > BATCH_BYTES)
            {
                store(pool, worker_id, std::mem::take(&mut batch)).await;
                bytes = 0;
            }
            bytes += line.text.len();
            batch.push(line);
        }
        store(pool, worker_id, batch).await;
    }
}

/// One batch, retried through lost connections; refused as data, split until the line at
/// fault is found, which is stored escaped or replaced.
async fn store(pool: &Pool, worker_id: i64, batch: Vec<Line>) {
    let mut todo = vec![batch];
    while let Some(batch) = todo.pop() {
        if batch.is_empty() {
            continue;
        }
        match retry_transient("append_log", || append(pool, worker_id, &batch)).await {
            Ok(()) => {}
            Err(err) if batch.len() > 1 => {
                debug!(error = %format!("{err:#}"), lines = batch.len(), "log batch refused; splitting it");
                let mut first = batch;
                let second = first.split_off(first.len() / 2);
                todo.push(second);
                todo.push(first);
            }
            Err(err) => {
                let line = batch.into_iter().next().expect("a batch of one");
                let escaped = Line {
                    text: line.text.escape_default().to_string(),
                    ..line
                };
                if retry_transient("append_log", || {
                    append(pool, worker_id, std::slice::from_ref(&escaped))
                })
                .await
                .is_err()
                {
                    let replaced = Line {
                        text: format!("[sched-worker: this line could not be stored: {err:#}]"),
                        ..escaped
                    };
                    let _ = retry_transient("append_log", || {
                        append(pool, worker_id, std::slice::from_ref(&replaced))
                    })
                    .await;
                }
            }
        }
    }
}

async fn append(pool: &Pool, worker_id: i64, batch: &[Line]) -> anyhow::Result<()> {
    let ids: Vec<i64> = batch.iter().map(|l| l.lease.task_instance_id).collect();
    let nos: Vec<i32> = batch.iter().map(|l| l.line_no).collect();
    let texts: Vec<&str> = batch.iter().map(|l| l.text.as_str()).collect();
    // Most batches are all stdout, which the database takes as the default.
    let streams: Option<Vec<&str>> = batch
        .iter()
        .any(|l| l.stream != Stream::Out)
        .then(|| batch.iter().map(|l| l.stream.as_sql()).collect());
    db::append_log(pool, worker_id, &ids, &nos, &texts, streams.as_deref()).await
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
        let (handed, mut mine): (Vec<Outcome>, Vec<Outcome>) = mine
            .into_iter()
            .map(|(o, _)| o)
            .partition(|o| o.handed_back);
        let mut released = Vec::new();
        if !handed.is_empty() {
            let ids: Vec<i64> = handed.iter().map(|o| o.lease.task_instance_id).collect();
            let to_kill = retry("release_tasks", || {
                db::release(&shared.pool, worker_id, &ids)
            })
            .await
            .unwrap_or_default();
            for mut outcome in handed {
                if to_kill.contains(&outcome.lease.task_instance_id) {
                    // Stopped meanwhile: it ends killed, as if it had started and been killed.
                    outcome.kind = OutcomeKind::Killed;
                    outcome.exit_code = crate::protocol::EXIT_KILLED;
                    outcome.handed_back = false;
                    mine.push(outcome);
                } else {
                    released.push(outcome.lease);
                }
            }
        }
        if mine.is_empty() {
            metrics::reported(&[], released.len());
            shared.slots.give(holding);
            out.push(Reported {
                leases: released,
                worker_gone: false,
                claimed: Vec::new(),
            });
            continue;
        }
        // The finished tasks' slots plus any idle ones; a stale registration claims nothing and
        // its tasks' slots simply go back.
        let current = worker_id == shared.worker_id.load(Ordering::Relaxed);
        let reserved = if current {
            shared.slots.refill(holding)
        } else {
            0
        };
        // One token for every try: a retry after a lost answer gets the tasks the lost try
        // claimed.
        let token = db::claim_token();
        let result = complete(shared, worker_id, &mine, reserved as i32, token).await;
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
        metrics::reported(&reported, released.len());
        again.extend(later);
        out.push(Reported {
            leases: reported.iter().map(|o| o.lease).chain(released).collect(),
            worker_gone,
            claimed,
        });
    }
    (out, again)
}

/// One completing call, retried through lost connections: None when the registration is gone.
/// A batch the database refuses for what it holds is reported one outcome at a time instead,
/// so that one bad report holds up no other.
async fn complete(
    shared: &Shared,
    worker_id: i64,
    outcomes: &[Outcome],
    claim_max: i32,
    token: i64,
) -> Option<db::Completed> {
    let call = |batch: Vec<Outcome>, claim_max: i32| async move {
        let completing = db::complete_and_claim(&shared.pool, worker_id, &batch, claim_max, token);
        metrics::report(completing).await
    };
    match retry_unless_refused("complete_tasks", || call(outcomes.to_vec(), claim_max)).await {
        Ok(result) => result,
        Err(err) => {
            warn!(error = %format!("{err:#}"), reports = outcomes.len(), "completions refused; reporting them one by one");
            let mut all = db::Completed::default();
            for outcome in outcomes {
                let one = vec![outcome.clone()];
                let result = match retry_unless_refused("complete_tasks", || call(one.clone(), 0))
                    .await
                {
                    Ok(result) => result,
                    // The worker's own times are the only part a retry can change.
                    Err(_) => {
                        let now = SystemTime::now();
                        let plain = vec![Outcome {
                            started: now,
                            ended: now,
                            ..outcome.clone()
                        }];
                        match retry_unless_refused("complete_tasks", || call(plain.clone(), 0))
                            .await
                        {
                            Ok(result) => result,
                            Err(err) => {
                                // Nothing sent can be stored: hand the attempt back rather than
                                // let it look running for ever. It runs again.
                                warn!(error = %format!("{err:#}"), task_instance_id = outcome.lease.task_instance_id,
                                      "a completion cannot be stored; handing the task back to the queue");
                                let ids = [outcome.lease.task_instance_id];
                                retry("release_tasks", || {
                                    db::release(&shared.pool, worker_id, &ids)
                                })
                                .await?;
                                Some(db::Completed::default())
                            }
                        }
                    }
                }?;
                all.deferred.extend(result.deferred);
            }
            Some(all)
        }
    }
}

/// How a retried call ended.
enum Tried<T> {
    Done(T),
    /// The database no longer knows this worker registration.
    Gone,
    /// The database refused what was sent; sending it again fails the same way.
    Refused(anyhow::Error),
}

/// Retries through lost connections and other passing failures, with backoff; stops when the
/// registration is gone and, if `stop_when_refused`, when the call is refused for its data.
async fn attempt<T, F, Fut>(what: &str, stop_when_refused: bool, mut call: F) -> Tried<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut backoff = RETRY_MIN;
    loop {
        match call().await {
            Ok(value) => return Tried::Done(value),
            Err(err) if db::is_worker_gone(&err) => {
                warn!(error = %err, "{what} refused: this worker registration is gone");
                return Tried::Gone;
            }
            Err(err) if stop_when_refused && db::is_refused_as_data(&err) => {
                return Tried::Refused(err);
            }
            Err(err) => {
                warn!(error = %format!("{err:#}"), "{what} failed; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Until the call succeeds (Some) or the registration is gone (None).
async fn retry<T, F, Fut>(what: &str, call: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    match attempt(what, false, call).await {
        Tried::Done(value) => Some(value),
        _ => None,
    }
}

/// Ok(Some) done, Ok(None) registration gone, Err refused for what was sent.
async fn retry_unless_refused<T, F, Fut>(what: &str, call: F) -> anyhow::Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    match attempt(what, true, call).await {
        Tried::Done(value) => Ok(Some(value)),
        Tried::Gone => Ok(None),
        Tried::Refused(err) => Err(err),
    }
}

/// For log lines: a gone registration is Ok (its lines are void anyway), a refusal an Err.
async fn retry_transient<F, Fut>(what: &str, call: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    retry_unless_refused(what, call).await.map(|_| ())
}
