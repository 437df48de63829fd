//! The task types built into pg_sched's code and their type-specific fields. Validation is
//! driven by this table; types defined by data (command types) are in `command_type`.

use serde_json::Value;

use crate::error::{Path, SpecError};

/// A task type and the fields a task of this type may carry next to the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskType {
    pub name: &'static str,
    /// What it runs, for sched.task_types.
    pub description: &'static str,
    pub fields: &'static [TaskField],
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
}

/// Sorted by name: error messages list the allowed types in this order.
pub const TASK_TYPES: &[TaskType] = &[
    TaskType {
        name: "empty",
        description: "no process; succeeds at once",
        fields: &[],
    },
    TaskType {
        name: "python",
        description: "the worker's --python on script",
        fields: &[TaskField {
            name: "script",
            required: true,
            kind: FieldKind::NonEmptyString,
        }],
    },
    TaskType {
        name: "shell",
        description: "bash -c script",
        fields: &[TaskField {
            name: "script",
            required: true,
            kind: FieldKind::NonEmptyString,
        }],
    },
];

impl FieldKind {
    pub(crate) fn check(self, value: &Value, path: Path<'_>) -> Result<(), SpecError> {
        match self {
            FieldKind::NonEmptyString => match value.as_str() {
                Some(text) if !text.is_empty() => Ok(()),
                _ => Err(SpecError::new(path, "must be a non-empty string")),
            },
        }
    }
}
