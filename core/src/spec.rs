//! Workflow specs: the types and the normalised JSON form that `sched.workflow_spec`
//! returns. Their validation from JSON is `validate.rs`, apart so that the modules it calls
//! (task types, logic tasks, alerts) can use the types without importing each other.

use std::collections::BTreeMap;

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
    /// again yields an equal `WorkflowSpec`.
    /// `tenant` and `env` appear only when set, so that specs written before they existed
    /// read back unchanged.
    pub fn to_json(&self) -> Value {
        let mut spec = json!({
            "name": self.name,
            "description": self.description,
            "failure_strategy": self.failure_strategy.as_str(),
            "execution_type": self.execution_type.as_str(),
            "priority": self.priority.as_str(),
            "worker_group": self.worker_group,
            "tasks": self.tasks.iter().map(TaskSpec::to_json).collect::<Vec<_>>(),
        });
        if let Some(project) = &self.project {
            spec["project"] = project.clone().into();
        }
        if let Some(tenant) = &self.tenant {
            spec["tenant"] = tenant.clone().into();
        }
        if let Some(timezone) = &self.timezone {
            spec["timezone"] = timezone.clone().into();
        }
        if !self.env.is_empty() {
            spec["env"] = Value::Object(self.env.clone());
        }
        if !self.params.is_empty() {
            spec["params"] = params_json(&self.params);
        }
        if let Some(timeout) = &self.timeout {
            spec["timeout"] = timeout.to_json();
        }
        if let Some(notify) = &self.notify {
            spec["notify"] = notify.to_json();
        }
        if let Some(schedule_on) = &self.schedule_on {
            spec["schedule_on"] = schedule_on.to_json();
        }
        if self.strict_sql {
            spec["strict_sql"] = true.into();
        }
        if self.protect_objects {
            spec["protect_objects"] = true.into();
        }
        if let Some(deadline) = &self.deadline {
            spec["deadline"] = deadline.clone().into();
        }
        if let Some(admit_when) = &self.admit_when {
            spec["admit_when"] = admit_when.clone().into();
        }
        if self.snapshot != crate::admit::Snapshot::Own {
            spec["snapshot"] = self.snapshot.as_str().into();
        }
        spec
    }
}

impl TaskSpec {
    /// Settings sit beside the common fields, as in the input. An inherited worker group
    /// is left out rather than written as null or as the workflow's value, so that a later
    /// change of the workflow's group still applies to the task.
    pub fn to_json(&self) -> Value {
        let mut obj = self.settings.clone();
        obj.insert("name".into(), self.name.clone().into());
        obj.insert("type".into(), self.task_type.clone().into());
        obj.insert("deps".into(), self.deps.clone().into());
        obj.insert("priority".into(), self.priority.as_str().into());
        if let Some(group) = &self.worker_group {
            obj.insert("worker_group".into(), group.clone().into());
        }
        obj.insert("description".into(), self.description.clone().into());
        if !self.env.is_empty() {
            obj.insert("env".into(), Value::Object(self.env.clone()));
        }
        if !self.params.is_empty() {
            obj.insert("params".into(), params_json(&self.params));
        }
        self.policy.write(&mut obj);
        if !self.enabled {
            obj.insert("enabled".into(), false.into());
        }
        if !self.produces.is_empty() {
            obj.insert("produces".into(), self.produces.clone().into());
        }
        if !self.out.is_empty() {
            obj.insert(
                "out".into(),
                self.out
                    .iter()
                    .map(OutParam::to_json)
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        Value::Object(obj)
    }
}

fn params_json(params: &BTreeMap<String, Param>) -> Value {
    params::params_json(params)
}

/// What a normalised spec (`WorkflowSpec::to_json`) names that needs a right, in spec order,
/// each as `{kind, name, field}`: worker groups (but `default`, which everyone may use),
/// datasources, alert groups and task groups, a dynamic task's inline element task's too
/// (its fields under `run.`). Stored with the version, so that a start checks a short list.
pub fn normalized_uses(normalized: &Value) -> Vec<Value> {
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
    push(
        "worker_group",
        text(normalized.get("worker_group")),
        &|| "worker_group".into(),
    );
    push(
        "alert_group",
        text(normalized.get("notify").and_then(|n| n.get("alert_group"))),
        &|| "notify.alert_group".into(),
    );
    type Find = fn(&Value) -> Option<&Value>;
    let fields: [(&str, Find, &str); 4] = [
        ("worker_group", |b| b.get("worker_group"), "worker_group"),
        ("datasource", |b| b.get("datasource"), "datasource"),
        (
            "alert_group",
            |b| b.get("send_result").and_then(|r| r.get("alert_group")),
            "send_result.alert_group",
        ),
        ("task_group", |b| b.get("task_group"), "task_group"),
    ];
    let tasks = normalized.get("tasks").and_then(Value::as_array);
    for (i, task) in tasks.into_iter().flatten().enumerate() {
        let run = task.get("run").filter(|r| r.is_object());
        let bodies = [Some((task, "")), run.map(|r| (r, "run."))];
        for (kind, find, field) in fields {
            for (body, prefix) in bodies.iter().flatten() {
                push(kind, text(find(body)), &|| {
                    format!("tasks[{i}].{prefix}{field}")
                });
            }
        }
    }
    uses
}
