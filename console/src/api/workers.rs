//! Workers (`/api/workers`): the live ones (also what their live view sends, see `live.rs`),
//! and the worker groups (`/api/worker_groups`).

use axum::Json;
use serde_json::{Value, json};
use tokio_postgres::Client;

use super::{Api, rows};
use crate::app::Authed;
use crate::error::ApiError;

pub(super) async fn workers_now(c: &Client) -> Result<Value, ApiError> {
    rows(
        c,
        "SELECT * FROM sched.workers WHERE alive ORDER BY name",
        &[],
    )
    .await
}

pub async fn workers(Authed(s): Authed) -> Api {
    Ok(Json(workers_now(&s.client).await?))
}

/// Worker groups: those live workers serve, with their slots, load and waiting attempts
/// (`sched.worker_groups`), and those tasks wait on that no live worker serves
/// (`sched.unserved_tasks`).
pub async fn worker_groups(Authed(s): Authed) -> Api {
    let c = &s.client;
    Ok(Json(json!({
        "served": rows(c, "SELECT * FROM sched.worker_groups ORDER BY worker_group", &[]).await?,
        "unserved": rows(c, "SELECT worker_group, count(*) AS tasks, min(queued_at) AS waiting_since \
                             FROM sched.unserved_tasks GROUP BY worker_group ORDER BY worker_group", &[]).await?,
    })))
}
