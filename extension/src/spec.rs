//! The workflow spec validator and the task-type registry's validation, exposed to the SQL
//! that stores definitions.

use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::Value;

use crate::error::fail;

use crate::gucs;

/// The registered command types, from `{name: definition}` as sched.task_type stores them.
fn registered(types: &Value) -> Vec<sched_core::CommandType> {
    types
        .as_object()
        .map(|types| {
            types
                .iter()
                .filter_map(|(name, definition)| {
                    sched_core::CommandType::parse(name, definition).ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Validates a workflow spec, given as JSON text, within the sched.max_* limits; raises
/// `invalid_parameter_value` naming the offending field or the limit. The text, not a jsonb
/// value, comes in so that its size and nesting are checked before anything parses it
/// recursively. `types` are the registered task types, `{name: definition}`.
fn validated(spec: &str, types: &JsonB) -> sched_core::WorkflowSpec {
    sched_core::parse_spec_with(spec, &gucs::spec_limits(), &registered(&types.0))
        .unwrap_or_else(|err| fail(format!("invalid workflow spec: {err}")))
}

/// The spec validated and normalised (defaults filled, enum values lower case).
#[pg_extern(name = "_normalize_spec", stable, parallel_safe)]
pub fn normalize_spec(spec: &str, types: JsonB) -> JsonB {
    JsonB(validated(spec, &types).to_json())
}

/// What `_create_workflow` keeps of a spec, from one parse of it: the spec normalised (as
/// text, written straight from the parsed spec, for SQL to read as jsonb), what
/// it names that needs a right (`[{kind, name, field}]`), and, in the order of its tasks,
/// each task's depth in the DAG (so that an instance's tasks are listed in DAG order a page
/// at a time without walking the DAG), its priority's rank, its successors (their positions
/// in the task list, from 1, all tasks' one after the other; `successor_counts` says how many
/// each has) and whether it feeds CONDITIONS tasks alone. One call, because each jsonb
/// handed between SQL and Rust is printed and parsed again, and a 100,000-task spec paid for
/// that three times; the arrays spare a function call per task, and joining 100,000 tasks
/// by name in SQL to find their successors cost a fifth of the workflow's creation.
// pgrx reads the columns' names from the signature, so the row type cannot be an alias.
#[allow(clippy::type_complexity)]
#[pg_extern(name = "_prepare_spec", stable, parallel_safe)]
pub fn prepare_spec(
    spec: &str,
    types: JsonB,
) -> TableIterator<
    'static,
    (
        name!(norm, String),
        name!(uses, JsonB),
        name!(depths, Vec<i32>),
        name!(priorities, Vec<i16>),
        name!(successors, Vec<i32>),
        name!(successor_counts, Vec<i32>),
        name!(feeds_conditions, Vec<bool>),
    ),
> {
    let valid = validated(spec, &types);
    let depths = valid
        .depths()
        .into_iter()
        .map(|d| i32::try_from(d).unwrap_or(i32::MAX))
        .collect();
    let priorities = valid.tasks.iter().map(|t| t.priority.rank()).collect();
    let next = valid.successors();
    let feeds = valid.feeds_conditions(&next);
    let counts = next
        .iter()
        .map(|s| i32::try_from(s.len()).unwrap_or(i32::MAX))
        .collect();
    let successors = next
        .iter()
        .flatten()
        .map(|&i| i32::try_from(i).map_or(i32::MAX, |i| i + 1))
        .collect();
    let norm = serde_json::to_string(&valid).unwrap_or_else(|err| fail(format!("spec: {err}")));
    let uses = Value::Array(valid.uses());
    TableIterator::once((
        norm,
        JsonB(uses),
        depths,
        priorities,
        successors,
        counts,
        feeds,
    ))
}

/// The successors of each task as task definition ids: `task_ids` are the tasks' ids in the
/// order of the spec, `successors` and `successor_counts` as `_prepare_spec` gives them. A row
/// per task with successors, by its position (from 1).
#[pg_extern(name = "_successor_ids", immutable, parallel_safe)]
pub fn successor_ids(
    task_ids: Vec<i64>,
    successors: Vec<i32>,
    successor_counts: Vec<i32>,
) -> TableIterator<'static, (name!(ord, i32), name!(successor_ids, Vec<i64>))> {
    let id = |position: i32| {
        usize::try_from(position - 1)
            .ok()
            .and_then(|i| task_ids.get(i).copied())
            .unwrap_or_else(|| fail(format!("successors: no task at position {position}")))
    };
    let mut rest = successors.as_slice();
    let mut rows = Vec::new();
    for (ord, count) in (1..).zip(successor_counts) {
        let (these, after) = rest.split_at(usize::try_from(count).unwrap_or(0).min(rest.len()));
        rest = after;
        if !these.is_empty() {
            rows.push((ord, these.iter().map(|&p| id(p)).collect()));
        }
    }
    TableIterator::new(rows)
}

/// A task type definition as sched.register_task_type stores it, or an error naming the
/// field of the definition at fault.
#[pg_extern(name = "_normalize_task_type", immutable, parallel_safe)]
pub fn normalize_task_type(name: &str, definition: JsonB) -> JsonB {
    match sched_core::CommandType::register(name, &definition.0) {
        Ok(valid) => JsonB(valid.to_json()),
        Err(err) => fail(err.to_string()),
    }
}

/// Every command type by name, built-in and `registered` (`{name: definition}`), for the
/// definitions of tasks of such types to carry their type as it was.
#[pg_extern(name = "_command_types", immutable, parallel_safe)]
pub fn command_types(registered: JsonB) -> JsonB {
    let mut all = serde_json::Map::new();
    for t in sched_core::builtin_command_types() {
        all.insert(t.name.clone(), t.to_json());
    }
    if let Value::Object(types) = registered.0 {
        all.extend(types);
    }
    JsonB(Value::Object(all))
}

/// The built-in task types as rows of the sched.task_types view: name, fields, command.
#[pg_extern(name = "_builtin_task_types", immutable, parallel_safe)]
pub fn builtin_task_types() -> TableIterator<
    'static,
    (
        name!(name, String),
        name!(fields, JsonB),
        name!(command, Option<String>),
        name!(description, String),
    ),
> {
    let mut rows: Vec<(String, JsonB, Option<String>, String)> = sched_core::TASK_TYPES
        .iter()
        .map(|t| {
            let fields: serde_json::Map<String, Value> = t
                .fields
                .iter()
                .map(|f| {
                    (
                        f.name.to_owned(),
                        serde_json::json!({"kind": f.kind.as_str(), "required": f.required}),
                    )
                })
                .collect();
            (
                t.name.to_owned(),
                JsonB(Value::Object(fields)),
                None,
                t.description.to_owned(),
            )
        })
        .collect();
    rows.extend(sched_core::builtin_command_types().iter().map(|t| {
        let def = t.to_json();
        (
            t.name.clone(),
            JsonB(def["fields"].clone()),
            Some(t.command.clone()),
            t.description.clone(),
        )
    }));
    TableIterator::new(rows)
}

/// Parameters checked as a spec's `params` are, normalised; raises naming `field`.
#[pg_extern(name = "_normalize_params", immutable, parallel_safe)]
pub fn normalize_params(params: JsonB, field: &str) -> JsonB {
    sched_core::normalize_params(&params.0, field)
        .map(JsonB)
        .unwrap_or_else(|err| fail(err.to_string()))
}

/// `zone` when it is an IANA time zone name (as schedules take them); raises naming `field`.
#[pg_extern(name = "_check_time_zone", immutable, parallel_safe)]
pub fn check_time_zone(zone: &str, field: &str) -> String {
    sched_core::cron::time_zone(zone, field).unwrap_or_else(|err| fail(err.to_string()));
    zone.to_owned()
}
