//! Workflows (`/api/workflows`): the list, one workflow with its versions, schedules and
//! last runs, a diff of two versions, saving a new version, starting a run.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Api, rows};
use crate::app::Authed;
use crate::error::ApiError;

pub async fn workflows(Authed(s): Authed) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT * FROM sched.workflows ORDER BY name",
            &[],
        )
        .await?,
    ))
}

pub async fn workflow(Authed(s): Authed, Path(name): Path<String>) -> Api {
    let c = &s.client;
    let spec: Value = c
        .query_one("SELECT sched.workflow_spec($1)", &[&name])
        .await?
        .get(0);
    Ok(Json(json!({
        "spec": spec,
        "versions": rows(c, "SELECT version, created_by, created_at FROM sched.workflow_versions($1)", &[&name]).await?,
        "schedules": rows(c, "SELECT * FROM sched.schedules WHERE workflow = $1 ORDER BY id", &[&name]).await?,
        "instances": rows(c, "SELECT id, state, run, started_by, started_at, ended_at, duration FROM sched.workflow_instances \
                              WHERE workflow = $1 ORDER BY id DESC LIMIT 20", &[&name]).await?,
    })))
}

#[derive(serde::Deserialize)]
pub struct DiffQuery {
    from: i32,
    to: i32,
}

/// Two versions' specs as a unified diff of their pretty JSON.
pub async fn diff(
    Authed(s): Authed,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Response, ApiError> {
    let specs = s
        .client
        .query(
            "SELECT version, jsonb_pretty(spec) FROM sched.workflow_versions($1) WHERE version IN ($2, $3)",
            &[&name, &q.from, &q.to],
        )
        .await?;
    let find = |v: i32| {
        specs
            .iter()
            .find(|r| r.get::<_, i32>(0) == v)
            .map(|r| r.get::<_, String>(1))
            .ok_or_else(|| {
                ApiError::new(StatusCode::NOT_FOUND, format!("{name} has no version {v}"))
            })
    };
    let (old, new) = (find(q.from)?, find(q.to)?);
    let text = similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .header(&format!("{name} v{}", q.from), &format!("{name} v{}", q.to))
        .to_string();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

pub async fn save_workflow(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let spec = body.get("spec").cloned().unwrap_or(body);
    let version_id: i64 = s
        .client
        .query_one("SELECT sched.create_workflow($1, true)", &[&spec])
        .await?
        .get(0);
    Ok(Json(json!({"version_id": version_id})))
}

pub async fn start(Authed(s): Authed, Path(name): Path<String>, Json(body): Json<Value>) -> Api {
    let params = body.get("params").cloned().unwrap_or(json!({}));
    let options = body.get("options").cloned().unwrap_or(json!({}));
    let id: i64 = s
        .client
        .query_one(
            "SELECT sched.start_workflow($1, $2, $3)",
            &[&name, &params, &options],
        )
        .await?
        .get(0);
    Ok(Json(json!({"instance_id": id})))
}
