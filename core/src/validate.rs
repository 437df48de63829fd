//! Validation of workflow specs from JSON: every field checked against what is allowed
//! there, defaults filled in, and the task graph checked.

use std::collections::{BTreeMap, HashMap};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::command_type::{CommandType, builtin_command_types};
use crate::dag;
use crate::error::{Path, SpecError, quote};
use crate::keyword::{ExecutionType, FailureStrategy, Priority};
use crate::limits::Limits;
use crate::params;
use crate::spec::{TASK_FIELDS, TaskSpec, WorkflowSpec};
use crate::task_type::TaskType;

const DEFAULT_WORKER_GROUP: &str = "default";

const WORKFLOW_FIELDS: &[&str] = &[
    "name",
    "project",
    "description",
    "failure_strategy",
    "execution_type",
    "priority",
    "worker_group",
    "tenant",
    "timezone",
    "env",
    "params",
    "timeout",
    "notify",
    "schedule_on",
    "strict_sql",
    "protect_objects",
    "deadline",
    "admit_when",
    "snapshot",
    "tasks",
];
/// Fields the design specifies but pg_sched does not implement yet. Rejecting them with
/// "not supported yet" rather than "unknown field" tells the user the spelling is right
/// and keeps specs from silently losing settings they rely on.
const WORKFLOW_FIELDS_NOT_YET: &[&str] = &[];
const TASK_FIELDS_NOT_YET: &[&str] = &[];

/// Parses and validates a spec given as JSON text, refusing text over the limits before
/// the JSON parser allocates for it or recurses into it. Numbers beyond the range of f64
/// (`1e400`) are a syntax error rather than an infinity.
pub fn parse_spec(text: &str, limits: &Limits) -> Result<WorkflowSpec, SpecError> {
    parse_spec_with(text, limits, &[])
}

/// [`parse_spec`] where tasks may also have the `registered` command types.
pub fn parse_spec_with(
    text: &str,
    limits: &Limits,
    registered: &[CommandType],
) -> Result<WorkflowSpec, SpecError> {
    limits.check_spec_bytes(text)?;
    limits.check_text_depth(text)?;
    // A spec whose tasks parse one at a time is checked that way; anything else (no tasks
    // array, JSON that does not parse) is parsed whole, so that its error reads as ever.
    if let Some(checked) = validate_task_by_task(text, limits, registered) {
        return checked;
    }
    let spec: Value = serde_json::from_str(text).map_err(json_error)?;
    // The text scan has bounded the depth, so the value need not be walked again.
    validate(&spec, limits, registered)
}

/// The tasks of a spec: a parsed array, or the text of each.
enum Tasks<'a> {
    Values(&'a [Value]),
    Texts(&'a [&'a RawValue]),
}

/// Validates a spec `{..., "tasks": [...]}` parsing its tasks one at a time, each freed once
/// checked: a 100,000-task spec's whole tree cost more to free than to check. `None` when the
/// text is not of that shape or a task's text does not parse (a number beyond f64).
fn validate_task_by_task(
    text: &str,
    limits: &Limits,
    registered: &[CommandType],
) -> Option<Result<WorkflowSpec, SpecError>> {
    let top: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
    let tasks: Vec<&RawValue> = serde_json::from_str(top.get("tasks")?.get()).ok()?;
    let obj = top
        .iter()
        .filter(|(key, _)| key.as_str() != "tasks")
        .map(|(key, value)| Some((key.clone(), serde_json::from_str(value.get()).ok()?)))
        .collect::<Option<Map<String, Value>>>()?;
    match validate_object(&obj, Some(Tasks::Texts(&tasks)), limits, registered) {
        Err(err) if err.path.is_empty() && err.message == PARSE_WHOLE => None,
        checked => Some(checked),
    }
}

/// What the task-by-task check stops with when a task's text does not parse on its own: the
/// whole text's parse then says where.
const PARSE_WHOLE: &str = "a task's text does not parse; parse the whole text";

