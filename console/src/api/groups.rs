//! Task groups and alert groups (`/api/task_groups`, `/api/alert_groups`): the lists, making,
//! changing and dropping one, each one call of the SQL API.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, rows, text};
use crate::app::Authed;
use crate::error::ApiError;

pub async fn task_groups(Authed(s): Authed) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT * FROM sched.task_groups ORDER BY name",
            &[],
        )
        .await?,
    ))
}

/// `{"name", "size", "description"?, "replace"?}`: a new task group, or a new size for one.
pub async fn save_task_group(
    Authed(s): Authed,
    Json(body): Json<Value>,
) -> Result<StatusCode, ApiError> {
    let name = text(&body, "name")?;
    let size = body
        .get("size")
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "size: required, a whole number"))?;
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let replace = body
        .get("replace")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.client
        .execute(
            "SELECT sched.create_task_group($1, $2, $3, $4)",
            &[&name, &size, &description, &replace],
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn drop_task_group(
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.client
        .execute("SELECT sched.drop_task_group($1)", &[&name])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The alert groups, and of each the last failed delivery you may see.
pub async fn alert_groups(Authed(s): Authed) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT g.*, (SELECT to_jsonb(f) FROM (SELECT a.id, a.channel, a.last_error, a.created_at FROM sched.alerts a \
             WHERE a.alert_group = g.name AND a.last_error IS NOT NULL ORDER BY a.id DESC LIMIT 1) f) AS last_error \
             FROM sched.alert_groups g ORDER BY g.name",
            &[],
        )
        .await?,
    ))
}

/// `{"name", "channels", "description"?}`.
pub async fn create_alert_group(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let name = text(&body, "name")?;
    let channels = body.get("channels").cloned().unwrap_or(Value::Null);
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let id: i64 = s
        .client
        .query_one(
            "SELECT sched.create_alert_group($1, $2, $3)",
            &[&name, &channels, &description],
        )
        .await?
        .get(0);
    Ok(Json(json!({"id": id})))
}

/// `{"channels"?, "description"?}`: what is given changes.
pub async fn alter_alert_group(
    Authed(s): Authed,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Result<StatusCode, ApiError> {
    let channels = body.get("channels").cloned();
    let description = body.get("description").and_then(Value::as_str);
    s.client
        .execute(
            "SELECT sched.alter_alert_group($1, $2, $3)",
            &[&name, &channels, &description],
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn drop_alert_group(
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.client
        .execute("SELECT sched.drop_alert_group($1)", &[&name])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test alert to each of the group's channels (`sched.test_alert_group`): its id.
pub async fn test_alert_group(Authed(s): Authed, Path(name): Path<String>) -> Api {
    let id: i64 = s
        .client
        .query_one("SELECT sched.test_alert_group($1)", &[&name])
        .await?
        .get(0);
    Ok(Json(json!({"alert_id": id})))
}
