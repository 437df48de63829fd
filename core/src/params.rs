//! Parameters: how specs and start calls declare them, the built-ins, the
//! precedence of their sources, and their resolution into the text a task receives.
//!
//! Resolution follows DolphinScheduler: a value's `${name}` references are substituted
//! first (module `reference`), then its `$[...]` time expressions are evaluated at the
//! business time (module `time`; date patterns in `pattern`, integer offsets in `arith`).
//! Where DS would hand a task a half-resolved text or an unchecked value, this module
//! refuses with an error naming the parameter or field: a malformed `$[...]`, a value that
//! does not fit its type, a reference cycle.
//!
//! The business time D is used at whole seconds, as DS reads it back from
//! `system.datetime` (`yyyyMMddHHmmss`) before evaluating expressions.

mod arith;
mod capture;
mod pattern;
mod reference;
mod time;

pub use capture::OutCapture;

use std::collections::BTreeMap;

use chrono::{Days, NaiveDateTime, SubsecRound};
use serde_json::Value;

use crate::error::{Path, SpecError, quote};
use crate::keyword::ParamType;
use pattern::Pattern;
use reference::{Budget, Chained, MAX_DEPTH, MAX_GROWTH, RefError, Resolved};

/// The business time definitions are checked at: any time will do, only what depends on
/// values given later can still fail when an instance runs.
pub(crate) fn any_time() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
}

const MAX_NAME_BYTES: usize = 255;

/// A parameter as declared: its value before resolution, and the type the resolved value
/// must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub value: String,
    pub param_type: ParamType,
}

impl Param {
    /// The normalised form, `{"value": ..., "type": ...}`, which [`parse_params`] reads back.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"value": self.value, "type": self.param_type.as_str()})
    }
}

/// A task's declared OUT parameter: exported downstream with the value the task printed
/// (`${setValue(name=value)}`), else `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutParam {
    pub name: String,
    pub param_type: ParamType,
    pub default: String,
}

impl OutParam {
    pub fn to_json(&self) -> Value {
        serde_json::json!({"name": self.name, "type": self.param_type.as_str(), "default": self.default})
    }
}

/// A task's `out`: a list of names, or of `{"name", "type", "default"}` (type `varchar` and
/// default `""` when left out). A default must fit its type; names are unique.
pub fn parse_out(value: &Value, field: &str) -> Result<Vec<OutParam>, SpecError> {
    let entries = value.as_array().ok_or_else(|| {
        error(
            field,
            r#"must be an array of names or {"name", "type", "default"}, e.g. ["rows", {"name": "n", "type": "integer", "default": "0"}]"#,
        )
    })?;
    let mut out: Vec<OutParam> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let param = match entry {
            Value::String(name) => OutParam {
                name: name.clone(),
                param_type: ParamType::default(),
                default: String::new(),
            },
            Value::Object(fields) => {
                if let Some(key) = fields
                    .keys()
                    .find(|key| !matches!(key.as_str(), "name" | "type" | "default"))
                {
                    return Err(error(
                        format!("{path}.{key}"),
                        "unknown field; allowed: name, type, default",
                    ));
                }
                let name = match fields.get("name") {
                    Some(Value::String(name)) => name.clone(),
                    Some(_) => return Err(error(format!("{path}.name"), "must be a string")),
                    None => return Err(error(format!("{path}.name"), "required")),
                };
                let param_type = match fields.get("type") {
                    None => ParamType::default(),
                    Some(name) => ParamType::parse(name, Path::Field(&format!("{path}.type")))?,
                };
                let default = match fields.get("default") {
                    None => String::new(),
                    Some(value) => {
                        let default_path = format!("{path}.default");
                        let text = scalar(value).ok_or_else(|| {
                            error(&default_path, "must be a string, number or boolean")
                        })?;
                        let text = no_nul(text, &default_path)?;
                        if !text.is_empty() {
                            check_type(&text, param_type)
                                .map_err(|message| error(&default_path, message))?;
                        }
                        text
                    }
                };
                OutParam {
                    name,
                    param_type,
                    default,
                }
            }
            _ => {
                return Err(error(
                    &path,
                    r#"must be a name or an object {"name", "type", "default"}"#,
                ));
            }
        };
        check_param_name(&param.name, &format!("{path}.name"))?;
        if let Some(first) = out.iter().position(|o| o.name == param.name) {
            return Err(error(
                format!("{path}.name"),
                format!(
                    "duplicate OUT parameter {} (also {field}[{first}])",
                    quote(&param.name)
                ),
            ));
        }
        out.push(param);
    }
    Ok(out)
}

