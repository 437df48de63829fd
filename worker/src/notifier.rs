//! Wake-ups: a dedicated connection LISTENs for `sched_ready` (payload: a worker group, for
//! every worker of it), the registration's own channel (`sched_core::protocol::worker_channel`:
//! wake-ups that name it, payload `sched_core::protocol::ready_payload`), `sched_kill` (payload:
//! a worker id) and, for a worker that delivers alerts, `sched_alert`. When the connection
//! drops it reconnects with backoff and reports `Resync`, because notifications sent meanwhile
//! are lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use sched_core::protocol::{READY_CHANNEL, parse_ready, worker_channel};
use tokio::sync::{Notify, mpsc};
use tokio_postgres::{AsyncMessage, NoTls};
use tracing::{info, warn};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum Wake {
    /// Tasks became ready for one of our groups, for whichever of its workers claims first
    /// (`for_worker` None), or for the one named.
    Ready {
        group: String,
        for_worker: Option<i64>,
    },
    /// Some worker was asked to kill tasks; the payload says which.
    Kill(i64),
    /// (Re)connected: anything may have happened while not listening.
    Resync,
}

pub fn spawn(
    config: tokio_postgres::Config,
    groups: Vec<String>,
    worker_id: Arc<AtomicI64>,
    registered: Arc<Notify>,
    tx: mpsc::UnboundedSender<Wake>,
    alerts: Option<mpsc::UnboundedSender<()>>,
) {
    tokio::spawn(async move {
        let mut backoff = BACKOFF_MIN;
        loop {
            match listen(
                &config,
                &groups,
                &worker_id,
                &registered,
                &tx,
                alerts.as_ref(),
            )
            .await
            {
                Ended::ReceiverGone => return,
                Ended::ConnectionLost { reason, listened } => {
                    warn!(%reason, "notification connection lost; reconnecting");
                    if listened {
                        backoff = BACKOFF_MIN;
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    });
}

enum Ended {
    /// The worker stopped listening: it is shutting down.
    ReceiverGone,
    /// `listened`: the connection had worked, so the next attempt starts a new backoff.
    ConnectionLost { reason: String, listened: bool },
}

async fn listen(
    config: &tokio_postgres::Config,
    groups: &[String],
    worker_id: &AtomicI64,
    registered: &Notify,
    tx: &mpsc::UnboundedSender<Wake>,
    alerts: Option<&mpsc::UnboundedSender<()>>,
) -> Ended {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(err) => {
            return Ended::ConnectionLost {
                reason: err.to_string(),
                listened: false,
            };
        }
    };
    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if msg_tx.send(n).is_err() {
                        return "listener stopped".to_owned();
                    }
                }
                Ok(_) => {}
                Err(err) => return err.to_string(),
            }
        }
        "connection closed".to_owned()
    });
    let mut registration = worker_id.load(Ordering::Relaxed);
    let mut own = worker_channel(registration);
    let channels = if alerts.is_some() {
        format!("LISTEN {READY_CHANNEL}; LISTEN {own}; LISTEN sched_kill; LISTEN sched_alert")
    } else {
        format!("LISTEN {READY_CHANNEL}; LISTEN {own}; LISTEN sched_kill")
    };
    if let Err(err) = client.batch_execute(&channels).await {
        return Ended::ConnectionLost {
            reason: err.to_string(),
            listened: false,
        };
    }
    info!("listening for notifications");
    if tx.send(Wake::Resync).is_err() {
        return Ended::ReceiverGone;
    }
    if let Some(alerts) = alerts {
        let _ = alerts.send(());
    }
    loop {
        let n = tokio::select! {
            n = msg_rx.recv() => match n {
                Some(n) => n,
                None => break,
            },
            () = registered.notified() => {
                let current = worker_id.load(Ordering::Relaxed);
                if current != registration {
                    let next = worker_channel(current);
                    if let Err(err) = client.batch_execute(&format!("UNLISTEN {own}; LISTEN {next}")).await {
                        return Ended::ConnectionLost { reason: err.to_string(), listened: true };
                    }
                    (registration, own) = (current, next);
                    // A wake-up may have named the new registration before it listened.
                    if tx.send(Wake::Resync).is_err() {
                        return Ended::ReceiverGone;
                    }
                }
                continue;
            }
        };
        let wake = match n.channel() {
            "sched_alert" => {
                if let Some(alerts) = alerts {
                    let _ = alerts.send(());
                }
                continue;
            }
            c if c == READY_CHANNEL || c == own => match parse_ready(n.payload()) {
                Some((group, for_worker)) if groups.iter().any(|g| g == group) => Wake::Ready {
                    group: group.to_owned(),
                    for_worker,
                },
                _ => continue,
            },
            "sched_kill" => match n.payload().parse() {
                Ok(worker_id) => Wake::Kill(worker_id),
                Err(_) => continue,
            },
            _ => continue,
        };
        if tx.send(wake).is_err() {
            return Ended::ReceiverGone;
        }
    }
    drop(client);
    Ended::ConnectionLost {
        reason: driver.await.unwrap_or_else(|e| e.to_string()),
        listened: true,
    }
}
