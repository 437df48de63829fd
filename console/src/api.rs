//! The console's JSON API: each handler is one or a few calls of the SQL API (functions and
//! views) on the signed-in role's own connection. Nothing here decides what a user may do.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use futures_util::Stream;
use serde_json::{Value, json};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use crate::App;
use crate::error::ApiError;
use crate::limits;
use crate::metrics;
use crate::session::{Authed, COOKIE, Conn, Signed};

type Api = Result<Json<Value>, ApiError>;

/// Rows of a query as a JSON array of objects.
async fn rows(
    client: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, ApiError> {
    let row = client
        .query_one(
            &format!("SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]') FROM ({sql}) x"),
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

pub async fn sign_in(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let result = try_sign_in(&app, client, jar, body).await;
    metrics::sign_in(&result);
    result
}

/// Signs in, counting each attempt against the role and the client address until it
/// succeeds (see `limits.rs`).
async fn try_sign_in(
    app: &App,
    client: SocketAddr,
    jar: CookieJar,
    body: Value,
) -> Result<Response, ApiError> {
    let user = text(&body, "user")?;
    // PostgreSQL cuts longer names to 63 bytes: names differing past that would be one role
    // but different keys for the failure limit.
    if user.is_empty() || user.len() > 63 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "user: a role name of 1 to 63 bytes",
        ));
    }
    let password = body
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let attempt = app
        .failures
        .begin(vec![
            limits::role_key(&user),
            limits::client_key(client.ip()),
        ])
        .map_err(|limited| {
            let error =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "").retry_after(limited.retry_after);
            ApiError {
                message: format!(
                    "too many failed sign-ins for {} ({} in the last minute, the most \
                     --max-failed-sign-ins allows); try again in {} s",
                    limited.key,
                    app.failures.max(),
                    error.retry_after.unwrap_or(1)
                ),
                ..error
            }
        })?;
    let (id, session) = match app.sessions.sign_in(&user, password).await {
        Ok(signed) => {
            attempt.forgive();
            signed
        }
        Err(refused) => {
            if !refused.about_password {
                attempt.forgive();
            }
            return Err(refused.error);
        }
    };
    let cookie = Cookie::build((COOKIE, id))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.secure_cookies)
        .path("/")
        .build();
    Ok((
        jar.add(cookie),
        Json(json!({"user": session.user, "csrf": session.csrf})),
    )
        .into_response())
}

pub async fn sign_out(State(app): State<Arc<App>>, jar: CookieJar, s: Signed) -> Response {
    app.sessions.sign_out(&s.id);
    (jar.remove(Cookie::from(COOKIE)), StatusCode::NO_CONTENT).into_response()
}

pub async fn me(s: Signed) -> Api {
    Ok(Json(
        json!({"user": s.session.user, "csrf": s.session.csrf}),
    ))
}

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

#[derive(serde::Deserialize)]
pub struct InstancesQuery {
    workflow: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
}

pub async fn instances(Authed(s): Authed, Query(q): Query<InstancesQuery>) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT * FROM sched.workflow_instances WHERE ($1::text IS NULL OR workflow = $1) \
             AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT $3",
            &[
                &q.workflow,
                &q.state,
                &q.limit.unwrap_or(100).clamp(1, 1000),
            ],
        )
        .await?,
    ))
}

/// An instance, its tasks in DAG order with their latest attempts and upstream tasks (its
/// graph), and every attempt (for the Gantt chart: retries and failovers are attempts of
/// their own).
async fn snapshot(c: &Client, id: i64) -> Result<Value, ApiError> {
    Ok(json!({
        "instance": one(c, "SELECT * FROM sched.workflow_instances WHERE id = $1", &[&id]).await?,
        "tasks": rows(c, "SELECT * FROM sched.instance_tasks($1)", &[&id]).await?,
        "unserved_worker_groups": rows(c, "SELECT DISTINCT worker_group FROM sched.unserved_tasks \
                                           WHERE workflow_instance_id = $1 ORDER BY 1", &[&id]).await?,
        "attempts": rows(c, "SELECT id, task, type, state, attempt, run, retry, worker, exit_code, kill_reason, \
                             queued_at, started_at, ended_at FROM sched.task_instances \
                             WHERE workflow_instance_id = $1 ORDER BY id", &[&id]).await?,
    }))
}

pub async fn instance(Authed(s): Authed, Path(id): Path<i64>) -> Api {
    Ok(Json(snapshot(&s.client, id).await?))
}