/// What can be known of declared parameters before any instance runs: malformed `$[...]`,
/// reference cycles, and values that cannot fit their type whatever is given at start. The
/// parameters are resolved at an arbitrary time over `context` (for a task's, the
/// workflow's globals as checked here); a value still holding a reference to something
/// given only later (a start parameter, an upstream OUT value) is not type checked.
pub fn check_params(
    params: &BTreeMap<String, Param>,
    context: &BTreeMap<String, String>,
    field: &str,
) -> Result<BTreeMap<String, String>, SpecError> {
    let at = any_time();
    let mut fixed = builtins(at, &[])
        .into_iter()
        .map(|(name, param)| (name, param.value))
        .collect::<BTreeMap<_, _>>();
    fixed.extend(context.iter().map(|(k, v)| (k.clone(), v.clone())));
    resolve(params, &fixed, at, field, true)
}

/// A parameter set as a spec's `params` are checked (types, `$[...]`, reference cycles), in
/// its normalised JSON form: what project parameters are stored as.
pub fn normalize_params(value: &Value, field: &str) -> Result<Value, SpecError> {
    let params = parse_params(value, field)?;
    check_params(&params, &BTreeMap::new(), field)?;
    Ok(params_json(&params))
}

/// The normalised JSON of a parameter set.
pub(crate) fn params_json(params: &BTreeMap<String, Param>) -> Value {
    Value::Object(
        params
            .iter()
            .map(|(name, param)| (name.clone(), param.to_json()))
            .collect(),
    )
}

/// A params object from a spec or a start call: `{"name": "plain value"}` or
/// `{"name": {"value": "...", "type": "integer"}}` (both fields optional, value `""` and
/// type `varchar` by default). Numbers and booleans given as values are taken as their
/// JSON text. Names are 1-255 bytes of letters, digits, '_' and '.', not starting with a
/// digit or '.' (`system.biz.date` style). `field` is the path prefix of errors, e.g.
/// `params` or `tasks[2].params`.
pub fn parse_params(value: &Value, field: &str) -> Result<BTreeMap<String, Param>, SpecError> {
    let entries = value.as_object().ok_or_else(|| {
        error(
            field,
            r#"must be an object of parameter names to values, e.g. {"dt": "$[yyyyMMdd-1]", "n": {"value": "1", "type": "integer"}}"#,
        )
    })?;
    let mut params = BTreeMap::new();
    for (name, value) in entries {
        let path = format!("{field}.{name}");
        check_param_name(name, &path)?;
        params.insert(name.clone(), parse_param(value, &path)?);
    }
    Ok(params)
}

pub(crate) fn check_param_name(name: &str, path: &str) -> Result<(), SpecError> {
    let valid = (1..=MAX_NAME_BYTES).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if valid {
        Ok(())
    } else {
        Err(error(
            path,
            format!(
                "{} is not a valid parameter name; use 1-{MAX_NAME_BYTES} letters, digits, \
                 '_' or '.', starting with a letter or '_'",
                quote(name)
            ),
        ))
    }
}

