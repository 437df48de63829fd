//! Workflows (`/api/workflows`): the list, one workflow with its versions, schedules and
//! last runs, a diff of two versions, saving a new version, starting a run, a test run.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sched_core::export;
use serde_json::{Value, json};

use super::{Api, rows, text};
use crate::app::Authed;
use crate::error::ApiError;

/// Every workflow you may see, with its last run and its schedules (the expression in words
/// in the language asked for, and the next fire).
pub async fn workflows(Authed(s): Authed, Query(q): Query<LangQuery>) -> Api {
    Ok(Json(
        rows(
            &s.client,
            "SELECT w.*, \
                    (SELECT to_jsonb(r) FROM (SELECT id, state, started_at, ended_at \
                      FROM sched.list_workflow_instances(jsonb_build_object('workflow', w.name), NULL, 1)) r) AS last_run, \
                    (SELECT coalesce(jsonb_agg(jsonb_build_object('id', sc.id, 'cron', sc.cron, 'enabled', sc.enabled, \
                             'words', sched.cron_describe(sc.cron, $1), 'next_fire_at', sc.next_fire_at) ORDER BY sc.id), '[]') \
                      FROM sched.schedules sc WHERE sc.workflow = w.name) AS schedules \
             FROM sched.workflows w ORDER BY w.name",
            &[&q.lang.as_deref().unwrap_or("en")],
        )
        .await?,
    ))
}

#[derive(serde::Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The workflow as code (`sched_core::export`), the text `sched export` writes and `sched
/// apply` reads: its spec with defaults left out, and its schedules.
pub async fn export(Authed(s): Authed, Path(name): Path<String>) -> Result<Response, ApiError> {
    let c = &s.client;
    let spec: Value = c
        .query_one("SELECT sched.workflow_spec($1)", &[&name])
        .await?
        .get(0);
    // The short form is checked against the spec language: should a default have changed,
    // the whole spec is written instead.
    let short = export::without_defaults(&spec);
    let same = c
        .query_one("SELECT sched.check_workflow($1) = $2", &[&short, &spec])
        .await
        .is_ok_and(|row| row.get::<_, bool>(0));
    let schedules = c
        .query(export::SCHEDULES_SQL, &[&name])
        .await?
        .iter()
        .map(|r| {
            let options: Value = r.get(1);
            export::canonical_schedule(options.as_object().cloned().unwrap_or_default())
        })
        .collect();
    let yaml = export::document(if same { &short } else { &spec }, schedules);
    let disposition = format!(
        "attachment; filename=\"{}.yaml\"",
        name.replace(['"', '\\', '/'], "_")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/yaml; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        yaml,
    )
        .into_response())
}

/// A copy under a new name (`{"name": ...}`): the current version's spec, defined anew.
pub async fn copy(Authed(s): Authed, Path(name): Path<String>, Json(body): Json<Value>) -> Api {
    let new_name = text(&body, "name")?;
    let version_id: i64 = s
        .client
        .query_one(
            "SELECT sched.create_workflow(jsonb_set(sched.workflow_spec($1), '{name}', to_jsonb($2::text)))",
            &[&name, &new_name],
        )
        .await?
        .get(0);
    Ok(Json(json!({"version_id": version_id})))
}

