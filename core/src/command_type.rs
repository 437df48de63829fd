//! Command task types: a task type defined by data, not code. Its fields have kinds
//! (string, integer, boolean, enum, list), and a command template renders them, each value
//! shell-quoted, into the command line a worker runs (`bash -c`, or the type's interpreter).
//! Administrators register such types from SQL; `mr` is one built in.
//!
//! Template syntax: `{field}` is the field's value; `[...]` is an optional part, left out
//! unless every field it names has a value; `[?field=a|b:...]` is also left out unless the
//! field's value is one of those listed; `{{`, `}}`, `[[` and `]]` are the characters
//! themselves. A list renders as its items, each quoted, separated by spaces.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::error::{Path, SpecError, quote};

#[derive(Debug, Clone, PartialEq)]
pub struct CommandType {
    pub name: String,
    pub description: String,
    pub fields: Vec<CommandField>,
    pub command: String,
    /// The program that runs the rendered command with `-c`; `None` is bash.
    pub interpreter: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandField {
    pub name: String,
    pub kind: ValueKind,
    pub required: bool,
    pub default: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    String,
    Integer,
    Boolean,
    Enum(Vec<String>),
    List,
}

const KINDS: &str = "string, integer, boolean, enum, list";

/// The command types pg_sched ships, in the format administrators register theirs.
const BUILTIN: &[&str] = &[
    r#"{
    "name": "mr",
    "description": "Hadoop MapReduce: hadoop jar main_jar [main_class] -D options args",
    "fields": {
        "main_jar": {"kind": "string", "required": true},
        "main_class": {"kind": "string"},
        "app_name": {"kind": "string"},
        "queue": {"kind": "string"},
        "others": {"kind": "list"},
        "main_args": {"kind": "list"}
    },
    "command": "hadoop jar {main_jar}[ {main_class}][ -D mapreduce.job.name={app_name}][ -D mapreduce.job.queuename={queue}][ {others}][ {main_args}]"
}"#,
    r#"{
    "name": "spark",
    "description": "Apache Spark: spark-submit (spark-sql -f for program_type sql), from $SPARK_HOME/bin or PATH",
    "fields": {
        "program_type": {"kind": "enum", "values": ["java", "scala", "python", "sql"], "required": true},
        "main_file": {"kind": "string", "required": true},
        "main_class": {"kind": "string"},
        "master": {"kind": "string"},
        "deploy_mode": {"kind": "enum", "values": ["client", "cluster"]},
        "app_name": {"kind": "string"},
        "driver_cores": {"kind": "integer"},
        "driver_memory": {"kind": "string"},
        "num_executors": {"kind": "integer"},
        "executor_cores": {"kind": "integer"},
        "executor_memory": {"kind": "string"},
        "main_args": {"kind": "list"},
        "others": {"kind": "list"}
    },
    "command": "[?program_type=sql:\"${{SPARK_HOME:+$SPARK_HOME/bin/}}spark-sql\"][?program_type=java|scala|python:\"${{SPARK_HOME:+$SPARK_HOME/bin/}}spark-submit\"][ --master {master}][ --deploy-mode {deploy_mode}][ --name {app_name}][ --driver-cores {driver_cores}][ --driver-memory {driver_memory}][ --num-executors {num_executors}][ --executor-cores {executor_cores}][ --executor-memory {executor_memory}][ {others}][?program_type=java|scala: --class {main_class}][?program_type=sql: -f {main_file}][?program_type=java|scala|python: {main_file}][?program_type=java|scala|python: {main_args}]"
}"#,
];

/// The built-in command types.
pub fn builtin_command_types() -> &'static [CommandType] {
    static TYPES: OnceLock<Vec<CommandType>> = OnceLock::new();
    TYPES.get_or_init(|| {
        BUILTIN
            .iter()
            .map(|text| {
                let value: Value = serde_json::from_str(text).expect("built-in types are JSON");
                let name = value["name"].as_str().expect("named").to_owned();
                CommandType::parse(&name, &value).expect("built-in types are valid")
            })
            .collect()
    })
}

