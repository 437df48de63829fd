//! Workflow instances (`/api/instances`): the list, one instance's snapshot (also what its
//! live view sends, see `live.rs`), and the actions on a run.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio_postgres::Client;

use super::{Api, act, act_on_each, one, page, rows};
use crate::app::Authed;
use crate::error::ApiError;

/// Workflow instances, newest first, a page at a time, filtered (`sched.list_workflow_instances`).
pub async fn instances(Authed(s): Authed, Query(q): Query<HashMap<String, String>>) -> Api {
    Ok(Json(page(&s.client, "list_workflow_instances", &q).await?))
}

/// An instance, its tasks in DAG order with their latest attempts and upstream tasks (its
/// graph), every attempt but dynamic tasks' elements (for the Gantt chart: retries and
/// failovers are attempts of their own), and its dynamic attempts' element counts (the
/// elements themselves are paged, from `/task_instances`).
pub(super) async fn snapshot(c: &Client, id: i64) -> Result<Value, ApiError> {
    Ok(json!({
        "instance": one(c, "SELECT * FROM sched.workflow_instances WHERE id = $1", &[&id]).await?,
        "tasks": rows(c, "SELECT * FROM sched.instance_tasks($1)", &[&id]).await?,
        "unserved_worker_groups": rows(c, "SELECT DISTINCT worker_group FROM sched.unserved_tasks \
                                           WHERE workflow_instance_id = $1 ORDER BY 1", &[&id]).await?,
        "attempts": rows(c, "SELECT id, task, type, state, attempt, run, retry, worker, exit_code, kill_reason, child_instance_id, \
                             queued_at, started_at, ended_at FROM sched.task_instances \
                             WHERE workflow_instance_id = $1 AND element IS NULL ORDER BY id", &[&id]).await?,
        "dynamic": rows(c, "SELECT id, task, element_count, element_states FROM sched.task_instances \
                            WHERE workflow_instance_id = $1 AND type = 'dynamic' ORDER BY id", &[&id]).await?,
    }))
}

pub async fn instance(Authed(s): Authed, Path(id): Path<i64>) -> Api {
    Ok(Json(snapshot(&s.client, id).await?))
}

const ACTIONS: &[(&str, &str)] = &[
    ("pause", "pause_workflow"),
    ("resume", "resume_workflow"),
    ("stop", "stop_workflow"),
    ("recover", "recover_workflow"),
    ("rerun", "rerun_workflow"),
];

pub async fn control(
    Authed(s): Authed,
    Path((id, action)): Path<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    act(&s, ACTIONS, &action, id).await
}

/// One action on many instances (`{"action": "stop", "ids": [...]}`).
pub async fn control_many(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    act_on_each(&s, ACTIONS, &body).await
}
