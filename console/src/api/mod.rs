//! The console's JSON API: each handler is one or a few calls of the SQL API (functions and
//! views) on the signed-in role's own connection. Nothing here decides what a user may do.
//! One file per resource the routes serve (see `main.rs`), `live.rs` for the live views;
//! this file holds what they share: query results as JSON, body fields, actions by name.

pub(crate) mod alerts;
pub(crate) mod attempts;
pub(crate) mod backfills;
pub(crate) mod cron;
pub(crate) mod dashboard;
pub(crate) mod groups;
pub(crate) mod hooks;
pub(crate) mod instances;
pub(crate) mod live;
pub(crate) mod openapi;
pub(crate) mod rights;
pub(crate) mod schedules;
pub(crate) mod sign_in;
pub(crate) mod states;
pub(crate) mod task_instances;
pub(crate) mod task_types;
pub(crate) mod tokens;
pub(crate) mod triggers;
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

/// Rows of a query as a JSON array of objects. Built as `json`, not `jsonb`: text is all the
/// client reads, and aggregating a page of 1,000 tasks costs 3 ms instead of 10.
async fn rows(
    client: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, ApiError> {
    let row = client
        .query_one(
            &format!("SELECT coalesce(json_agg(x), '[]') FROM ({sql}) x"),
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

/// The SQL function an action names, from a fixed list: the action is never SQL.
fn function_of<'a>(actions: &[(&str, &'a str)], action: &str) -> Result<&'a str, ApiError> {
    actions
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, function)| *function)
        .ok_or_else(|| {
            let allowed: Vec<&str> = actions.iter().map(|(a, _)| *a).collect();
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("{action}: not an action; allowed: {}", allowed.join(", ")),
            )
        })
}

/// Calls the SQL function an action names.
async fn act(
    s: &Conn,
    actions: &[(&str, &str)],
    action: &str,
    id: i64,
) -> Result<StatusCode, ApiError> {
    let function = function_of(actions, action)?;
    s.client
        .execute(&format!("SELECT sched.{function}($1)"), &[&id])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of a list, newest first, from a list function of the SQL API
/// (`sched.list_workflow_instances`, `sched.list_task_instances`): at most `limit` rows
/// (default 50, at most 1000) and the cursor of the next page (`before`), `null` on the last.
/// Keyset paging on `id`: a page costs the same however deep it is, at millions of rows.
/// Every other non-empty query parameter is a filter, which the SQL API checks by name.
async fn page(
    client: &Client,
    function: &str,
    query: &std::collections::HashMap<String, String>,
) -> Result<Value, ApiError> {
    let number = |key: &str| -> Result<Option<i64>, ApiError> {
        query
            .get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("{key}: \"{v}\" is not a number"),
                    )
                })
            })
            .transpose()
    };
    let limit = number("limit")?.unwrap_or(50).clamp(1, 1000);
    let before = number("before")?;
    let filters: serde_json::Map<String, Value> = query
        .iter()
        .filter(|(k, v)| !v.is_empty() && k.as_str() != "limit" && k.as_str() != "before")
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let more = i32::try_from(limit + 1).expect("at most 1001");
    let Value::Array(mut found) = rows(
        client,
        &format!("SELECT * FROM sched.{function}($1, $2, $3)"),
        &[&Value::Object(filters), &before, &more],
    )
    .await?
    else {
        unreachable!("rows() returns an array")
    };
    let next = if found.len() as i64 > limit {
        found.truncate(limit as usize);
        found.last().and_then(|r| r.get("id")).cloned()
    } else {
        None
    };
    Ok(serde_json::json!({"rows": found, "next": next}))
}

/// A time a filter names (`from`, `to`): RFC 3339, with its offset.
fn instant(
    field: &str,
    value: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::FixedOffset>>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{field}: \"{v}\" is not a time; use RFC 3339, e.g. 2026-12-05T08:00:00Z"
                    ),
                )
            })
        })
        .transpose()
}

/// Runs the action on each id, each on its own: the result says, per id, done or why not.
async fn act_on_each(s: &Conn, actions: &[(&str, &str)], body: &Value) -> Api {
    let action = text(body, "action")?;
    let ids: Vec<i64> = body
        .get("ids")
        .and_then(Value::as_array)
        .filter(|ids| !ids.is_empty() && ids.len() <= 1000)
        .and_then(|ids| ids.iter().map(Value::as_i64).collect())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "ids: required, an array of 1 to 1000 ids",
            )
        })?;
    function_of(actions, &action)?;
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let outcome = act(s, actions, &action, id).await;
        results.push(match outcome {
            Ok(_) => serde_json::json!({"id": id, "ok": true}),
            Err(e) => serde_json::json!({"id": id, "ok": false, "error": e.message}),
        });
    }
    Ok(Json(Value::Array(results)))
}
