//! One task definition as one of our tasks: its type-specific settings (through the
//! converters of each family), parameters, resources, and worker policies.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::database::{procedure_call, sql_task};
use super::hadoop::{mr_task, spark_task};
use super::logic::{conditions_task, dependent_task, switch_task};
use super::params::read_params;
use super::read::{
    PRIORITIES, err, json_field, keyword, list, minutes, number, object, required_text, text,
};
use super::refs::{Ctx, datasource, not_in_file};
use crate::error::{SpecError, quote};

/// Task types that run in the scheduler and take no worker policies nor OUT params.
const LOGIC: &[&str] = &[
    "sub_process",
    "conditions",
    "switch",
    "dependent",
    "dynamic",
];

pub(super) fn convert_task(
    task: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    notes: &mut Vec<(String, bool)>,
    refs: &mut HashSet<usize>,
) -> Result<Map<String, Value>, SpecError> {
    let ds_type = required_text(task, "taskType", path)?.to_ascii_uppercase();
    let params_path = format!("{path}.taskParams");
    let params_value =
        json_field(task.get("taskParams"), &params_path)?.unwrap_or_else(|| json!({}));
    let tp = object(&params_value, &params_path)?;
    let mut out = Map::new();

    let our_type = match ds_type.as_str() {
        "SHELL" | "PYTHON" => {
            out.insert(
                "script".into(),
                required_text(tp, "rawScript", &params_path)?.into(),
            );
            ds_type.to_ascii_lowercase()
        }
        "SQL" => {
            sql_task(tp, &params_path, ctx, notes, &mut out)?;
            "sql".into()
        }
        "PROCEDURE" => {
            // Its arguments come from localParams; they are read below with the others.
            datasource(tp, &params_path, ctx, notes, &mut out)?;
            "procedure".into()
        }
        "SPARK" => {
            spark_task(tp, &params_path, notes, &mut out)?;
            "spark".into()
        }
        "MR" => {
            mr_task(tp, &params_path, notes, &mut out)?;
            "mr".into()
        }
        "SUB_PROCESS" | "SUB_WORKFLOW" => {
            if let Some(name) = sub_workflow(tp, &params_path, ctx, notes, refs)? {
                out.insert("workflow".into(), name.into());
            }
            "sub_process".into()
        }
        "DYNAMIC" => {
            dynamic_task(tp, &params_path, ctx, notes, refs, &mut out)?;
            "dynamic".into()
        }
        "DEPENDENT" => {
            dependent_task(tp, &params_path, ctx, notes, refs, &mut out)?;
            "dependent".into()
        }
        "CONDITIONS" => {
            conditions_task(tp, &params_path, ctx, notes, &mut out)?;
            "conditions".into()
        }
        "SWITCH" => {
            switch_task(tp, &params_path, ctx, notes, &mut out)?;
            "switch".into()
        }
        other => {
            notes.push((
                format!("task type {} has no pg_sched equivalent", quote(other)),
                true,
            ));
            "empty".into()
        }
    };
    let logic = LOGIC.contains(&our_type.as_str());
    out.insert("type".into(), our_type.clone().into());

    for (k, resource) in list(tp, "resourceList", &params_path)?.iter().enumerate() {
        let name = resource
            .get("resourceName")
            .or_else(|| resource.get("res"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("resourceList[{k}]"));
        notes.push((
            format!(
                "resource file {} is not imported; put it where the workers can read it",
                quote(&name)
            ),
            false,
        ));
    }

    let local_path = format!("{params_path}.localParams");
    let mut param_notes = Vec::new();
    let read = read_params(
        list(tp, "localParams", &params_path)?,
        &local_path,
        &mut param_notes,
    )?;
    notes.extend(param_notes);
    if our_type == "procedure" {
        procedure_call(tp, &params_path, &read, notes, &mut out)?;
    } else {
        if !read.params.is_empty() {
            out.insert("params".into(), Value::Object(read.params));
        }
        if !read.out.is_empty() {
            if logic {
                notes.push((
                    format!("OUT parameters of a {our_type} task are not declared; it passes what its upstream gives"),
                    false,
                ));
            } else {
                out.insert("out".into(), read.out.into());
            }
        }
    }

    let description = text(task, "description", path)?.unwrap_or("");
    if !description.is_empty() {
        out.insert("description".into(), description.into());
    }
    if keyword(task, "flag", path, &["YES", "NO"])?.as_deref() == Some("NO") {
        out.insert("enabled".into(), false.into());
    }
    if let Some(priority) = keyword(task, "taskPriority", path, PRIORITIES)? {
        out.insert("priority".into(), priority.to_ascii_lowercase().into());
    }
    if let Some(group) =
        text(task, "workerGroup", path)?.filter(|g| !g.is_empty() && *g != "default")
    {
        if crate::name::is_name(group) {
            out.insert("worker_group".into(), group.into());
        } else {
            notes.push((
                format!("worker group {} is not a valid name", quote(group)),
                true,
            ));
        }
    }
    policies(task, path, ctx, logic, &our_type, notes, &mut out)?;
    Ok(out)
}

/// The workflow a SUB_PROCESS or DYNAMIC task runs (3.3 names its code `workflowDefinitionCode`),
/// by name; `None`, noted, when it is neither in the file nor mapped.
fn sub_workflow(
    tp: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    notes: &mut Vec<(String, bool)>,
    refs: &mut HashSet<usize>,
) -> Result<Option<String>, SpecError> {
    let key = if tp.contains_key("workflowDefinitionCode") {
        "workflowDefinitionCode"
    } else {
        "processDefinitionCode"
    };
    let code = number(tp, key, path)?.ok_or_else(|| err(&format!("{path}.{key}"), "required"))?;
    let name = ctx.workflow(code, refs);
    if name.is_none() {
        notes.push((not_in_file(code), true));
    }
    Ok(name)
}

/// DolphinScheduler 3.2's DYNAMIC: a sub-workflow per combination of its list parameters,
/// each a text its separator splits (or one `${param}`, read as a list parameter at run time).
fn dynamic_task(
    tp: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    notes: &mut Vec<(String, bool)>,
    refs: &mut HashSet<usize>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    if let Some(name) = sub_workflow(tp, path, ctx, notes, refs)? {
        out.insert("run".into(), name.into());
    }
    let mut over = Map::new();
    for (k, item) in list(tp, "listParameters", path)?.iter().enumerate() {
        let at = format!("{path}.listParameters[{k}]");
        let item = object(item, &at)?;
        let name = required_text(item, "name", &at)?;
        let value = text(item, "value", &at)?.unwrap_or_default().trim();
        let list = match value
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix('}'))
        {
            Some(param) => Value::from(param),
            None => {
                let separator = text(item, "separator", &at)?
                    .filter(|s| !s.is_empty())
                    .unwrap_or(",");
                value
                    .split(separator)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(Value::from)
                    .collect()
            }
        };
        over.insert(name.to_owned(), list);
    }
    if over.is_empty() {
        return Err(err(
            &format!("{path}.listParameters"),
            "required: at least one list",
        ));
    }
    out.insert("over".into(), Value::Object(over));
    if let Some(n) = number(tp, "degreeOfParallelism", path)?.filter(|n| *n > 0) {
        out.insert("parallelism".into(), n.into());
    }
    if let Some(n) = number(tp, "maxNumOfSubWorkflowInstances", path)?.filter(|n| *n > 0) {
        out.insert("max_items".into(), n.into());
        notes.push((
            format!("maxNumOfSubWorkflowInstances {n} is max_items: more elements fail the task instead of being cut off"),
            false,
        ));
    }
    if text(tp, "filterCondition", path)?.is_some_and(|f| !f.trim().is_empty()) {
        notes.push((
            "filterCondition is not imported: every combination runs".into(),
            true,
        ));
    }
    Ok(())
}

