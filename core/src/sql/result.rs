//! A task's result: how many rows are kept, and the OUT values read from them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::keyword::ParamType;
use crate::params::OutParam;

/// Result rows kept when a task does not say (`limit_rows`).
pub const DEFAULT_LIMIT_ROWS: i64 = 1000;
/// The most `limit_rows` may ask for.
pub const MAX_LIMIT_ROWS: i64 = 100_000;

/// The OUT values of a task from its result: a `list` parameter gets the column's values over
/// all rows as a JSON array, any other the first row's value (its default without rows). A
/// declared name the result has no column for is an error, as is a value of the wrong type.
pub fn out_values(
    out: &[OutParam],
    columns: &[String],
    rows: &[Vec<Option<String>>],
) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    for param in out {
        let Some(col) = columns.iter().position(|c| c == &param.name) else {
            return Err(format!(
                "OUT parameter {:?} has no column of that name in the result; columns: {}",
                param.name,
                if columns.is_empty() {
                    "none".to_owned()
                } else {
                    columns.join(", ")
                }
            ));
        };
        let value = if param.param_type == ParamType::List {
            Value::from(
                rows.iter()
                    .map(|r| {
                        r.get(col)
                            .cloned()
                            .flatten()
                            .map_or(Value::Null, Value::from)
                    })
                    .collect::<Vec<_>>(),
            )
            .to_string()
        } else {
            match rows.first() {
                Some(row) => row.get(col).cloned().flatten().unwrap_or_default(),
                None => param.default.clone(),
            }
        };
        if !value.is_empty() {
            crate::params::check_value(&value, param.param_type)
                .map_err(|why| format!("OUT parameter {:?}: {value:?} is not {why}", param.name))?;
        }
        values.insert(param.name.clone(), value);
    }
    Ok(values)
}

/// What a task's result gives downstream, for the worker that ran it and for a test run: a
/// procedure's result columns renamed after its out and inout args (the procedure names them
/// itself), then the values of the task's `out` params read from the rows (`None` when it
/// declares none).
pub fn task_out(
    task_type: &str,
    settings: &Value,
    columns: &mut Vec<String>,
    rows: &[Vec<Option<String>>],
) -> Result<Option<BTreeMap<String, String>>, String> {
    if task_type == "procedure" {
        let names: Vec<String> = settings["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["direction"] != "in")
            .filter_map(|a| a["name"].as_str().map(str::to_owned))
            .collect();
        if names.len() == columns.len() {
            *columns = names;
        }
    }
    let Some(out) = settings.get("out") else {
        return Ok(None);
    };
    let declared = crate::params::parse_out(out, "out").map_err(|e| e.to_string())?;
    out_values(&declared, columns, rows).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_values_from_rows() {
        let out = crate::params::parse_out(
            &serde_json::json!([{"name": "n", "type": "integer"}, {"name": "names", "type": "list"}, {"name": "d", "default": "none"}]),
            "out",
        )
        .unwrap();
        let columns = vec!["n".to_owned(), "names".to_owned(), "d".to_owned()];
        let rows = vec![
            vec![Some("1".into()), Some("a".into()), None],
            vec![Some("2".into()), None, Some("z".into())],
        ];
        let got = out_values(&out, &columns, &rows).unwrap();
        assert_eq!(got["n"], "1");
        assert_eq!(got["names"], r#"["a",null]"#);
        assert_eq!(got["d"], "");
        assert_eq!(out_values(&out, &columns, &[]).unwrap()["d"], "none");
        let err = out_values(&out, &columns[..1], &rows).unwrap_err();
        assert!(err.contains("\"names\" has no column"), "{err}");
        let bad = vec![vec![Some("x".into()), None, None]];
        assert!(
            out_values(&out, &columns, &bad)
                .unwrap_err()
                .contains("\"n\"")
        );
    }

    #[test]
    fn a_procedure_s_columns_are_its_out_args() {
        let settings = serde_json::json!({
            "args": [{"name": "a", "direction": "in"}, {"name": "total", "direction": "out"}],
            "out": [{"name": "total", "type": "integer"}]});
        let mut columns = vec!["x".to_owned()];
        let got = task_out(
            "procedure",
            &settings,
            &mut columns,
            &[vec![Some("7".into())]],
        );
        assert_eq!(columns, ["total"]);
        assert_eq!(got.unwrap().unwrap()["total"], "7");
        assert_eq!(
            task_out("sql", &serde_json::json!({}), &mut columns, &[]),
            Ok(None)
        );
    }
}
