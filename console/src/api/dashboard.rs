//! The home page (`/api/dashboard`): what runs now, the failures of the last 24 hours, and
//! over a chosen range the states of instances and attempts, schedule lateness, and the
//! worker groups. Each number comes from a view a BI tool reads too (sql/6_views/dashboard.sql);
//! the counts by the hour from the functions that read only the range of those views
//! (sql/7_api/dashboard.sql). Counting attempts takes a second once a million fall in the range,
//! so the page asks for them on their own (`/api/dashboard/task_states`) and draws the rest
//! at once.

use axum::Json;
use axum::extract::Query;
use serde_json::{Value, json};
use tokio_postgres::Client;

use super::{Api, instant, rows};
use crate::app::Authed;
use crate::error::ApiError;

type Instant = chrono::DateTime<chrono::FixedOffset>;

#[derive(serde::Deserialize)]
pub struct RangeQuery {
    /// Start of the range (RFC 3339); default 24 hours ago.
    from: Option<String>,
    /// End of the range (RFC 3339); default now.
    to: Option<String>,
    /// Whether to count the attempts too; default true.
    task_states: Option<bool>,
}

const RANGE: &str =
    "coalesce($1::timestamptz, now() - interval '24 hours'), coalesce($2::timestamptz, now())";

async fn task_state_rows(
    c: &Client,
    from: &Option<Instant>,
    to: &Option<Instant>,
) -> Result<Value, ApiError> {
    rows(
        c,
        &format!(
            "SELECT hour, state, sum(attempts)::bigint AS n FROM sched.hourly_task_states({RANGE}) \
             GROUP BY hour, state ORDER BY hour, state"
        ),
        &[from, to],
    )
    .await
}

/// The attempts' states by hour over the range, alone: what `/api/dashboard` leaves out with
/// `task_states=false`.
pub async fn task_states(Authed(s): Authed, Query(q): Query<RangeQuery>) -> Api {
    let from = instant("from", q.from.as_deref())?;
    let to = instant("to", q.to.as_deref())?;
    Ok(Json(
        json!({"task_states": task_state_rows(&s.client, &from, &to).await?}),
    ))
}

pub async fn dashboard(Authed(s): Authed, Query(q): Query<RangeQuery>) -> Api {
    let c = &s.client;
    let from = instant("from", q.from.as_deref())?;
    let to = instant("to", q.to.as_deref())?;
    let mut numbers = json!({
        "running": rows(c, "SELECT id, workflow, state, started_by, started_at, command_type \
                            FROM sched.workflow_instances WHERE NOT finished ORDER BY id DESC LIMIT 20", &[]).await?,
        "failures": rows(c, "SELECT id, workflow, state, started_by, ended_at FROM sched.workflow_instances \
                             WHERE state = 'failed' AND ended_at > now() - interval '24 hours' \
                             ORDER BY id DESC LIMIT 20", &[]).await?,
        "instance_states": rows(c, &format!("SELECT hour, state, sum(instances)::bigint AS n \
                                             FROM sched.hourly_instance_states({RANGE}) \
                                             GROUP BY hour, state ORDER BY hour, state"), &[&from, &to]).await?,
        "lateness": rows(c, "SELECT workflow, count(*) AS fires, \
                             round(avg(extract(epoch FROM lateness))::numeric, 3)::float8 AS avg_s, \
                             round(max(extract(epoch FROM lateness))::numeric, 3)::float8 AS max_s \
                             FROM sched.schedule_lateness \
                             WHERE schedule_time >= coalesce($1::timestamptz, now() - interval '24 hours') \
                             AND schedule_time < coalesce($2::timestamptz, now()) \
                             GROUP BY workflow ORDER BY max_s DESC LIMIT 20", &[&from, &to]).await?,
        "worker_groups": rows(c, "SELECT * FROM sched.worker_groups ORDER BY worker_group", &[]).await?,
        "unserved": rows(c, "SELECT worker_group, count(*) AS tasks FROM sched.unserved_tasks \
                             GROUP BY worker_group ORDER BY worker_group", &[]).await?,
    });
    if q.task_states != Some(false) {
        numbers["task_states"] = task_state_rows(c, &from, &to).await?;
    }
    Ok(Json(numbers))
}