/// Type and field names: 1-63 lower-case letters, digits and '_', starting with a letter.
fn is_lower_word(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl CommandType {
    /// A type an administrator registers: [`CommandType::parse`], with a name that is valid
    /// and not one of the built-in types'. Errors name `name` or `definition.<field>`.
    pub fn register(name: &str, definition: &Value) -> Result<CommandType, SpecError> {
        let refuse = |message: String| SpecError {
            path: "name".into(),
            message,
        };
        if !is_lower_word(name) {
            return Err(refuse(format!(
                "{} is not a valid task type name; use 1-63 lower-case letters, digits and '_', starting with a letter",
                quote(name)
            )));
        }
        let builtin = crate::TASK_TYPES.iter().any(|t| t.name == name)
            || builtin_command_types().iter().any(|t| t.name == name);
        if builtin {
            return Err(refuse(format!("{} is a built-in task type", quote(name))));
        }
        CommandType::parse(name, definition).map_err(|e| SpecError {
            path: if e.path == "definition" {
                e.path
            } else {
                format!("definition.{}", e.path)
            },
            message: e.message,
        })
    }

    /// Validates a type definition `{"description", "fields": {name: {"kind", "required",
    /// "default", "values"}}, "command", "interpreter"}`; errors name the field of the
    /// definition at fault. (`name` in the definition, if present, must be `name`.)
    pub fn parse(name: &str, definition: &Value) -> Result<CommandType, SpecError> {
        let at = |field: &str, message: String| SpecError {
            path: field.to_owned(),
            message,
        };
        let obj = definition
            .as_object()
            .ok_or_else(|| at("definition", "must be a JSON object".into()))?;
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "name" | "description" | "fields" | "command" | "interpreter"
            ) {
                return Err(at(
                    key,
                    "unknown field; allowed: description, fields, command, interpreter".into(),
                ));
            }
        }
        if let Some(given) = obj.get("name")
            && given.as_str() != Some(name)
        {
            return Err(at("name", format!("must be {} when given", quote(name))));
        }
        let description = match obj.get("description") {
            None => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(_) => return Err(at("description", "must be a string".into())),
        };
        let mut fields = Vec::new();
        match obj.get("fields") {
            None => {}
            Some(Value::Object(entries)) => {
                for (field, spec) in entries {
                    fields.push(parse_field(field, spec)?);
                }
            }
            Some(_) => {
                return Err(at(
                    "fields",
                    r#"must be an object of field names to {"kind", "required", "default", "values"}"#
                        .into(),
                ));
            }
        }
        let command = match obj.get("command") {
            Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
            Some(_) => return Err(at("command", "must be a non-empty string".into())),
            None => return Err(at("command", "required".into())),
        };
        let interpreter = match obj.get("interpreter") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if !text.is_empty() && !text.contains('\0') => {
                Some(text.clone())
            }
            Some(_) => return Err(at("interpreter", "must be a program name or path".into())),
        };
        let parsed = CommandType {
            name: name.to_owned(),
            description,
            fields,
            command,
            interpreter,
        };
        let names: Vec<&str> = parsed.fields.iter().map(|f| f.name.as_str()).collect();
        parse_template(&parsed.command, &names).map_err(|message| at("command", message))?;
        Ok(parsed)
    }

    pub fn to_json(&self) -> Value {
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .map(|f| {
                let mut spec = json!({"kind": f.kind.as_str(), "required": f.required});
                if let ValueKind::Enum(values) = &f.kind {
                    spec["values"] = json!(values);
                }
                if let Some(default) = &f.default {
                    spec["default"] = default.clone();
                }
                (f.name.clone(), spec)
            })
            .collect();
        let mut out = json!({
            "name": self.name,
            "description": self.description,
            "fields": fields,
            "command": self.command,
        });
        if let Some(interpreter) = &self.interpreter {
            out["interpreter"] = interpreter.clone().into();
        }
        out
    }

    pub fn field(&self, name: &str) -> Option<&CommandField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The command line for a task's settings (after parameter resolution), each value
    /// quoted for the shell. A value that is not of its field's kind, now that its
    /// parameters are known, is an error naming the field.
    pub fn render(&self, settings: &Map<String, Value>) -> Result<String, SpecError> {
        let names: Vec<&str> = self.fields.iter().map(|f| f.name.as_str()).collect();
        let parts = parse_template(&self.command, &names).map_err(|message| SpecError {
            path: "command".into(),
            message,
        })?;
        let mut rendered = Vec::new();
        for field in &self.fields {
            let value = settings.get(&field.name).or(field.default.as_ref());
            let text = match value {
                None | Some(Value::Null) => None,
                Some(value) => {
                    let path = Path::Field(&field.name);
                    field.kind.check(value, path, true)?;
                    field.kind.render(value)
                }
            };
            rendered.push((field.name.as_str(), text));
        }
        let value_of = |name: &str| {
            rendered
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.clone())
        };
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(text) => out.push_str(&text),
                Part::Field(name) => out.push_str(&value_of(&name).unwrap_or_default()),
                Part::Optional(condition, inner) => {
                    let chosen = condition.is_none_or(|c| {
                        let value = settings
                            .get(&c.field)
                            .or(self.field(&c.field).and_then(|f| f.default.as_ref()));
                        let text = match value {
                            Some(Value::String(text)) => Some(text.clone()),
                            Some(Value::Null) | None => None,
                            Some(other) => Some(other.to_string()),
                        };
                        text.is_some_and(|text| c.values.contains(&text))
                    });
                    let present = inner
                        .iter()
                        .all(|p| !matches!(p, Part::Field(name) if value_of(name).is_none()));
                    if chosen && present {
                        for p in inner {
                            match p {
                                Part::Text(text) => out.push_str(&text),
                                Part::Field(name) => {
                                    out.push_str(&value_of(&name).unwrap_or_default())
                                }
                                Part::Optional(..) => {}
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

fn parse_field(name: &str, spec: &Value) -> Result<CommandField, SpecError> {
    let path = format!("fields.{name}");
    let at = |field: &str, message: String| SpecError {
        path: if field.is_empty() {
            path.clone()
        } else {
            format!("{path}.{field}")
        },
        message,
    };
    if !is_lower_word(name) {
        return Err(at(
            "",
            format!(
                "{} is not a valid field name; use 1-63 lower-case letters, digits and '_', starting with a letter",
                quote(name)
            ),
        ));
    }
    if crate::spec::TASK_FIELDS.contains(&name) {
        return Err(at(
            "",
            format!(
                "{} is a common task field and cannot be redefined",
                quote(name)
            ),
        ));
    }
    // The names under which a task's settings carry its type and what the claim made of it.
    if matches!(name, "command" | "command_type" | "resolve_error") {
        return Err(at("", format!("{} is reserved", quote(name))));
    }
    let obj = spec.as_object().ok_or_else(|| {
        at(
            "",
            r#"must be an object {"kind", "required", "default", "values"}"#.into(),
        )
    })?;
    for key in obj.keys() {
        if !matches!(key.as_str(), "kind" | "required" | "default" | "values") {
            return Err(at(
                key,
                "unknown field; allowed: kind, required, default, values".into(),
            ));
        }
    }
    let kind = match obj.get("kind").and_then(Value::as_str) {
        Some("string") => ValueKind::String,
        Some("integer") => ValueKind::Integer,
        Some("boolean") => ValueKind::Boolean,
        Some("list") => ValueKind::List,
        Some("enum") => {
            let values = obj
                .get("values")
                .and_then(Value::as_array)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    at(
                        "values",
                        "an enum needs a non-empty array of strings".into(),
                    )
                })?;
            let values = values
                .iter()
                .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| at("values", "must be non-empty strings".into()))?;
            ValueKind::Enum(values)
        }
        Some(other) => {
            return Err(at(
                "kind",
                format!("{} is not a field kind; allowed: {KINDS}", quote(other)),
            ));
        }
        None => return Err(at("kind", format!("required; one of {KINDS}"))),
    };
    if obj.contains_key("values") && !matches!(kind, ValueKind::Enum(_)) {
        return Err(at("values", "only an enum has values".into()));
    }
    let required = match obj.get("required") {
        None => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(at("required", "must be true or false".into())),
    };
    let default = match obj.get("default") {
        None | Some(Value::Null) => None,
        Some(value) => {
            kind.check(value, Path::Field(&format!("{path}.default")), true)?;
            Some(value.clone())
        }
    };
    Ok(CommandField {
        name: name.to_owned(),
        kind,
        required,
        default,
    })
}

impl ValueKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ValueKind::String => "string",
            ValueKind::Integer => "integer",
            ValueKind::Boolean => "boolean",
            ValueKind::Enum(_) => "enum",
            ValueKind::List => "list",
        }
    }

    /// Whether `value` fits. At definition (`resolved` false) a string holding `${...}` or
    /// `$[...]` is accepted for any kind: its parameters decide, and it is checked again
    /// when the task runs.
    pub(crate) fn check(
        &self,
        value: &Value,
        path: Path<'_>,
        resolved: bool,
    ) -> Result<(), SpecError> {
        let pending = |v: &Value| !resolved && v.as_str().is_some_and(crate::has_placeholders);
        if pending(value) {
            return Ok(());
        }
        let fits = match self {
            ValueKind::String => value.is_string(),
            ValueKind::Integer => {
                value.is_i64() || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
            }
            ValueKind::Boolean => {
                value.is_boolean() || matches!(value.as_str(), Some("true" | "false"))
            }
            ValueKind::Enum(values) => value
                .as_str()
                .is_some_and(|s| values.iter().any(|v| v == s)),
            ValueKind::List => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
        };
        if fits {
            return Ok(());
        }
        let rule = match self {
            ValueKind::String => "must be a string".to_owned(),
            ValueKind::Integer => "must be an integer".to_owned(),
            ValueKind::Boolean => "must be true or false".to_owned(),
            ValueKind::Enum(values) => format!(
                "{} is not allowed; allowed: {}",
                value
                    .as_str()
                    .map(quote)
                    .unwrap_or_else(|| value.to_string()),
                values.join(", ")
            ),
            ValueKind::List => "must be an array of strings".to_owned(),
        };
        Err(SpecError::new(path, rule))
    }

    /// The value as the command line gets it; `None` for an empty list.
    fn render(&self, value: &Value) -> Option<String> {
        match value {
            Value::Array(items) if items.is_empty() => None,
            Value::Array(items) => Some(
                items
                    .iter()
                    .map(|item| shell_quote(item.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Value::String(text) => Some(shell_quote(text)),
            other => Some(shell_quote(&other.to_string())),
        }
    }
}

/// Single quotes, each `'` inside closed, escaped and reopened: the shell takes the text as
/// one word, expanding nothing in it.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Field(String),
    Optional(Option<Condition>, Vec<Part>),
}

/// `?field=a|b:` at the start of an optional part.
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    field: String,
    values: Vec<String>,
}