pub async fn drop_workflow(
    Authed(s): Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.client
        .execute("SELECT sched.drop_workflow($1)", &[&name])
        .await?;
    Ok(StatusCode::NO_CONTENT)
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

/// The pretty JSON of two versions' specs, or not found naming the version missing.
async fn two_versions(
    client: &tokio_postgres::Client,
    name: &str,
    q: &DiffQuery,
) -> Result<(String, String), ApiError> {
    let specs = client
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
    Ok((find(q.from)?, find(q.to)?))
}

/// Two versions' specs as a unified diff of their pretty JSON.
pub async fn diff(
    Authed(s): Authed,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Response, ApiError> {
    let (old, new) = two_versions(&s.client, &name, &q).await?;
    let text = similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .header(&format!("{name} v{}", q.from), &format!("{name} v{}", q.to))
        .to_string();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Two versions' specs side by side: rows of {old, new} lines with their numbers and how the
/// row changed (same, changed, removed, added); removed and added lines between two unchanged
/// ones are paired up, as a side-by-side view shows them.
pub async fn compare(
    Authed(s): Authed,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Api {
    let (old, new) = two_versions(&s.client, &name, &q).await?;
    Ok(Json(
        json!({"from": q.from, "to": q.to, "rows": side_by_side(&old, &new)}),
    ))
}

/// Lines of one side of a diff with their index, waiting to be paired with the other side's.
type Pending<'a> = Vec<(usize, &'a str)>;

fn side_by_side(old: &str, new: &str) -> Vec<Value> {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut rows = Vec::new();
    let (mut removed, mut added): (Pending, Pending) = (vec![], vec![]);
    let flush = |rows: &mut Vec<Value>, removed: &mut Pending, added: &mut Pending| {
        for i in 0..removed.len().max(added.len()) {
            let (o, n) = (removed.get(i), added.get(i));
            let change = match (o, n) {
                (Some(_), Some(_)) => "changed",
                (Some(_), None) => "removed",
                _ => "added",
            };
            rows.push(json!({
                "old_no": o.map(|x| x.0 + 1), "old": o.map(|x| x.1.trim_end_matches('\n')),
                "new_no": n.map(|x| x.0 + 1), "new": n.map(|x| x.1.trim_end_matches('\n')),
                "change": change,
            }));
        }
        removed.clear();
        added.clear();
    };
    for change in diff.iter_all_changes() {
        let line = change.value();
        match change.tag() {
            similar::ChangeTag::Delete => removed.push((change.old_index().unwrap_or(0), line)),
            similar::ChangeTag::Insert => added.push((change.new_index().unwrap_or(0), line)),
            similar::ChangeTag::Equal => {
                flush(&mut rows, &mut removed, &mut added);
                rows.push(json!({
                    "old_no": change.old_index().map(|i| i + 1), "old": line.trim_end_matches('\n'),
                    "new_no": change.new_index().map(|i| i + 1), "new": line.trim_end_matches('\n'),
                    "change": "same",
                }));
            }
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    rows
}

/// Makes an earlier version current again, as DolphinScheduler's version switch does: its
/// spec is saved as a new version (the history keeps what was current), whose number it
/// returns.
pub async fn make_current(Authed(s): Authed, Path((name, version)): Path<(String, i32)>) -> Api {
    let c = &s.client;
    let saved = c
        .query_opt(
            "SELECT sched.create_workflow(spec, true) FROM sched.workflow_versions($1) WHERE version = $2",
            &[&name, &version],
        )
        .await?;
    if saved.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{name} has no version {version}"),
        ));
    }
    let newest: i32 = c
        .query_one(
            "SELECT max(version) FROM sched.workflow_versions($1)",
            &[&name],
        )
        .await?
        .get(0);
    Ok(Json(json!({"version": newest})))
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

/// A test run (`sched.test_run`): of the saved version, or of `spec` (the editor's, unsaved),
/// with `params` and `mock`; one object per task.
pub async fn test_run(Authed(s): Authed, Path(name): Path<String>, Json(body): Json<Value>) -> Api {
    let params = body.get("params").cloned().unwrap_or(json!({}));
    let mut options = json!({});
    for key in ["mock", "spec"] {
        if let Some(value) = body.get(key) {
            options[key] = value.clone();
        }
    }
    Ok(Json(
        rows(
            &s.client,
            "SELECT task, task_type, state, reason, columns, rows, row_count, out, notices, log, \
                    extract(epoch FROM duration) * 1000 AS duration_ms \
             FROM sched.test_run($1, $2, $3)",
            &[&name, &params, &options],
        )
        .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::side_by_side;

    #[test]
    fn side_by_side_pairs_the_lines_changed_between_unchanged_ones() {
        let rows = side_by_side("a\nb\nc\nd\n", "a\nB\nc\nd\ne\n");
        let changes: Vec<&str> = rows.iter().map(|r| r["change"].as_str().unwrap()).collect();
        assert_eq!(changes, ["same", "changed", "same", "same", "added"]);
        assert_eq!(rows[1]["old"], "b");
        assert_eq!(rows[1]["new"], "B");
        assert_eq!(rows[4]["old_no"], serde_json::Value::Null);
        assert_eq!(rows[4]["new_no"], 5);
    }
}
