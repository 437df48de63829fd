//! Procedure tasks: their name and `args`, and the CALL that runs them on PostgreSQL or,
//! with session variables for out values, on MySQL.

use serde_json::{Value, json};

use super::bind::{Arg, Bound, Part, pg_type};
use super::error;
use crate::error::SpecError;
use crate::keyword::ParamType;
use crate::params::OutParam;

/// A procedure's name as the spec gives it: `name` or `schema.name`, plain identifiers, so
/// that it can be written into a CALL as it is.
pub fn check_procedure_name(name: &str, field: &str) -> Result<(), SpecError> {
    let ident = |part: &str| {
        (1..=63).contains(&part.len())
            && part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| ident(p)) {
        Ok(())
    } else {
        Err(error(
            field,
            format!(
                "{name:?} is not a procedure name; use name or schema.name, each 1-63 letters, digits or '_', not starting with a digit"
            ),
        ))
    }
}

/// The direction of a procedure argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
    InOut,
}

impl Direction {
    pub fn parse(text: &str) -> Option<Direction> {
        match text.to_ascii_lowercase().as_str() {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            "inout" => Some(Direction::InOut),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::InOut => "inout",
        }
    }
}

/// One of a procedure task's `args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcedureArg {
    pub name: String,
    pub direction: Direction,
    pub param_type: ParamType,
    pub value: String,
}

/// A procedure task's `args`: `{name, direction (in|out|inout), type, value}` each.
pub fn parse_args(value: &Value, field: &str) -> Result<Vec<ProcedureArg>, SpecError> {
    let items = value.as_array().ok_or_else(|| {
        error(
            field,
            r#"must be an array of {"name", "direction", "type", "value"}"#,
        )
    })?;
    let mut args: Vec<ProcedureArg> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let obj = item.as_object().ok_or_else(|| {
            error(
                &path,
                r#"must be an object {"name", "direction", "type", "value"}"#,
            )
        })?;
        if let Some(key) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "name" | "direction" | "type" | "value"))
        {
            return Err(error(
                format!("{path}.{key}"),
                "unknown field; allowed: name, direction, type, value",
            ));
        }
        let name = match obj.get("name") {
            Some(Value::String(n)) => n.clone(),
            Some(_) => return Err(error(format!("{path}.name"), "must be a string")),
            None => return Err(error(format!("{path}.name"), "required")),
        };
        crate::params::check_param_name(&name, &format!("{path}.name"))?;
        if args.iter().any(|a| a.name == name) {
            return Err(error(
                format!("{path}.name"),
                format!("{name:?} is used by another argument; names must be unique"),
            ));
        }
        let direction = match obj.get("direction") {
            None => Direction::In,
            Some(Value::String(d)) => Direction::parse(d).ok_or_else(|| {
                error(
                    format!("{path}.direction"),
                    format!("unknown direction {d:?}; allowed: in, out, inout"),
                )
            })?,
            Some(_) => {
                return Err(error(
                    format!("{path}.direction"),
                    "must be a string: in, out or inout",
                ));
            }
        };
        let param_type = match obj.get("type") {
            None => ParamType::default(),
            Some(t) => ParamType::parse(t, crate::error::Path::Field(&format!("{path}.type")))?,
        };
        let value = match obj.get("value") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(v)) => v.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => {
                return Err(error(
                    format!("{path}.value"),
                    "must be a string, number or boolean",
                ));
            }
        };
        if direction == Direction::Out && obj.contains_key("value") {
            return Err(error(
                format!("{path}.value"),
                "an out argument takes no value; use inout to pass one in",
            ));
        }
        args.push(ProcedureArg {
            name,
            direction,
            param_type,
            value,
        });
    }
    Ok(args)
}

impl ProcedureArg {
    pub fn to_json(&self) -> Value {
        let mut arg = json!({"name": self.name, "direction": self.direction.as_str(),
                             "type": self.param_type.as_str()});
        if self.direction != Direction::Out {
            arg["value"] = Value::from(self.value.clone());
        }
        arg
    }

    /// The OUT parameter an out or inout argument exports.
    pub fn out_param(&self) -> Option<OutParam> {
        (self.direction != Direction::In).then(|| OutParam {
            name: self.name.clone(),
            param_type: self.param_type,
            default: String::new(),
        })
    }
}

