//! Schedules (`/api/schedules`): adding one, enabling, disabling or deleting it.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, act, text};
use crate::app::Authed;
use crate::error::ApiError;

pub async fn schedule(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let workflow = text(&body, "workflow")?;
    let cron = text(&body, "cron")?;
    let options = body.get("options").cloned().unwrap_or(json!({}));
    let id: i64 = s
        .client
        .query_one(
            "SELECT sched.schedule($1, $2, $3)",
            &[&workflow, &cron, &options],
        )
        .await?
        .get(0);
    Ok(Json(json!({"schedule_id": id})))
}

pub async fn schedule_control(
    Authed(s): Authed,
    Path((id, action)): Path<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    const ACTIONS: &[(&str, &str)] = &[
        ("enable", "enable_schedule"),
        ("disable", "disable_schedule"),
        ("delete", "unschedule"),
    ];
    act(&s, ACTIONS, &action, id).await
}
