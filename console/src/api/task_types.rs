//! Task types (`/api/task_types`): what the editor's palette offers.

use axum::Json;

use super::{Api, rows};
use crate::app::Authed;

pub async fn task_types(Authed(s): Authed) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT * FROM sched.task_types ORDER BY name",
            &[],
        )
        .await?,
    ))
}
