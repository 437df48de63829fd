//! DYNAMIC tasks: one task of the DAG that runs once per element of lists known only at run
//! time (DolphinScheduler's DYNAMIC, Airflow's `expand`). Here: the rules of its fields. The
//! element task (`run`) is an inline task or a workflow; `validate.rs` checks an inline one
//! as it checks any task, the engine expands and gathers (`sql/3_engine/dynamic.sql`).

use serde_json::{Map, Value};

use crate::error::{SpecError, quote};
use crate::keyword::OnFailure;
use crate::params::check_param_name;

/// Elements one run of a dynamic task may have when its spec names no `max_items`.
pub const DEFAULT_MAX_ITEMS: i64 = 10_000;
/// The largest `max_items` and `parallelism` a spec may give; `sched.max_dynamic_items`
/// caps every run below it.
pub const MAX_ITEMS_LIMIT: i64 = 1_000_000;
/// Lists one dynamic task may combine: their product grows fast, and each is a column of
/// every element.
pub const MAX_LISTS: usize = 8;

/// Task types an element cannot be: a nested dynamic task, and the branching tasks, whose
/// branches name tasks of the DAG an element is not part of.
pub const NOT_ELEMENT_TYPES: &[&str] = &["dynamic", "conditions", "switch"];

/// Fields of a task that an inline element task cannot have: it has no place of its own in
/// the DAG, and its name is the dynamic task's.
pub const NOT_ELEMENT_FIELDS: &[&str] = &["name", "deps", "enabled", "produces"];

/// `over`: `{"element_param": "list_param"}` or `{"element_param": [literal, ...]}`.
pub(crate) fn normalize_over(value: &Value, path: &str) -> Result<Value, SpecError> {
    let err = |p: String, m: String| SpecError {
        path: p,
        message: m,
    };
    let over = value.as_object().filter(|o| !o.is_empty()).ok_or_else(|| {
        err(
            path.to_owned(),
            r#"must be a non-empty object of element parameter names to a list parameter's name or a list, e.g. {"file": "files"}"#.into(),
        )
    })?;
    if over.len() > MAX_LISTS {
        return Err(err(
            path.to_owned(),
            format!(
                "names {} lists; at most {MAX_LISTS} are allowed",
                over.len()
            ),
        ));
    }
    for (name, list) in over {
        let at = format!("{path}.{name}");
        check_param_name(name, &at)?;
        match list {
            Value::String(param) => check_param_name(param, &at).map_err(|_| {
                err(
                    at.clone(),
                    format!("{} is not a parameter name", quote(param)),
                )
            })?,
            Value::Array(_) => {}
            _ => {
                return Err(err(
                    at,
                    "must be the name of a list parameter or a JSON array".into(),
                ));
            }
        }
    }
    Ok(value.clone())
}

/// `run` as a workflow's name (each element a sub-process instance) is checked here; an inline
/// task object is `validate.rs`'s.
pub(crate) fn normalize_run(value: &Value, path: &str) -> Result<Value, SpecError> {
    match value {
        Value::String(name) if crate::name::is_name(name) => Ok(value.clone()),
        Value::String(_) => Err(SpecError {
            path: path.to_owned(),
            message: format!("must name a workflow: {}", crate::name::NAME_RULE),
        }),
        Value::Object(_) => Ok(value.clone()),
        _ => Err(SpecError {
            path: path.to_owned(),
            message: r#"must name a workflow (each element runs it as a sub-process) or be an inline task such as {"type": "shell", "script": "echo ${file}"}"#.into(),
        }),
    }
}

/// `parallelism` and `max_items`: whole numbers from 1 to [`MAX_ITEMS_LIMIT`].
pub(crate) fn normalize_count(value: &Value, path: &str) -> Result<Value, SpecError> {
    match value.as_i64() {
        Some(n) if (1..=MAX_ITEMS_LIMIT).contains(&n) => Ok(n.into()),
        _ => Err(SpecError {
            path: path.to_owned(),
            message: format!("must be a whole number from 1 to {MAX_ITEMS_LIMIT}"),
        }),
    }
}

