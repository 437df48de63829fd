//! Workflows as code: `apply` defines workflows and their schedules from files, one
//! workflow per file (YAML or JSON: the spec, plus an optional `schedules:` list of
//! `{cron, ...sched.schedule options}`), in one transaction, adding a version only when the
//! normalised spec changed and showing a diff of what changes; `export` writes a workflow
//! back in that form, so that export then apply changes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use similar::TextDiff;
use tokio_postgres::{Client, GenericClient};

use crate::error::{Result, usage};

/// Schedule options whose defaults are left out of the canonical form.
const SCHEDULE_DEFAULTS: &[(&str, &str)] = &[("timezone", "UTC"), ("misfire", "all")];

struct Declared {
    file: PathBuf,
    spec: Value,
    schedules: Vec<Map<String, Value>>,
}

fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                })
                .collect();
            inside.sort();
            out.extend(inside);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn read(file: &Path) -> Result<Declared> {
    let text =
        std::fs::read_to_string(file).map_err(|e| usage(format!("{}: {e}", file.display())))?;
    let value: Value = if file.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str(&text)
            .map_err(|e| usage(format!("{}: not valid JSON: {e}", file.display())))?
    } else {
        serde_yaml_ng::from_str(&text)
            .map_err(|e| usage(format!("{}: not valid YAML: {e}", file.display())))?
    };
    let Value::Object(mut spec) = value else {
        return Err(usage(format!(
            "{}: must be one workflow spec (an object with name and tasks)",
            file.display()
        )));
    };
    let schedules = match spec.remove("schedules") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::Object(m) if m.get("cron").is_some_and(Value::is_string) => Ok(m),
                _ => Err(usage(format!(
                    "{}: schedules[{i}]: must be an object with cron and sched.schedule options",
                    file.display()
                ))),
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(usage(format!(
                "{}: schedules: must be a list of {{cron, ...options}}",
                file.display()
            )));
        }
    };
    Ok(Declared {
        file: file.to_owned(),
        spec: Value::Object(spec),
        schedules,
    })
}

/// A schedule as options, defaults left out, so that two spellings of one schedule compare
/// equal.
fn canonical(mut s: Map<String, Value>) -> Map<String, Value> {
    for (key, default) in SCHEDULE_DEFAULTS {
        if s.get(*key)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
            == Some(&default.to_ascii_lowercase())
        {
            s.remove(*key);
        }
    }
    if s.get("enabled") == Some(&Value::Bool(true)) {
        s.remove("enabled");
    }
    if s.get("params")
        .is_some_and(|p| p.as_object().is_some_and(Map::is_empty))
    {
        s.remove("params");
    }
    s.retain(|_, v| !v.is_null());
    s
}

async fn existing_schedules(
    client: &impl GenericClient,
    workflow: &str,
) -> Result<Vec<(i64, Map<String, Value>)>> {
    let rows = client
        .query(
            "SELECT id, jsonb_build_object('cron', cron, 'timezone', timezone, 'enabled', enabled, 'misfire', misfire, \
                    'start', start_at, 'end', end_at, 'params', params) || run_options \
             FROM sched.schedules WHERE workflow = $1 ORDER BY id",
            &[&workflow],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let v: Value = r.get(1);
            (
                r.get(0),
                canonical(v.as_object().cloned().unwrap_or_default()),
            )
        })
        .collect())
}

/// Declared start and end as the database writes them back.
async fn declared_schedule(
    client: &impl GenericClient,
    s: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    let mut s = s.clone();
    for key in ["start", "end"] {
        if let Some(Value::String(t)) = s.get(key).cloned() {
            let v: Value = client
                .query_one("SELECT to_jsonb($1::text::timestamptz)", &[&t])
                .await?
                .get(0);
            s.insert(key.into(), v);
        }
    }
    Ok(canonical(s))
}

fn yaml(value: &Value) -> String {
    serde_yaml_ng::to_string(value).unwrap_or_default()
}

fn schedule_line(s: &Map<String, Value>) -> String {
    let mut rest = s.clone();
    let cron = rest
        .remove("cron")
        .map(|c| crate::output::cell(&c))
        .unwrap_or_default();
    if rest.is_empty() {
        format!("schedule {cron}")
    } else {
        format!("schedule {cron} {}", Value::Object(rest))
    }
}

