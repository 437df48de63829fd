//! Alerts (`/api/alerts`): the latest ones sent or being sent (also what their live view
//! sends, see `live.rs`).

use axum::Json;
use serde_json::Value;
use tokio_postgres::Client;

use super::{Api, rows};
use crate::app::Authed;
use crate::error::ApiError;

pub(super) async fn alerts_now(c: &Client) -> Result<Value, ApiError> {
    rows(
        c,
        "SELECT * FROM sched.alerts ORDER BY id DESC, channel_no LIMIT 200",
        &[],
    )
    .await
}

pub async fn alerts(Authed(s): Authed) -> Api {
    Ok(Json(alerts_now(&s.client).await?))
}
