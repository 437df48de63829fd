//! Workers (`/api/workers`): the live ones (also what their live view sends, see `live.rs`).

use axum::Json;
use serde_json::Value;
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
