//! The cron builder (`/api/cron`): an expression's fields, meaning and next fire times, and
//! an expression built from fields.

use axum::Json;
use axum::extract::Query;
use serde_json::{Value, json};

use super::{Api, rows};
use crate::app::Authed;

#[derive(serde::Deserialize)]
pub struct CronQuery {
    expr: String,
    tz: Option<String>,
    lang: Option<String>,
    n: Option<i32>,
}

/// What the cron builder shows: the fields, the description, the next fire times.
pub async fn cron(Authed(s): Authed, Query(q): Query<CronQuery>) -> Api {
    let c = &s.client;
    let tz = q.tz.unwrap_or_else(|| "UTC".into());
    let fields: Value = c
        .query_one("SELECT sched.cron_parse($1)", &[&q.expr])
        .await?
        .get(0);
    let describe: String = c
        .query_one(
            "SELECT sched.cron_describe($1, $2)",
            &[&q.expr, &q.lang.unwrap_or_else(|| "en".into())],
        )
        .await?
        .get(0);
    let next = rows(
        c,
        "SELECT f AS at, to_char(f AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS local FROM sched.cron_next($1, $2, now(), $3) f",
        &[&q.expr, &q.n.unwrap_or(10).clamp(1, 100), &tz],
    )
    .await?;
    Ok(Json(
        json!({"fields": fields, "describe": describe, "next": next, "timezone": tz}),
    ))
}

pub async fn cron_build(Authed(s): Authed, Json(fields): Json<Value>) -> Api {
    let expr: String = s
        .client
        .query_one("SELECT sched.cron_build($1)", &[&fields])
        .await?
        .get(0);
    Ok(Json(json!({"expr": expr})))
}