fn parse_param(value: &Value, path: &str) -> Result<Param, SpecError> {
    let Some(fields) = value.as_object() else {
        let value = scalar(value).ok_or_else(|| {
            error(
                path,
                r#"must be a string, number or boolean, or an object {"value": "...", "type": "..."}"#,
            )
        })?;
        return Ok(Param {
            value: no_nul(value, path)?,
            param_type: ParamType::default(),
        });
    };
    if let Some(key) = fields
        .keys()
        .find(|key| !matches!(key.as_str(), "value" | "type"))
    {
        return Err(error(
            format!("{path}.{key}"),
            "unknown field; allowed: value, type",
        ));
    }
    let value = match fields.get("value") {
        None => String::new(),
        Some(value) => {
            let value_path = format!("{path}.value");
            let text = scalar(value)
                .ok_or_else(|| error(&value_path, "must be a string, number or boolean"))?;
            no_nul(text, &value_path)?
        }
    };
    let param_type = match fields.get("type") {
        None => ParamType::default(),
        Some(name) => ParamType::parse(name, Path::Field(&format!("{path}.type")))?,
    };
    Ok(Param { value, param_type })
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Values end up in environments and PostgreSQL text, neither of which can hold NUL.
fn no_nul(text: String, path: &str) -> Result<String, SpecError> {
    if text.contains('\0') {
        Err(error(path, "must not contain a NUL character"))
    } else {
        Ok(text)
    }
}

/// The built-in parameters for a business time: the instance's
/// schedule time in the workflow's zone, or its creation time for a manual run.
/// `system.biz.date` is the day before (`yyyyMMdd`), `system.biz.curdate` the day itself
/// (`yyyyMMdd`), `system.datetime` the time (`yyyyMMddHHmmss`). `facts` are the other
/// built-ins the caller knows (`system.task.instance.id`, ...), as `(name, value)`; they
/// are added as they are and win over the three above.
pub fn builtins(business_time: NaiveDateTime, facts: &[(&str, String)]) -> BTreeMap<String, Param> {
    let at = business(business_time);
    let format = |pattern: &str, at| {
        Pattern::compile(pattern)
            .expect("the built-ins' patterns are valid")
            .render(at)
    };
    let mut values = vec![
        ("system.biz.curdate", format("yyyyMMdd", at)),
        ("system.datetime", format("yyyyMMddHHmmss", at)),
    ];
    // Only chrono's first representable day has no day before; the reference then stays
    // as written rather than taking a made-up date.
    if let Some(day_before) = at.checked_sub_days(Days::new(1)) {
        values.push(("system.biz.date", format("yyyyMMdd", day_before)));
    }
    values
        .into_iter()
        .chain(facts.iter().map(|(name, value)| (*name, value.clone())))
        .map(|(name, value)| {
            let param = Param {
                value,
                param_type: ParamType::Varchar,
            };
            (name.to_owned(), param)
        })
        .collect()
}

/// Merges parameter sources, later layers winning. DolphinScheduler's order, lowest first:
/// built-in, project, global, upstream OUT, local, startup.
pub fn merge(layers: &[&BTreeMap<String, Param>]) -> BTreeMap<String, Param> {
    let mut merged = BTreeMap::new();
    for layer in layers {
        merged.extend(
            layer
                .iter()
                .map(|(name, param)| (name.clone(), param.clone())),
        );
    }
    merged
}

/// Resolves every parameter: `${name}` references against the same map (chains allowed),
/// then `$[...]` at `business_time`; then checks the result against the parameter's type.
/// Returns name to resolved text. An unknown `${name}` stays as written. Errors:
/// `FIELD: reference cycle: a -> b -> a`, and for one parameter `FIELD.NAME: ...` (a
/// malformed time expression, with its position in the value as written; a value
/// not of its type; references nested too deep or expanding too far).
pub fn resolve_params(
    params: &BTreeMap<String, Param>,
    business_time: NaiveDateTime,
    field: &str,
) -> Result<BTreeMap<String, String>, SpecError> {
    resolve(params, &BTreeMap::new(), business_time, field, false)
}

/// [`resolve_params`] over values already resolved (`fixed`): a reference to a name not in
/// `params` takes its value from `fixed`, as it is, without scanning it again. A task's
/// local params resolve so over the instance's globals and its upstream OUT values.
pub fn resolve_params_over(
    params: &BTreeMap<String, Param>,
    fixed: &BTreeMap<String, String>,
    business_time: NaiveDateTime,
    field: &str,
) -> Result<BTreeMap<String, String>, SpecError> {
    resolve(params, fixed, business_time, field, false)
}

/// `lenient` skips the type check of values still holding a `${...}` after substitution.
fn resolve(
    params: &BTreeMap<String, Param>,
    fixed: &BTreeMap<String, String>,
    business_time: NaiveDateTime,
    field: &str,
    lenient: bool,
) -> Result<BTreeMap<String, String>, SpecError> {
    let written = params
        .values()
        .fold(0usize, |sum, param| sum.saturating_add(param.value.len()));
    let mut budget = Budget::new(written);
    let mut chained = Chained::new(params, fixed);
    let at = business(business_time);
    let mut resolved = BTreeMap::new();
    for (name, param) in params {
        let path = format!("{field}.{name}");
        let substituted = chained
            .resolve(name, param, &mut budget, 0)
            .map_err(|e| reference_error(e, field, &path))?;
        let value = match time::expand(substituted, at) {
            Ok(value) => value,
            Err(wrong) => {
                // Substituted again, now noting where values went, to place the error in the
                // value as written; every reference it makes is resolved (and remembered) by now.
                let (_, replaced) = reference::substitute_mapped(
                    &param.value,
                    &mut chained,
                    &mut Budget::new(param.value.len()),
                )
                .map_err(|e| reference_error(e, field, &path))?;
                let position = reference::written_position(&param.value, &replaced, wrong.start);
                return Err(error(&path, wrong.message(position)));
            }
        };
        if !(lenient && value.contains("${")) {
            check_type(&value, param.param_type).map_err(|message| error(&path, message))?;
        }
        resolved.insert(name.clone(), value);
    }
    Ok(resolved)
}

/// The values a task receives from its direct predecessors' OUT parameters, given in the
/// order they finished (earliest first; ties by smaller task id). Of several values of one
/// name, a non-empty one wins over an empty one, then the earliest (DolphinScheduler's
/// documented rule, made deterministic).
pub fn upstream_values<'a>(
    outputs: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for output in outputs {
        for (name, value) in output {
            match merged.get(name) {
                Some(kept) if !kept.is_empty() || value.is_empty() => {}
                _ => {
                    merged.insert(name.clone(), value.clone());
                }
            }
        }
    }
    merged
}

