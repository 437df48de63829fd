//! The caller's options: what DolphinScheduler's numeric ids map onto here, and `force`.

use serde_json::{Map, Value};

use super::read::err;
use crate::error::SpecError;

const OPTIONS: &[&str] = &["datasources", "task_groups", "workflows", "force"];

/// What the caller maps DolphinScheduler's numeric ids onto.
pub(super) struct Options {
    /// DS datasource id → our datasource name, or null for the scheduler's own database.
    pub(super) datasources: Map<String, Value>,
    pub(super) task_groups: Map<String, Value>,
    /// DS workflow code → name of a workflow that already exists here, for references to
    /// workflows exported in another file.
    pub(super) workflows: Map<String, Value>,
    pub(super) force: bool,
}

impl Options {
    pub(super) fn parse(options: &Value) -> Result<Options, SpecError> {
        let obj = match options {
            Value::Null => return Ok(Options::default()),
            Value::Object(obj) => obj,
            _ => return Err(err("options", "must be a JSON object")),
        };
        if let Some(key) = obj.keys().find(|k| {
            !OPTIONS.contains(&k.as_str()) && !matches!(k.as_str(), "dry_run" | "replace")
        }) {
            return Err(err(
                &format!("options.{key}"),
                format!(
                    "unknown option; allowed: dry_run, replace, {}",
                    OPTIONS.join(", ")
                ),
            ));
        }
        let map = |key: &str, null_ok: bool| -> Result<Map<String, Value>, SpecError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(m)) => {
                    for (id, name) in m {
                        let ok = match name {
                            Value::String(n) => crate::name::is_name(n),
                            Value::Null => null_ok,
                            _ => false,
                        };
                        if !ok {
                            let what = if null_ok { "a name, or null" } else { "a name" };
                            return Err(err(
                                &format!("options.{key}.{id}"),
                                format!("must be {what} (1-63 letters, digits, '_', '-', '.')"),
                            ));
                        }
                    }
                    Ok(m.clone())
                }
                Some(_) => Err(err(
                    &format!("options.{key}"),
                    "must be an object of DolphinScheduler id → name",
                )),
            }
        };
        let force = match obj.get("force") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(err("options.force", "must be true or false")),
        };
        Ok(Options {
            datasources: map("datasources", true)?,
            task_groups: map("task_groups", false)?,
            workflows: map("workflows", false)?,
            force,
        })
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            datasources: Map::new(),
            task_groups: Map::new(),
            workflows: Map::new(),
            force: false,
        }
    }
}
