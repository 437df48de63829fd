//! Workflow specs: the types and the normalised JSON form that `sched.workflow_spec`
//! returns. Their validation from JSON is `validate.rs`, apart so that the modules it calls
//! (task types, logic tasks, alerts) can use the types without importing each other.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::keyword::{ExecutionType, FailureStrategy, Priority};
use crate::params::{self, OutParam, Param};

/// The fields every task may have, whatever its type.
pub(crate) const TASK_FIELDS: &[&str] = &[
    "name",
    "type",
    "deps",
    "priority",
    "worker_group",
    "description",
    "env",
    "params",
    "out",
    "retries",
    "retry_interval",
    "timeout",
    "delay",
    "task_group",
    "task_group_priority",
    "enabled",
    "produces",
];

#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowSpec {
    pub name: String,
    /// The project: the group role that owns the workflow, whose members act on it; `None`
    /// for the role that defines it.
    pub project: Option<String>,
    pub description: String,
    pub failure_strategy: FailureStrategy,
    pub execution_type: ExecutionType,
    pub priority: Priority,
    pub worker_group: String,
    /// OS user that its process tasks run as on workers (DolphinScheduler's tenant); `None`
    /// runs them as the worker's user.
    pub tenant: Option<String>,
    /// IANA zone a manual start's business time is read in when the start names none;
    /// `None` is UTC.
    pub timezone: Option<String>,
    /// Environment variables of every task, below the tasks' own.
    pub env: Map<String, Value>,
    /// Global parameters, resolved once per instance at its business time.
    pub params: BTreeMap<String, Param>,
    pub timeout: Option<crate::WorkflowTimeout>,
    /// Who hears of an instance's end, and where its timeouts and fault tolerance alert.
    pub notify: Option<crate::alert::Notify>,
    /// Starts it when datasets get events (`sched.triggers`, kind `dataset`).
    pub schedule_on: Option<crate::dataset::ScheduleOn>,
    /// A sql or procedure task whose statements do not pass the catalog check at definition
    /// refuses the spec, rather than being only warned of.
    pub strict_sql: bool,
    /// A DROP or ALTER of a relation or function its SQL uses is refused while this is the
    /// current version.
    pub protect_objects: bool,
    /// When a scheduled run must have succeeded by (`crate::deadline`), as written; a
    /// schedule's own deadline wins over it.
    pub deadline: Option<String>,
    /// Must hold before any of its attempts is queued (`crate::admit`), as written.
    pub admit_when: Option<String>,
    /// How its SQL tasks on the scheduler's database read it.
    pub snapshot: crate::admit::Snapshot,
    pub tasks: Vec<TaskSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub name: String,
    /// Lower-case name of an entry in [`crate::TASK_TYPES`].
    pub task_type: String,
    pub deps: Vec<String>,
    pub priority: Priority,
    /// `None` inherits the workflow's worker group.
    pub worker_group: Option<String>,
    pub description: String,
    /// Environment variables of this task; they override the workflow's.
    pub env: Map<String, Value>,
    /// Local IN parameters, resolved when an attempt is claimed.
    pub params: BTreeMap<String, Param>,
    /// OUT parameters it exports to its direct successors and the instance.
    pub out: Vec<OutParam>,
    /// The type-specific fields (e.g. `script` for `shell`), validated against the type.
    pub settings: Map<String, Value>,
    /// Retries, timeout, delay.
    pub policy: crate::TaskPolicy,
    /// False for a forbidden task (DolphinScheduler's "prohibit execution"): it is passed
    /// through, its successors depending on its predecessors.
    pub enabled: bool,
    /// Datasets each success of it updates (an event each, `sched.dataset_events`).
    pub produces: Vec<String>,
}

impl WorkflowSpec {
    /// Each task's depth in the DAG, in the order of `tasks`: the longest path to it from a
    /// task without `deps`. The spec must be valid (its deps name tasks and form no cycle).
    pub fn depths(&self) -> Vec<u32> {
        crate::dag::depths(self.tasks.len(), &self.edges())
    }

