//! Pure logic of pg_sched: workflow specs and their DAG, and parameter resolution, with no
//! PostgreSQL dependency so it can be unit-tested quickly and shared by the extension and
//! the worker.

pub mod admit;
pub mod alert;
mod command_type;
pub mod cron;
mod dag;
pub mod dataset;
pub mod deadline;
pub mod dolphinscheduler;
pub mod dynamic;
mod error;
pub mod export;
pub mod expr;
pub mod graph;
mod keyword;
mod limits;
pub mod logic;
mod name;
mod params;
mod policy;
pub mod protocol;
mod spec;
pub mod sql;
pub mod state;
mod task_type;
mod validate;
pub mod vocabulary;
pub mod webhook;

pub use command_type::{CommandField, CommandType, ValueKind, builtin_command_types, shell_quote};
pub use error::SpecError;
pub use keyword::{
    BackfillMode, BackfillOrder, ConditionStatus, Cycle, DatasetMode, DependentFailure,
    ExecutionType, FailureStrategy, NotifyStrategy, OnFailure, ParamType, Priority, Relation,
    TableOperation, TimeoutStrategy, TriggerKind, WorkflowTimeoutStrategy,
};
pub use limits::Limits;
pub use params::{
    OutCapture, OutParam, Param, builtins, check_params, check_value, expand_times,
    has_placeholders, merge, normalize_params, parse_out, parse_params, resolve_params,
    resolve_params_over, resolve_template, upstream_values,
};
pub use policy::{TaskPolicy, Timeout, WorkflowTimeout, parse_duration};
pub use spec::{TaskSpec, WorkflowSpec};
pub use task_type::{FieldKind, Runs, TASK_TYPES, TaskField, TaskType};
pub use validate::{parse_spec, parse_spec_with, validate_spec, validate_spec_with};
