//! SQL and PROCEDURE tasks: statements and procedure calls on a mapped datasource.

use serde_json::{Map, Value, json};

use super::params::ParamsOut;
use super::read::{list, number, required_text, text};
use super::refs::{Ctx, datasource};
use crate::error::{SpecError, quote};

pub(super) fn sql_task(
    tp: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_, '_>,
    notes: &mut Vec<(String, bool)>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    datasource(tp, path, ctx, notes, out)?;
    out.insert("sql".into(), required_text(tp, "sql", path)?.into());
    if let Some(sql_type) = number(tp, "sqlType", path)? {
        out.insert("query".into(), (sql_type == 0).into());
    }
    for (ds, ours) in [
        ("preStatements", "pre_statements"),
        ("postStatements", "post_statements"),
    ] {
        let statements: Vec<Value> = list(tp, ds, path)?
            .iter()
            .filter(|s| s.as_str().is_some_and(|s| !s.trim().is_empty()))
            .cloned()
            .collect();
        if !statements.is_empty() {
            out.insert(ours.into(), statements.into());
        }
    }
    if let Some(rows) = number(tp, "displayRows", path)?.filter(|r| *r > 0) {
        out.insert("limit_rows".into(), rows.min(100_000).into());
    }
    if tp.get("sendEmail").and_then(Value::as_bool) == Some(true) {
        let group = number(tp, "groupId", path)?.unwrap_or(0);
        notes.push((
            format!("mailing the result to warning group {group} is not imported; add send_result with an alert group"),
            false,
        ));
    }
    for key in ["udfs", "connParams"] {
        if let Some(v) = text(tp, key, path)?.filter(|v| !v.trim().is_empty()) {
            notes.push((format!("{key} {} is not imported", quote(v)), false));
        }
    }
    Ok(())
}

/// DolphinScheduler's procedure `method` is `{call name(${a}, ${b})}` (the braces and
/// `call` optional), each `${…}` a local parameter whose direction and type make the
/// argument.
pub(super) fn procedure_call(
    tp: &Map<String, Value>,
    path: &str,
    read: &ParamsOut,
    notes: &mut Vec<(String, bool)>,
    out: &mut Map<String, Value>,
) -> Result<(), SpecError> {
    let method = required_text(tp, "method", path)?.trim();
    let parsed = parse_method(method);
    let Some((name, args)) = parsed else {
        notes.push((
            format!(
                "procedure method {} is not of the form call name(${{a}}, ${{b}}, …)",
                quote(method)
            ),
            true,
        ));
        return Ok(());
    };
    if crate::sql::check_procedure_name(&name, "").is_err() {
        notes.push((
            format!("procedure name {} is not name or schema.name", quote(&name)),
            true,
        ));
        return Ok(());
    }
    let mut list = Vec::new();
    for arg in args {
        match read.props.get(&arg) {
            Some((direct, ty, value)) => {
                let mut a =
                    json!({"name": arg, "direction": direct.to_ascii_lowercase(), "type": ty});
                if direct == "IN" {
                    a["value"] = value.clone().into();
                }
                list.push(a);
            }
            None => {
                notes.push((
                    format!(
                        "procedure argument ${{{arg}}} is not one of the task's local parameters"
                    ),
                    true,
                ));
                return Ok(());
            }
        }
    }
    out.insert("procedure".into(), name.into());
    if !list.is_empty() {
        out.insert("args".into(), list.into());
    }
    Ok(())
}

fn parse_method(method: &str) -> Option<(String, Vec<String>)> {
    let mut m = method.trim().trim_end_matches(';').trim();
    if let Some(inner) = m.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        m = inner.trim();
    }
    if m.len() > 5 && m[..5].eq_ignore_ascii_case("call ") {
        m = m[5..].trim_start();
    }
    let open = m.find('(')?;
    let name = m[..open].trim().to_owned();
    let inner = m[open + 1..].trim_end().strip_suffix(')')?;
    let mut args = Vec::new();
    if !inner.trim().is_empty() {
        for part in inner.split(',') {
            let arg = part.trim().strip_prefix("${")?.strip_suffix('}')?.trim();
            args.push(arg.to_owned());
        }
    }
    Some((name, args))
}

#[cfg(test)]
mod tests {
    use super::parse_method;

    #[test]
    fn procedure_methods() {
        assert_eq!(
            parse_method("{call p(${a}, ${b})}"),
            Some(("p".into(), vec!["a".into(), "b".into()]))
        );
        assert_eq!(parse_method("CALL s.p()"), Some(("s.p".into(), vec![])));
        assert_eq!(parse_method("call p(1)"), None);
    }
}