/// serde_json's wording, with its parser terms put the way a spec's author would say them.
fn json_error(error: serde_json::Error) -> SpecError {
    const REWORDED: &[(&str, &str)] = &[
        ("EOF while parsing a list", "the text ends inside an array"),
        (
            "EOF while parsing an object",
            "the text ends inside an object",
        ),
        (
            "EOF while parsing a string",
            "the text ends inside a string",
        ),
        (
            "EOF while parsing a value",
            "the text ends where a value should be",
        ),
        ("expected ident", "expected true, false or null"),
        (
            "recursion limit exceeded",
            "nested too deeply for the JSON parser",
        ),
    ];
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let (what, position) = match full.strip_suffix(&position) {
        Some(what) => (what, position.as_str()),
        None => (full.as_str(), ""),
    };
    let what = REWORDED
        .iter()
        .find(|(serde, _)| *serde == what)
        .map_or(what, |(_, ours)| ours);
    SpecError::new(Path::Root, format!("not valid JSON: {what}{position}"))
}

/// [`validate_spec_with`] under the default limits.
pub fn validate_spec(spec: &Value) -> Result<WorkflowSpec, SpecError> {
    validate_spec_with(spec, &Limits::default())
}

/// Validates a workflow spec and returns it with defaults filled in. The first problem
/// found is reported, naming the field and what is allowed there.
pub fn validate_spec_with(spec: &Value, limits: &Limits) -> Result<WorkflowSpec, SpecError> {
    // So that a spec is refused alike as text or as a value, and before anything that
    // recurses (cloning or comparing nested settings) can touch it.
    limits.check_value_depth(spec)?;
    validate(spec, limits, &[])
}

fn validate(
    spec: &Value,
    limits: &Limits,
    registered: &[CommandType],
) -> Result<WorkflowSpec, SpecError> {
    let obj = spec
        .as_object()
        .ok_or_else(|| SpecError::new(Path::Root, "must be a JSON object"))?;
    validate_object(obj, None, limits, registered)
}

/// `tasks` when they are given apart from `obj`, else `obj`'s.
fn validate_object(
    obj: &Map<String, Value>,
    tasks: Option<Tasks<'_>>,
    limits: &Limits,
    registered: &[CommandType],
) -> Result<WorkflowSpec, SpecError> {
    check_keys(
        obj,
        WORKFLOW_FIELDS.iter().copied(),
        WORKFLOW_FIELDS_NOT_YET,
        Path::Field,
    )?;
    let field = Path::Field;

    let name = parse_name(required(obj, "name", field("name"))?, field("name"))?;
    let project = optional(obj, "project", field, parse_role)?;
    let description = optional(obj, "description", field, parse_string)?.unwrap_or_default();
    let failure_strategy =
        optional(obj, "failure_strategy", field, FailureStrategy::parse)?.unwrap_or_default();
    let execution_type =
        optional(obj, "execution_type", field, ExecutionType::parse)?.unwrap_or_default();
    let priority = optional(obj, "priority", field, Priority::parse)?.unwrap_or_default();
    let worker_group = optional(obj, "worker_group", field, parse_name)?
        .unwrap_or_else(|| DEFAULT_WORKER_GROUP.to_owned());
    let tenant = optional(obj, "tenant", field, parse_os_user)?;
    let timezone = optional(obj, "timezone", field, |value, path| {
        let zone = parse_string(value, path)?;
        crate::cron::time_zone(&zone, &path.to_string())?;
        Ok(zone)
    })?;
    let env = optional(obj, "env", field, parse_env)?.unwrap_or_default();
    let params = match obj.get("params") {
        Some(value) => params::parse_params(value, "params")?,
        None => BTreeMap::new(),
    };
    let globals = params::check_params(&params, &BTreeMap::new(), "params")?;
    let timeout = obj
        .get("timeout")
        .map(crate::policy::parse_workflow_timeout)
        .transpose()?;
    let notify = obj
        .get("notify")
        .map(|value| crate::alert::Notify::parse(value, "notify", false))
        .transpose()?;
    let schedule_on = obj
        .get("schedule_on")
        .map(crate::dataset::parse_schedule_on)
        .transpose()?;
    let strict_sql = optional(obj, "strict_sql", field, parse_bool)?.unwrap_or(false);
    let protect_objects = optional(obj, "protect_objects", field, parse_bool)?.unwrap_or(false);
    let deadline = optional(obj, "deadline", field, |value, path| {
        let text = parse_string(value, path)?;
        crate::deadline::parse(&text).map_err(|m| SpecError::new(path, m))?;
        Ok(text.trim().to_owned())
    })?;
    let admit_when = optional(obj, "admit_when", field, |value, path| {
        let text = parse_string(value, path)?;
        let expr = crate::admit::check(&text).map_err(|m| SpecError::new(path, m))?;
        Ok(expr.to_owned())
    })?;
    let snapshot = optional(obj, "snapshot", field, |value, path| {
        crate::admit::Snapshot::parse(&parse_string(value, path)?)
            .map_err(|m| SpecError::new(path, m))
    })?
    .unwrap_or_default();

    let not_array = || SpecError::new(field("tasks"), "must be a non-empty array");
    let given = match tasks {
        Some(tasks) => tasks,
        None => Tasks::Values(
            required(obj, "tasks", field("tasks"))?
                .as_array()
                .ok_or_else(not_array)?,
        ),
    };
    let count = match given {
        Tasks::Values(values) => values.len(),
        Tasks::Texts(texts) => texts.len(),
    };
    if count == 0 {
        return Err(not_array());
    }
    limits.check_tasks(count)?;
    let mut edges = 0;
    let mut tasks = Vec::with_capacity(count);
    match given {
        Tasks::Values(values) => {
            for (i, task) in values.iter().enumerate() {
                tasks.push(parse_task(
                    i, task, limits, &mut edges, &globals, registered,
                )?);
            }
        }
        Tasks::Texts(texts) => {
            for (i, text) in texts.iter().enumerate() {
                let task: Value = serde_json::from_str(text.get())
                    .map_err(|_| SpecError::new(Path::Root, PARSE_WHOLE))?;
                tasks.push(parse_task(
                    i, &task, limits, &mut edges, &globals, registered,
                )?);
            }
        }
    }
    crate::logic::link_branches(&mut tasks, limits, &mut edges)?;
    check_graph(&tasks)?;

    Ok(WorkflowSpec {
        name,
        project,
        description,
        failure_strategy,
        execution_type,
        priority,
        worker_group,
        tenant,
        timezone,
        env,
        params,
        timeout,
        notify,
        schedule_on,
        strict_sql,
        protect_objects,
        deadline,
        admit_when,
        snapshot,
        tasks,
    })
}

