//! Per-task run policies: retries and their interval, timeouts, delay;
//! and the workflow's timeout. Durations are written as PostgreSQL reads intervals
//! (`"30 s"`, `"1 min"`, `"1 h 30 min"`), from a grammar small enough to check here.

use serde_json::{Map, Value, json};

use crate::error::{Path, SpecError};
use crate::keyword::{TimeoutStrategy, WorkflowTimeoutStrategy};

/// Most retries a task may ask for.
pub const MAX_RETRIES: i64 = 100;
/// Longest retry interval, delay or timeout: 30 days.
pub const MAX_SECONDS: f64 = 30.0 * 86_400.0;
/// DolphinScheduler's default retry interval.
pub const DEFAULT_RETRY_INTERVAL: &str = "1 min";

/// What a task's policies are; all absent by default, and then cost nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskPolicy {
    pub retries: i64,
    pub retry_interval: Option<String>,
    pub timeout: Option<Timeout>,
    pub delay: Option<String>,
    /// The task group whose slots cap it, and its rank there (larger first).
    pub task_group: Option<String>,
    pub task_group_priority: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeout {
    pub after: String,
    pub strategy: TimeoutStrategy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowTimeout {
    pub after: String,
    pub strategy: WorkflowTimeoutStrategy,
}

/// Seconds in a duration such as `"1 min 30 s"`: numbers each followed by a unit (ms, s, sec,
/// second, m, min, minute, h, hour, d, day, with plurals).
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let rule = "a duration such as \"30 s\", \"5 min\" or \"1 h 30 min\" (units ms, s, min, h, d)";
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("must be {rule}"));
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("{text:?} is not {rule}"))?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match rest[..unit_len].to_ascii_lowercase().as_str() {
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            _ => return Err(format!("{text:?} is not {rule}")),
        };
        total += number * factor;
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

pub(crate) fn duration(value: &Value, path: Path<'_>, min: f64) -> Result<String, SpecError> {
    let text = value
        .as_str()
        .ok_or_else(|| SpecError::new(path, "must be a string, a duration such as \"5 min\""))?;
    let seconds = parse_duration(text).map_err(|m| SpecError::new(path, m))?;
    if !(min..=MAX_SECONDS).contains(&seconds) {
        return Err(SpecError::new(
            path,
            format!(
                "{text:?} is out of range; allowed: {} to 30 days",
                if min > 0.0 { "1 s" } else { "0 s" }
            ),
        ));
    }
    Ok(text.trim().to_owned())
}

/// The policies among a task's fields.
pub(crate) fn parse_task_policy(
    obj: &Map<String, Value>,
    field: impl Fn(&'static str) -> String,
) -> Result<TaskPolicy, SpecError> {
    let mut policy = TaskPolicy::default();
    if let Some(value) = obj.get("retries") {
        let path = field("retries");
        policy.retries = value
            .as_i64()
            .filter(|n| (0..=MAX_RETRIES).contains(n))
            .ok_or_else(|| {
                SpecError::new(
                    Path::Field(&path),
                    format!("must be a whole number from 0 to {MAX_RETRIES}"),
                )
            })?;
    }
    if let Some(value) = obj.get("retry_interval") {
        policy.retry_interval = Some(duration(value, Path::Field(&field("retry_interval")), 0.0)?);
    }
    if let Some(value) = obj.get("task_group") {
        let path = field("task_group");
        policy.task_group = Some(
            value
                .as_str()
                .filter(|name| {
                    (1..=63).contains(&name.len())
                        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                })
                .ok_or_else(|| {
                    SpecError::new(
                        Path::Field(&path),
                        format!("must name a task group: {}", crate::name::NAME_RULE),
                    )
                })?
                .to_owned(),
        );
    }
    if let Some(value) = obj.get("task_group_priority") {
        let path = field("task_group_priority");
        policy.task_group_priority = value
            .as_i64()
            .filter(|n| (0..=1_000_000).contains(n))
            .ok_or_else(|| {
                SpecError::new(
                    Path::Field(&path),
                    "must be a whole number from 0 to 1000000 (larger runs first)",
                )
            })?;
        if policy.task_group.is_none() {
            return Err(SpecError::new(Path::Field(&path), "needs task_group"));
        }
    }
    if policy.retries > 0 && policy.retry_interval.is_none() {
        policy.retry_interval = Some(DEFAULT_RETRY_INTERVAL.to_owned());
    }
    if let Some(value) = obj.get("delay") {
        policy.delay = Some(duration(value, Path::Field(&field("delay")), 0.0)?);
    }
    if let Some(value) = obj.get("timeout") {
        let path = field("timeout");
        let (after, strategy) = timeout_fields(value, &path, "warn, fail, warn_fail")?;
        policy.timeout = Some(Timeout {
            after,
            strategy: match strategy {
                Some(s) => TimeoutStrategy::parse(s, Path::Field(&format!("{path}.strategy")))?,
                None => TimeoutStrategy::default(),
            },
        });
    }
    Ok(policy)
}

/// A workflow's `timeout`.
pub(crate) fn parse_workflow_timeout(value: &Value) -> Result<WorkflowTimeout, SpecError> {
    let (after, strategy) = timeout_fields(value, "timeout", "warn, stop")?;
    Ok(WorkflowTimeout {
        after,
        strategy: match strategy {
            Some(s) => WorkflowTimeoutStrategy::parse(s, Path::Field("timeout.strategy"))?,
            None => WorkflowTimeoutStrategy::default(),
        },
    })
}

fn timeout_fields<'v>(
    value: &'v Value,
    path: &str,
    strategies: &str,
) -> Result<(String, Option<&'v Value>), SpecError> {
    let obj = value.as_object().ok_or_else(|| {
        SpecError::new(
            Path::Field(path),
            format!(r#"must be an object {{"after": "10 min", "strategy": one of {strategies}}}"#),
        )
    })?;
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "after" | "strategy"))
    {
        return Err(SpecError::new(
            Path::Field(&format!("{path}.{key}")),
            "unknown field; allowed: after, strategy",
        ));
    }
    let after_path = format!("{path}.after");
    let after = duration(
        obj.get("after")
            .ok_or_else(|| SpecError::new(Path::Field(&after_path), "required"))?,
        Path::Field(&after_path),
        1.0,
    )?;
    Ok((after, obj.get("strategy")))
}

impl TaskPolicy {
    /// Writes the policies that are set into a task's normalised JSON.
    pub(crate) fn write<M: serde::ser::SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        if self.retries > 0 {
            map.serialize_entry("retries", &self.retries)?;
        }
        if let Some(interval) = &self.retry_interval {
            map.serialize_entry("retry_interval", interval)?;
        }
        if let Some(timeout) = &self.timeout {
            map.serialize_entry(
                "timeout",
                &json!({"after": timeout.after, "strategy": timeout.strategy.as_str()}),
            )?;
        }
        if let Some(delay) = &self.delay {
            map.serialize_entry("delay", delay)?;
        }
        if let Some(group) = &self.task_group {
            map.serialize_entry("task_group", group)?;
            map.serialize_entry("task_group_priority", &self.task_group_priority)?;
        }
        Ok(())
    }
}

impl WorkflowTimeout {
    pub fn to_json(&self) -> Value {
        json!({"after": self.after, "strategy": self.strategy.as_str()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1 min 30 s"), Ok(90.0));
        assert_eq!(parse_duration("250ms"), Ok(0.25));
        assert_eq!(parse_duration("2 Hours"), Ok(7200.0));
        assert_eq!(parse_duration("1.5 min"), Ok(90.0));
        for bad in ["", "10", "5 fortnights", "min", "1 min x", "-1 s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
