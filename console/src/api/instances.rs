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

/// The most tasks, and attempts, a snapshot carries: the page draws ten thousand (its graph
/// laid out by depth, its table a page at a time), and each snapshot of a live view is read
/// again. Past that the page says so and the task instances list pages the rest.
const SHOWN: usize = 10_000;
/// What sched.instance_tasks gives at most at a time.
const PAGE: i32 = 1000;

/// An instance, its first tasks in DAG order with their latest attempts and upstream tasks
/// (its graph), its first attempts but dynamic tasks' elements (for the Gantt chart: retries
/// and failovers are attempts of their own), and its dynamic attempts' element counts (the
/// elements themselves are paged, from `/task_instances`). `tasks_more` and `attempts_more`
/// say that more than these exist.
pub(super) async fn snapshot(c: &Client, id: i64) -> Result<Value, ApiError> {
    let instance = one(
        c,
        "SELECT * FROM sched.workflow_instances WHERE id = $1",
        &[&id],
    )
    .await?;
    let (tasks, tasks_more) = first_tasks(c, id).await?;
    let mut attempts = list(
        rows(c, "SELECT id, task, type, state, attempt, run, retry, worker, exit_code, kill_reason, child_instance_id, \
                 queued_at, started_at, ended_at FROM sched.task_instances \
                 WHERE workflow_instance_id = $1 AND element IS NULL ORDER BY id LIMIT $2",
             &[&id, &(SHOWN as i64 + 1)]).await?,
    );
    let attempts_more = attempts.len() > SHOWN;
    attempts.truncate(SHOWN);
    Ok(json!({
        "instance": instance,
        "tasks": tasks,
        "tasks_more": tasks_more,
        "unserved_worker_groups": rows(c, "SELECT DISTINCT worker_group FROM sched.unserved_tasks \
                                           WHERE workflow_instance_id = $1 ORDER BY 1", &[&id]).await?,
        "attempts": attempts,
        "attempts_more": attempts_more,
        "dynamic": rows(c, "SELECT id, task, element_count, element_states FROM sched.task_instances \
                            WHERE workflow_instance_id = $1 AND type = 'dynamic' ORDER BY id", &[&id]).await?,
    }))
}

fn list(rows: Value) -> Vec<Value> {
    match rows {
        Value::Array(rows) => rows,
        _ => Vec::new(),
    }
}

/// The instance's first `SHOWN` tasks in DAG order, a page of sched.instance_tasks at a time,
/// and whether more follow.
async fn first_tasks(c: &Client, id: i64) -> Result<(Vec<Value>, bool), ApiError> {
    let mut tasks: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
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
            return Ok((tasks, !page.is_empty()));
        }
        let full = page.len() == PAGE as usize;
        after = page
            .last()
            .and_then(|t| t["task"].as_str())
            .map(str::to_owned);
        tasks.extend(page);
        if !full {
            return Ok((tasks, false));
        }
    }
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