/// `edges` counts the dependencies of the tasks parsed so far, for the workflow's limit;
/// `globals` are the workflow's parameters as checked, which local ones may refer to.
fn parse_task(
    i: usize,
    value: &Value,
    limits: &Limits,
    edges: &mut usize,
    globals: &BTreeMap<String, String>,
    registered: &[CommandType],
) -> Result<TaskSpec, SpecError> {
    let obj = value
        .as_object()
        .ok_or_else(|| SpecError::new(Path::Task(i), "must be a JSON object"))?;
    let field = |name| Path::TaskField(i, name);

    let name = parse_name(required(obj, "name", field("name"))?, field("name"))?;
    let type_value = required(obj, "type", field("type"))?;
    let mut settings = Map::new();
    let type_name = match find_type(type_value, field("type"), registered)? {
        TypeRef::Builtin(task_type) => {
            check_keys(
                obj,
                TASK_FIELDS
                    .iter()
                    .copied()
                    .chain(task_type.fields.iter().map(|f| f.name)),
                TASK_FIELDS_NOT_YET,
                field,
            )?;
            for setting in task_type.fields {
                match (obj.get(setting.name), setting.kind) {
                    (Some(value), crate::FieldKind::Logic(kind)) => {
                        let path = field(setting.name).to_string();
                        settings.insert(
                            setting.name.to_owned(),
                            crate::logic::normalize(kind, value, &path)?,
                        );
                    }
                    (Some(value), kind) => {
                        kind.check(value, field(setting.name))?;
                        check_template(value, &field(setting.name).to_string())?;
                        settings.insert(setting.name.to_owned(), value.clone());
                    }
                    (None, _) if setting.required => {
                        return Err(SpecError::new(field(setting.name), "required"));
                    }
                    (None, _) => {}
                }
            }
            if task_type.runs == crate::Runs::Scheduler {
                crate::logic::check_task(task_type.name, obj, &mut settings, i)?;
            }
            if let Some(Value::Object(run)) = settings.get("run")
                && task_type.name == "dynamic"
            {
                let element = parse_element_task(i, run, &name, limits, globals, registered)?;
                settings.insert("run".into(), element);
            }
            task_type.name.to_owned()
        }
        TypeRef::Command(command_type) => {
            check_keys(
                obj,
                TASK_FIELDS
                    .iter()
                    .copied()
                    .chain(command_type.fields.iter().map(|f| f.name.as_str())),
                TASK_FIELDS_NOT_YET,
                field,
            )?;
            for setting in &command_type.fields {
                let path = field(&setting.name);
                match obj.get(&setting.name) {
                    Some(value) => {
                        setting.kind.check(value, path, false)?;
                        let texts: Vec<&Value> = match value {
                            Value::Array(items) => items.iter().collect(),
                            one => vec![one],
                        };
                        for text in texts {
                            check_template(text, &path.to_string())?;
                        }
                        settings.insert(setting.name.clone(), value.clone());
                    }
                    None if setting.required && setting.default.is_none() => {
                        return Err(SpecError::new(path, "required"));
                    }
                    None => {}
                }
            }
            command_type.name.clone()
        }
    };

    let params = match obj.get("params") {
        Some(value) => {
            let path = field("params").to_string();
            let params = params::parse_params(value, &path)?;
            params::check_params(&params, globals, &path)?;
            params
        }
        None => BTreeMap::new(),
    };
    let mut out = match obj.get("out") {
        Some(value) => params::parse_out(value, &field("out").to_string())?,
        None => Vec::new(),
    };
    // A procedure's out and inout arguments are its OUT params, declared or not.
    if let ("procedure", Some(args)) = (type_name.as_str(), settings.get_mut("args")) {
        let parsed = crate::sql::parse_args(args, &field("args").to_string())?;
        for exported in parsed
            .iter()
            .filter_map(crate::sql::ProcedureArg::out_param)
        {
            if !out.iter().any(|o| o.name == exported.name) {
                out.push(exported);
            }
        }
        *args = parsed
            .iter()
            .map(crate::sql::ProcedureArg::to_json)
            .collect();
    }

    Ok(TaskSpec {
        name,
        task_type: type_name,
        deps: optional(obj, "deps", field, |deps, path| {
            parse_deps(i, deps, path, limits, edges)
        })?
        .unwrap_or_default(),
        priority: optional(obj, "priority", field, Priority::parse)?.unwrap_or_default(),
        worker_group: optional(obj, "worker_group", field, parse_name)?,
        description: optional(obj, "description", field, parse_string)?.unwrap_or_default(),
        env: optional(obj, "env", field, parse_env)?.unwrap_or_default(),
        params,
        out,
        settings,
        policy: crate::policy::parse_task_policy(obj, |name| field(name).to_string())?,
        enabled: optional(obj, "enabled", field, parse_bool)?.unwrap_or(true),
        produces: match obj.get("produces") {
            Some(value) => crate::dataset::parse_produces(value, &field("produces").to_string())?,
            None => Vec::new(),
        },
    })
}