    /// Each task's successors (the tasks that list it in `deps`) as indices into `tasks`, in
    /// increasing order, in the order of `tasks`. The spec must be valid.
    pub fn successors(&self) -> Vec<Vec<u32>> {
        let mut successors = vec![Vec::new(); self.tasks.len()];
        // The edges come in the order of their downstream tasks, so each list is sorted.
        for (up, down) in self.edges() {
            successors[up].push(u32::try_from(down).unwrap_or(u32::MAX));
        }
        successors
    }

    /// For each task with `successors` (as [`Self::successors`] gives them), whether it has
    /// some and all are enabled CONDITIONS tasks: then its failure is theirs to judge, not the
    /// instance's.
    pub fn feeds_conditions(&self, successors: &[Vec<u32>]) -> Vec<bool> {
        successors
            .iter()
            .map(|next| {
                !next.is_empty()
                    && next.iter().all(|&i| {
                        let task = &self.tasks[i as usize];
                        task.enabled && task.task_type == "conditions"
                    })
            })
            .collect()
    }

    /// The dependencies as (upstream, downstream) indices into `tasks`, in the order of the
    /// downstream tasks. Deps that name no task are left out (a valid spec has none).
    fn edges(&self) -> Vec<(usize, usize)> {
        let index: std::collections::HashMap<&str, usize> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        self.tasks
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                t.deps
                    .iter()
                    .filter_map(|d| index.get(d.as_str()))
                    .map(move |&j| (j, i))
            })
            .collect()
    }

    /// The normalised spec: every field present, enum values lower case. Validating it
    /// again yields an equal `WorkflowSpec`. Its text is [`Serialize`]'s, written without
    /// building this value: a 100,000-task spec's tree cost a fifth of its creation to build
    /// and free.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// What the spec names that needs a right, in spec order, each as `{kind, name, field}`:
    /// worker groups (but `default`, which everyone may use), datasources, alert groups and
    /// task groups, a dynamic task's inline element task's too (its fields under `run.`).
    /// Stored with the version, so that a start checks a short list.
    pub fn uses(&self) -> Vec<Value> {
        fn text(value: Option<&Value>) -> Option<String> {
            match value? {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }
        }
        let mut uses = Vec::new();
        // The field is formatted only for a name found: most tasks name nothing.
        let mut push = |kind: &str, name: Option<String>, field: &dyn Fn() -> String| {
            if let Some(name) = name
                && !(kind == "worker_group" && name == "default")
            {
                uses.push(json!({"kind": kind, "name": name, "field": field()}));
            }
        };
        push("worker_group", Some(self.worker_group.clone()), &|| {
            "worker_group".into()
        });
        let notify = self.notify.as_ref().map(crate::alert::Notify::to_json);
        push(
            "alert_group",
            text(notify.as_ref().and_then(|n| n.get("alert_group"))),
            &|| "notify.alert_group".into(),
        );
        // A field as the task's normalised JSON has it: the two common fields that name
        // something are typed, the rest are the type's settings; `run` is normalised JSON.
        let fields: [(&str, &str, Option<&str>); 4] = [
            ("worker_group", "worker_group", None),
            ("datasource", "datasource", None),
            ("alert_group", "send_result", Some("alert_group")),
            ("task_group", "task_group", None),
        ];
        for (i, task) in self.tasks.iter().enumerate() {
            let own = |key: &str| match key {
                "worker_group" => task.worker_group.clone().map(Value::String),
                "task_group" => task.policy.task_group.clone().map(Value::String),
                _ => task.settings.get(key).cloned(),
            };
            let run = task.settings.get("run").filter(|r| r.is_object());
            for (kind, key, inner) in fields {
                let field = |prefix: &str| {
                    let path = inner.map_or(key.to_owned(), |inner| format!("{key}.{inner}"));
                    format!("tasks[{i}].{prefix}{path}")
                };
                let within = |value: Option<Value>| match inner {
                    Some(inner) => value.and_then(|v| v.get(inner).cloned()),
                    None => value,
                };
                push(kind, text(within(own(key)).as_ref()), &|| field(""));
                if let Some(run) = run {
                    push(kind, text(within(run.get(key).cloned()).as_ref()), &|| {
                        field("run.")
                    });
                }
            }
        }
        uses
    }
}

