//! Task instances (`/api/task_instances`): every attempt of every task, newest first, a page
//! at a time, filtered; and one action on many of them.

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use serde_json::Value;

use super::{Api, act_on_each, page};
use crate::app::Authed;

/// Attempts, newest first, a page at a time, filtered (`sched.list_task_instances`).
pub async fn task_instances(Authed(s): Authed, Query(q): Query<HashMap<String, String>>) -> Api {
    Ok(Json(page(&s.client, "list_task_instances", &q).await?))
}

/// One action on many attempts (`{"action": "force_success", "ids": [...]}`).
pub async fn control_many(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    act_on_each(&s, super::attempts::ACTIONS, &body).await
}
