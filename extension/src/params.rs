//! Parameters, for the SQL that starts instances and claims tasks, and for `sched.resolve`,
//! which resolves a template exactly as a task would. Business times come as
//! "YYYY-MM-DD HH24:MI:SS" text in the instance's (or the caller's) time zone.

use std::collections::BTreeMap;

use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};
use serde_json::{Map, Value};

fn fail(message: String) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message
    );
}

fn business_time(text: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| fail(format!("schedule_time: {e}")))
}

/// The built-ins, the `facts` ({"system.workflow.definition.name": ...}) and `params` resolved
/// at `at`; raises naming the parameter at fault.
fn values(params: &Value, facts: &Value, at: chrono::NaiveDateTime) -> BTreeMap<String, String> {
    let given = sched_core::parse_params(params, "params").unwrap_or_else(|e| fail(e.to_string()));
    let facts: Vec<(&str, String)> = facts
        .as_object()
        .map(|f| {
            f.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let builtins = sched_core::builtins(at, &facts);
    let merged = sched_core::merge(&[&builtins, &given]);
    sched_core::resolve_params(&merged, at, "params").unwrap_or_else(|e| fail(e.to_string()))
}

#[pg_extern(name = "_resolve_template", stable, parallel_safe)]
pub fn resolve_template(template: &str, params: JsonB, business_time_text: &str) -> String {
    let at = business_time(business_time_text);
    let values = values(&params.0, &Value::Null, at);
    sched_core::resolve_template(template, &values, at, "template")
        .unwrap_or_else(|e| fail(e.to_string()))
}

/// The parameter values of a new instance: startup params over the built-ins, resolved once
/// at its business time, so that every task and every later attempt sees the same.
#[pg_extern(name = "_instance_values", stable, parallel_safe)]
pub fn instance_values(params: JsonB, facts: JsonB, business_time_text: &str) -> JsonB {
    let values = values(&params.0, &facts.0, business_time(business_time_text));
    JsonB(Value::Object(
        values
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    ))
}

/// A task's settings with `${...}` and `$[...]` resolved in its texts. Never raises: it runs
/// inside the claim, where one bad task must not fail the others; a failure comes back as
/// `resolve_error`, which the worker reports as the task's failure.
#[pg_extern(name = "_resolve_settings", stable, parallel_safe)]
pub fn resolve_settings(settings: JsonB, values: JsonB, business_time_text: &str) -> JsonB {
    let Value::Object(fields) = settings.0 else {
        return settings;
    };
    let Ok(at) = chrono::NaiveDateTime::parse_from_str(business_time_text, "%Y-%m-%d %H:%M:%S")
    else {
        return JsonB(Value::Object(fields));
    };
    let values: BTreeMap<String, String> = values
        .0
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut resolved = Map::new();
    for (name, value) in fields {
        let value = match value {
            // The environment is passed as declared, as in DolphinScheduler.
            Value::String(text) if name != "env" && sched_core::has_placeholders(&text) => {
                match sched_core::resolve_template(&text, &values, at, &name) {
                    Ok(text) => Value::String(text),
                    Err(err) => {
                        resolved.insert("resolve_error".into(), err.to_string().into());
                        Value::String(text)
                    }
                }
            }
            other => other,
        };
        resolved.insert(name, value);
    }
    JsonB(Value::Object(resolved))
}
