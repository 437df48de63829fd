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

/// The most tasks a snapshot carries: a window of the instance's tasks in DAG order. The
/// browser draws its graph and Gantt chart (thousands of tasks take it seconds) and a live
/// view reads it again on each change, so a larger run is shown a window at a time, each read
/// in the same time however large the run.
const SHOWN: usize = 2_000;
/// What sched.instance_tasks and sched.instance_attempts give at most at a time.
const PAGE: i32 = 1000;

/// Which window of an instance's tasks a snapshot shows: the tasks after the one named
/// `after` in DAG order (from the first when absent).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Window {
    pub after: Option<String>,
}

/// An instance, a window of its tasks in DAG order with their latest attempts and upstream
/// tasks (its graph), those tasks' attempts but dynamic tasks' elements (for the Gantt chart:
/// retries and failovers are attempts of their own), and its dynamic attempts' element counts
/// (the elements themselves are paged, from `/task_instances`). `tasks_more` says that more
/// tasks follow the window (the next one is after its last task).
pub(super) async fn snapshot(c: &Client, id: i64, window: &Window) -> Result<Value, ApiError> {
    let instance = one(
        c,
        "SELECT * FROM sched.workflow_instances WHERE id = $1",
        &[&id],
    )
    .await?;
    let mut tasks: Vec<Value> = Vec::new();
    let mut attempts: Vec<Value> = Vec::new();
    let mut after = window.after.clone();
    let tasks_more = loop {
        let limit = if tasks.len() < SHOWN { PAGE } else { 1 };
        let page = list(
            rows(
                c,
                "SELECT * FROM sched.instance_tasks($1, $2, $3)",
                &[&id, &after, &limit],
            )
            .await?,
        );
        if tasks.len() >= SHOWN {
            break !page.is_empty();
        }
        attempts.extend(list(
            rows(c, "SELECT id, task, type, state, attempt, run, retry, worker, exit_code, kill_reason, child_instance_id, \
                     queued_at, started_at, ended_at, element_count, element_states \
                     FROM sched.instance_attempts($1, $2, $3)",
                 &[&id, &after, &limit]).await?,
        ));
        let full = page.len() == PAGE as usize;
        after = page
            .last()
            .and_then(|t| t["task"].as_str())
            .map(str::to_owned);
        tasks.extend(page);
        if !full {
            break false;
        }
    };
    let dynamic: Vec<Value> = attempts
        .iter_mut()
        .filter_map(|a| {
            let a = a.as_object_mut()?;
            let counts = (
                a.remove("element_count")?,
                a.remove("element_states")?,
            );
            (a.get("type")? == "dynamic").then(|| {
                json!({"id": a["id"], "task": a["task"], "element_count": counts.0, "element_states": counts.1})
            })
        })
        .collect();
    Ok(json!({
        "instance": instance,
        "after": window.after,
        "tasks": tasks,
        "tasks_more": tasks_more,
        "unserved_worker_groups": rows(c, "SELECT DISTINCT worker_group FROM sched.unserved_tasks \
                                           WHERE workflow_instance_id = $1 ORDER BY 1", &[&id]).await?,
        "attempts": attempts,
        "dynamic": dynamic,
    }))
}

fn list(rows: Value) -> Vec<Value> {
    match rows {
        Value::Array(rows) => rows,
        _ => Vec::new(),
    }
}

pub async fn instance(Authed(s): Authed, Path(id): Path<i64>, Query(window): Query<Window>) -> Api {
    Ok(Json(snapshot(&s.client, id, &window).await?))
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