fn policies(
    task: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    logic: bool,
    our_type: &str,
    notes: &mut Vec<(String, bool)>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    let retries = number(task, "failRetryTimes", path)?.unwrap_or(0);
    let interval = number(task, "failRetryInterval", path)?.unwrap_or(0);
    let timeout_on =
        keyword(task, "timeoutFlag", path, &["OPEN", "CLOSE"])?.as_deref() == Some("OPEN");
    let timeout = number(task, "timeout", path)?.unwrap_or(0);
    let strategy = keyword(
        task,
        "timeoutNotifyStrategy",
        path,
        &["WARN", "FAILED", "WARNFAILED"],
    )?;
    let delay = number(task, "delayTime", path)?.unwrap_or(0);
    let group = number(task, "taskGroupId", path)?.unwrap_or(0);
    let group_priority = number(task, "taskGroupPriority", path)?.unwrap_or(0);
    let mut policy = Map::new();
    if retries > 0 {
        policy.insert("retries".into(), retries.into());
        policy.insert("retry_interval".into(), minutes(interval.max(0)).into());
    }
    if timeout_on && timeout > 0 {
        let strategy = match strategy.as_deref() {
            Some("FAILED") => "fail",
            Some("WARNFAILED") => "warn_fail",
            _ => "warn",
        };
        policy.insert(
            "timeout".into(),
            json!({"after": minutes(timeout), "strategy": strategy}),
        );
    }
    if delay > 0 {
        policy.insert("delay".into(), minutes(delay).into());
    }
    if group > 0 {
        match ctx.options.task_groups.get(&group.to_string()).and_then(Value::as_str) {
            Some(name) => {
                policy.insert("task_group".into(), name.into());
                if group_priority > 0 {
                    policy.insert("task_group_priority".into(), group_priority.into());
                }
            }
            None => notes.push((
                format!("task group id {group} is not mapped (options.task_groups); the task takes no task group slot"),
                false,
            )),
        }
    }
    if logic {
        if !policy.is_empty() {
            let fields: Vec<&str> = policy.keys().map(String::as_str).collect();
            notes.push((
                format!(
                    "a {our_type} task runs in the scheduler and takes no {}",
                    fields.join(", ")
                ),
                false,
            ));
        }
    } else {
        out.extend(policy);
    }
    if let Some(env) = number(task, "environmentCode", path)?.filter(|c| *c > 0) {
        notes.push((
            format!("environment {env} is not imported; set its variables with env"),
            false,
        ));
    }
    if let Some(ids) = text(task, "resourceIds", path)?.filter(|s| !s.trim().is_empty()) {
        notes.push((
            format!("resource ids {} are not imported", quote(ids)),
            false,
        ));
    }
    for (key, what) in [("cpuQuota", "CPU quota"), ("memoryMax", "memory limit")] {
        if let Some(n) = number(task, key, path)?.filter(|n| *n > 0) {
            notes.push((format!("{what} {n} is not enforced"), false));
        }
    }
    if keyword(task, "isCache", path, &["YES", "NO"])?.as_deref() == Some("YES") {
        notes.push(("result cache (isCache) is not supported".into(), false));
    }
    Ok(())
}