/// The template's parts; an error says what is wrong and where (character position).
fn parse_template(template: &str, fields: &[&str]) -> Result<Vec<Part>, String> {
    let chars: Vec<char> = template.chars().collect();
    let mut top: Vec<Part> = Vec::new();
    let mut group: Option<(usize, Option<Condition>, Vec<Part>)> = None;
    let mut text = String::new();
    let mut i = 0;
    let flush = |text: &mut String,
                 group: &mut Option<(usize, Option<Condition>, Vec<Part>)>,
                 top: &mut Vec<Part>| {
        if !text.is_empty() {
            let part = Part::Text(std::mem::take(text));
            match group {
                Some((_, _, parts)) => parts.push(part),
                None => top.push(part),
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let doubled = chars.get(i + 1) == Some(&c);
        match c {
            '{' | '}' | '[' | ']' if doubled => {
                text.push(c);
                i += 2;
                continue;
            }
            '{' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '}')
                    .map(|n| i + 1 + n)
                    .ok_or_else(|| {
                        format!("'{{' at position {i} is never closed; write {{{{ for a brace")
                    })?;
                let name: String = chars[i + 1..end].iter().collect();
                if !fields.contains(&name.as_str()) {
                    return Err(format!(
                        "{{{name}}} at position {i} names no field; fields: {}",
                        if fields.is_empty() {
                            "none".to_owned()
                        } else {
                            fields.join(", ")
                        }
                    ));
                }
                flush(&mut text, &mut group, &mut top);
                let part = Part::Field(name);
                match &mut group {
                    Some((_, _, parts)) => parts.push(part),
                    None => top.push(part),
                }
                i = end + 1;
                continue;
            }
            '}' => {
                return Err(format!(
                    "'}}' at position {i} closes nothing; write }}}} for a brace"
                ));
            }
            '[' => {
                if group.is_some() {
                    return Err(format!("'[' at position {i}: optional parts do not nest"));
                }
                flush(&mut text, &mut group, &mut top);
                let start = i;
                let mut condition = None;
                if chars.get(i + 1) == Some(&'?') {
                    let end = chars[i + 2..]
                        .iter()
                        .position(|&c| c == ':')
                        .map(|n| i + 2 + n)
                        .ok_or_else(|| {
                            format!("'[?' at position {i} needs field=value|value: before its text")
                        })?;
                    let written: String = chars[i + 2..end].iter().collect();
                    let (field, values) = written.split_once('=').ok_or_else(|| {
                        format!("'[?{written}:' at position {i}: write [?field=value|value:...]")
                    })?;
                    if !fields.contains(&field) {
                        return Err(format!(
                            "'[?{written}:' at position {i} names no field \"{field}\""
                        ));
                    }
                    let values: Vec<String> = values.split('|').map(str::to_owned).collect();
                    if values.iter().any(String::is_empty) {
                        return Err(format!("'[?{written}:' at position {i} has an empty value"));
                    }
                    condition = Some(Condition {
                        field: field.to_owned(),
                        values,
                    });
                    i = end;
                }
                group = Some((start, condition, Vec::new()));
            }
            ']' => {
                flush(&mut text, &mut group, &mut top);
                let (_, condition, parts) = group.take().ok_or_else(|| {
                    format!("']' at position {i} closes nothing; write ]] for a bracket")
                })?;
                top.push(Part::Optional(condition, parts));
            }
            other => text.push(other),
        }
        i += 1;
    }
    if let Some((start, _, _)) = group {
        return Err(format!(
            "'[' at position {start} is never closed; write [[ for a bracket"
        ));
    }
    flush(&mut text, &mut group, &mut top);
    Ok(top)
}
