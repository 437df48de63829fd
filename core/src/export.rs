//! A workflow as code: the form `sched apply` reads, and `sched export` and the console's YAML
//! export write. The spec with its defaults left out, its schedules as options (defaults left
//! out too), keys in a fixed order, so that export then apply changes nothing and exporting
//! twice gives the same text. The clients read the spec and the schedules
//! ([`SCHEDULES_SQL`]), check the short form ([`without_defaults`]) against the spec
//! language, and write [`document`].

use serde_json::{Map, Value, json};

use crate::{ExecutionType, FailureStrategy, Priority, TimeoutStrategy};

/// A workflow's schedules as options (`$1`: the workflow's name), oldest first: what
/// [`canonical_schedule`] takes.
pub const SCHEDULES_SQL: &str = "SELECT id, jsonb_build_object('cron', cron, 'timezone', timezone, 'enabled', enabled, 'misfire', misfire, \
     'start', start_at, 'end', end_at, 'params', params) || run_options \
     FROM sched.schedules WHERE workflow = $1 ORDER BY id";

/// Schedule options whose defaults are left out of the canonical form.
const SCHEDULE_DEFAULTS: &[(&str, &str)] = &[("timezone", "UTC"), ("misfire", "all")];

/// A schedule as options, defaults left out, so that two spellings of one schedule compare
/// equal.
pub fn canonical_schedule(mut s: Map<String, Value>) -> Map<String, Value> {
    for (key, default) in SCHEDULE_DEFAULTS {
        if s.get(*key)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
            == Some(&default.to_ascii_lowercase())
        {
            s.remove(*key);
        }
    }
    if s.get("enabled") == Some(&Value::Bool(true)) {
        s.remove("enabled");
    }
    if s.get("params")
        .is_some_and(|p| p.as_object().is_some_and(Map::is_empty))
    {
        s.remove("params");
    }
    s.retain(|_, v| !v.is_null());
    s
}

