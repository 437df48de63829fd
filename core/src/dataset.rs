//! Datasets (Airflow's assets): names tasks produce and workflows are scheduled on. A task's
//! `produces` lists the datasets a success of it updates; a workflow's `schedule_on` starts
//! it when the datasets it lists get events (every one of them, or any). The names are free
//! text, a table's name by convention; what a name may hold is said once here.

use serde_json::{Map, Value, json};

use crate::error::{Path, SpecError, quote};
use crate::keyword::DatasetMode;

/// Longest dataset name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most datasets one task produces or one workflow is scheduled on.
pub const MAX_DATASETS: usize = 100;

const NAME_RULE: &str = "1 to 200 characters, no control characters";

/// A workflow's `schedule_on`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleOn {
    pub datasets: Vec<String>,
    pub mode: DatasetMode,
    /// How long the datasets must be quiet before an `any` start; `None` starts at once.
    pub debounce: Option<String>,
}

impl ScheduleOn {
    pub fn to_json(&self) -> Value {
        let mut obj = json!({"datasets": self.datasets, "mode": self.mode.as_str()});
        if let Some(debounce) = &self.debounce {
            obj["debounce"] = debounce.clone().into();
        }
        obj
    }
}

fn dataset_names(value: &Value, path: &str) -> Result<Vec<String>, SpecError> {
    let items = value
        .as_array()
        .ok_or_else(|| SpecError::new(Path::Field(path), "must be an array of dataset names"))?;
    if items.len() > MAX_DATASETS {
        return Err(SpecError::new(
            Path::Field(path),
            format!("{} datasets; at most {MAX_DATASETS} allowed", items.len()),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let name = item
            .as_str()
            .ok_or_else(|| SpecError::new(Path::Field(&at), "must be a string"))?;
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(SpecError::new(
                Path::Field(&at),
                format!(
                    "{} is not a dataset name; allowed: {NAME_RULE}",
                    quote(name)
                ),
            ));
        }
        if names.iter().any(|n| n == name) {
            return Err(SpecError::new(
                Path::Field(&at),
                format!("dataset {} is listed twice", quote(name)),
            ));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// A task's `produces`, `path` its field path (`tasks[2].produces`).
pub(crate) fn parse_produces(value: &Value, path: &str) -> Result<Vec<String>, SpecError> {
    dataset_names(value, path)
}

/// A workflow's `schedule_on`: `{"datasets": [...], "mode": "all" | "any", "debounce": "30 s"}`.
pub(crate) fn parse_schedule_on(value: &Value) -> Result<ScheduleOn, SpecError> {
    const FIELDS: &[&str] = &["datasets", "mode", "debounce"];
    let obj: &Map<String, Value> = value.as_object().ok_or_else(|| {
        SpecError::new(
            Path::Field("schedule_on"),
            "must be an object such as {\"datasets\": [\"dw.orders\"], \"mode\": \"all\"}",
        )
    })?;
    if let Some(key) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(SpecError::new(
            Path::Field(&format!("schedule_on.{key}")),
            format!("unknown field; allowed: {}", FIELDS.join(", ")),
        ));
    }
    let datasets = dataset_names(
        obj.get("datasets")
            .ok_or_else(|| SpecError::new(Path::Field("schedule_on.datasets"), "required"))?,
        "schedule_on.datasets",
    )?;
    if datasets.is_empty() {
        return Err(SpecError::new(
            Path::Field("schedule_on.datasets"),
            "must name at least one dataset",
        ));
    }
    let mode = obj
        .get("mode")
        .map(|v| DatasetMode::parse(v, Path::Field("schedule_on.mode")))
        .transpose()?
        .unwrap_or_default();
    let debounce = obj
        .get("debounce")
        .map(|v| crate::policy::duration(v, Path::Field("schedule_on.debounce"), 0.0))
        .transpose()?;
    if debounce.is_some() && mode == DatasetMode::All {
        return Err(SpecError::new(
            Path::Field("schedule_on.debounce"),
            "only for mode \"any\"; mode \"all\" starts once every dataset has a new event",
        ));
    }
    Ok(ScheduleOn {
        datasets,
        mode,
        debounce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_on_is_checked_field_by_field() {
        let ok = parse_schedule_on(
            &json!({"datasets": ["dw.orders", "dw.customers"], "mode": "ANY", "debounce": "5 s"}),
        )
        .unwrap();
        assert_eq!(ok.mode, DatasetMode::Any);
        assert_eq!(
            ok.to_json(),
            json!({"datasets": ["dw.orders", "dw.customers"], "mode": "any", "debounce": "5 s"})
        );
        let all = parse_schedule_on(&json!({"datasets": ["a"]})).unwrap();
        assert_eq!(all.mode, DatasetMode::All);
        for (bad, says) in [
            (json!([]), "schedule_on: must be an object"),
            (
                json!({"datasets": []}),
                "schedule_on.datasets: must name at least one",
            ),
            (
                json!({"datasets": ["a", "a"]}),
                "schedule_on.datasets[1]: dataset \"a\" is listed twice",
            ),
            (
                json!({"datasets": [""]}),
                "schedule_on.datasets[0]: \"\" is not a dataset name",
            ),
            (
                json!({"datasets": ["a"], "mode": "some"}),
                "schedule_on.mode: \"some\" is not a valid dataset mode; allowed: all, any",
            ),
            (
                json!({"datasets": ["a"], "debounce": "5 s"}),
                "schedule_on.debounce: only for mode \"any\"",
            ),
            (
                json!({"datasets": ["a"], "when": 1}),
                "schedule_on.when: unknown field",
            ),
        ] {
            let error = parse_schedule_on(&bad).unwrap_err().to_string();
            assert!(error.starts_with(says), "{bad}: {error}");
        }
    }

    #[test]
    fn produces_takes_free_names() {
        assert_eq!(
            parse_produces(&json!(["dw.orders", "s3://bucket/x"]), "tasks[0].produces").unwrap(),
            vec!["dw.orders", "s3://bucket/x"]
        );
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(parse_produces(&json!([long]), "tasks[0].produces").is_err());
        assert!(parse_produces(&json!("dw.orders"), "tasks[0].produces").is_err());
    }
}
