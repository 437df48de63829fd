//! Who may use what (`/api/rights`): tenants, datasources and use grants as the role may see
//! them, and granting or revoking one, each one call of the SQL API (which refuses what the
//! role may not do, sched_admin's grants included).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, rows, text};
use crate::app::Authed;
use crate::error::ApiError;

pub async fn rights(Authed(s): Authed) -> Api {
    let c = &s.client;
    Ok(Json(json!({
        "tenants": rows(c, "SELECT role::text AS role, os_user, granted_by, granted_at FROM sched.tenants ORDER BY 1, 2", &[]).await?,
        "datasources": rows(c, "SELECT * FROM sched.datasources ORDER BY name", &[]).await?,
        "use_grants": rows(c, "SELECT kind, name, role::text AS role, granted_by, granted_at FROM sched.use_grants ORDER BY 1, 2, 3", &[]).await?,
    })))
}

/// `{"kind": tenant | worker_group | datasource | alert_group | task_group, "role", "name",
/// "grant": true | false}`.
pub async fn grant(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    // What may be granted, each by sched.grant_<kind> and sched.revoke_<kind>.
    const KINDS: &[&str] = &[
        "tenant",
        "worker_group",
        "datasource",
        "alert_group",
        "task_group",
    ];
    let kind = text(&body, "kind")?;
    let role = text(&body, "role")?;
    let name = text(&body, "name")?;
    let granting = body.get("grant").and_then(Value::as_bool).unwrap_or(true);
    if !KINDS.contains(&kind.as_str()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("kind: \"{kind}\" is not one of: {}", KINDS.join(", ")),
        ));
    }
    let function = format!("{}_{kind}", if granting { "grant" } else { "revoke" });
    let changed: bool = s
        .client
        .query_one(
            &format!("SELECT sched.{function}($1::text::regrole, $2)"),
            &[&role, &name],
        )
        .await?
        .get(0);
    Ok(Json(json!({"changed": changed})))
}

/// `{"name", "kind", "description"?}` (sched_admin).
pub async fn create_datasource(
    Authed(s): Authed,
    Json(body): Json<Value>,
) -> Result<StatusCode, ApiError> {
    let name = text(&body, "name")?;
    let kind = text(&body, "kind")?;
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    s.client
        .execute(
            "SELECT sched.create_datasource($1, $2, $3)",
            &[&name, &kind, &description],
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn drop_datasource(
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.client
        .execute("SELECT sched.drop_datasource($1)", &[&name])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
