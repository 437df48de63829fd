//! Conversion of a DolphinScheduler 3.x workflow export (the JSON array its "export" button
//! downloads: one `DagDataSchedule` per workflow) into pg_sched workflow specs and schedules.
//!
//! Both shapes are read: 3.2 writes `processDefinition` / `processTaskRelationList` and
//! `SUB_PROCESS` tasks with `processDefinitionCode`; 3.3 renamed them `workflowDefinition` /
//! `workflowTaskRelationList`, `SUB_WORKFLOW` with `workflowDefinitionCode`, and the
//! schedule's `processInstancePriority` to `workflowInstancePriority`.
//!
//! The result is only converted, not validated: the extension validates each spec exactly as
//! `create_workflow` would. What has no equivalent is reported, never dropped silently; a
//! task that cannot be converted at all (unknown type, an unmapped datasource, a reference to
//! a workflow not in the file, …) keeps its whole workflow from being created unless
//! `force` turns it into an `empty` task.
//!
//! Modules, each using only those listed before it:
//! - `read`: readers of the export's loosely typed fields, and shared vocabulary;
//! - `options`: the caller's id mappings and `force`;
//! - `head`: first pass over each workflow (shape, code, our names for it and its tasks);
//! - `params`: global and local parameters as our `params` and `out`;
//! - `refs`: workflow, task and datasource ids resolved against the file and the options;
//! - `database`, `hadoop`, `logic`: the SQL/PROCEDURE, SPARK/MR and
//!   DEPENDENT/CONDITIONS/SWITCH task converters;
//! - `task`: one task, dispatching on its type, with its parameters and policies;
//! - `schedule`: the schedule as `sched.schedule` arguments;
//! - `workflow`: second pass over each workflow, into its spec, schedule and unmapped list;
//! - this module: the entry point, skipping what cannot be created, and creation order.

mod database;
mod hadoop;
mod head;
mod logic;
mod options;
mod params;
mod read;
mod refs;
mod schedule;
mod task;
mod workflow;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use crate::error::{SpecError, quote};
use head::{Head, read_head};
use options::Options;
use read::err;
use workflow::{Converted, Unmapped, convert_workflow};

/// Converts a DolphinScheduler export into `{"workflows": [spec…], "schedules": [{"workflow",
/// "cron", "options"}], "unmapped": [{"workflow", "task", "what", "blocking"}], "skipped":
/// [{"workflow", "reason"}]}`. Workflows come in an order where those a SUB_PROCESS or
/// DEPENDENT task names come first. Errors name the field of the export at fault.
pub fn convert(export: &Value, options: &Value) -> Result<Value, SpecError> {
    let options = Options::parse(options)?;
    let items = export.as_array().ok_or_else(|| {
        err(
            "export",
            "must be a JSON array of workflows, as DolphinScheduler's export writes it",
        )
    })?;
    let mut heads = Vec::with_capacity(items.len());
    let mut used_names = HashSet::new();
    let mut renames = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (head, rename) = read_head(i, item, &mut used_names)?;
        renames.push(rename);
        heads.push(head);
    }
    let workflow_index: HashMap<i64, usize> =
        heads.iter().enumerate().map(|(i, h)| (h.code, i)).collect();

    let mut converted = Vec::with_capacity(heads.len());
    for (i, head) in heads.iter().enumerate() {
        let mut c = convert_workflow(head, &heads, &workflow_index, &options)?;
        if let Some(what) = renames[i].take() {
            c.unmapped.insert(
                0,
                Unmapped {
                    task: None,
                    what,
                    blocking: false,
                },
            );
        }
        converted.push(c);
    }

    // A workflow with a task that could not be converted is not created, nor is any that
    // would start or wait on it.
    let mut skipped: BTreeMap<usize, String> = BTreeMap::new();
    for (i, c) in converted.iter().enumerate() {
        if !options.force
            && let Some(u) = c.unmapped.iter().find(|u| u.blocking)
        {
            skipped.insert(
                i,
                format!(
                    "task {} cannot be converted: {}",
                    quote(u.task.as_deref().unwrap_or("")),
                    u.what
                ),
            );
        }
    }
    loop {
        let more: Vec<(usize, String)> = converted
            .iter()
            .enumerate()
            .filter(|(i, _)| !skipped.contains_key(i))
            .filter_map(|(i, c)| {
                c.refs.iter().find(|r| skipped.contains_key(r)).map(|r| {
                    (
                        i,
                        format!(
                            "it uses workflow {}, which is skipped",
                            quote(&heads[*r].name)
                        ),
                    )
                })
            })
            .collect();
        if more.is_empty() {
            break;
        }
        skipped.extend(more);
    }

    let order = creation_order(&heads, &converted, &skipped)?;
    let mut workflows = Vec::new();
    let mut schedules = Vec::new();
    for &i in &order {
        workflows.push(converted[i].spec.clone());
        if let Some(schedule) = &converted[i].schedule {
            schedules.push(schedule.clone());
        }
    }
    let unmapped: Vec<Value> = converted
        .iter()
        .zip(&heads)
        .flat_map(|(c, h)| {
            c.unmapped.iter().map(move |u| {
                json!({"workflow": h.name, "task": u.task, "what": u.what, "blocking": u.blocking})
            })
        })
        .collect();
    let skipped: Vec<Value> = skipped
        .into_iter()
        .map(|(i, reason)| json!({"workflow": heads[i].name, "reason": reason}))
        .collect();
    Ok(json!({
        "workflows": workflows,
        "schedules": schedules,
        "unmapped": unmapped,
        "skipped": skipped,
    }))
}

/// Depth-first, so that what a workflow refers to is created before it; a workflow that
/// refers to itself (a DEPENDENT on its own previous runs) needs nothing first.
fn creation_order(
    heads: &[Head<'_>],
    converted: &[Converted],
    skipped: &BTreeMap<usize, String>,
) -> Result<Vec<usize>, SpecError> {
    fn visit(
        i: usize,
        heads: &[Head<'_>],
        converted: &[Converted],
        state: &mut [u8],
        stack: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), SpecError> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                let cycle: Vec<&str> = stack[start..]
                    .iter()
                    .chain(std::iter::once(&i))
                    .map(|&s| heads[s].name.as_str())
                    .collect();
                return Err(err(
                    &heads[i].path,
                    format!(
                        "workflows refer to each other through SUB_PROCESS or DEPENDENT tasks in a cycle: {}; import them one at a time",
                        cycle.join(" -> ")
                    ),
                ));
            }
            _ => {}
        }
        state[i] = 1;
        stack.push(i);
        let mut refs: Vec<usize> = converted[i]
            .refs
            .iter()
            .copied()
            .filter(|&r| r != i)
            .collect();
        refs.sort_unstable();
        for r in refs {
            visit(r, heads, converted, state, stack, order)?;
        }
        stack.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    let mut state = vec![0u8; heads.len()];
    let mut order = Vec::new();
    for i in 0..heads.len() {
        if !skipped.contains_key(&i) {
            visit(i, heads, converted, &mut state, &mut Vec::new(), &mut order)?;
        }
    }
    Ok(order)
}
