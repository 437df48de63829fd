//! The first pass over one exported workflow: its shape (3.2 or 3.3), its code and our name
//! for it and its tasks, which is what the other workflows' references need.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::read::{err, number, object, required_text};
use crate::error::{SpecError, quote};

/// One exported workflow as read in the first pass: what other workflows need to refer to it.
pub(super) struct Head<'a> {
    pub(super) path: String,
    pub(super) code: i64,
    pub(super) name: String,
    pub(super) def: &'a Map<String, Value>,
    pub(super) tasks: Vec<&'a Map<String, Value>>,
    /// Task code → our task name.
    pub(super) task_names: HashMap<i64, String>,
    pub(super) relations: &'a [Value],
    pub(super) relations_key: &'static str,
    pub(super) schedule: Option<&'a Map<String, Value>>,
}

/// A name our rules accept, made from a DolphinScheduler name (which may hold spaces or
/// any script): other characters become '_', and a clash gets a numeric suffix.
fn our_name(ds: &str, fallback: &str, used: &mut HashSet<String>) -> String {
    let mut name: String = ds
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = name.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    name = if trimmed.chars().any(|c| c.is_ascii_alphanumeric()) {
        trimmed.to_owned()
    } else {
        fallback.to_owned()
    };
    name.truncate(63);
    let mut candidate = name.clone();
    let mut n = 2;
    while used.contains(&candidate) {
        let suffix = format!("_{n}");
        let mut base = name.clone();
        base.truncate(63 - suffix.len());
        candidate = format!("{base}{suffix}");
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

pub(super) fn rename_note(ds: &str, ours: &str) -> Option<String> {
    (ds != ours).then(|| format!("name {} is imported as {}", quote(ds), quote(ours)))
}

pub(super) fn read_head<'a>(
    i: usize,
    item: &'a Value,
    used: &mut HashSet<String>,
) -> Result<(Head<'a>, Option<String>), SpecError> {
    let path = format!("[{i}]");
    let obj = object(item, &path)?;
    let (def_key, relations_key) = if obj.contains_key("workflowDefinition") {
        ("workflowDefinition", "workflowTaskRelationList")
    } else if obj.contains_key("processDefinition") {
        ("processDefinition", "processTaskRelationList")
    } else {
        return Err(err(
            &path,
            "has neither processDefinition (DolphinScheduler 3.2) nor workflowDefinition (3.3 and later)",
        ));
    };
    let def_path = format!("{path}.{def_key}");
    let def = object(&obj[def_key], &def_path)?;
    let ds_name = required_text(def, "name", &def_path)?;
    let code = number(def, "code", &def_path)?.unwrap_or(0);
    let name = our_name(ds_name, &format!("workflow_{code}"), used);
    let rename = rename_note(ds_name, &name);

    let list_path = format!("{path}.taskDefinitionList");
    let tasks = match obj.get("taskDefinitionList") {
        Some(Value::Array(tasks)) if !tasks.is_empty() => tasks
            .iter()
            .enumerate()
            .map(|(k, t)| object(t, &format!("{list_path}[{k}]")))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(err(&list_path, "must be a non-empty array")),
    };
    let mut task_names = HashMap::new();
    let mut used_tasks = HashSet::new();
    for (k, task) in tasks.iter().enumerate() {
        let tpath = format!("{list_path}[{k}]");
        let task_code = number(task, "code", &tpath)?
            .filter(|c| *c > 0)
            .ok_or_else(|| err(&format!("{tpath}.code"), "required: a positive number"))?;
        let ds_task = required_text(task, "name", &tpath)?;
        let ours = our_name(ds_task, &format!("task_{task_code}"), &mut used_tasks);
        if task_names.insert(task_code, ours).is_some() {
            return Err(err(
                &format!("{tpath}.code"),
                format!("{task_code} is the code of another task too"),
            ));
        }
    }
    let relations = match obj.get(relations_key) {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(r)) => r.as_slice(),
        Some(_) => return Err(err(&format!("{path}.{relations_key}"), "must be an array")),
    };
    let schedule = match obj.get("schedule") {
        None | Some(Value::Null) => None,
        Some(s) => Some(object(s, &format!("{path}.schedule"))?),
    };
    Ok((
        Head {
            path,
            code,
            name,
            def,
            tasks,
            task_names,
            relations,
            relations_key,
            schedule,
        },
        rename,
    ))
}