/// A dynamic task's inline element task, checked as a task of the DAG would be; a problem
/// is reported under the dynamic task's `run`.
fn parse_element_task(
    i: usize,
    run: &Map<String, Value>,
    name: &str,
    limits: &Limits,
    globals: &BTreeMap<String, String>,
    registered: &[CommandType],
) -> Result<Value, SpecError> {
    let path = Path::TaskField(i, "run").to_string();
    let task = crate::dynamic::inline_task(run, name, &path)?;
    let outer = Path::Task(i).to_string();
    let element = parse_task(i, &Value::Object(task), limits, &mut 0, globals, registered)
        .map_err(|e| SpecError {
            path: match e.path.strip_prefix(&outer) {
                Some(rest) => format!("{path}{rest}"),
                None => e.path,
            },
            message: e.message,
        })?;
    match element.to_json() {
        Value::Object(task) => Ok(crate::dynamic::stored_run(task)),
        other => Ok(other),
    }
}

enum TypeRef<'a> {
    Builtin(&'static TaskType),
    Command(&'a CommandType),
}

/// A task's type, case-insensitively: a built-in type, a built-in command type or one of
/// the `registered` ones.
fn find_type<'a>(
    value: &Value,
    path: Path<'_>,
    registered: &'a [CommandType],
) -> Result<TypeRef<'a>, SpecError> {
    let text = value
        .as_str()
        .ok_or_else(|| SpecError::new(path, "must be a string"))?;
    if let Some(found) = crate::TASK_TYPES
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(text))
    {
        return Ok(TypeRef::Builtin(found));
    }
    if let Some(found) = builtin_command_types()
        .iter()
        .chain(registered)
        .find(|t| t.name.eq_ignore_ascii_case(text))
    {
        return Ok(TypeRef::Command(found));
    }
    let mut allowed: Vec<&str> = crate::TASK_TYPES
        .iter()
        .map(|t| t.name)
        .chain(
            builtin_command_types()
                .iter()
                .chain(registered)
                .map(|t| t.name.as_str()),
        )
        .collect();
    allowed.sort_unstable();
    Err(SpecError::new(
        path,
        format!(
            "unknown task type {}; allowed: {}",
            quote(text),
            allowed.join(", ")
        ),
    ))
}

