//! `sched import-ds`: a DolphinScheduler workflow export, created by
//! sched.import_dolphinscheduler in one call (so all or nothing), and the report printed.

use std::path::Path;

use serde_json::{Map, Value};
use tokio_postgres::Client;

use crate::error::{Result, usage};
use crate::output::{cell, escape_controls, print_table};

pub struct Options<'a> {
    pub dry_run: bool,
    pub replace: bool,
    pub force: bool,
    /// `ID=NAME` (or `ID=` for the scheduler's own database).
    pub datasources: &'a [String],
    pub task_groups: &'a [String],
    pub workflows: &'a [String],
}

/// `ID=NAME` pairs as the options object wants them; an empty name is null when `null_ok`.
fn ids(items: &[String], flag: &str, null_ok: bool) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for item in items {
        let (id, name) = item
            .split_once('=')
            .filter(|(id, _)| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '-'))
            .ok_or_else(|| usage(format!("{flag} {item}: must be ID=NAME")))?;
        let name = match name {
            "" if null_ok => Value::Null,
            "" => return Err(usage(format!("{flag} {item}: must be ID=NAME"))),
            n => n.into(),
        };
        map.insert(id.to_owned(), name);
    }
    Ok(map)
}

pub async fn import_ds(client: &Client, file: &Path, opts: Options<'_>, json: bool) -> Result<u8> {
    let text =
        std::fs::read_to_string(file).map_err(|e| usage(format!("{}: {e}", file.display())))?;
    let export: Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("{}: not valid JSON: {e}", file.display())))?;
    let mut options = Map::new();
    options.insert("dry_run".into(), opts.dry_run.into());
    options.insert("replace".into(), opts.replace.into());
    options.insert("force".into(), opts.force.into());
    options.insert(
        "datasources".into(),
        ids(opts.datasources, "--datasource", true)?.into(),
    );
    options.insert(
        "task_groups".into(),
        ids(opts.task_groups, "--task-group", false)?.into(),
    );
    options.insert(
        "workflows".into(),
        ids(opts.workflows, "--workflow", false)?.into(),
    );
    let report: Value = client
        .query_one(
            "SELECT sched.import_dolphinscheduler($1, $2)",
            &[&export, &Value::Object(options)],
        )
        .await?
        .get(0);
    if json {
        println!("{report}");
        return Ok(0);
    }
    let list = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    let verb = if opts.dry_run {
        "would create"
    } else {
        "created"
    };
    let rows: Vec<Vec<String>> = list("created")
        .iter()
        .map(|c| {
            let tasks = c["spec"]["tasks"].as_array().map_or(0, Vec::len);
            vec![
                cell(&c["workflow"]),
                tasks.to_string(),
                cell(&c["version_id"]),
            ]
        })
        .collect();
    println!("{verb} {} workflow(s)", rows.len());
    if !rows.is_empty() {
        print_table(&["workflow", "tasks", "version id"], &rows);
    }
    let schedules: Vec<Vec<String>> = list("schedules")
        .iter()
        .map(|s| {
            vec![
                cell(&s["workflow"]),
                cell(&s["cron"]),
                cell(&s["options"]["timezone"]),
                if s["options"]["enabled"] == true {
                    "yes"
                } else {
                    "no"
                }
                .into(),
                cell(&s["id"]),
            ]
        })
        .collect();
    if !schedules.is_empty() {
        println!("\n{verb} {} schedule(s)", schedules.len());
        print_table(
            &["workflow", "cron", "timezone", "enabled", "id"],
            &schedules,
        );
    }
    let skipped: Vec<Vec<String>> = list("skipped")
        .iter()
        .map(|s| vec![cell(&s["workflow"]), cell(&s["reason"])])
        .collect();
    if !skipped.is_empty() {
        println!(
            "\nskipped {} workflow(s) (--force creates them, unconvertible tasks as empty)",
            skipped.len()
        );
        print_table(&["workflow", "reason"], &skipped);
    }
    let unmapped: Vec<Vec<String>> = list("unmapped")
        .iter()
        .map(|u| {
            vec![
                cell(&u["workflow"]),
                cell(&u["task"]),
                if u["blocking"] == true {
                    "not converted"
                } else {
                    "listed"
                }
                .into(),
                escape_controls(&cell(&u["what"]), false).into_owned(),
            ]
        })
        .collect();
    if !unmapped.is_empty() {
        println!("\nnot imported: {}", unmapped.len());
        print_table(&["workflow", "task", "effect", "what"], &unmapped);
    }
    Ok(0)
}
