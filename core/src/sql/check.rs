//! What of a sql or procedure task on the scheduler's database can be checked against the
//! catalog when it is defined, before any parameter has a value.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde_json::Value;

use super::bind::bind_unvalued;
use super::procedure::{parse_args, postgres_call};
use crate::error::SpecError;
use crate::keyword::ParamType;

/// One statement to check: where it is in the task, its text with `$n` for each `${name}`,
/// and the type each parameter is declared with (`None`: inferred from where it stands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkable {
    pub field: String,
    pub text: String,
    pub types: Vec<Option<&'static str>>,
}

/// The statements of a sql or procedure task (its normalised spec) in the order they run,
/// as they can be checked at definition: `$[...]` expanded at `at`, every `${name}` a
/// parameter typed as the task declares it. A statement that splices a value (`!{name}`)
/// is left out, its text being known only when it runs.
pub fn checkable(task: &Value, at: NaiveDateTime) -> Result<Vec<Checkable>, SpecError> {
    let types: BTreeMap<String, ParamType> = match task.get("params") {
        Some(params) => crate::params::parse_params(params, "params")?
            .into_iter()
            .map(|(name, param)| (name, param.param_type))
            .collect(),
        None => BTreeMap::new(),
    };
    let mut all = Vec::new();
    if let Some(procedure) = task.get("procedure").and_then(Value::as_str) {
        let args = parse_args(
            task.get("args").unwrap_or(&Value::Array(Vec::new())),
            "args",
        )?;
        let call = postgres_call(procedure, &args);
        all.push(Checkable {
            field: "procedure".into(),
            text: call.postgres(),
            types: call.args.iter().map(|a| a.pg_type()).collect(),
        });
        return Ok(all);
    }
    let texts = |key: &str| -> Vec<(String, String)> {
        match task.get(key) {
            Some(Value::String(text)) => vec![(key.to_owned(), text.clone())],
            Some(Value::Array(texts)) => texts
                .iter()
                .enumerate()
                .filter_map(|(i, t)| Some((format!("{key}[{i}]"), t.as_str()?.to_owned())))
                .collect(),
            _ => Vec::new(),
        }
    };
    for (field, text) in texts("pre_statements")
        .into_iter()
        .chain(texts("sql"))
        .chain(texts("post_statements"))
    {
        let expanded = crate::params::expand_times(&text, at, &field)?;
        if let Some(bound) = bind_unvalued(&expanded, &types, &field)? {
            all.push(Checkable {
                text: bound.postgres(),
                types: bound.args.iter().map(|a| a.pg_type()).collect(),
                field,
            });
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2024-03-15 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn statements_in_run_order_with_typed_parameters_and_splices_left_out() {
        let task = json!({"type": "sql",
            "pre_statements": ["SET LOCAL work_mem = '64MB'", "SELECT 1 FROM !{table}"],
            "sql": "SELECT * FROM t WHERE id = ${id} AND day = '$[yyyy-MM-dd]' AND name = ${who}",
            "post_statements": ["ANALYZE t"],
            "params": {"id": {"value": "1", "type": "integer"}, "who": "x"}});
        let got = checkable(&task, at()).unwrap();
        let fields: Vec<&str> = got.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["pre_statements[0]", "sql", "post_statements[0]"]);
        assert_eq!(
            got[1].text,
            "SELECT * FROM t WHERE id = $1 AND day = '2024-03-15' AND name = $2"
        );
        assert_eq!(got[1].types, [Some("int4"), None]);
    }

    #[test]
    fn a_procedure_is_its_call() {
        let task = json!({"type": "procedure", "procedure": "etl.load",
            "args": [{"name": "n", "type": "integer", "value": "3"},
                     {"name": "done", "direction": "out", "type": "boolean"}]});
        let got = checkable(&task, at()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].text, "CALL etl.load($1, NULL::bool)");
        assert_eq!(got[0].types, [Some("int4")]);
    }
}