pub async fn apply(
    client: &mut Client,
    paths: &[PathBuf],
    dry_run: bool,
    prune: bool,
    json: bool,
) -> Result<u8> {
    let declared = files(paths)?
        .iter()
        .map(|f| read(f))
        .collect::<Result<Vec<_>>>()?;
    let mut seen = BTreeSet::new();
    let tx = client.transaction().await?;
    let mut changes: Vec<Value> = Vec::new();
    for d in &declared {
        let normal: Value = tx
            .query_one("SELECT sched.check_workflow($1)", &[&d.spec])
            .await
            .map_err(|e| {
                usage(format!(
                    "{}: {}",
                    d.file.display(),
                    crate::error::CliError::from(e)
                ))
            })?
            .get(0);
        let name = normal["name"].as_str().unwrap_or_default().to_owned();
        if !seen.insert(name.clone()) {
            return Err(usage(format!(
                "{}: workflow {name} is defined by another file too",
                d.file.display()
            )));
        }
        // Looked up first: an error would end the transaction.
        let current: Option<Value> = tx
            .query_opt(
                "SELECT sched.workflow_spec(name) FROM sched.workflows WHERE name = $1",
                &[&name],
            )
            .await?
            .map(|row| row.get(0));
        let old_text = current.as_ref().map(yaml).unwrap_or_default();
        let new_text = yaml(&normal);
        if current.as_ref() != Some(&normal) {
            let what = if current.is_some() {
                "changed"
            } else {
                "created"
            };
            let diff = TextDiff::from_lines(&old_text, &new_text)
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("{name} (defined)"),
                    &format!("{name} ({})", d.file.display()),
                )
                .to_string();
            tx.execute("SELECT sched.create_workflow($1, true)", &[&d.spec])
                .await?;
            changes.push(json!({"workflow": name, "change": what, "diff": diff}));
        }
        let mut wanted = Vec::new();
        for s in &d.schedules {
            wanted.push(declared_schedule(&tx, s).await?);
        }
        let have = existing_schedules(&tx, &name).await?;
        for (id, s) in &have {
            if !wanted.contains(s) {
                tx.execute("SELECT sched.unschedule($1)", &[id]).await?;
                changes.push(json!({"workflow": name, "change": "unscheduled", "diff": format!("- {}", schedule_line(s))}));
            }
        }
        for s in &wanted {
            if !have.iter().any(|(_, h)| h == s) {
                let mut options = s.clone();
                let cron = options.remove("cron").unwrap_or_default();
                tx.execute(
                    "SELECT sched.schedule($1, $2, $3)",
                    &[&name, &crate::output::cell(&cron), &Value::Object(options)],
                )
                .await?;
                changes.push(json!({"workflow": name, "change": "scheduled", "diff": format!("+ {}", schedule_line(s))}));
            }
        }
    }
    if prune {
        let mine = tx
            .query(
                "SELECT name FROM sched.workflows WHERE owner = current_user::text::regrole ORDER BY name",
                &[],
            )
            .await?;
        for row in mine {
            let name: String = row.get(0);
            if !seen.contains(&name) {
                tx.execute("SELECT sched.drop_workflow($1)", &[&name])
                    .await?;
                changes.push(json!({"workflow": name, "change": "dropped", "diff": format!("- workflow {name}")}));
            }
        }
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    if json {
        println!("{}", json!({"dry_run": dry_run, "changes": changes}));
        return Ok(0);
    }
    if changes.is_empty() {
        println!("no changes");
    }
    for c in &changes {
        println!(
            "{}: {}",
            c["workflow"].as_str().unwrap_or_default(),
            c["change"].as_str().unwrap_or_default()
        );
        print!("{}", c["diff"].as_str().unwrap_or_default());
        if !c["diff"].as_str().unwrap_or_default().ends_with('\n') {
            println!();
        }
    }
    if dry_run && !changes.is_empty() {
        println!("(dry run: nothing was changed)");
    }
    Ok(0)
}

pub async fn export(client: &Client, name: &str) -> Result<u8> {
    let spec: Value = client
        .query_one("SELECT sched.workflow_spec($1)", &[&name])
        .await?
        .get(0);
    let mut out = spec.as_object().cloned().unwrap_or_default();
    let schedules: Vec<Value> = existing_schedules(client, name)
        .await?
        .into_iter()
        .map(|(_, s)| Value::Object(s))
        .collect();
    if !schedules.is_empty() {
        out.insert("schedules".into(), Value::Array(schedules));
    }
    print!("{}", yaml(&Value::Object(out)));
    Ok(0)
}