/// What a live view shows: read again whenever the engine notifies the session's connection
/// (tasks ready, kills, alerts) and at least every 500 ms, since a task's progress or a
/// heartbeat raises no notification of its own (that would cost every task's commit).
#[derive(Clone, Copy)]
enum Live {
    Instance(i64),
    Backfill(i64),
    Workers,
    Alerts,
}

impl Live {
    async fn read(self, c: &Client) -> Result<Value, ApiError> {
        match self {
            Live::Instance(id) => snapshot(c, id).await,
            Live::Backfill(id) => backfill_snapshot(c, id).await,
            Live::Workers => workers_now(c).await,
            Live::Alerts => alerts_now(c).await,
        }
    }

    /// Nothing will change any more: the stream ends after this snapshot.
    fn finished(self, v: &Value) -> bool {
        match self {
            Live::Instance(_) => v["instance"]["finished"] == Value::Bool(true),
            Live::Backfill(_) => v["backfill"]["state"]
                .as_str()
                .is_some_and(|s| s != "running"),
            Live::Workers | Live::Alerts => false,
        }
    }
}

/// A live view as Server-Sent Events: a `snapshot` event at once and whenever it changed,
/// ending after a finished one, or when the session ends; a failure to read sends `failed`
/// and ends. Each open stream holds one of the session's `--max-streams-per-session` places.
async fn live(
    s: Conn,
    what: Live,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = s.session.open_stream()?;
    let first = what.read(&s.client).await?;
    let changes = s.changes.subscribe();
    let ended = s.ended();
    let stream = futures_util::stream::unfold(
        (s, slot, changes, ended, None::<Value>, Some(first), false),
        move |(s, slot, mut changes, mut ended, last, next, done)| async move {
            if done || *ended.borrow() {
                return None;
            }
            let mut current = next;
            loop {
                let snap = match current.take() {
                    Some(v) => v,
                    None => match what.read(&s.client).await {
                        Ok(v) => v,
                        Err(e) => {
                            let event = Event::default()
                                .event("failed")
                                .data(json!({"error": e.message}).to_string());
                            return Some((Ok(event), (s, slot, changes, ended, last, None, true)));
                        }
                    },
                };
                let finished = what.finished(&snap);
                if last.as_ref() != Some(&snap) {
                    let event = Event::default().event("snapshot").data(snap.to_string());
                    return Some((
                        Ok(event),
                        (s, slot, changes, ended, Some(snap), None, finished),
                    ));
                }
                if finished {
                    return None;
                }
                tokio::select! {
                    _ = changes.recv() => {}
                    _ = ended.changed() => return None,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub async fn instance_events(
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    live(s, Live::Instance(id)).await
}

pub async fn backfill_events(
    Authed(s): Authed,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    live(s, Live::Backfill(id)).await
}

pub async fn worker_events(
    Authed(s): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    live(s, Live::Workers).await
}

pub async fn alert_events(
    Authed(s): Authed,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    live(s, Live::Alerts).await
}

/// Calls the SQL function an action names, from a fixed list: the action is never SQL.
async fn act(
    s: &Conn,
    actions: &[(&str, &str)],
    action: &str,
    id: i64,
) -> Result<StatusCode, ApiError> {
    let Some((_, function)) = actions.iter().find(|(a, _)| *a == action) else {
        let allowed: Vec<&str> = actions.iter().map(|(a, _)| *a).collect();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{action}: not an action; allowed: {}", allowed.join(", ")),
        ));
    };
    s.client
        .execute(&format!("SELECT sched.{function}($1)"), &[&id])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn control(
    Authed(s): Authed,
    Path((id, action)): Path<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    const ACTIONS: &[(&str, &str)] = &[
        ("pause", "pause_workflow"),
        ("resume", "resume_workflow"),
        ("stop", "stop_workflow"),
        ("recover", "recover_workflow"),
        ("rerun", "rerun_workflow"),
    ];
    act(&s, ACTIONS, &action, id).await
}

pub async fn attempt_control(
    Authed(s): Authed,
    Path((id, action)): Path<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    act(
        &s,
        &[("kill", "kill_task"), ("force_success", "force_success")],
        &action,
        id,
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct LogQuery {
    skip: Option<i32>,
    limit: Option<i32>,
}

/// A page of a log, each line's stream (`out` or `err`) alongside, and whether the attempt may
/// still add to it (the viewer's follow).
pub async fn log(Authed(s): Authed, Path(id): Path<i64>, Query(q): Query<LogQuery>) -> Api {
    let skip = q.skip.unwrap_or(0).max(0);
    let rows = s
        .client
        .query(
            "SELECT line, stream FROM sched.task_log_lines($1, $2, $3)",
            &[&id, &skip, &q.limit.unwrap_or(1000).clamp(1, 10_000)],
        )
        .await?;
    let lines: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let streams: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    let finished: Option<bool> = s
        .client
        .query_opt(
            "SELECT finished FROM sched.task_instances WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|r| r.get(0));
    Ok(Json(
        json!({"skip": skip, "lines": lines, "streams": streams, "finished": finished.unwrap_or(true)}),
    ))
}

pub async fn log_download(Authed(s): Authed, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let text: String = s
        .client
        .query_one("SELECT sched.task_log_text($1)", &[&id])
        .await?
        .get(0);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"task-{id}.log\""))
            .expect("a valid header"),
    );
    Ok((headers, text).into_response())
}

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

pub async fn schedule(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let workflow = text(&body, "workflow")?;
    let cron = text(&body, "cron")?;
    let options = body.get("options").cloned().unwrap_or(json!({}));
    let id: i64 = s
        .client
        .query_one(
            "SELECT sched.schedule($1, $2, $3)",
            &[&workflow, &cron, &options],
        )
        .await?
        .get(0);
    Ok(Json(json!({"schedule_id": id})))
}

pub async fn schedule_control(
    Authed(s): Authed,
    Path((id, action)): Path<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    const ACTIONS: &[(&str, &str)] = &[
        ("enable", "enable_schedule"),
        ("disable", "disable_schedule"),
        ("delete", "unschedule"),
    ];
    act(&s, ACTIONS, &action, id).await
}

pub async fn backfill(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let workflow = text(&body, "workflow")?;
    let options = body.get("options").cloned().unwrap_or(json!({}));
    let id: i64 = match (
        body.get("from").and_then(Value::as_str),
        body.get("to").and_then(Value::as_str),
    ) {
        // The form's dates are whole days of the backfill's zone.
        (Some(from), Some(to)) => s
            .client
            .query_one(
                "SELECT sched.backfill($1, $2::text::date, $3::text::date, $4)",
                &[&workflow, &from, &to, &options],
            )
            .await?
            .get(0),
        _ => {
            let dates: Vec<String> = body
                .get("dates")
                .and_then(Value::as_array)
                .map(|d| {
                    d.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .filter(|d: &Vec<String>| !d.is_empty())
                .ok_or_else(|| {
                    ApiError::new(StatusCode::BAD_REQUEST, "from and to, or dates: required")
                })?;
            s.client
                .query_one(
                    "SELECT sched.backfill($1, $2::text[]::timestamptz[], $3)",
                    &[&workflow, &dates, &options],
                )
                .await?
                .get(0)
        }
    };
    Ok(Json(json!({"backfill_id": id})))
}

/// The dates a backfill over a range of days would run, in order, with their business dates
/// and zone; nothing starts.
pub async fn backfill_preview(Authed(s): Authed, Json(body): Json<Value>) -> Api {
    let workflow = text(&body, "workflow")?;
    let options = body.get("options").cloned().unwrap_or(json!({}));
    let from = text(&body, "from")?;
    let to = text(&body, "to")?;
    Ok(Json(json!({"dates": rows(
        &s.client,
        "SELECT position, schedule_time, business_date, time_zone \
         FROM sched.backfill_preview($1, $2::text::date, $3::text::date, $4) ORDER BY position",
        &[&workflow, &from, &to, &options],
    )
    .await?})))
}

async fn backfill_snapshot(c: &Client, id: i64) -> Result<Value, ApiError> {
    Ok(json!({
        "backfill": one(c, "SELECT * FROM sched.backfills WHERE id = $1", &[&id]).await?,
        "dates": rows(c, "SELECT * FROM sched.backfill_dates WHERE backfill_id = $1 ORDER BY position", &[&id]).await?,
    }))
}

pub async fn backfill_progress(Authed(s): Authed, Path(id): Path<i64>) -> Api {
    Ok(Json(backfill_snapshot(&s.client, id).await?))
}

async fn workers_now(c: &Client) -> Result<Value, ApiError> {
    rows(
        c,
        "SELECT * FROM sched.workers WHERE alive ORDER BY name",
        &[],
    )
    .await
}

async fn alerts_now(c: &Client) -> Result<Value, ApiError> {
    rows(
        c,
        "SELECT * FROM sched.alerts ORDER BY id DESC, channel_no LIMIT 200",
        &[],
    )
    .await
}

pub async fn workers(Authed(s): Authed) -> Api {
    Ok(Json(workers_now(&s.client).await?))
}

pub async fn alerts(Authed(s): Authed) -> Api {
    Ok(Json(alerts_now(&s.client).await?))
}
