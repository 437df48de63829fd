//! Task attempts (`/api/attempts`): their logs, paged or whole, and killing or forcing one.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Api, act};
use crate::app::Authed;
use crate::error::ApiError;

pub(super) const ACTIONS: &[(&str, &str)] =
    &[("kill", "kill_task"), ("force_success", "force_success")];

pub async fn attempt_control(
    Authed(s): Authed,
    Path((id, action)): Path<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    act(&s, ACTIONS, &action, id).await
}

#[derive(serde::Deserialize)]
pub struct LogQuery {
    skip: Option<i32>,
    limit: Option<i32>,
}

/// A page of a log, each line's stream (`out` or `err`) alongside, and whether the attempt may
/// still add to it (the viewer's follow).
pub async fn log(Authed(s): Authed, Path(id): Path<i64>, Query(q): Query<LogQuery>) -> Api {
    let skip = q.skip.unwrap_or(0).max(0);
    let rows = s
        .client
        .query(
            "SELECT line, stream FROM sched.task_log_lines($1, $2, $3)",
            &[&id, &skip, &q.limit.unwrap_or(1000).clamp(1, 10_000)],
        )
        .await?;
    let lines: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let streams: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    let finished: Option<bool> = s
        .client
        .query_opt(
            "SELECT finished FROM sched.task_instances WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|r| r.get(0));
    Ok(Json(
        json!({"skip": skip, "lines": lines, "streams": streams, "finished": finished.unwrap_or(true)}),
    ))
}

pub async fn log_download(Authed(s): Authed, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let text: String = s
        .client
        .query_one("SELECT sched.task_log_text($1)", &[&id])
        .await?
        .get(0);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"task-{id}.log\""))
            .expect("a valid header"),
    );
    Ok((headers, text).into_response())
}
