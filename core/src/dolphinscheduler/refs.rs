//! What a task refers to by DolphinScheduler id: workflow codes, task codes and datasource
//! ids, resolved against the workflows of the file and the caller's options.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::head::Head;
use super::options::Options;
use super::read::{err, number, text};
use crate::error::SpecError;

pub(super) struct Ctx<'a, 'b> {
    pub(super) head: &'a Head<'b>,
    pub(super) heads: &'a [Head<'b>],
    pub(super) workflow_index: &'a HashMap<i64, usize>,
    pub(super) options: &'a Options,
}

impl Ctx<'_, '_> {
    /// Our name of the workflow with a DolphinScheduler code: one of the file, or one the
    /// options map to an existing workflow.
    pub(super) fn workflow(&self, code: i64, refs: &mut HashSet<usize>) -> Option<String> {
        if let Some(&i) = self.workflow_index.get(&code) {
            refs.insert(i);
            return Some(self.heads[i].name.clone());
        }
        self.options
            .workflows
            .get(&code.to_string())
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    pub(super) fn task(&self, code: i64) -> Option<&String> {
        self.head.task_names.get(&code)
    }
}

pub(super) fn not_in_file(code: i64) -> String {
    format!(
        "workflow code {code} is not in the file; export it too, or map it to an existing workflow with options.workflows"
    )
}

pub(super) fn datasource(
    tp: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    notes: &mut Vec<(String, bool)>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    let kind = text(tp, "type", path)?.unwrap_or("");
    let id = number(tp, "datasource", path)?
        .ok_or_else(|| err(&format!("{path}.datasource"), "required: the datasource id"))?;
    match ctx.options.datasources.get(&id.to_string()) {
        Some(Value::String(name)) => {
            out.insert("datasource".into(), name.clone().into());
        }
        // Mapped to null: the scheduler's own database, as the workflow's owner.
        Some(_) => {}
        None => notes.push((
            format!(
                "{kind} datasource id {id} is not mapped (options.datasources: {{\"{id}\": \"name\"}}, or null for the scheduler's database)"
            ),
            true,
        )),
    }
    Ok(())
}
