//! Pure logic of pg_sched: workflow specs and their DAG, with no PostgreSQL dependency so
//! it can be unit-tested quickly and shared by the extension and the worker.

mod dag;
mod error;
mod keyword;
mod limits;
mod spec;
mod task_type;

pub use error::SpecError;
pub use keyword::{ExecutionType, FailureStrategy, Priority};
pub use limits::Limits;
pub use spec::{TaskSpec, WorkflowSpec, parse_spec, validate_spec, validate_spec_with};
pub use task_type::{FieldKind, TASK_TYPES, TaskField, TaskType};
