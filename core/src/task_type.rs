//! Registry of task types and their type-specific fields. Validation is driven by this
//! table, so adding a task type means adding an entry here and nothing else.

use serde_json::Value;

use crate::error::{Path, SpecError, quote};

/// A task type and the fields a task of this type may carry next to the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskType {
    pub name: &'static str,
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
        fields: &[],
    },
    TaskType {
        name: "python",
        fields: &[TaskField {
            name: "script",
            required: true,
            kind: FieldKind::NonEmptyString,
        }],
    },
    TaskType {
        name: "shell",
        fields: &[TaskField {
            name: "script",
            required: true,
            kind: FieldKind::NonEmptyString,
        }],
    },
];

impl TaskType {
    /// Case-insensitive lookup, as for every enum-like value in a spec.
    pub(crate) fn parse(value: &Value, path: Path<'_>) -> Result<&'static TaskType, SpecError> {
        let text = value
            .as_str()
            .ok_or_else(|| SpecError::new(path, "must be a string"))?;
        TASK_TYPES
            .iter()
            .find(|task_type| task_type.name.eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let allowed: Vec<&str> = TASK_TYPES.iter().map(|t| t.name).collect();
                SpecError::new(
                    path,
                    format!(
                        "unknown task type {}; allowed: {}",
                        quote(text),
                        allowed.join(", ")
                    ),
                )
            })
    }
}

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
