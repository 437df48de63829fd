//! Live views (`/api/…/events`): an instance, a backfill, the workers, the alerts, sent as
//! Server-Sent Events whenever what they show changes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::{Value, json};
use tokio_postgres::Client;

use crate::app::Authed;
use crate::error::ApiError;
use crate::session::Conn;

/// What a live view shows: read again whenever the engine notifies the session's connection
/// (tasks ready for a whole group, kills, alerts; a wake-up naming one worker goes to that
/// worker's channel only) and at least every 500 ms, since a task's progress or a
/// heartbeat raises no notification of its own (that would cost every task's commit). A view
/// that is costly to read (a run of 10,000 tasks: 0.4 s, 4 MB) is read at most once per three
/// times its cost and sent at most once a second per megabyte, so that neither the database
/// nor the browser spends all its time on it.
#[derive(Clone)]
enum Live {
    Instance(i64, super::instances::Window),
    Backfill(i64),
    Workers,
    Alerts,
}

impl Live {
    async fn read(&self, c: &Client) -> Result<Value, ApiError> {
        match self {
            Live::Instance(id, window) => super::instances::snapshot(c, *id, window).await,
            Live::Backfill(id) => super::backfills::backfill_snapshot(c, *id).await,
            Live::Workers => super::workers::workers_now(c).await,
            Live::Alerts => super::alerts::alerts_now(c).await,
        }
    }

    /// Nothing will change any more: the stream ends after this snapshot.
    fn finished(&self, v: &Value) -> bool {
        match self {
            Live::Instance(..) => v["instance"]["finished"] == Value::Bool(true),
            Live::Backfill(_) => v["backfill"]["state"]
                .as_str()
                .is_some_and(|s| s != "running"),
            Live::Workers | Live::Alerts => false,
        }
    }
}

/// Reads the view once `pace` has passed; returns what it read and the pace of the next read.
async fn paced_read(
    what: &Live,
    c: &Client,
    pace: Duration,
) -> (Result<Value, ApiError>, Duration) {
    tokio::time::sleep(pace).await;
    let began = std::time::Instant::now();
    let read = what.read(c).await;
    (read, began.elapsed().saturating_mul(3))
}

/// A live view as Server-Sent Events: a `snapshot` event at once and whenever it changed,
/// ending after a finished one, or when the session ends; a failure to read sends `failed`
/// and ends. Each open stream holds one of the session's `--max-streams-per-session` places.
async fn live(
    s: Conn,
    what: Live,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = s.session.open_stream()?;
    let first = what.read(&s.client).await?;
    let changes = s.changes.subscribe();
    let ended = s.ended();
    let stream = futures_util::stream::unfold(
        (
            s,
            slot,
            changes,
            ended,
            None::<Value>,
            Some(first),
            false,
            Duration::ZERO,
        ),
        move |(s, slot, mut changes, mut ended, last, next, done, mut pace)| {
            let what = what.clone();
            async move {
                if done || *ended.borrow() {
                    return None;
                }
                let mut current = next;
                loop {
                    let snap = match current.take() {
                        Some(v) => v,
                        None => {
                            let read;
                            (read, pace) = paced_read(&what, &s.client, pace).await;
                            match read {
                                Ok(v) => v,
                                Err(e) => {
                                    let event = Event::default().event("failed").data(
                                        json!({"error": e.message, "status": e.status.as_u16()})
                                            .to_string(),
                                    );
                                    return Some((
                                        Ok(event),
                                        (s, slot, changes, ended, last, None, true, pace),
                                    ));
                                }
                            }
                        }
                    };
                    let finished = what.finished(&snap);
                    if last.as_ref() != Some(&snap) {
                        let data = snap.to_string();
                        // A browser takes about a second per megabyte to parse and draw a
                        // snapshot: a larger one is not sent again before it could have.
                        pace = pace.max(Duration::from_micros(data.len() as u64));
                        let event = Event::default().event("snapshot").data(data);
                        return Some((
                            Ok(event),
                            (s, slot, changes, ended, Some(snap), None, finished, pace),
                        ));
                    }
                    if finished {
                        return None;
                    }
                    tokio::select! {
                        _ = changes.recv() => {}
                        _ = ended.changed() => return None,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub async fn instance_events(
    Authed(s): Authed,
    Path(id): Path<i64>,
    Query(window): Query<super::instances::Window>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    live(s, Live::Instance(id, window)).await
}

pub async fn backfill_events(
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    live(s, Live::Backfill(id)).await
}

pub async fn worker_events(
    Authed(s): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    live(s, Live::Workers).await
}

pub async fn alert_events(
    Authed(s): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    live(s, Live::Alerts).await
}