/// The edge limit is checked on the array's length, before its names are copied.
fn parse_deps(
    task: usize,
    value: &Value,
    path: Path<'_>,
    limits: &Limits,
    edges: &mut usize,
) -> Result<Vec<String>, SpecError> {
    let deps = value
        .as_array()
        .ok_or_else(|| SpecError::new(path, "must be an array of task names"))?;
    *edges += deps.len();
    limits.check_edges(*edges, path)?;
    deps.iter()
        .enumerate()
        .map(|(k, dep)| parse_string(dep, Path::Dep(task, k)))
        .collect()
}

/// Checks task names are unique and dependencies resolve to other tasks without forming
/// a cycle. Linear in tasks plus dependencies: wide workflows have tens of thousands of
/// tasks, and a single fan-in task may list all of them.
fn check_graph(tasks: &[TaskSpec]) -> Result<(), SpecError> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(tasks.len());
    for (i, task) in tasks.iter().enumerate() {
        if let Some(first) = index.insert(&task.name, i) {
            return Err(SpecError::new(
                Path::TaskField(i, "name"),
                format!(
                    "duplicate task name {} (also tasks[{first}])",
                    quote(&task.name)
                ),
            ));
        }
    }

    // `listed_by[j] == i` records that task i already named task j, which detects
    // duplicate deps without a set per task.
    let mut listed_by = vec![usize::MAX; tasks.len()];
    let mut edges = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let deps_path = Path::TaskField(i, "deps");
        for dep in &task.deps {
            let &j = index
                .get(dep.as_str())
                .ok_or_else(|| SpecError::new(deps_path, format!("unknown task {}", quote(dep))))?;
            if j == i {
                return Err(SpecError::new(
                    deps_path,
                    format!("task {} depends on itself", quote(dep)),
                ));
            }
            if listed_by[j] == i {
                return Err(SpecError::new(
                    deps_path,
                    format!("duplicate dependency {}", quote(dep)),
                ));
            }
            listed_by[j] = i;
            edges.push((j, i));
        }
    }

    match dag::find_cycle(&edges) {
        None => Ok(()),
        Some(cycle) => {
            let names: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .map(|&i| tasks[i].name.as_str())
                .collect();
            Err(SpecError::new(
                Path::TaskField(cycle[0], "deps"),
                format!("cycle: {}", names.join(" -> ")),
            ))
        }
    }
}

/// Rejects fields the spec does not know; a typo must not be silently ignored.
fn check_keys<'a>(
    obj: &'a Map<String, Value>,
    allowed: impl Iterator<Item = &'a str> + Clone,
    not_yet: &[&str],
    path: impl Fn(&'a str) -> Path<'a>,
) -> Result<(), SpecError> {
    for key in obj.keys() {
        if allowed.clone().any(|name| name == key) {
            continue;
        }
        let message = if not_yet.contains(&key.as_str()) {
            "not supported yet".to_owned()
        } else {
            format!(
                "unknown field; allowed: {}",
                allowed.clone().collect::<Vec<_>>().join(", ")
            )
        };
        return Err(SpecError::new(path(key), message));
    }
    Ok(())
}

fn required<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    path: Path<'_>,
) -> Result<&'v Value, SpecError> {
    obj.get(key).ok_or_else(|| SpecError::new(path, "required"))
}

