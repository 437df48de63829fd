//! Workflows as code: `apply` defines workflows and their schedules from files, one
//! workflow per file (YAML or JSON: the spec, plus an optional `schedules:` list of
//! `{cron, ...sched.schedule options}`), in one transaction, adding a version only when the
//! normalised spec changed and showing a diff of what changes; `export` writes a workflow
//! back in that form, its defaults left out and its keys in a fixed order, so that export
//! then apply changes nothing and exporting twice gives the same text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sched_core::export;
use serde_json::{Map, Value, json};
use similar::TextDiff;
use tokio_postgres::{Client, GenericClient};

use crate::error::{Result, usage};

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

/// The workflow spec of a file as `apply` reads it, its schedules left out.
pub fn spec_of(file: &Path) -> Result<Value> {
    read(file).map(|declared| declared.spec)
}

async fn existing_schedules(
    client: &impl GenericClient,
    workflow: &str,
) -> Result<Vec<(i64, Map<String, Value>)>> {
    let rows = client.query(export::SCHEDULES_SQL, &[&workflow]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let v: Value = r.get(1);
            (
                r.get(0),
                export::canonical_schedule(v.as_object().cloned().unwrap_or_default()),
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
    Ok(export::canonical_schedule(s))
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
                "SELECT name, sched.workflow_spec(name) FROM sched.workflows \
                 WHERE owner = current_user::text::regrole ORDER BY name",
                &[],
            )
            .await?;
        let unwanted: BTreeMap<String, BTreeSet<String>> = mine
            .iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, Value>(1)))
            .filter(|(name, _)| !seen.contains(name))
            .map(|(name, spec)| (name, used_workflows(&spec)))
            .collect();
        for name in drop_order(&unwanted) {
            tx.execute("SELECT sched.drop_workflow($1)", &[&name])
                .await?;
            changes.push(json!({"workflow": name, "change": "dropped", "diff": format!("- workflow {name}")}));
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

/// The workflows a spec's tasks name (SUB_PROCESS `workflow`, DEPENDENT
/// `groups[].items[].workflow`): those `drop_workflow` refuses to drop while it exists.
fn used_workflows(spec: &Value) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for task in spec["tasks"].as_array().into_iter().flatten() {
        match task["type"].as_str() {
            Some("sub_process") => used.extend(task["workflow"].as_str().map(str::to_owned)),
            Some("dependent") => {
                for group in task["groups"].as_array().into_iter().flatten() {
                    for item in group["items"].as_array().into_iter().flatten() {
                        used.extend(item["workflow"].as_str().map(str::to_owned));
                    }
                }
            }
            _ => {}
        }
    }
    used
}

/// The order to drop `workflows` (each with the workflows it uses) in: a workflow before
/// the ones it uses, else by name. Workflows in a cycle of uses come last, by name, for
/// drop_workflow to refuse with its reason.
fn drop_order(workflows: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut users: BTreeMap<&str, usize> = workflows.keys().map(|n| (n.as_str(), 0)).collect();
    for (name, uses) in workflows {
        for used in uses.iter().filter(|u| *u != name) {
            if let Some(count) = users.get_mut(used.as_str()) {
                *count += 1;
            }
        }
    }
    let mut order = Vec::with_capacity(workflows.len());
    while let Some(next) = users
        .iter()
        .find(|(_, count)| **count == 0)
        .map(|(name, _)| *name)
    {
        users.remove(next);
        for used in &workflows[next] {
            if let Some(count) = users.get_mut(used.as_str()) {
                *count -= 1;
            }
        }
        order.push(next.to_owned());
    }
    order.extend(users.into_keys().map(str::to_owned));
    order
}

pub async fn export(client: &Client, name: &str) -> Result<u8> {
    let spec: Value = client
        .query_one("SELECT sched.workflow_spec($1)", &[&name])
        .await?
        .get(0);
    // The list of defaults is checked against the spec language, not trusted: should one
    // of them no longer be a default, the spec is written out in full instead.
    let short = export::without_defaults(&spec);
    let same = client
        .query_one("SELECT sched.check_workflow($1) = $2", &[&short, &spec])
        .await
        .is_ok_and(|row| row.get::<_, bool>(0));
    let schedules = existing_schedules(client, name)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    print!(
        "{}",
        export::document(if same { &short } else { &spec }, schedules)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(spec: Value) -> BTreeSet<String> {
        used_workflows(&spec)
    }

    #[test]
    fn sub_processes_and_dependent_items_are_uses() {
        let spec = json!({"name": "a", "tasks": [
            {"name": "child", "type": "sub_process", "workflow": "b"},
            {"name": "dep", "type": "dependent", "groups": [
                {"items": [{"workflow": "c", "cycle": "day", "date_value": "today"}]},
                {"items": [{"workflow": "d", "cycle": "day", "date_value": "today"}]}]},
            {"name": "other", "type": "shell", "script": "true", "workflow": "x"}]});
        assert_eq!(
            uses(spec),
            ["b", "c", "d"].map(str::to_owned).into_iter().collect()
        );
    }

    #[test]
    fn a_workflow_is_dropped_before_the_ones_it_uses() {
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        let workflows: BTreeMap<String, BTreeSet<String>> = [
            ("a_child".to_owned(), set(&[])),
            ("b_parent".to_owned(), set(&["a_child", "kept"])),
            ("c_grandparent".to_owned(), set(&["b_parent"])),
            ("d_alone".to_owned(), set(&["d_alone"])),
        ]
        .into();
        assert_eq!(
            drop_order(&workflows),
            ["c_grandparent", "b_parent", "a_child", "d_alone"]
        );
        let cycle: BTreeMap<String, BTreeSet<String>> = [
            ("x".to_owned(), set(&["y"])),
            ("y".to_owned(), set(&["x"])),
            ("z".to_owned(), set(&[])),
        ]
        .into();
        assert_eq!(drop_order(&cycle), ["z", "x", "y"]);
    }
}
