//! Binding: a statement whose `${name}` became parameters, kept as text parts and values
//! so that it can be written for PostgreSQL (`$n`) or MySQL (`?`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::error;
use super::lex::{Piece, scan};
use crate::error::SpecError;
use crate::keyword::ParamType;

/// A statement with its parameters bound: `parts` alternate text and references into
/// `args` (one per distinct name, in order of first use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub(super) parts: Vec<Part>,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    Text(String),
    Arg(usize),
}

/// A bound value and the type it was declared with; `None` lets the database infer it from
/// where the parameter stands, as for a quoted literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub name: String,
    pub value: Option<String>,
    pub param_type: Option<ParamType>,
}

impl Arg {
    /// The PostgreSQL type a declared type binds as.
    pub fn pg_type(&self) -> Option<&'static str> {
        self.param_type.and_then(pg_type)
    }
}

/// The PostgreSQL type of a parameter type; `varchar` (the default type) has none, so that
/// `WHERE id = ${id}` works without declaring `id` an integer.
pub fn pg_type(param_type: ParamType) -> Option<&'static str> {
    Some(match param_type {
        ParamType::Varchar => return None,
        ParamType::Integer => "int4",
        ParamType::Long => "int8",
        ParamType::Float => "float4",
        ParamType::Double => "float8",
        ParamType::Date => "date",
        ParamType::Time => "time",
        ParamType::Timestamp => "timestamp",
        ParamType::Boolean => "bool",
        ParamType::List => "jsonb",
    })
}

impl Bound {
    /// The text with `$1`, `$2`, ... for PostgreSQL; a name used twice is one parameter.
    pub fn postgres(&self) -> String {
        self.render(|i, _| format!("${}", i + 1))
    }

    /// The text with `?` for MySQL and the values in the order of the `?`s.
    pub fn mysql(&self) -> (String, Vec<&Arg>) {
        let mut order = Vec::new();
        let text = self.render(|i, args| {
            order.push(&args[i]);
            "?".to_owned()
        });
        (text, order)
    }

