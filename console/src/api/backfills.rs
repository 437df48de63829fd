//! Backfills (`/api/backfills`): starting one, previewing its dates, and its progress (also
//! what its live view sends, see `live.rs`).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio_postgres::Client;

use super::{Api, one, rows, text};
use crate::app::Authed;
use crate::error::ApiError;

pub async fn backfill(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let workflow = text(&body, "workflow")?;
    let options = body.get("options").cloned().unwrap_or(json!({}));
    let id: i64 = match (
        body.get("from").and_then(Value::as_str),
        body.get("to").and_then(Value::as_str),
    ) {
        // The form's dates are whole days of the backfill's zone.
        (Some(from), Some(to)) => s
            .client
            .query_one(
                "SELECT sched.backfill($1, $2::text::date, $3::text::date, $4)",
                &[&workflow, &from, &to, &options],
            )
            .await?
            .get(0),
        _ => {
            let dates: Vec<String> = body
                .get("dates")
                .and_then(Value::as_array)
                .map(|d| {
                    d.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .filter(|d: &Vec<String>| !d.is_empty())
                .ok_or_else(|| {
                    ApiError::new(StatusCode::BAD_REQUEST, "from and to, or dates: required")
                })?;
            s.client
                .query_one(
                    "SELECT sched.backfill($1, $2::text[]::timestamptz[], $3)",
                    &[&workflow, &dates, &options],
                )
                .await?
                .get(0)
        }
    };
    Ok(Json(json!({"backfill_id": id})))
}

/// The dates a backfill over a range of days would run, in order, with their business dates
/// and zone; nothing starts.
pub async fn backfill_preview(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let workflow = text(&body, "workflow")?;
    let options = body.get("options").cloned().unwrap_or(json!({}));
    let from = text(&body, "from")?;
    let to = text(&body, "to")?;
    Ok(Json(json!({"dates": rows(
        &s.client,
        "SELECT position, schedule_time, business_date, time_zone \
         FROM sched.backfill_preview($1, $2::text::date, $3::text::date, $4) ORDER BY position",
        &[&workflow, &from, &to, &options],
    )
    .await?})))
}

pub(super) async fn backfill_snapshot(c: &Client, id: i64) -> Result<Value, ApiError> {
    Ok(json!({
        "backfill": one(c, "SELECT * FROM sched.backfills WHERE id = $1", &[&id]).await?,
        "dates": rows(c, "SELECT * FROM sched.backfill_dates WHERE backfill_id = $1 ORDER BY position", &[&id]).await?,
    }))
}

pub async fn backfill_progress(Authed(s): Authed, Path(id): Path<i64>) -> Api {
    Ok(Json(backfill_snapshot(&s.client, id).await?))
}