/// The CALL of a procedure on PostgreSQL: in and inout values bound, out arguments NULL;
/// its result row holds the out and inout values, in order.
pub fn postgres_call(procedure: &str, args: &[ProcedureArg]) -> Bound {
    let mut parts = vec![Part::Text(format!("CALL {procedure}("))];
    let mut bound = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            parts.push(Part::Text(", ".into()));
        }
        if arg.direction == Direction::Out {
            let cast = pg_type(arg.param_type).unwrap_or("text");
            parts.push(Part::Text(format!("NULL::{cast}")));
        } else {
            parts.push(Part::Arg(bound.len()));
            bound.push(Arg {
                name: arg.name.clone(),
                value: Some(arg.value.clone()),
                param_type: Some(arg.param_type),
            });
        }
    }
    parts.push(Part::Text(")".into()));
    Bound { parts, args: bound }
}

/// The statements of a procedure call on MySQL, which returns out values through session
/// variables: inout values set first, then the CALL, then one SELECT of the variables.
pub fn mysql_call(procedure: &str, args: &[ProcedureArg]) -> (Vec<Bound>, Bound, Option<String>) {
    let var = |i: usize| format!("@sched_arg_{i}");
    let mut sets = Vec::new();
    let mut call = vec![Part::Text(format!("CALL {procedure}("))];
    let mut call_args = Vec::new();
    let mut outs = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            call.push(Part::Text(", ".into()));
        }
        let value = Arg {
            name: arg.name.clone(),
            value: Some(arg.value.clone()),
            param_type: Some(arg.param_type),
        };
        match arg.direction {
            Direction::In => {
                call.push(Part::Arg(call_args.len()));
                call_args.push(value);
            }
            Direction::InOut => {
                sets.push(Bound {
                    parts: vec![Part::Text(format!("SET {} = ", var(i))), Part::Arg(0)],
                    args: vec![value],
                });
                call.push(Part::Text(var(i)));
                outs.push(format!("{} AS `{}`", var(i), arg.name));
            }
            Direction::Out => {
                call.push(Part::Text(var(i)));
                outs.push(format!("{} AS `{}`", var(i), arg.name));
            }
        }
    }
    call.push(Part::Text(")".into()));
    let select = (!outs.is_empty()).then(|| format!("SELECT {}", outs.join(", ")));
    (
        sets,
        Bound {
            parts: call,
            args: call_args,
        },
        select,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedure_calls() {
        let args = parse_args(
            &serde_json::json!([
                {"name": "a", "direction": "IN", "type": "integer", "value": 2},
                {"name": "b", "direction": "out", "type": "integer"},
                {"name": "c", "direction": "inout", "value": "x"}
            ]),
            "tasks[0].args",
        )
        .unwrap();
        assert_eq!(
            postgres_call("s.p", &args).postgres(),
            "CALL s.p($1, NULL::int4, $2)"
        );
        let (sets, call, select) = mysql_call("p", &args);
        assert_eq!(sets[0].mysql().0, "SET @sched_arg_2 = ?");
        assert_eq!(call.mysql().0, "CALL p(?, @sched_arg_1, @sched_arg_2)");
        assert_eq!(
            select.as_deref(),
            Some("SELECT @sched_arg_1 AS `b`, @sched_arg_2 AS `c`")
        );
        let outs: Vec<String> = args
            .iter()
            .filter_map(|a| a.out_param())
            .map(|o| o.name)
            .collect();
        assert_eq!(outs, ["b", "c"]);
        for (bad, field) in [
            (
                serde_json::json!([{"name": "a", "direction": "sideways"}]),
                "tasks[0].args[0].direction",
            ),
            (
                serde_json::json!([{"name": "a", "direction": "out", "value": 1}]),
                "tasks[0].args[0].value",
            ),
            (
                serde_json::json!([{"name": "a"}, {"name": "a"}]),
                "tasks[0].args[1].name",
            ),
            (
                serde_json::json!([{"name": "a", "kind": 1}]),
                "tasks[0].args[0].kind",
            ),
            (
                serde_json::json!([{"name": "a", "type": "blob"}]),
                "tasks[0].args[0].type",
            ),
            (serde_json::json!([{}]), "tasks[0].args[0].name"),
            (serde_json::json!({}), "tasks[0].args"),
        ] {
            assert_eq!(
                parse_args(&bad, "tasks[0].args").unwrap_err().path,
                field,
                "{bad}"
            );
        }
        assert!(check_procedure_name("public.add_one", "f").is_ok());
        assert!(check_procedure_name("p(); DROP TABLE t", "f").is_err());
        assert!(check_procedure_name("a.b.c", "f").is_err());
    }
}