    fn render<'s>(&'s self, mut placeholder: impl FnMut(usize, &'s [Arg]) -> String) -> String {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Arg(i) => text.push_str(&placeholder(*i, &self.args)),
            }
        }
        text
    }

    pub fn to_json(&self) -> Value {
        let parts: Vec<Value> = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => Value::String(t.clone()),
                Part::Arg(i) => json!(i),
            })
            .collect();
        let args: Vec<Value> = self
            .args
            .iter()
            .map(|a| json!({"name": a.name, "value": a.value, "type": a.param_type.map(|t| t.as_str())}))
            .collect();
        json!({"parts": parts, "args": args})
    }

    /// Reads back [`Bound::to_json`]; `None` if it is not that shape.
    pub fn from_json(value: &Value) -> Option<Bound> {
        let args = value
            .get("args")?
            .as_array()?
            .iter()
            .map(|a| {
                Some(Arg {
                    name: a.get("name")?.as_str()?.to_owned(),
                    value: a.get("value").and_then(Value::as_str).map(str::to_owned),
                    param_type: match a.get("type") {
                        Some(Value::String(t)) => Some(ParamType::from_name(t)?),
                        _ => None,
                    },
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let parts = value
            .get("parts")?
            .as_array()?
            .iter()
            .map(|p| match p {
                Value::String(t) => Some(Part::Text(t.clone())),
                Value::Number(n) => n
                    .as_u64()
                    .filter(|&i| (i as usize) < args.len())
                    .map(|i| Part::Arg(i as usize)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Bound { parts, args })
    }
}

/// Binds a statement whose `$[...]` were expanded: `${name}` from `values` (typed by
/// `types`, the task's declared params), `!{name}` spliced. A name without a value is an
/// error: a statement run with a placeholder missing would do something else than meant.
pub fn bind(
    text: &str,
    values: &BTreeMap<String, String>,
    types: &BTreeMap<String, ParamType>,
    field: &str,
) -> Result<Bound, SpecError> {
    let value_of = |name: &str| {
        values.get(name).cloned().map(Some).ok_or_else(|| {
            error(
                field,
                format!("parameter {name:?} has no value; declare it in the task's or the workflow's params"),
            )
        })
    };
    Ok(bind_with(text, types, field, value_of)?.expect("every splice has a value"))
}

/// Binds a statement before its values are known, as a definition is checked: every
/// `${name}` a parameter with no value, typed as declared. `None` when it splices a value
/// (`!{name}`): its text is known only when it runs.
pub fn bind_unvalued(
    text: &str,
    types: &BTreeMap<String, ParamType>,
    field: &str,
) -> Result<Option<Bound>, SpecError> {
    bind_with(text, types, field, |_| Ok(None))
}

fn bind_with(
    text: &str,
    types: &BTreeMap<String, ParamType>,
    field: &str,
    value_of: impl Fn(&str) -> Result<Option<String>, SpecError>,
) -> Result<Option<Bound>, SpecError> {
    let mut parts = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    let mut text_part = String::new();
    for piece in scan(text, field)? {
        match piece {
            Piece::Text(t) => text_part.push_str(t),
            Piece::Splice(name) => match value_of(name)? {
                Some(value) => text_part.push_str(&value),
                None => return Ok(None),
            },
            Piece::Bind(name) => {
                if !text_part.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text_part)));
                }
                let index = match args.iter().position(|a| a.name == name) {
                    Some(i) => i,
                    None => {
                        args.push(Arg {
                            name: name.to_owned(),
                            value: value_of(name)?,
                            param_type: types.get(name).copied(),
                        });
                        args.len() - 1
                    }
                };
                parts.push(Part::Arg(index));
            }
        }
    }
    if !text_part.is_empty() {
        parts.push(Part::Text(text_part));
    }
    Ok(Some(Bound { parts, args }))
}

#[cfg(test)]
mod tests {
    use super::super::lex::check;
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn binds_references_outside_quotes_and_splices_on_request() {
        let types = BTreeMap::from([("n".to_owned(), ParamType::Integer)]);
        let bound = bind(
            "SELECT * FROM !{tbl} WHERE n > ${n} AND s = ${s} -- ${ignored}\n AND m = ${n}",
            &values(&[
                ("n", "5"),
                ("s", "x'; DROP TABLE t; --"),
                ("tbl", "public.t"),
            ]),
            &types,
            "tasks[0].sql",
        )
        .unwrap();
        assert_eq!(
            bound.postgres(),
            "SELECT * FROM public.t WHERE n > $1 AND s = $2 -- ${ignored}\n AND m = $1"
        );
        assert_eq!(bound.args.len(), 2);
        assert_eq!(bound.args[0].pg_type(), Some("int4"));
        assert_eq!(bound.args[1].value.as_deref(), Some("x'; DROP TABLE t; --"));
        assert_eq!(bound.args[1].pg_type(), None);
        let (text, order) = bound.mysql();
        assert_eq!(
            text,
            "SELECT * FROM public.t WHERE n > ? AND s = ? -- ${ignored}\n AND m = ?"
        );
        let names: Vec<&str> = order.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["n", "s", "n"]);
        assert_eq!(Bound::from_json(&bound.to_json()), Some(bound));
    }

    #[test]
    fn refuses_what_cannot_be_bound() {
        let err = check("SELECT '${x}'", "tasks[1].sql").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tasks[1].sql: ${...} at position 9 is inside quoted text"),
            "{err}"
        );
        assert!(check("SELECT $$ ${x} $$", "f").is_err());
        assert!(check("SELECT E'\\' ${x}'", "f").is_err());
        let err = check("SELECT $1", "f").unwrap_err();
        assert!(err.message.contains("positional parameter $1"), "{err}");
        assert!(check("SELECT ${1x}", "f").is_err());
        assert!(check("SELECT ${x", "f").is_err());
        // Dollar quotes, doubled quotes and comments are skipped whole.
        check(
            "DO $body$ BEGIN RAISE NOTICE '$1'; END $body$; SELECT ${x} /* ${y} /* nested */ */",
            "f",
        )
        .unwrap();
        check("SELECT 'it''s', \"a\"\"b\", ${x}", "f").unwrap();
        // A splice is allowed inside quotes.
        let bound = bind(
            "SELECT '!{x}'",
            &values(&[("x", "v")]),
            &BTreeMap::new(),
            "f",
        )
        .unwrap();
        assert_eq!(bound.postgres(), "SELECT 'v'");
        let err = bind(
            "SELECT ${nope}",
            &values(&[]),
            &BTreeMap::new(),
            "tasks[0].sql",
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"nope\" has no value"), "{err}");
    }
}
