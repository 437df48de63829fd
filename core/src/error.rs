//! The crate's single error type and the field paths it reports.

use std::fmt;

/// A spec rejected by validation: `path` names the offending field (`tasks[2].deps`),
/// `message` says what is wrong and, where it helps, what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", if .path.is_empty() { "spec" } else { .path.as_str() })]
pub struct SpecError {
    /// Empty when the spec as a whole is wrong; Display then says `spec` so the
    /// message never starts with a bare colon.
    pub path: String,
    pub message: String,
}

impl SpecError {
    pub(crate) fn new(path: Path<'_>, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Where a field sits in the spec. Kept structured until an error is raised so that
/// validating a large, valid spec formats no path strings.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Field(&'a str),
    Task(usize),
    TaskField(usize, &'a str),
    Dep(usize, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(field) => f.write_str(field),
            Path::Task(task) => write!(f, "tasks[{task}]"),
            Path::TaskField(task, field) => write!(f, "tasks[{task}].{field}"),
            Path::Dep(task, dep) => write!(f, "tasks[{task}].deps[{dep}]"),
        }
    }
}

/// Quotes user input the way JSON would, so odd characters in a name stay readable and
/// unambiguous in the message.
pub(crate) fn quote(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
