//! The task types built into pg_sched's code and their type-specific fields. Validation is
//! driven by this table; types defined by data (command types) are in `command_type`.

use serde_json::Value;

use crate::error::{Path, SpecError};
use crate::logic::LogicField;

/// A task type and the fields a task of this type may carry next to the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskType {
    pub name: &'static str,
    /// What it runs, for sched.task_types.
    pub description: &'static str,
    pub runs: Runs,
    pub fields: &'static [TaskField],
}

/// How a worker executes a task of the type: each is one module of the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// Nothing: the task succeeds when claimed.
    Nothing,
    /// A process in its own group and directory (shell, python, command types).
    Process,
    /// Statements on a database: the scheduler's own, as the workflow's owner, or a
    /// datasource of the worker's configuration.
    Sql,
    /// No worker: the scheduler decides it in the database (logic tasks, [`crate::logic`]).
    Scheduler,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskField {
    pub name: &'static str,
    pub required: bool,
    pub kind: FieldKind,
}

/// The JSON shape a type-specific field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    NonEmptyString,
    /// A statement whose `${...}` are bound ([`crate::sql`]).
    Sql,
    /// An array of statements.
    SqlList,
    Boolean,
    /// The most result rows kept: 0 to [`crate::sql::MAX_LIMIT_ROWS`].
    RowLimit,
    /// A datasource of the workers' configuration.
    Datasource,
    /// `name` or `schema.name`.
    ProcedureName,
    /// A procedure's `args`.
    ProcedureArgs,
    /// Where a sql task's result is mailed ([`crate::alert::normalize_send_result`]).
    SendResult,
    /// A field of a logic task, with rules of its own.
    Logic(LogicField),
}

const SCRIPT: TaskField = TaskField {
    name: "script",
    required: true,
    kind: FieldKind::NonEmptyString,
};
const DATASOURCE: TaskField = TaskField {
    name: "datasource",
    required: false,
    kind: FieldKind::Datasource,
};

const SEND_RESULT: TaskField = TaskField {
    name: "send_result",
    required: false,
    kind: FieldKind::SendResult,
};

const fn logic(name: &'static str, required: bool, kind: LogicField) -> TaskField {
    TaskField {
        name,
        required,
        kind: FieldKind::Logic(kind),
    }
}

/// Sorted by name: error messages list the allowed types in this order.
pub const TASK_TYPES: &[TaskType] = &[
    TaskType {
        name: "conditions",
        description: "decides, once its upstream tasks ended (failed ones too), between on_success and on_failure; the other branch is skipped",
        runs: Runs::Scheduler,
        fields: &[
            logic("conditions", true, LogicField::Conditions),
            logic("on_success", false, LogicField::TaskNames),
            logic("on_failure", false, LogicField::TaskNames),
        ],
    },
    TaskType {
        name: "dependent",
        description: "waits until instances of other workflows (or tasks of them) succeeded for the periods its date values name",
        runs: Runs::Scheduler,
        fields: &[
            logic("relation", false, LogicField::Relation),
            logic("groups", true, LogicField::DependentGroups),
            logic("check_interval", false, LogicField::Duration),
            logic("on_failure", false, LogicField::DependentFailure),
            logic("wait_for", false, LogicField::Duration),
        ],
    },
    TaskType {
        name: "dynamic",
        description: "runs its element task (inline, or a workflow as a sub-process) once per element of lists known at run time, or per combination of several; gathers the elements' OUT params into lists",
        runs: Runs::Scheduler,
        fields: &[
            logic("over", true, LogicField::Over),
            logic("run", true, LogicField::ElementTask),
            logic("parallelism", false, LogicField::Count),
            logic("on_failure", false, LogicField::OnFailure),
            logic("max_items", false, LogicField::Count),
        ],
    },
    TaskType {
        name: "empty",
        description: "no process; succeeds at once",
        runs: Runs::Nothing,
        fields: &[],
    },
    TaskType {
        name: "procedure",
        description: "CALL procedure(args) as the workflow's owner, or on a worker's datasource; out and inout args become OUT params",
        runs: Runs::Sql,
        fields: &[
            TaskField {
                name: "procedure",
                required: true,
                kind: FieldKind::ProcedureName,
            },
            TaskField {
                name: "args",
                required: false,
                kind: FieldKind::ProcedureArgs,
            },
            DATASOURCE,
            SEND_RESULT,
        ],
    },
    TaskType {
        name: "python",
        description: "the worker's --python on script",
        runs: Runs::Process,
        fields: &[SCRIPT],
    },
    TaskType {
        name: "shell",
        description: "bash -c script",
        runs: Runs::Process,
        fields: &[SCRIPT],
    },
    TaskType {
        name: "sql",
        description: "statements as the workflow's owner on the scheduler's database, or on a worker's datasource; ${name} bound as parameters",
        runs: Runs::Sql,
        fields: &[
            TaskField {
                name: "sql",
                required: true,
                kind: FieldKind::Sql,
            },
            DATASOURCE,
            TaskField {
                name: "pre_statements",
                required: false,
                kind: FieldKind::SqlList,
            },
            TaskField {
                name: "post_statements",
                required: false,
                kind: FieldKind::SqlList,
            },
            TaskField {
                name: "query",
                required: false,
                kind: FieldKind::Boolean,
            },
            TaskField {
                name: "limit_rows",
                required: false,
                kind: FieldKind::RowLimit,
            },
            SEND_RESULT,
        ],
    },
    TaskType {
        name: "sub_process",
        description: "runs another workflow as a child instance and ends as it ends, with its OUT params",
        runs: Runs::Scheduler,
        fields: &[logic("workflow", true, LogicField::WorkflowName)],
    },
    TaskType {
        name: "switch",
        description: "runs the branch of the first case whose condition holds, else default; the others are skipped",
        runs: Runs::Scheduler,
        fields: &[
            logic("cases", true, LogicField::Cases),
            logic("default", false, LogicField::TaskNames),
        ],
    },
];

