//! DEPENDENT, CONDITIONS and SWITCH tasks: the logic tasks whose settings name other
//! workflows and tasks by code.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::read::{err, keyword, list, minutes, number, object, required_text};
use super::refs::{Ctx, not_in_file};
use crate::error::{SpecError, quote};

fn relation(obj: &Map<String, Value>, path: &str) -> Result<Option<String>, SpecError> {
    Ok(keyword(obj, "relation", path, &["AND", "OR"])?.map(|r| r.to_ascii_lowercase()))
}

/// A task's `dependence`, where 3.2 and later nest it; older files had its fields flat.
fn dependence<'a>(
    tp: &'a Map<String, Value>,
    path: &str,
) -> Result<(&'a Map<String, Value>, String), SpecError> {
    let dpath = format!("{path}.dependence");
    let dep = match tp.get("dependence") {
        Some(d) => object(d, &dpath)?,
        None => tp,
    };
    Ok((dep, dpath))
}

/// `dependTaskList` as our groups of items, each with its relation, and the relation between
/// the groups: `item` converts one `dependItemList` entry, or leaves it out with None.
fn dependence_groups(
    dep: &Map<String, Value>,
    dpath: &str,
    mut item: impl FnMut(&Map<String, Value>, &str) -> Result<Option<Value>, SpecError>,
) -> Result<(Vec<Value>, Option<String>), SpecError> {
    let mut groups = Vec::new();
    for (g, group) in list(dep, "dependTaskList", dpath)?.iter().enumerate() {
        let gpath = format!("{dpath}.dependTaskList[{g}]");
        let group = object(group, &gpath)?;
        let mut items = Vec::new();
        for (k, entry) in list(group, "dependItemList", &gpath)?.iter().enumerate() {
            let ipath = format!("{gpath}.dependItemList[{k}]");
            if let Some(ours) = item(object(entry, &ipath)?, &ipath)? {
                items.push(ours);
            }
        }
        let mut ours = json!({"items": items});
        if let Some(r) = relation(group, &gpath)? {
            ours["relation"] = r.into();
        }
        groups.push(ours);
    }
    Ok((groups, relation(dep, dpath)?))
}

pub(super) fn dependent_task(
    tp: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    notes: &mut Vec<(String, bool)>,
    refs: &mut HashSet<usize>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    let (dep, dpath) = dependence(tp, path)?;
    let (groups, relation) = dependence_groups(dep, &dpath, |item, ipath| {
        let code = number(item, "definitionCode", ipath)?
            .ok_or_else(|| err(&format!("{ipath}.definitionCode"), "required"))?;
        let Some(workflow) = ctx.workflow(code, refs) else {
            notes.push((not_in_file(code), true));
            return Ok(None);
        };
        let mut ours = json!({
            "workflow": workflow,
            "cycle": required_text(item, "cycle", ipath)?,
            "date_value": required_text(item, "dateValue", ipath)?,
        });
        match number(item, "depTaskCode", ipath)?.unwrap_or(0) {
            // DolphinScheduler's DEPENDENT_WORKFLOW_CODE: the instance's own state.
            0 => {}
            // DEPENDENT_ALL_TASK_CODE: every task of it.
            -1 => ours["task"] = "*".into(),
            task_code => {
                let found = ctx
                    .workflow_index
                    .get(&code)
                    .and_then(|&i| ctx.heads[i].task_names.get(&task_code));
                match found {
                    Some(task) => ours["task"] = task.clone().into(),
                    None => {
                        notes.push((
                            format!(
                                "task code {task_code} of workflow code {code} is not in the file"
                            ),
                            true,
                        ));
                        return Ok(None);
                    }
                }
            }
        }
        if item.get("parameterPassing").and_then(Value::as_bool) == Some(true) {
            ours["parameter_passing"] = true.into();
        }
        Ok(Some(ours))
    })?;
    if let Some(r) = relation {
        out.insert("relation".into(), r.into());
    }
    out.insert("groups".into(), groups.into());
    if let Some(seconds) = number(dep, "checkInterval", &dpath)?.filter(|s| *s > 0) {
        out.insert("check_interval".into(), format!("{seconds} s").into());
    }
    let policy = keyword(
        dep,
        "failurePolicy",
        &dpath,
        &["DEPENDENT_FAILURE_FAILURE", "DEPENDENT_FAILURE_WAITING"],
    )?;
    // Without a waiting time DolphinScheduler does not wait either.
    if let (Some("DEPENDENT_FAILURE_WAITING"), Some(wait)) = (
        policy.as_deref(),
        number(dep, "failureWaitingTime", &dpath)?.filter(|w| *w > 0),
    ) {
        out.insert("on_failure".into(), "wait".into());
        out.insert("wait_for".into(), minutes(wait).into());
    }
    Ok(())
}

