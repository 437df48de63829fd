//! Parameters, for the SQL that starts instances and claims tasks, and for `sched.resolve`,
//! which resolves a template exactly as a task would. Business times come as
//! "YYYY-MM-DD HH24:MI:SS" text in the instance's (or the caller's) time zone.

use std::collections::BTreeMap;

use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::Value;

use crate::error::fail;

fn business_time(text: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| fail(format!("schedule_time: {e}")))
}

pub(crate) fn text_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn object(values: BTreeMap<String, String>) -> Value {
    Value::Object(
        values
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// The built-ins with `facts` ({"system.workflow.definition.name": ...}), the workflow's
/// `globals` over them and the start `params` over those, resolved at `at`; raises naming
/// the parameter at fault.
fn values(
    globals: &Value,
    params: &Value,
    facts: &Value,
    at: chrono::NaiveDateTime,
) -> BTreeMap<String, String> {
    let parse = |value: &Value| match value {
        Value::Null => BTreeMap::new(),
        value => sched_core::parse_params(value, "params").unwrap_or_else(|e| fail(e.to_string())),
    };
    let (globals, given) = (parse(globals), parse(params));
    let facts = text_map(facts);
    let facts: Vec<(&str, String)> = facts.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let builtins = sched_core::builtins(at, &facts);
    let merged = sched_core::merge(&[&builtins, &globals, &given]);
    sched_core::resolve_params(&merged, at, "params").unwrap_or_else(|e| fail(e.to_string()))
}

#[pg_extern(name = "_resolve_template", stable, parallel_safe)]
pub fn resolve_template(template: &str, params: JsonB, business_time_text: &str) -> String {
    let at = business_time(business_time_text);
    let values = values(&Value::Null, &params.0, &Value::Null, at);
    sched_core::resolve_template(template, &values, at, "template")
        .unwrap_or_else(|e| fail(e.to_string()))
}

/// The parameter values of a new instance, resolved once at its business time, so that every
/// task and every later attempt sees the same.
#[pg_extern(name = "_instance_values", stable, parallel_safe)]
pub fn instance_values(
    globals: JsonB,
    params: JsonB,
    facts: JsonB,
    business_time_text: &str,
) -> JsonB {
    let at = business_time(business_time_text);
    JsonB(object(values(&globals.0, &params.0, &facts.0, at)))
}

/// An attempt's `{"params": ..., "settings": ...}`: `params` is its own layer (task facts,
/// upstream OUT values, its local params resolved), without the start parameters, which win
/// over it and are among the instance's values already; `settings` has its texts resolved
/// against all of them. Never raises: it runs inside the claim, where one bad task must not
/// fail the others; a failure comes back as `settings.resolve_error`, which the worker
/// reports as the task's failure.
#[pg_extern(name = "_resolve_task", stable, parallel_safe)]
pub fn resolve_task(
    settings: JsonB,
    local_params: Option<JsonB>,
    upstream: Option<JsonB>,
    instance_values: JsonB,
    start_params: JsonB,
    facts: JsonB,
    business_time_text: &str,
) -> JsonB {
    let Value::Object(mut fields) = settings.0 else {
        return JsonB(serde_json::json!({"params": {}, "settings": settings.0}));
    };
    let outcome = (|| {
        let at = chrono::NaiveDateTime::parse_from_str(business_time_text, "%Y-%m-%d %H:%M:%S")
            .map_err(|e| format!("business time {business_time_text}: {e}"))?;
        let started: Vec<&String> = start_params
            .0
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        let instance = text_map(&instance_values.0);
        let outputs: Vec<BTreeMap<String, String>> = match upstream.as_ref().map(|u| &u.0) {
            Some(Value::Array(outputs)) => outputs.iter().map(text_map).collect(),
            _ => Vec::new(),
        };
        let upstream = sched_core::upstream_values(&outputs);
        let mut locals = match local_params {
            Some(JsonB(value)) => {
                sched_core::parse_params(&value, "params").map_err(|e| e.to_string())?
            }
            None => BTreeMap::new(),
        };
        locals.retain(|name, _| !started.contains(&name));
        let mut layer = text_map(&facts.0);
        layer.retain(|name, _| !instance.contains_key(name));
        layer.extend(upstream);
        // What the locals see, lowest first: task facts, the instance's values, upstream OUT,
        // start parameters.
        let mut all = layer.clone();
        all.extend(instance.iter().map(|(k, v)| (k.clone(), v.clone())));
        all.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
        for name in &started {
            if let Some(value) = instance.get(*name) {
                all.insert((*name).clone(), value.clone());
            }
        }
        let types: BTreeMap<String, sched_core::ParamType> = locals
            .iter()
            .map(|(name, param)| (name.clone(), param.param_type))
            .collect();
        let resolved = sched_core::resolve_params_over(&locals, &all, at, "params")
            .map_err(|e| e.to_string())?;
        all.extend(resolved.iter().map(|(k, v)| (k.clone(), v.clone())));
        layer.extend(resolved);
        layer.retain(|name, _| !started.contains(&name));
        Ok::<_, String>((layer, all, at, types))
    })();
    let (layer, all, at, types) = match outcome {
        Ok(done) => done,
        Err(why) => {
            fields.insert("resolve_error".into(), why.into());
            return JsonB(serde_json::json!({"params": {}, "settings": fields}));
        }
    };
    let mut failure = bind_statements(&mut fields, &all, &types, at).err();
    'fields: for (name, value) in fields.iter_mut() {
        // The environment is passed as declared, as in DolphinScheduler; `out` is the worker's,
        // `command_type` the definition of a command type; statements were bound above.
        if failure.is_some()
            || matches!(
                name.as_str(),
                "env"
                    | "out"
                    | "command_type"
                    | "sql"
                    | "pre_statements"
                    | "post_statements"
                    | "bound"
            )
        {
            continue;
        }
        // A procedure's argument values are resolved as texts: they are bound when called.
        if name == "args"
            && let Value::Array(args) = value
        {
            for arg in args.iter_mut() {
                if let Some(Value::String(text)) = arg.get_mut("value")
                    && sched_core::has_placeholders(text)
                {
                    match sched_core::resolve_template(text, &all, at, "args") {
                        Ok(resolved) => *text = resolved,
                        Err(err) => {
                            failure = Some(err.to_string());
                            break 'fields;
                        }
                    }
                }
            }
            continue;
        }
        let texts: Vec<&mut Value> = match value {
            Value::Array(items) => items.iter_mut().collect(),
            // A sql task's result email: its title may name parameters.
            Value::Object(send) if name == "send_result" => {
                send.get_mut("title").into_iter().collect()
            }
            one => vec![one],
        };
        for text in texts {
            if let Value::String(text) = text
                && sched_core::has_placeholders(text)
            {
                match sched_core::resolve_template(text, &all, at, name) {
                    Ok(resolved) => *text = resolved,
                    Err(err) => {
                        failure = Some(err.to_string());
                        break 'fields;
                    }
                }
            }
        }
    }
    // A command type's command line is rendered from the resolved values, each quoted, so
    // that no value can become shell syntax.
    if failure.is_none()
        && let Some(definition) = fields.get("command_type")
    {
        let name = definition["name"].as_str().unwrap_or_default().to_owned();
        let rendered = sched_core::CommandType::parse(&name, definition)
            .and_then(|command_type| command_type.render(&fields));
        match rendered {
            Ok(command) => {
                fields.insert("command".into(), command.into());
            }
            Err(err) => failure = Some(err.to_string()),
        }
    }
    if let Some(why) = failure {
        fields.insert("resolve_error".into(), why.into());
    }
    JsonB(serde_json::json!({"params": object(layer), "settings": fields}))
}

/// A sql task's statements, bound for execution (`settings.bound`: `pre`, `main`, `post`,
/// each [`sched_core::sql::Bound`] as JSON): `$[...]` expanded, `${name}` made parameters
/// typed by the task's declared params, `!{name}` spliced.
fn bind_statements(
    fields: &mut serde_json::Map<String, Value>,
    values: &BTreeMap<String, String>,
    types: &BTreeMap<String, sched_core::ParamType>,
    at: chrono::NaiveDateTime,
) -> Result<(), String> {
    let Some(Value::String(main)) = fields.get("sql") else {
        return Ok(());
    };
    let bind = |text: &str, field: &str| -> Result<Value, String> {
        let expanded = sched_core::expand_times(text, at, field).map_err(|e| e.to_string())?;
        sched_core::sql::bind(&expanded, values, types, field)
            .map(|bound| bound.to_json())
            .map_err(|e| e.to_string())
    };
    let main = bind(main, "sql")?;
    let list = |field: &str| -> Result<Value, String> {
        let texts = fields.get(field).and_then(Value::as_array);
        texts
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, text)| bind(text.as_str().unwrap_or_default(), &format!("{field}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    };
    let bound = serde_json::json!({"pre": list("pre_statements")?, "main": main, "post": list("post_statements")?});
    fields.insert("bound".into(), bound);
    Ok(())
}