impl FieldKind {
    /// The kind as sched.task_types shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::NonEmptyString => "string",
            FieldKind::Sql => "sql",
            FieldKind::SqlList => "list of sql",
            FieldKind::Boolean => "boolean",
            FieldKind::RowLimit => "integer",
            FieldKind::Datasource => "datasource",
            FieldKind::ProcedureName => "procedure name",
            FieldKind::ProcedureArgs => "list of {name, direction, type, value}",
            FieldKind::SendResult => "{alert_group, title, rows}",
            FieldKind::Logic(LogicField::WorkflowName) => "workflow name",
            FieldKind::Logic(LogicField::TaskNames) => "list of task names",
            FieldKind::Logic(LogicField::Conditions) => {
                "{relation, groups: [{relation, items: [{task, status}]}]}"
            }
            FieldKind::Logic(LogicField::Cases) => "list of {when, then}",
            FieldKind::Logic(LogicField::Relation) => "and or or",
            FieldKind::Logic(LogicField::DependentGroups) => {
                "list of {relation, items: [{workflow, task, cycle, date_value, parameter_passing}]}"
            }
            FieldKind::Logic(LogicField::Duration) => "duration",
            FieldKind::Logic(LogicField::DependentFailure) => "fail or wait",
            FieldKind::Logic(LogicField::Over) => "{element_param: list_param or [values]}",
            FieldKind::Logic(LogicField::ElementTask) => "workflow name or {type, ...task fields}",
            FieldKind::Logic(LogicField::Count) => "integer",
            FieldKind::Logic(LogicField::OnFailure) => "stop or continue",
        }
    }

    pub(crate) fn check(self, value: &Value, path: Path<'_>) -> Result<(), SpecError> {
        let field = path.to_string();
        match self {
            FieldKind::NonEmptyString => match value.as_str() {
                Some(text) if !text.is_empty() => Ok(()),
                _ => Err(SpecError::new(path, "must be a non-empty string")),
            },
            FieldKind::Sql => match value.as_str() {
                Some(text) if !text.trim().is_empty() => crate::sql::check(text, &field),
                _ => Err(SpecError::new(path, "must be a non-empty string of SQL")),
            },
            FieldKind::SqlList => {
                let items = value.as_array().ok_or_else(|| {
                    SpecError::new(path, "must be an array of SQL statements (strings)")
                })?;
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(text) if !text.trim().is_empty() => {
                            crate::sql::check(text, &format!("{field}[{i}]"))?
                        }
                        _ => {
                            return Err(SpecError {
                                path: format!("{field}[{i}]"),
                                message: "must be a non-empty string of SQL".into(),
                            });
                        }
                    }
                }
                Ok(())
            }
            FieldKind::Boolean => match value {
                Value::Bool(_) => Ok(()),
                _ => Err(SpecError::new(path, "must be true or false")),
            },
            FieldKind::RowLimit => match value.as_i64() {
                Some(n) if (0..=crate::sql::MAX_LIMIT_ROWS).contains(&n) => Ok(()),
                _ => Err(SpecError::new(
                    path,
                    format!(
                        "must be a whole number from 0 to {}",
                        crate::sql::MAX_LIMIT_ROWS
                    ),
                )),
            },
            FieldKind::Datasource => match value.as_str() {
                Some(name) if crate::name::is_name(name) => Ok(()),
                _ => Err(SpecError::new(
                    path,
                    format!(
                        "must name a datasource of the workers' configuration: {}",
                        crate::name::NAME_RULE
                    ),
                )),
            },
            FieldKind::ProcedureName => match value.as_str() {
                Some(name) => crate::sql::check_procedure_name(name, &field),
                None => Err(SpecError::new(
                    path,
                    "must be a string: name or schema.name",
                )),
            },
            FieldKind::ProcedureArgs => crate::sql::parse_args(value, &field).map(|_| ()),
            FieldKind::SendResult => crate::alert::normalize_send_result(value, &field).map(|_| ()),
            FieldKind::Logic(kind) => crate::logic::normalize(kind, value, &field).map(|_| ()),
        }
    }
}