/// Whether `value` fits `param_type`; the error says what the type takes.
pub fn check_value(value: &str, param_type: ParamType) -> Result<(), String> {
    check_type(value, param_type)
}

/// Resolves a template (a script, a SQL text) against resolved values: `${name}` replaced
/// by its value (unknown names stay as written; values are used as they are, not scanned
/// again), then `$[...]` evaluated at `business_time`. `field` names the template in
/// errors, e.g. `tasks[0].script: $[yyyyMMdd+x] at position 12: ...`, the position
/// counting characters of the template as written (a `$[` that came in a `${name}`'s value is
/// placed at that reference); the expression is shown as it was evaluated.
pub fn resolve_template(
    template: &str,
    values: &BTreeMap<String, String>,
    business_time: NaiveDateTime,
    field: &str,
) -> Result<String, SpecError> {
    let mut budget = Budget::new(template.len());
    let (substituted, replaced) =
        reference::substitute_mapped(template, &mut Resolved(values), &mut budget)
            .map_err(|e| reference_error(e, field, field))?;
    time::expand(&substituted, business(business_time)).map_err(|wrong| {
        let position = reference::written_position(template, &replaced, wrong.start);
        error(field, wrong.message(position))
    })
}

/// Expands the `$[...]` time expressions of `text` at `business_time`, leaving `${...}` as
/// they are: for SQL texts, whose references are bound rather than substituted.
pub fn expand_times(
    text: &str,
    business_time: NaiveDateTime,
    field: &str,
) -> Result<String, SpecError> {
    if !text.contains("$[") {
        return Ok(text.to_owned());
    }
    time::expand(text, business(business_time))
        .map_err(|wrong| error(field, wrong.message(text[..wrong.start].chars().count())))
}

