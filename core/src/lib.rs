//! Pure logic of pg_sched: workflow specs and their DAG, with no PostgreSQL dependency so
//! it can be unit-tested quickly and shared by the extension and the worker.

mod dag;
mod error;
mod keyword;
mod spec;
mod task_type;

pub use error::SpecError;
pub use keyword::{ExecutionType, FailureStrategy, Priority};
pub use spec::{MAX_TASKS, TaskSpec, WorkflowSpec, validate_spec};
pub use task_type::{FieldKind, TASK_TYPES, TaskField, TaskType};
