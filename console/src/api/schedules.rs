//! Schedules (`/api/schedules`): the list, adding one, changing one in place, enabling,
//! disabling or deleting it.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, act, rows, text};
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

/// Every schedule you may see, its cron expression in words in the language asked for.
pub async fn schedules(Authed(s): Authed, Query(q): Query<LangQuery>) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT s.*, sched.cron_describe(s.cron, $1) AS cron_words FROM sched.schedules s ORDER BY s.workflow, s.id",
            &[&q.lang.as_deref().unwrap_or("en")],
        )
        .await?,
    ))
}

#[derive(serde::Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// `{"cron": ... (absent: kept), "options": {...} (absent ones kept, null ones removed)}`.
pub async fn alter_schedule(
    Authed(s): Authed,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<StatusCode, ApiError> {
    let cron = body.get("cron").and_then(Value::as_str);
    let options = body.get("options").cloned().unwrap_or(json!({}));
    s.client
        .execute(
            "SELECT sched.alter_schedule($1, $2, $3)",
            &[&id, &cron, &options],
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