/// Whether `text` has anything to resolve (`${` or `$[`), so that callers can skip plain
/// texts.
pub fn has_placeholders(text: &str) -> bool {
    text.contains("${") || text.contains("$[")
}

fn business(at: NaiveDateTime) -> NaiveDateTime {
    at.trunc_subsecs(0)
}

/// A cycle is reported on the params object as a whole, as it involves several entries.
fn reference_error(error_kind: RefError, field: &str, path: &str) -> SpecError {
    match error_kind {
        RefError::Cycle(names) => error(field, format!("reference cycle: {}", names.join(" -> "))),
        RefError::TooDeep => error(
            path,
            format!("${{...}} references are nested more than {MAX_DEPTH} deep"),
        ),
        RefError::TooLong => error(
            path,
            format!(
                "${{...}} references make the text more than {} MiB longer than written",
                MAX_GROWTH >> 20
            ),
        ),
    }
}

fn error(path: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        path: path.into(),
        message: message.into(),
    }
}

/// The forms DolphinScheduler's JDBC binding reads (`ParameterUtils.setInParameter`), so
/// that a value that would fail there fails at resolution instead. Stricter than DS in
/// two places: a boolean must be `true` or `false` (DS takes anything else as false), and
/// a time must be `HH:mm:ss` (DS passes it on unchecked). Decimal numbers are read as
/// Rust reads an f64, which like Java takes infinities and NaN but no surrounding spaces.
fn check_type(value: &str, param_type: ParamType) -> Result<(), String> {
    let (valid, what, rule) = match param_type {
        ParamType::Varchar => return Ok(()),
        ParamType::Integer => (
            value.parse::<i32>().is_ok(),
            "an integer",
            "a whole number from -2147483648 to 2147483647",
        ),
        ParamType::Long => (
            value.parse::<i64>().is_ok(),
            "an integer",
            "a whole number from -9223372036854775808 to 9223372036854775807",
        ),
        ParamType::Float | ParamType::Double => (
            value.parse::<f64>().is_ok(),
            "a number",
            "a decimal number, e.g. 1.5 or -2e3",
        ),
        ParamType::Date => (is_date(value), "a date", "yyyy-MM-dd"),
        ParamType::Time => (is_time(value), "a time", "HH:mm:ss"),
        ParamType::Timestamp => (
            value
                .split_once(' ')
                .is_some_and(|(date, time)| is_date(date) && is_time(time)),
            "a timestamp",
            "yyyy-MM-dd HH:mm:ss, optionally with a fraction of a second",
        ),
        ParamType::Boolean => (
            value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
            "a boolean",
            "true or false",
        ),
        ParamType::List => (
            matches!(serde_json::from_str(value), Ok(Value::Array(_))),
            "a list",
            r#"a JSON array, e.g. ["a", "b"]"#,
        ),
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{} is not {what}; type {} takes {rule}",
            quote(value),
            param_type.as_str()
        ))
    }
}

/// `yyyy-M-d` with one or two digits for month and day, as `java.sql.Date.valueOf` reads
/// it, and a real calendar day.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts[..] else {
        return false;
    };
    let date = (|| {
        let year = i32::try_from(digits(year, 4, 4)?).ok()?;
        chrono::NaiveDate::from_ymd_opt(year, digits(month, 1, 2)?, digits(day, 1, 2)?)
    })();
    date.is_some()
}

/// `H:mm:ss` or `HH:mm:ss`, optionally with a fraction of up to 9 digits.
fn is_time(text: &str) -> bool {
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    if fraction.is_some_and(|fraction| digits(fraction, 1, 9).is_none()) {
        return false;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let [hour, minute, second] = parts[..] else {
        return false;
    };
    let time = (|| {
        chrono::NaiveTime::from_hms_opt(
            digits(hour, 1, 2)?,
            digits(minute, 2, 2)?,
            digits(second, 2, 2)?,
        )
    })();
    time.is_some()
}

/// `text` as a number when it is `min` to `max` ASCII digits.
fn digits(text: &str, min: usize, max: usize) -> Option<u32> {
    let valid = (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| text.parse().ok()).flatten()
}