/// Task codes as DolphinScheduler lists branches: an array of codes, one code, or none.
fn codes(value: Option<&Value>, path: &str) -> Result<Vec<i64>, SpecError> {
    let one = |v: &Value| -> Result<Option<i64>, SpecError> {
        match v {
            Value::Null => Ok(None),
            Value::Number(n) => Ok(n.as_i64()),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| err(path, format!("{} is not a task code", quote(s)))),
            _ => Err(err(path, "must be task codes")),
        }
    };
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .map(one)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect()),
        Some(v) => Ok(one(v)?.into_iter().collect()),
    }
}

fn task_names(codes: Vec<i64>, ctx: &Ctx<'_, '_>, notes: &mut Vec<(String, bool)>) -> Vec<String> {
    codes
        .into_iter()
        .filter(|c| *c != 0)
        .filter_map(|code| {
            let name = ctx.task(code).cloned();
            if name.is_none() {
                notes.push((
                    format!("branch task code {code} is not a task of this workflow"),
                    true,
                ));
            }
            name
        })
        .collect()
}

pub(super) fn conditions_task(
    tp: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    notes: &mut Vec<(String, bool)>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    let (dep, dpath) = dependence(tp, path)?;
    let (groups, relation) = dependence_groups(dep, &dpath, |item, ipath| {
        let code = number(item, "depTaskCode", ipath)?
            .ok_or_else(|| err(&format!("{ipath}.depTaskCode"), "required"))?;
        let status = match keyword(item, "status", ipath, &["SUCCESS", "FAILURE"])?.as_deref() {
            Some("FAILURE") => "failed",
            _ => "succeeded",
        };
        match ctx.task(code) {
            Some(task) => Ok(Some(json!({"task": task, "status": status}))),
            None => {
                notes.push((
                    format!("condition on task code {code}, which is not a task of this workflow"),
                    true,
                ));
                Ok(None)
            }
        }
    })?;
    let mut conditions = json!({"groups": groups});
    if let Some(r) = relation {
        conditions["relation"] = r.into();
    }
    out.insert("conditions".into(), conditions);
    let rpath = format!("{path}.conditionResult");
    if let Some(result) = tp.get("conditionResult").filter(|v| !v.is_null()) {
        let result = object(result, &rpath)?;
        for (ds, ours) in [("successNode", "on_success"), ("failedNode", "on_failure")] {
            let names = task_names(codes(result.get(ds), &format!("{rpath}.{ds}"))?, ctx, notes);
            if !names.is_empty() {
                out.insert(ours.into(), names.into());
            }
        }
    }
    Ok(())
}

pub(super) fn switch_task(
    tp: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    notes: &mut Vec<(String, bool)>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    let rpath = format!("{path}.switchResult");
    let result = match tp.get("switchResult") {
        Some(r) => object(r, &rpath)?,
        None => return Err(err(&rpath, "required")),
    };
    let mut cases = Vec::new();
    for (k, case) in list(result, "dependTaskList", &rpath)?.iter().enumerate() {
        let cpath = format!("{rpath}.dependTaskList[{k}]");
        let case = object(case, &cpath)?;
        let condition = required_text(case, "condition", &cpath)?;
        if let Err(e) = crate::expr::parse(condition) {
            notes.push((
                format!(
                    "switch condition {} is not in pg_sched's condition language ({e}); rewrite it with ${{param}}, ==, !=, <, >, &&, ||, !",
                    quote(condition)
                ),
                true,
            ));
            continue;
        }
        let then = task_names(
            codes(case.get("nextNode"), &format!("{cpath}.nextNode"))?,
            ctx,
            notes,
        );
        cases.push(json!({"when": condition, "then": then}));
    }
    out.insert("cases".into(), cases.into());
    let default = task_names(
        codes(result.get("nextNode"), &format!("{rpath}.nextNode"))?,
        ctx,
        notes,
    );
    if !default.is_empty() {
        out.insert("default".into(), default.into());
    }
    Ok(())
}
