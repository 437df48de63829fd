//! Triggers (`/api/triggers`): what starts workflows on events, creating one of each kind
//! (a webhook's secret is in the answer, once), enabling, disabling or dropping one; and the
//! datasets (`/api/datasets`) with their producers and consumers, the lineage graph's data.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, act, rows, text};
use crate::app::Authed;
use crate::error::ApiError;

pub async fn triggers(Authed(s): Authed) -> Api {
    Ok(Json(
        rows(&s.client, "SELECT * FROM sched.triggers ORDER BY id", &[]).await?,
    ))
}

/// `{"kind": "workflow_end" | "table_change" | "webhook", "workflow": ..., "upstream": ...
/// (workflow_end), "table": ... (table_change), "options": {...}}`.
pub async fn create_trigger(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let kind = text(&body, "kind")?;
    let workflow = text(&body, "workflow")?;
    let options = body.get("options").cloned().unwrap_or(json!({}));
    let created = match kind.as_str() {
        "workflow_end" => {
            let upstream = text(&body, "upstream")?;
            let row = s
                .client
                .query_one(
                    "SELECT sched.on_workflow_end($1, $2, $3)",
                    &[&upstream, &workflow, &options],
                )
                .await?;
            json!({"trigger_id": row.get::<_, i64>(0)})
        }
        "table_change" => {
            let table = text(&body, "table")?;
            let row = s
                .client
                .query_one(
                    "SELECT sched.on_table_change($1::text::regclass, $2, $3)",
                    &[&table, &workflow, &options],
                )
                .await?;
            json!({"trigger_id": row.get::<_, i64>(0)})
        }
        "webhook" => {
            let row = s
                .client
                .query_one(
                    "SELECT id, path, secret FROM sched.create_webhook($1, $2)",
                    &[&workflow, &options],
                )
                .await?;
            json!({"trigger_id": row.get::<_, i64>(0), "path": row.get::<_, String>(1),
                   "secret": row.get::<_, String>(2)})
        }
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "kind: \"{other}\" cannot be created here; allowed: workflow_end, table_change, webhook (a dataset trigger is a spec's schedule_on)"
                ),
            ));
        }
    };
    Ok(Json(created))
}

pub async fn trigger_control(
    Authed(s): Authed,
    Path((id, action)): Path<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    const ACTIONS: &[(&str, &str)] = &[
        ("enable", "enable_trigger"),
        ("disable", "disable_trigger"),
        ("drop", "drop_trigger"),
    ];
    act(&s, ACTIONS, &action, id).await
}

/// Every dataset you may see, with the latest events of each (at most 5).
pub async fn datasets(Authed(s): Authed) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT d.*, coalesce((SELECT jsonb_agg(e ORDER BY e.id DESC) FROM (
                 SELECT de.id, de.workflow, de.task, de.workflow_instance_id, de.business_time, de.created_at
                 FROM sched.dataset_events de WHERE de.dataset = d.name ORDER BY de.id DESC LIMIT 5) e), '[]') AS recent
             FROM sched.datasets d ORDER BY d.name",
            &[],
        )
        .await?,
    ))
}