pub(crate) fn normalize_on_failure(value: &Value, path: &str) -> Result<Value, SpecError> {
    Ok(OnFailure::parse(value, crate::error::Path::Field(path))?
        .as_str()
        .into())
}

/// Defaults written into the stored spec, so that it says what runs.
pub(crate) fn fill_defaults(settings: &mut Map<String, Value>) {
    settings
        .entry("on_failure")
        .or_insert_with(|| OnFailure::default().as_str().into());
    settings
        .entry("max_items")
        .or_insert_with(|| DEFAULT_MAX_ITEMS.into());
}

/// The element task an inline `run` describes, as a task object `validate.rs` can check: the
/// dynamic task's name, no dependencies. Fields it may not have are refused by name.
pub(crate) fn inline_task(
    run: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Map<String, Value>, SpecError> {
    if let Some(field) = NOT_ELEMENT_FIELDS.iter().find(|f| run.contains_key(**f)) {
        return Err(SpecError {
            path: format!("{path}.{field}"),
            message: format!(
                "an element task takes no {field}: it runs once per element, in the dynamic task's place"
            ),
        });
    }
    if let Some(kind) = run.get("type").and_then(Value::as_str)
        && NOT_ELEMENT_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(kind))
    {
        return Err(SpecError {
            path: format!("{path}.type"),
            message: format!(
                "{} cannot run per element; an element may be any other task type, or name a workflow",
                quote(kind)
            ),
        });
    }
    let mut task = run.clone();
    task.insert("name".into(), name.into());
    Ok(task)
}

/// An element task's stored form: the checked task without what `inline_task` added.
pub(crate) fn stored_run(mut task: Map<String, Value>) -> Value {
    task.remove("name");
    task.remove("deps");
    Value::Object(task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn over_names_lists_or_gives_them() {
        assert!(normalize_over(&json!({"file": "files", "n": [1, 2]}), "over").is_ok());
        let e = normalize_over(&json!({}), "tasks[0].over").unwrap_err();
        assert_eq!(e.path, "tasks[0].over");
        let e = normalize_over(&json!({"file": 3}), "over").unwrap_err();
        assert_eq!(e.path, "over.file");
        assert!(e.message.contains("list parameter"), "{}", e.message);
        let e = normalize_over(&json!({"1x": "files"}), "over").unwrap_err();
        assert_eq!(e.path, "over.1x");
        let many: Map<String, Value> = (0..9).map(|i| (format!("p{i}"), json!("l"))).collect();
        let e = normalize_over(&Value::Object(many), "over").unwrap_err();
        assert!(e.message.contains("at most 8"), "{}", e.message);
    }

    #[test]
    fn counts_are_whole_numbers_in_range() {
        assert_eq!(normalize_count(&json!(4), "p").unwrap(), json!(4));
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("4"),
            json!(2_000_000),
        ] {
            let e = normalize_count(&bad, "parallelism").unwrap_err();
            assert!(
                e.message.contains("whole number from 1"),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn inline_tasks_refuse_dag_fields_and_branching_types() {
        let run = json!({"type": "shell", "script": "true", "deps": ["a"]});
        let e = inline_task(run.as_object().unwrap(), "d", "tasks[1].run").unwrap_err();
        assert_eq!(e.path, "tasks[1].run.deps");
        let run = json!({"type": "SWITCH"});
        let e = inline_task(run.as_object().unwrap(), "d", "tasks[1].run").unwrap_err();
        assert_eq!(e.path, "tasks[1].run.type");
        let run = json!({"type": "shell", "script": "true"});
        let task = inline_task(run.as_object().unwrap(), "d", "run").unwrap();
        assert_eq!(task["name"], json!("d"));
    }

    #[test]
    fn run_is_a_workflow_or_a_task() {
        assert!(normalize_run(&json!("etl"), "run").is_ok());
        assert!(normalize_run(&json!({"type": "empty"}), "run").is_ok());
        let e = normalize_run(&json!(3), "tasks[0].run").unwrap_err();
        assert!(e.message.contains("inline task"), "{}", e.message);
    }
}