impl Serialize for WorkflowSpec {
    /// `tenant` and `env` appear only when set, so that specs written before they existed
    /// read back unchanged.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("description", &self.description)?;
        map.serialize_entry("failure_strategy", self.failure_strategy.as_str())?;
        map.serialize_entry("execution_type", self.execution_type.as_str())?;
        map.serialize_entry("priority", self.priority.as_str())?;
        map.serialize_entry("worker_group", &self.worker_group)?;
        map.serialize_entry("tasks", &self.tasks)?;
        if let Some(project) = &self.project {
            map.serialize_entry("project", project)?;
        }
        if let Some(tenant) = &self.tenant {
            map.serialize_entry("tenant", tenant)?;
        }
        if let Some(timezone) = &self.timezone {
            map.serialize_entry("timezone", timezone)?;
        }
        if !self.env.is_empty() {
            map.serialize_entry("env", &self.env)?;
        }
        if !self.params.is_empty() {
            map.serialize_entry("params", &params_json(&self.params))?;
        }
        if let Some(timeout) = &self.timeout {
            map.serialize_entry("timeout", &timeout.to_json())?;
        }
        if let Some(notify) = &self.notify {
            map.serialize_entry("notify", &notify.to_json())?;
        }
        if let Some(schedule_on) = &self.schedule_on {
            map.serialize_entry("schedule_on", &schedule_on.to_json())?;
        }
        if self.strict_sql {
            map.serialize_entry("strict_sql", &true)?;
        }
        if self.protect_objects {
            map.serialize_entry("protect_objects", &true)?;
        }
        if let Some(deadline) = &self.deadline {
            map.serialize_entry("deadline", deadline)?;
        }
        if let Some(admit_when) = &self.admit_when {
            map.serialize_entry("admit_when", admit_when)?;
        }
        if self.snapshot != crate::admit::Snapshot::Own {
            map.serialize_entry("snapshot", self.snapshot.as_str())?;
        }
        map.end()
    }
}

impl TaskSpec {
    /// The task's normalised JSON, as it sits in the spec's `tasks`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for TaskSpec {
    /// Settings sit beside the common fields, as in the input, and before them, so that a
    /// common field wins (JSON keeps a repeated key's last value). An inherited worker group
    /// is left out rather than written as null or as the workflow's value, so that a later
    /// change of the workflow's group still applies to the task.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &self.settings {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("type", &self.task_type)?;
        map.serialize_entry("deps", &self.deps)?;
        map.serialize_entry("priority", self.priority.as_str())?;
        if let Some(group) = &self.worker_group {
            map.serialize_entry("worker_group", group)?;
        }
        map.serialize_entry("description", &self.description)?;
        if !self.env.is_empty() {
            map.serialize_entry("env", &self.env)?;
        }
        if !self.params.is_empty() {
            map.serialize_entry("params", &params_json(&self.params))?;
        }
        self.policy.write(&mut map)?;
        if !self.enabled {
            map.serialize_entry("enabled", &false)?;
        }
        if !self.produces.is_empty() {
            map.serialize_entry("produces", &self.produces)?;
        }
        if !self.out.is_empty() {
            let out: Vec<Value> = self.out.iter().map(OutParam::to_json).collect();
            map.serialize_entry("out", &out)?;
        }
        map.end()
    }
}

fn params_json(params: &BTreeMap<String, Param>) -> Value {
    params::params_json(params)
}
