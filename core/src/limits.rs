//! Caps on the size of a workflow spec, so that a hostile or mistaken spec is refused
//! with a message naming the setting to raise, instead of exhausting memory or the stack.
//! Each limit is a PostgreSQL setting of the extension, and each message names it.

use serde_json::Value;

use crate::error::{Path, SpecError};

/// The defaults are meant to be those of the extension's settings, so that tests using
/// them see what a fresh installation enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Length of the spec's JSON text (`sched.max_spec_bytes`). Only [`crate::parse_spec`]
    /// sees the text; a parsed value has already been paid for.
    pub max_spec_bytes: usize,
    /// `sched.max_tasks`.
    pub max_tasks: usize,
    /// Dependencies summed over all tasks (`sched.max_edges`).
    pub max_edges: usize,
    /// Nesting of arrays and objects (`sched.max_spec_depth`): a scalar is 0, `{}` is 1,
    /// `{"tasks": [{}]}` is 3. A task's `deps` and `env` sit at 4, so below 4 no spec
    /// with dependencies passes.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 32 MiB holds a spec at both the task and the edge limit when names are short
    /// (about 7 MB of tasks plus 10 MB of dependency names). Depth 32 is eight times what
    /// a spec needs today, and well below serde_json's own limit of 128, so that limit is
    /// never what the user meets.
    fn default() -> Self {
        Self {
            max_spec_bytes: 32 * 1024 * 1024,
            max_tasks: 100_000,
            max_edges: 1_000_000,
            max_depth: 32,
        }
    }
}

impl Limits {
    pub(crate) fn check_spec_bytes(&self, text: &str) -> Result<(), SpecError> {
        if text.len() > self.max_spec_bytes {
            return Err(SpecError::new(
                Path::Root,
                format!(
                    "{} bytes is more than sched.max_spec_bytes allows ({})",
                    text.len(),
                    self.max_spec_bytes
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn check_tasks(&self, count: usize) -> Result<(), SpecError> {
        if count > self.max_tasks {
            return Err(SpecError::new(
                Path::Field("tasks"),
                format!(
                    "{count} tasks is more than sched.max_tasks allows ({})",
                    self.max_tasks
                ),
            ));
        }
        Ok(())
    }

    /// `count` is the running total up to and including the task at `path`, so the error
    /// points at the task that went over.
    pub(crate) fn check_edges(&self, count: usize, path: Path<'_>) -> Result<(), SpecError> {
        if count > self.max_edges {
            return Err(SpecError::new(
                path,
                format!(
                    "the workflow has more than sched.max_edges allows ({}) dependencies in all",
                    self.max_edges
                ),
            ));
        }
        Ok(())
    }

    /// Scans the text without parsing it, so that serde_json, which recurses once per
    /// level, never sees input deeper than the limit. Brackets inside strings do not count.
    /// Malformed text may be misjudged, but only after the point where the parser itself
    /// fails, so the parser never nests deeper than the scan measured.
    pub(crate) fn check_text_depth(&self, text: &str) -> Result<(), SpecError> {
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        // JSON's structural characters are ASCII and never occur inside a multi-byte
        // UTF-8 sequence, so bytes can be scanned directly.
        for &byte in text.as_bytes() {
            if in_string {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > self.max_depth {
                        return Err(self.too_deep());
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }

    /// Walks the value with one iterator per open array or object rather than by
    /// recursion, so memory and stack stay bounded by the limit whatever the input.
    pub(crate) fn check_value_depth(&self, value: &Value) -> Result<(), SpecError> {
        let mut open: Vec<Children<'_>> = Vec::new();
        let mut next = Some(value);
        loop {
            if let Some(children) = next.and_then(Children::of) {
                if open.len() == self.max_depth {
                    return Err(self.too_deep());
                }
                open.push(children);
            }
            let Some(innermost) = open.last_mut() else {
                return Ok(());
            };
            next = innermost.next();
            if next.is_none() {
                open.pop();
            }
        }
    }

    fn too_deep(&self) -> SpecError {
        SpecError::new(
            Path::Root,
            format!(
                "nested deeper than sched.max_spec_depth allows ({})",
                self.max_depth
            ),
        )
    }
}

enum Children<'a> {
    Array(std::slice::Iter<'a, Value>),
    Object(serde_json::map::Values<'a>),
}

impl<'a> Children<'a> {
    fn of(value: &'a Value) -> Option<Self> {
        match value {
            Value::Array(items) => Some(Self::Array(items.iter())),
            Value::Object(fields) => Some(Self::Object(fields.values())),
            _ => None,
        }
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = &'a Value;

    fn next(&mut self) -> Option<&'a Value> {
        match self {
            Self::Array(items) => items.next(),
            Self::Object(fields) => fields.next(),
        }
    }
}