fn optional<'a, T>(
    obj: &Map<String, Value>,
    key: &'a str,
    path: impl Fn(&'a str) -> Path<'a>,
    parse: impl FnOnce(&Value, Path<'a>) -> Result<T, SpecError>,
) -> Result<Option<T>, SpecError> {
    obj.get(key)
        .map(|value| parse(value, path(key)))
        .transpose()
}

fn parse_bool(value: &Value, path: Path<'_>) -> Result<bool, SpecError> {
    value
        .as_bool()
        .ok_or_else(|| SpecError::new(path, "must be true or false"))
}

fn parse_string(value: &Value, path: Path<'_>) -> Result<String, SpecError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| SpecError::new(path, "must be a string"))
}

/// Names appear in SQL, file names and log lines, so they are restricted to a set that
/// needs no quoting anywhere; 63 is PostgreSQL's identifier length limit.
fn parse_name(value: &Value, path: Path<'_>) -> Result<String, SpecError> {
    parse_word(
        value,
        path,
        63,
        |c| c.is_ascii_alphanumeric(),
        "name",
        "a letter or digit",
    )
}

/// OS user names as useradd accepts them by default (plus upper case), at most 32 bytes.
/// A PostgreSQL role name as written in SQL without quotes' case folding: 1 to 63 bytes.
fn parse_role(value: &Value, path: Path<'_>) -> Result<String, SpecError> {
    let role = parse_string(value, path)?;
    if role.is_empty() || role.len() > 63 || role.chars().any(char::is_control) {
        return Err(SpecError::new(
            path,
            format!(
                "{} is not a role name: 1 to 63 bytes, no control characters",
                quote(&role)
            ),
        ));
    }
    Ok(role)
}

fn parse_os_user(value: &Value, path: Path<'_>) -> Result<String, SpecError> {
    parse_word(
        value,
        path,
        32,
        |c| c.is_ascii_alphabetic() || c == '_',
        "OS user name",
        "a letter or '_'",
    )
}

/// A string of 1 to `max` letters, digits, '_', '-' or '.' whose first character passes
/// `first`; `what` and `first_rule` word the error.
fn parse_word(
    value: &Value,
    path: Path<'_>,
    max: usize,
    first: fn(char) -> bool,
    what: &str,
    first_rule: &str,
) -> Result<String, SpecError> {
    let word = parse_string(value, path)?;
    let valid = (1..=max).contains(&word.len())
        && word.starts_with(first)
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(word)
    } else {
        Err(SpecError::new(
            path,
            format!(
                "{} is not a valid {what}; use 1-{max} letters, digits, '_', '-' or '.', \
                 starting with {first_rule}",
                quote(&word)
            ),
        ))
    }
}

/// Task environment variables: portable names, string values without NUL (which no
/// environment can hold). `SCHED_*` is reserved for the variables the worker sets.
fn parse_env(value: &Value, path: Path<'_>) -> Result<Map<String, Value>, SpecError> {
    let vars = value.as_object().ok_or_else(|| {
        SpecError::new(
            path,
            r#"must be an object of names to strings, e.g. {"TZ": "UTC"}"#,
        )
    })?;
    for (key, val) in vars {
        let at = |message: String| SpecError {
            path: format!("{path}.{key}"),
            message,
        };
        let valid = (1..=255).contains(&key.len())
            && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(at(format!(
                "{} is not a valid variable name; use letters, digits and '_', not starting with a digit",
                quote(key)
            )));
        }
        if key.starts_with("SCHED_") {
            return Err(at(
                "names starting with SCHED_ are reserved for the variables pg_sched sets".into(),
            ));
        }
        match val.as_str() {
            Some(text) if text.contains('\0') => {
                return Err(at("must not contain a NUL character".into()));
            }
            Some(_) => {}
            None => return Err(at("must be a string".into())),
        }
    }
    Ok(vars.clone())
}

/// A malformed `$[...]` in a task's text is an error when the workflow is defined, not when
/// the task runs: resolved with no parameters at an arbitrary time, only what depends on
/// parameters' values can still fail later.
fn check_template(value: &Value, field: &str) -> Result<(), SpecError> {
    match value.as_str() {
        Some(text) if crate::has_placeholders(text) => {
            crate::resolve_template(text, &Default::default(), params::any_time(), field)
                .map(|_| ())
        }
        _ => Ok(()),
    }
}
