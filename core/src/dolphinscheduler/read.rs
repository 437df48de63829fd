//! Readers of the export's fields, which DolphinScheduler writes loosely (numbers as strings,
//! JSON as strings holding JSON, "" for absent), each error naming the field at fault; and
//! the few words of its vocabulary more than one converter needs.

use serde_json::{Map, Value};

use crate::error::{SpecError, quote};

pub(super) fn err(path: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        path: path.to_owned(),
        message: message.into(),
    }
}

pub(super) fn object<'a>(
    value: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, SpecError> {
    value
        .as_object()
        .ok_or_else(|| err(path, "must be a JSON object"))
}

/// A field that DolphinScheduler writes either as JSON or as a string holding JSON
/// (`globalParams`, and `taskParams` in older exports). Null and "" are absent.
pub(super) fn json_field(value: Option<&Value>, path: &str) -> Result<Option<Value>, SpecError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| err(path, format!("not valid JSON: {e}"))),
        Some(other) => Ok(Some(other.clone())),
    }
}

pub(super) fn text<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, SpecError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(err(&format!("{path}.{key}"), "must be a string")),
    }
}

pub(super) fn required_text<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, SpecError> {
    text(obj, key, path)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| err(&format!("{path}.{key}"), "required"))
}

/// A whole number, also when written as a string (`"sqlType": "0"`).
pub(super) fn number(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<i64>, SpecError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| err(&format!("{path}.{key}"), "must be a whole number")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            err(
                &format!("{path}.{key}"),
                format!("{} is not a whole number", quote(s)),
            )
        }),
        Some(_) => Err(err(&format!("{path}.{key}"), "must be a whole number")),
    }
}

/// An enum value as DolphinScheduler writes it (upper case), or None when absent.
pub(super) fn keyword(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    allowed: &[&str],
) -> Result<Option<String>, SpecError> {
    match text(obj, key, path)? {
        None => Ok(None),
        Some("") => Ok(None),
        Some(v) => {
            let upper = v.to_ascii_uppercase();
            if allowed.contains(&upper.as_str()) {
                Ok(Some(upper))
            } else {
                Err(err(
                    &format!("{path}.{key}"),
                    format!(
                        "{} is not allowed; allowed: {}",
                        quote(v),
                        allowed.join(", ")
                    ),
                ))
            }
        }
    }
}

pub(super) fn list<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a [Value], SpecError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(err(&format!("{path}.{key}"), "must be an array")),
    }
}

pub(super) const PRIORITIES: &[&str] = &["HIGHEST", "HIGH", "MEDIUM", "LOW", "LOWEST"];

pub(super) fn minutes(n: i64) -> String {
    format!("{n} min")
}
