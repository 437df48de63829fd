//! The statements a claimed sql or procedure task runs, in order.

use serde_json::Value;

use super::bind::{Bound, Part};
use super::lex::is_query;
use super::procedure::{mysql_call, parse_args, postgres_call};

/// The database a task's statements are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
}

/// One statement a sql or procedure task runs: where it came from (for the log), what, and
/// whether its result is the task's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub field: String,
    pub bound: Bound,
    pub keep: bool,
}

/// What a claimed sql or procedure task runs, in order, from its resolved settings: its
/// bound `pre_statements`, `sql` and `post_statements`, or its procedure's CALL (with, on
/// MySQL, the statements that carry inout and out values through session variables).
pub fn statements(settings: &Value, dialect: Dialect) -> Result<Vec<Statement>, String> {
    let statement = |field: String, bound, keep| Statement { field, bound, keep };
    let mut all = Vec::new();
    if let Some(bound) = settings.get("bound") {
        let list = |key: &str| -> Vec<Bound> {
            bound[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Bound::from_json)
                .collect()
        };
        for (i, b) in list("pre").into_iter().enumerate() {
            all.push(statement(format!("pre_statements[{i}]"), b, false));
        }
        let main = Bound::from_json(&bound["main"]).ok_or("the task's statement was not bound")?;
        let keep = settings
            .get("query")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| is_query(&main.postgres()));
        all.push(statement("sql".into(), main, keep));
        for (i, b) in list("post").into_iter().enumerate() {
            all.push(statement(format!("post_statements[{i}]"), b, false));
        }
        return Ok(all);
    }
    let procedure = settings["procedure"]
        .as_str()
        .ok_or("the task has neither sql nor procedure")?;
    let args = parse_args(
        settings.get("args").unwrap_or(&Value::Array(Vec::new())),
        "args",
    )
    .map_err(|e| e.to_string())?;
    let outs = args.iter().any(|a| a.out_param().is_some());
    match dialect {
        Dialect::Postgres => all.push(statement(
            "procedure".into(),
            postgres_call(procedure, &args),
            outs,
        )),
        Dialect::Mysql => {
            let (sets, call, select) = mysql_call(procedure, &args);
            for bound in sets {
                all.push(statement("procedure (inout)".into(), bound, false));
            }
            all.push(statement("procedure".into(), call, false));
            if let Some(select) = select {
                let bound = Bound {
                    parts: vec![Part::Text(select)],
                    args: Vec::new(),
                };
                all.push(statement("procedure (out values)".into(), bound, true));
            }
        }
    }
    Ok(all)
}
