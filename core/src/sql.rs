//! The texts of `sql` and `procedure` tasks: where their placeholders are, how they are
//! bound, and what a result becomes.
//!
//! `${name}` in SQL is never spliced: it becomes a bind parameter (`$n` for PostgreSQL, `?`
//! for MySQL), so a value cannot change the statement. `!{name}` splices the value as text,
//! for the rare identifier or clause a parameter cannot stand for; it is unsafe with values
//! a user controls, and says so in its name. `$[...]` time expressions are expanded as text
//! first: they come from the task's author, like the rest of the statement.
//!
//! Placeholders are looked for outside quoted text: `'...'` (with `''`, and backslash
//! escapes after `E`), `"..."`, `` `...` ``, dollar quotes and comments. A `${name}` inside
//! a quoted text cannot be bound and is refused, as is a positional `$1` written by hand.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::SpecError;
use crate::keyword::ParamType;
use crate::params::OutParam;

/// Result rows kept when a task does not say (`limit_rows`).
pub const DEFAULT_LIMIT_ROWS: i64 = 1000;
/// The most `limit_rows` may ask for.
pub const MAX_LIMIT_ROWS: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Bind(&'a str),
    Splice(&'a str),
}

/// A statement with its parameters bound: `parts` alternate text and references into
/// `args` (one per distinct name, in order of first use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    parts: Vec<Part>,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
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

fn error(field: impl AsRef<str>, message: impl Into<String>) -> SpecError {
    SpecError {
        path: field.as_ref().to_owned(),
        message: message.into(),
    }
}

/// Splits `text` into plain text and placeholders; errors name `field` and the position (in
/// characters, from 1).
fn scan<'a>(text: &'a str, field: &str) -> Result<Vec<Piece<'a>>, SpecError> {
    let bytes = text.as_bytes();
    let at = |i: usize| text[..i].chars().count() + 1;
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let placeholder = |i: usize| -> Result<Option<(&'a str, usize)>, SpecError> {
        if bytes.get(i + 1) != Some(&b'{') {
            return Ok(None);
        }
        let close = text[i..].find('}').map(|c| i + c).ok_or_else(|| {
            error(
                field,
                format!("unclosed {}{{ at position {}", bytes[i] as char, at(i)),
            )
        })?;
        let name = &text[i + 2..close];
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid {
            return Err(error(
                field,
                format!(
                    "{}{{{name}}} at position {} is not a parameter reference; names are letters, digits, '_' and '.'",
                    bytes[i] as char,
                    at(i)
                ),
            ));
        }
        Ok(Some((name, close + 1)))
    };
    while i < bytes.len() {
        let c = bytes[i];
        let quoted_end = match c {
            b'\'' => {
                let escapes = i > 0 && matches!(bytes[i - 1], b'E' | b'e');
                Some(closing(bytes, i + 1, b'\'', escapes))
            }
            b'"' => Some(closing(bytes, i + 1, b'"', false)),
            b'`' => Some(closing(bytes, i + 1, b'`', false)),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                Some(text[i..].find('\n').map_or(bytes.len(), |n| i + n))
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => Some(block_comment_end(bytes, i)),
            b'$' => match bytes.get(i + 1) {
                Some(b'{') => None,
                Some(d) if d.is_ascii_digit() => {
                    return Err(error(
                        field,
                        format!(
                            "positional parameter ${} at position {}: write ${{name}} and declare the name in params",
                            *d as char,
                            at(i)
                        ),
                    ));
                }
                _ => dollar_quote_end(text, i),
            },
            _ => None,
        };
        if let Some(end) = quoted_end {
            let quoted = &text[i..end.min(bytes.len())];
            let is_comment = matches!(c, b'-' | b'/');
            if !is_comment && let Some(pos) = quoted.find("${") {
                return Err(error(
                    field,
                    format!(
                        "${{...}} at position {} is inside quoted text, where it cannot be bound; \
                         write it without quotes (it is bound as a parameter), or !{{name}} to splice text (unsafe)",
                        at(i + pos)
                    ),
                ));
            }
            // `!{name}` splices into quoted text too: that is what splicing is for.
            let mut j = i;
            while let Some(pos) = text[j..end].find("!{") {
                let k = j + pos;
                if let Some((name, after)) = placeholder(k)? {
                    pieces.push(Piece::Text(&text[start..k]));
                    pieces.push(Piece::Splice(name));
                    start = after;
                    j = after;
                } else {
                    j = k + 2;
                }
            }
            i = end.max(i + 1);
            continue;
        }
        if matches!(c, b'$' | b'!')
            && let Some((name, after)) = placeholder(i)?
        {
            pieces.push(Piece::Text(&text[start..i]));
            pieces.push(if c == b'$' {
                Piece::Bind(name)
            } else {
                Piece::Splice(name)
            });
            start = after;
            i = after;
            continue;
        }
        i += 1;
    }
    pieces.push(Piece::Text(&text[start..]));
    pieces.retain(|p| *p != Piece::Text(""));
    Ok(pieces)
}

/// Index just past the quote closing a text opened before `from`; a doubled quote is part of
/// the text. Unclosed text runs to the end, where the database will report it.
fn closing(bytes: &[u8], from: usize, quote: u8, escapes: bool) -> usize {
    let mut i = from;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

fn block_comment_end(bytes: &[u8], from: usize) -> usize {
    let mut depth = 0;
    let mut i = from;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// `$tag$ ... $tag$` starting at `from`, if a dollar quote starts there.
fn dollar_quote_end(text: &str, from: usize) -> Option<usize> {
    let rest = &text[from + 1..];
    let tag_len = rest.find('$')?;
    let tag = &rest[..tag_len];
    let valid = tag.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !tag.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return None;
    }
    let opener = &text[from..from + tag_len + 2];
    let body = from + opener.len();
    Some(
        text[body..]
            .find(opener)
            .map_or(text.len(), |end| body + end + opener.len()),
    )
}

/// Checks a SQL text when its workflow is defined: placeholders well formed and bindable.
pub fn check(text: &str, field: &str) -> Result<(), SpecError> {
    scan(text, field).map(|_| ())
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
        values.get(name).cloned().ok_or_else(|| {
            error(
                field,
                format!("parameter {name:?} has no value; declare it in the task's or the workflow's params"),
            )
        })
    };
    let mut parts = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    let mut text_part = String::new();
    for piece in scan(text, field)? {
        match piece {
            Piece::Text(t) => text_part.push_str(t),
            Piece::Splice(name) => text_part.push_str(&value_of(name)?),
            Piece::Bind(name) => {
                if !text_part.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text_part)));
                }
                let index = match args.iter().position(|a| a.name == name) {
                    Some(i) => i,
                    None => {
                        args.push(Arg {
                            name: name.to_owned(),
                            value: Some(value_of(name)?),
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
    Ok(Bound { parts, args })
}

/// Whether a statement returns rows, from its first word: what DolphinScheduler's "query"
/// SQL type means, for a task that does not say.
pub fn is_query(text: &str) -> bool {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |n| &after[n..]);
        } else if rest.starts_with("/*") {
            rest = &rest[block_comment_end(rest.as_bytes(), 0)..];
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        word.as_str(),
        "select" | "with" | "values" | "table" | "show" | "explain" | "describe" | "desc"
    )
}

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

#[cfg(test)]
mod tests {
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

    #[test]
    fn detects_queries() {
        assert!(is_query("  -- c\n (select 1)"));
        assert!(is_query("/* x */ WITH a AS (SELECT 1) SELECT * FROM a"));
        assert!(!is_query("insert into t values (1)"));
        assert!(!is_query("CALL p()"));
    }

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
}
