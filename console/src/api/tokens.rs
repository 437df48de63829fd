//! API tokens (`/api/tokens`): yours (all of them for sched_admin), making one (shown once),
//! revoking one.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, instant, rows, text};
use crate::app::Authed;
use crate::error::ApiError;

pub async fn tokens(Authed(s): Authed) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT * FROM sched.api_tokens ORDER BY owner, created_at DESC",
            &[],
        )
        .await?,
    ))
}

/// `{"name": ..., "expires": RFC 3339 or "infinity", absent for 90 days}`.
pub async fn create_token(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let name = text(&body, "name")?;
    let expires = body
        .get("expires")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty());
    if let Some(e) = expires.filter(|e| *e != "infinity") {
        instant("expires", Some(e))?;
    }
    let token: String = s
        .client
        .query_one(
            "SELECT sched.create_api_token($1, coalesce($2::text::timestamptz, now() + interval '90 days'))",
            &[&name, &expires],
        )
        .await?
        .get(0);
    Ok(Json(json!({"name": name, "token": token})))
}

pub async fn revoke_token(
    Authed(s): Authed,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Result<StatusCode, ApiError> {
    let owner = body.get("owner").and_then(Value::as_str);
    s.client
        .execute(
            "SELECT sched.revoke_api_token($1, $2::text::regrole)",
            &[&name, &owner],
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