/// Fields of a normalised spec that hold their default (README, Workflow spec), the default
/// as JSON text. Only those whose default does not depend on anything else: a task's worker
/// group, say, inherits the workflow's.
fn workflow_defaults() -> [(&'static str, Value); 8] {
    [
        ("project", json!("default")),
        ("description", json!("")),
        (
            "failure_strategy",
            json!(FailureStrategy::default().as_str()),
        ),
        ("execution_type", json!(ExecutionType::default().as_str())),
        ("priority", json!(Priority::default().as_str())),
        ("worker_group", json!("default")),
        ("env", json!({})),
        ("params", json!({})),
    ]
}
fn task_defaults() -> [(&'static str, Value); 9] {
    [
        ("description", json!("")),
        ("deps", json!([])),
        ("priority", json!(Priority::default().as_str())),
        ("enabled", json!(true)),
        ("env", json!({})),
        ("params", json!({})),
        ("out", json!([])),
        ("retries", json!(0)),
        ("task_group_priority", json!(0)),
    ]
}

fn dynamic_defaults() -> [(&'static str, Value); 2] {
    [
        ("on_failure", json!(crate::OnFailure::default().as_str())),
        ("max_items", json!(crate::dynamic::DEFAULT_MAX_ITEMS)),
    ]
}

/// A normalised spec as one would write it: fields holding their defaults left out, a
/// parameter `{"value": v, "type": "varchar"}` as `v`, an OUT parameter of type varchar
/// without a default as its name, a timeout's `warn` strategy left out.
pub fn without_defaults(spec: &Value) -> Value {
    fn strip(obj: &mut Map<String, Value>, defaults: &[(&str, Value)]) {
        for (key, default) in defaults {
            if obj.get(*key) == Some(default) {
                obj.remove(*key);
            }
        }
        if let Some(Value::Object(params)) = obj.get_mut("params") {
            for param in params.values_mut() {
                if param["type"] == "varchar"
                    && param.as_object().is_some_and(|p| p.len() == 2)
                    && let Some(value) = param.get("value").cloned()
                {
                    *param = value;
                }
            }
        }
        if let Some(Value::Object(timeout)) = obj.get_mut("timeout")
            && timeout.get("strategy") == Some(&json!(TimeoutStrategy::default().as_str()))
        {
            timeout.remove("strategy");
        }
    }
    fn shorten_task(task: &mut Map<String, Value>) {
        strip(task, &task_defaults());
        if let Some(Value::Array(out)) = task.get_mut("out") {
            for param in out.iter_mut() {
                if param["type"] == "varchar"
                    && param["default"] == ""
                    && param.as_object().is_some_and(|p| p.len() == 3)
                {
                    *param = param["name"].clone();
                }
            }
        }
    }
    let mut spec = spec.as_object().cloned().unwrap_or_default();
    strip(&mut spec, &workflow_defaults());
    if let Some(Value::Array(tasks)) = spec.get_mut("tasks") {
        for task in tasks.iter_mut().filter_map(Value::as_object_mut) {
            shorten_task(task);
            // A dynamic task's own defaults, and its inline element task's as any task's.
            if task.get("type") == Some(&json!("dynamic")) {
                strip(task, &dynamic_defaults());
                if let Some(Value::Object(run)) = task.get_mut("run") {
                    shorten_task(run);
                }
            }
        }
    }
    Value::Object(spec)
}

/// Keys written first, in this order, in a workflow, a task and a schedule; the others
/// follow by name, then [`LAST_KEYS`], so that the text of one definition never changes.
const FIRST_KEYS: &[&str] = &[
    "name",
    "cron",
    "type",
    "deps",
    "description",
    "project",
    "tenant",
    "worker_group",
    "priority",
];
const LAST_KEYS: &[&str] = &["params", "env", "tasks", "schedules"];

/// `value` as YAML whose mappings keep their order: with `reading`, [`FIRST_KEYS`] first and
/// [`LAST_KEYS`] last (the workflow, its tasks and its schedules); elsewhere (parameters,
/// groups, timeouts) by name.
fn ordered(value: &Value, reading: bool) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Value::Object(map) => {
            let rank = |key: &str| {
                if !reading {
                    return (1, 0);
                }
                if let Some(i) = FIRST_KEYS.iter().position(|k| *k == key) {
                    (0, i)
                } else if let Some(i) = LAST_KEYS.iter().position(|k| *k == key) {
                    (2, i)
                } else {
                    (1, 0)
                }
            };
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
            Y::Mapping(
                keys.into_iter()
                    .map(|k| {
                        let child = reading && (k == "tasks" || k == "schedules");
                        (Y::String(k.clone()), ordered(&map[k.as_str()], child))
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Y::Sequence(items.iter().map(|v| ordered(v, reading)).collect()),
        other => serde_yaml_ng::to_value(other).unwrap_or(Y::Null),
    }
}

/// The text of a workflow as code: `spec` (short or whole) with its `schedules` (canonical),
/// as YAML in the fixed key order.
pub fn document(spec: &Value, schedules: Vec<Map<String, Value>>) -> String {
    let mut out = spec.as_object().cloned().unwrap_or_default();
    if !schedules.is_empty() {
        out.insert(
            "schedules".into(),
            Value::Array(schedules.into_iter().map(Value::Object).collect()),
        );
    }
    serde_yaml_ng::to_string(&ordered(&Value::Object(out), true)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_task_is_written_short_and_reads_back_the_same() {
        let spec = json!({"name": "fan", "tasks": [
            {"name": "each", "type": "dynamic", "over": {"f": ["a", "b"]}, "parallelism": 2,
             "run": {"type": "shell", "script": "echo ${f}", "out": ["size"]}}]});
        let normal = crate::validate_spec(&spec).unwrap().to_json();
        let short = without_defaults(&normal);
        assert_eq!(
            short["tasks"][0],
            json!({"name": "each", "type": "dynamic", "over": {"f": ["a", "b"]}, "parallelism": 2,
                   "run": {"type": "shell", "script": "echo ${f}", "out": ["size"]}})
        );
        assert_eq!(crate::validate_spec(&short).unwrap().to_json(), normal);
    }

    #[test]
    fn defaults_are_left_out_and_keys_keep_one_order() {
        let normal = json!({
            "name": "etl", "description": "", "failure_strategy": "end",
            "execution_type": "parallel", "priority": "medium", "worker_group": "default",
            "params": {"dt": {"value": "x", "type": "varchar"}, "n": {"value": "1", "type": "integer"}},
            "timeout": {"after": "1 h", "strategy": "warn"},
            "tasks": [{"name": "load", "type": "shell", "script": "echo", "deps": [],
                       "priority": "high", "description": "",
                       "out": ["rows", {"name": "rows2", "type": "varchar", "default": ""}],
                       "timeout": {"after": "1 min", "strategy": "fail"}}]});
        let short = without_defaults(&normal);
        assert_eq!(
            short,
            json!({
                "name": "etl", "failure_strategy": "end",
                "params": {"dt": "x", "n": {"value": "1", "type": "integer"}},
                "timeout": {"after": "1 h"},
                "tasks": [{"name": "load", "type": "shell", "script": "echo", "priority": "high",
                           "out": ["rows", "rows2"],
                           "timeout": {"after": "1 min", "strategy": "fail"}}]})
        );
        let text = serde_yaml_ng::to_string(&ordered(&short, true)).unwrap();
        assert_eq!(
            text,
            "name: etl\nfailure_strategy: end\ntimeout:\n  after: 1 h\n\
             params:\n  dt: x\n  n:\n    type: integer\n    value: '1'\n\
             tasks:\n- name: load\n  type: shell\n  priority: high\n  out:\n  - rows\n  - rows2\n  \
             script: echo\n  timeout:\n    after: 1 min\n    strategy: fail\n"
        );
    }
}
