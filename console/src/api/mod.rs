//! The console's JSON API: each handler is one or a few calls of the SQL API (functions and
//! views) on the signed-in role's own connection. Nothing here decides what a user may do.
//! One file per resource the routes serve (see `main.rs`), `live.rs` for the live views;
//! this file holds what they share: query results as JSON, body fields, actions by name.

pub(crate) mod alerts;
pub(crate) mod attempts;
pub(crate) mod backfills;
pub(crate) mod cron;
pub(crate) mod instances;
pub(crate) mod live;
pub(crate) mod schedules;
pub(crate) mod sign_in;
pub(crate) mod states;
pub(crate) mod task_types;
pub(crate) mod workers;
pub(crate) mod workflows;

use axum::Json;
use axum::http::StatusCode;
use serde_json::Value;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use crate::error::ApiError;
use crate::session::Conn;

type Api = Result<Json<Value>, ApiError>;

/// Rows of a query as a JSON array of objects.
async fn rows(
    client: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, ApiError> {
    let row = client
        .query_one(
            &format!("SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]') FROM ({sql}) x"),
            params,
        )
        .await?;
    Ok(row.get(0))
}

async fn one(
    client: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, ApiError> {
    let all = rows(client, sql, params).await?;
    all.get(0)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not found, or not yours to see"))
}

fn text(v: &Value, key: &str) -> Result<String, ApiError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("{key}: required, a string"),
            )
        })
}

/// Calls the SQL function an action names, from a fixed list: the action is never SQL.
async fn act(
    s: &Conn,
    actions: &[(&str, &str)],
    action: &str,
    id: i64,
) -> Result<StatusCode, ApiError> {
    let Some((_, function)) = actions.iter().find(|(a, _)| *a == action) else {
        let allowed: Vec<&str> = actions.iter().map(|(a, _)| *a).collect();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{action}: not an action; allowed: {}", allowed.join(", ")),
        ));
    };
    s.client
        .execute(&format!("SELECT sched.{function}($1)"), &[&id])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
