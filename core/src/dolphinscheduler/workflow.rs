//! The second pass over one exported workflow: its spec, schedule and what has no
//! equivalent, from its definition, relations, tasks and schedule.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::head::{Head, rename_note};
use super::options::Options;
use super::params::read_params;
use super::read::{err, json_field, keyword, minutes, number, object, required_text, text};
use super::refs::Ctx;
use super::schedule::convert_schedule;
use super::task::convert_task;
use crate::error::SpecError;

/// Something of the export that has no equivalent. `blocking` ones keep the task from being
/// converted (and so its workflow from being created, unless `force`).
pub(super) struct Unmapped {
    pub(super) task: Option<String>,
    pub(super) what: String,
    pub(super) blocking: bool,
}

pub(super) struct Converted {
    pub(super) spec: Value,
    pub(super) schedule: Option<Value>,
    pub(super) unmapped: Vec<Unmapped>,
    /// Indices of the workflows of the file this one's SUB_PROCESS / DEPENDENT tasks name.
    pub(super) refs: HashSet<usize>,
}

pub(super) fn convert_workflow(
    head: &Head<'_>,
    heads: &[Head<'_>],
    workflow_index: &HashMap<i64, usize>,
    options: &Options,
) -> Result<Converted, SpecError> {
    let def_path = format!(
        "{}.{}",
        head.path,
        if head.relations_key == "workflowTaskRelationList" {
            "workflowDefinition"
        } else {
            "processDefinition"
        }
    );
    let def = head.def;
    let mut unmapped = Vec::new();
    let mut spec = Map::new();
    spec.insert("name".into(), head.name.clone().into());
    let description = text(def, "description", &def_path)?.unwrap_or("");
    if !description.is_empty() {
        spec.insert("description".into(), description.into());
    }
    if let Some(execution) = keyword(
        def,
        "executionType",
        &def_path,
        &[
            "PARALLEL",
            "SERIAL_WAIT",
            "SERIAL_DISCARD",
            "SERIAL_PRIORITY",
        ],
    )? {
        spec.insert(
            "execution_type".into(),
            execution.to_ascii_lowercase().into(),
        );
    }
    if let Some(timeout) = number(def, "timeout", &def_path)?.filter(|t| *t > 0) {
        // DolphinScheduler's workflow timeout only alerts.
        spec.insert(
            "timeout".into(),
            json!({"after": minutes(timeout), "strategy": "warn"}),
        );
    }
    let globals_path = format!("{def_path}.globalParams");
    let mut notes = Vec::new();
    if let Some(globals) = json_field(def.get("globalParams"), &globals_path)? {
        let items = globals.as_array().ok_or_else(|| {
            err(
                &globals_path,
                "must be an array of {prop, direct, type, value}",
            )
        })?;
        let read = read_params(items, &globals_path, &mut notes)?;
        let mut params = read.params;
        // A global declared OUT is still a global here: its value is what tasks start from.
        for out in read.out {
            let name = out["name"].as_str().unwrap_or_default().to_owned();
            let value = out.get("default").cloned().unwrap_or_else(|| "".into());
            params.insert(name, json!({"value": value, "type": out["type"]}));
        }
        if !params.is_empty() {
            spec.insert("params".into(), Value::Object(params));
        }
    }
    for (what, blocking) in notes.drain(..) {
        unmapped.push(Unmapped {
            task: None,
            what: format!("global {what}"),
            blocking,
        });
    }

    // Upstream tasks from the relations; preTaskCode 0 only marks a root task.
    let mut deps: HashMap<i64, Vec<String>> = HashMap::new();
    for (k, relation) in head.relations.iter().enumerate() {
        let rpath = format!("{}.{}[{k}]", head.path, head.relations_key);
        let rel = object(relation, &rpath)?;
        let pre = number(rel, "preTaskCode", &rpath)?.unwrap_or(0);
        let post = number(rel, "postTaskCode", &rpath)?
            .ok_or_else(|| err(&format!("{rpath}.postTaskCode"), "required"))?;
        if !head.task_names.contains_key(&post) {
            return Err(err(
                &format!("{rpath}.postTaskCode"),
                format!("{post} is not the code of a task in taskDefinitionList"),
            ));
        }
        if pre == 0 {
            continue;
        }
        let Some(pre_name) = head.task_names.get(&pre) else {
            return Err(err(
                &format!("{rpath}.preTaskCode"),
                format!("{pre} is not the code of a task in taskDefinitionList"),
            ));
        };
        let list = deps.entry(post).or_default();
        if !list.contains(pre_name) {
            list.push(pre_name.clone());
        }
    }

    let mut tasks = Vec::new();
    let mut refs = HashSet::new();
    let ctx = Ctx {
        head,
        heads,
        workflow_index,
        options,
    };
    for (k, task) in head.tasks.iter().enumerate() {
        let tpath = format!("{}.taskDefinitionList[{k}]", head.path);
        let code = number(task, "code", &tpath)?.unwrap_or(0);
        let name = head.task_names[&code].clone();
        let ds_task = required_text(task, "name", &tpath)?;
        let mut notes = Vec::new();
        if let Some(note) = rename_note(ds_task, &name) {
            notes.push((note, false));
        }
        let mut converted = convert_task(task, &tpath, &ctx, &mut notes, &mut refs)?;
        converted.insert("name".into(), name.clone().into());
        if let Some(d) = deps.remove(&code) {
            converted.insert("deps".into(), d.into());
        }
        if notes.iter().any(|(_, blocking)| *blocking) && options.force {
            converted = replaced_by_empty(converted, task);
        }
        for (what, blocking) in notes {
            unmapped.push(Unmapped {
                task: Some(name.clone()),
                what,
                blocking,
            });
        }
        tasks.push(Value::Object(converted));
    }
    spec.insert("tasks".into(), tasks.into());

    let schedule = match head.schedule {
        Some(schedule) => {
            let spath = format!("{}.schedule", head.path);
            let (value, tenant, notes) = convert_schedule(schedule, &spath, &head.name)?;
            if let Some(tenant) = tenant {
                spec.insert("tenant".into(), tenant.into());
            }
            unmapped.extend(notes.into_iter().map(|what| Unmapped {
                task: None,
                what: format!("schedule: {what}"),
                blocking: false,
            }));
            Some(value)
        }
        None => None,
    };

    Ok(Converted {
        spec: Value::Object(spec),
        schedule,
        unmapped,
        refs,
    })
}

/// Under `force`, a task that could not be converted keeps its place in the DAG as an
/// `empty` task, saying what it was.
fn replaced_by_empty(
    converted: Map<String, Value>,
    task: &Map<String, Value>,
) -> Map<String, Value> {
    let mut empty = Map::new();
    for key in ["name", "deps", "enabled", "priority"] {
        if let Some(v) = converted.get(key) {
            empty.insert(key.into(), v.clone());
        }
    }
    empty.insert("type".into(), "empty".into());
    let ds_type = task.get("taskType").and_then(Value::as_str).unwrap_or("?");
    empty.insert(
        "description".into(),
        format!("DolphinScheduler {ds_type} task, not converted (see the import's unmapped list)")
            .into(),
    );
    empty
}
