//! Property tests of spec validation: whatever a client sends, as a value or as text, the
//! answer is a workflow or an error naming a field, never a panic.
//!
//! Plain `cargo test` runs 2000 cases per property. For a longer search:
//!
//! ```text
//! PROPTEST_CASES=200000 cargo test -p sched-core --test spec_props
//! ```

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use sched_core::{Limits, SpecError, WorkflowSpec, parse_spec, validate_spec, validate_spec_with};
use serde_json::{Map, Value, json};

/// proptest puts PROPTEST_CASES into its default config, which a fixed case count would
/// override; 2000 applies only when the variable is unset.
fn config() -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(2000)
    }
}

const WORKFLOW_FIELDS: &[&str] = &[
    "name",
    "project",
    "description",
    "failure_strategy",
    "execution_type",
    "priority",
    "worker_group",
    "tenant",
    "env",
    "tasks",
];

/// The fields a task has beyond the workflow's names (`script` is `shell`'s).
const TASK_ONLY_FIELDS: &[&str] = &["type", "deps", "script"];

/// A real field name, so that arbitrary objects often look like specs.
fn field() -> impl Strategy<Value = String> + Clone {
    prop_oneof![select(WORKFLOW_FIELDS), select(TASK_ONLY_FIELDS)].prop_map(String::from)
}

/// Values that get past the first checks of some field.
const WORDS: &[&str] = &[
    "shell",
    "SHELL",
    "empty",
    "end",
    "continue",
    "parallel",
    "serial_wait",
    "high",
    "lowest",
    "default",
    "etl_user",
    "TZ",
    "SCHED_X",
    "_x",
    "",
];

const PRIORITIES: &[&str] = &["highest", "high", "medium", "low", "lowest"];

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        regex("[a-zA-Z0-9_.-]{0,12}"),
        select(WORDS).prop_map(String::from),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Non-finite floats have no JSON form; Value::from makes them null.
        any::<f64>().prop_map(Value::from),
        select(&[f64::MAX, f64::MIN, 1e300, -1e300, 5e-324, 0.5, -0.0, 1e20][..])
            .prop_map(Value::from),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        string().prop_map(Value::from),
    ];
    let key = prop_oneof![3 => field(), 1 => string()];
    leaf.prop_recursive(6, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// An object with a valid name and tasks made of arbitrary fields, so that arbitrary
/// values also reach the task checks.
fn spec_shaped() -> impl Strategy<Value = Value> {
    let task = prop::collection::vec((field(), json()), 0..5)
        .prop_map(|fields| Value::Object(fields.into_iter().collect()));
    (name(), prop::collection::vec(task, 0..4))
        .prop_map(|(name, tasks)| json!({"name": name, "tasks": tasks}))
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (0usize..600, 0usize..6, 0usize..6, 0usize..7).prop_map(
            |(max_spec_bytes, max_tasks, max_edges, max_depth)| Limits {
                max_spec_bytes,
                max_tasks,
                max_edges,
                max_depth,
            }
        ),
    ]
}

/// A bare `&str` strategy compiles its regex for every case, which made generating specs
/// the bulk of the run time.
fn regex(pattern: &str) -> BoxedStrategy<String> {
    proptest::string::string_regex(pattern)
        .expect("valid regex")
        .boxed()
}

fn name() -> impl Strategy<Value = String> {
    regex("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,10}")
}

/// `values` in a random mix of upper and lower case, which must mean the same.
fn keyword(values: &'static [&'static str]) -> impl Strategy<Value = Value> {
    (select(values), any::<u32>()).prop_map(|(text, case)| {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                if case >> (i % 32) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect::<String>()
            .into()
    })
}

fn env() -> impl Strategy<Value = Value> {
    let var = regex("[A-Za-z_][A-Za-z0-9_]{0,8}").prop_map(|name| {
        if name.starts_with("SCHED_") {
            format!("X{name}")
        } else {
            name
        }
    });
    let text = string().prop_map(|text| text.replace('\0', ""));
    prop::collection::btree_map(var, text, 0..3)
        .prop_map(|vars| Value::Object(vars.into_iter().map(|(k, v)| (k, v.into())).collect()))
}

/// A task without its name and deps, which depend on its place in the workflow, and the
/// picks among earlier tasks that become its deps.
fn valid_task() -> impl Strategy<Value = (Map<String, Value>, Vec<Index>)> {
    // A script with "$[" may hold a malformed time expression, which a valid spec cannot.
    let script = string().prop_map(|s| {
        if s.is_empty() || s.contains("$[") {
            "true".into()
        } else {
            s
        }
    });
    let kind = prop_oneof![
        keyword(&["empty"]).prop_map(|t| (t, None)),
        (keyword(&["shell"]), script).prop_map(|(t, s)| (t, Some(s))),
    ];
    (
        kind,
        proptest::option::of(keyword(PRIORITIES)),
        proptest::option::of(name()),
        proptest::option::of(string()),
        proptest::option::of(env()),
        prop::collection::vec(any::<Index>(), 0..4),
    )
        .prop_map(
            |((kind, script), priority, group, description, env, deps)| {
                let mut task = Map::new();
                task.insert("type".into(), kind);
                let optional = [
                    ("script", script.map(Value::from)),
                    ("priority", priority),
                    ("worker_group", group.map(Value::from)),
                    ("description", description.map(Value::from)),
                    ("env", env),
                ];
                for (key, value) in optional {
                    if let Some(value) = value {
                        task.insert(key.into(), value);
                    }
                }
                (task, deps)
            },
        )
}

/// Specs that must validate: unique names, deps only on earlier tasks (so no cycle),
/// every optional field sometimes present.
fn valid_spec() -> impl Strategy<Value = Value> {
    let workflow = (
        name(),
        proptest::option::of(name()),
        proptest::option::of(string()),
        proptest::option::of(keyword(&["continue", "end"])),
        proptest::option::of(keyword(&["parallel"])),
        proptest::option::of(keyword(PRIORITIES)),
        proptest::option::of(name()),
        proptest::option::of(regex("[a-zA-Z_][a-zA-Z0-9_.-]{0,10}")),
        proptest::option::of(env()),
    );
    let tasks = prop::collection::vec((name(), valid_task()), 1..8);
    (workflow, tasks).prop_map(
        |(
            (name, project, description, failure, execution, priority, group, tenant, env),
            tasks,
        )| {
            // A single-digit suffix keeps names unique whatever the generated stems.
            let names: Vec<String> = tasks
                .iter()
                .enumerate()
                .map(|(i, (stem, _))| format!("{stem}{i}"))
                .collect();
            let tasks: Vec<Value> = tasks
                .into_iter()
                .enumerate()
                .map(|(i, (_, (mut task, picks)))| {
                    task.insert("name".into(), names[i].clone().into());
                    if i > 0 && !picks.is_empty() {
                        let mut deps: Vec<&str> = Vec::new();
                        for pick in picks {
                            let dep = names[pick.index(i)].as_str();
                            if !deps.contains(&dep) {
                                deps.push(dep);
                            }
                        }
                        task.insert("deps".into(), deps.into());
                    }
                    Value::Object(task)
                })
                .collect();
            let mut spec = json!({"name": name, "tasks": tasks});
            let optional = [
                ("project", project.map(Value::from)),
                ("description", description.map(Value::from)),
                ("failure_strategy", failure),
                ("execution_type", execution),
                ("priority", priority),
                ("worker_group", group.map(Value::from)),
                ("tenant", tenant.map(Value::from)),
                ("env", env),
            ];
            for (key, value) in optional {
                if let Some(value) = value {
                    spec[key] = value;
                }
            }
            spec
        },
    )
}

#[derive(Debug, Clone)]
enum Mutation {
    Drop(Index),
    Replace(Index, Value),
    AddDep(Index, Dep),
    /// Copies one task to another place in the list.
    Duplicate(Index, Index),
}

#[derive(Debug, Clone)]
enum Dep {
    /// The name of a task in the spec, which may be the task itself or a later one.
    Existing(Index),
    Other(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let dep = prop_oneof![
        any::<Index>().prop_map(Dep::Existing),
        string().prop_map(Dep::Other),
    ];
    prop_oneof![
        any::<Index>().prop_map(Mutation::Drop),
        (any::<Index>(), json()).prop_map(|(field, value)| Mutation::Replace(field, value)),
        (any::<Index>(), dep).prop_map(|(task, dep)| Mutation::AddDep(task, dep)),
        (any::<Index>(), any::<Index>()).prop_map(|(from, to)| Mutation::Duplicate(from, to)),
    ]
}

/// Every field of the workflow and of its tasks, as (task, key); earlier mutations may
/// have left tasks that are not objects, which have no fields.
fn fields(spec: &Value) -> Vec<(Option<usize>, String)> {
    let mut fields: Vec<_> = spec
        .as_object()
        .into_iter()
        .flat_map(|obj| obj.keys().map(|key| (None, key.clone())))
        .collect();
    for (i, task) in tasks(spec).iter().enumerate() {
        if let Some(task) = task.as_object() {
            fields.extend(task.keys().map(|key| (Some(i), key.clone())));
        }
    }
    fields
}

fn tasks(spec: &Value) -> &[Value] {
    spec.get("tasks")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn owner(spec: &mut Value, task: Option<usize>) -> Option<&mut Map<String, Value>> {
    match task {
        None => spec.as_object_mut(),
        Some(i) => spec.get_mut("tasks")?.get_mut(i)?.as_object_mut(),
    }
}

fn apply(spec: &mut Value, mutation: &Mutation) {
    match mutation {
        Mutation::Drop(field) | Mutation::Replace(field, _) => {
            let fields = fields(spec);
            if fields.is_empty() {
                return;
            }
            let (task, key) = &fields[field.index(fields.len())];
            let Some(obj) = owner(spec, *task) else {
                return;
            };
            match mutation {
                Mutation::Replace(_, value) => obj.insert(key.clone(), value.clone()),
                _ => obj.remove(key),
            };
        }
        Mutation::AddDep(task, dep) => {
            let Some(tasks) = spec.get_mut("tasks").and_then(Value::as_array_mut) else {
                return;
            };
            if tasks.is_empty() {
                return;
            }
            let name = match dep {
                Dep::Existing(pick) => tasks[pick.index(tasks.len())]
                    .get("name")
                    .cloned()
                    .unwrap_or(Value::Null),
                Dep::Other(name) => name.clone().into(),
            };
            let len = tasks.len();
            let Some(task) = tasks[task.index(len)].as_object_mut() else {
                return;
            };
            match task.get_mut("deps") {
                Some(Value::Array(deps)) => deps.push(name),
                _ => {
                    task.insert("deps".into(), json!([name]));
                }
            }
        }
        Mutation::Duplicate(from, to) => {
            let Some(tasks) = spec.get_mut("tasks").and_then(Value::as_array_mut) else {
                return;
            };
            if tasks.is_empty() {
                return;
            }
            let copy = tasks[from.index(tasks.len())].clone();
            let at = to.index(tasks.len() + 1);
            tasks.insert(at, copy);
        }
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn too_deep(limits: &Limits) -> SpecError {
    SpecError {
        path: String::new(),
        message: format!(
            "nested deeper than sched.max_spec_depth allows ({})",
            limits.max_depth
        ),
    }
}

/// The message says something, and Display puts the path (or `spec`) before it.
fn check_error_shape(error: &SpecError) -> Result<(), TestCaseError> {
    prop_assert!(!error.message.is_empty(), "{error:?}");
    let path = if error.path.is_empty() {
        "spec"
    } else {
        &error.path
    };
    prop_assert_eq!(error.to_string(), format!("{path}: {}", error.message));
    Ok(())
}

/// For a spec whose top-level keys are all real fields, the path must start with one of
/// them, and a task index must point into the task list.
fn check_error_path(error: &SpecError, spec: &Value) -> Result<(), TestCaseError> {
    check_error_shape(error)?;
    if error.path.is_empty() {
        return Ok(());
    }
    let field = error.path.split(['.', '[']).next().unwrap_or_default();
    prop_assert!(WORKFLOW_FIELDS.contains(&field), "{error}");
    if let Some(rest) = error.path.strip_prefix("tasks[") {
        let index: usize = rest
            .split(']')
            .next()
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| TestCaseError::fail(format!("bad task index in {error}")))?;
        prop_assert!(index < tasks(spec).len(), "{error}");
    }
    Ok(())
}

fn check_round_trip(parsed: &WorkflowSpec) -> Result<(), TestCaseError> {
    let json = parsed.to_json();
    prop_assert_eq!(validate_spec(&json), Ok(parsed.clone()));
    prop_assert_eq!(
        parse_spec(&json.to_string(), &Limits::default()),
        Ok(parsed.clone())
    );
    Ok(())
}

/// The value and its text give the same answer, apart from the size limit that only text
/// has.
fn check_value_and_text(spec: &Value, limits: &Limits) -> Result<(), TestCaseError> {
    let from_value = validate_spec_with(spec, limits);
    let text = serde_json::to_string(spec).expect("a Value always serialises");
    let from_text = parse_spec(&text, limits);
    if text.len() > limits.max_spec_bytes {
        let error = from_text.expect_err("text over the size limit");
        prop_assert!(error.message.contains("sched.max_spec_bytes"), "{error}");
    } else {
        prop_assert_eq!(&from_text, &from_value);
    }
    prop_assert_eq!(
        depth(spec) > limits.max_depth,
        from_value.as_ref().err() == Some(&too_deep(limits))
    );
    if let Err(error) = &from_value {
        check_error_shape(error)?;
    }
    Ok(())
}

/// Text that is almost a spec: a valid one cut short, or with a character put in or
/// taken out, which reaches the parser's errors in the middle of real input.
fn damaged_spec_text() -> impl Strategy<Value = String> {
    let edit = prop_oneof![
        Just(None),
        select(&['"', '\\', '[', ']', '{', '}', ',', ':', 'e', '-', '0', 'é'][..]).prop_map(Some),
    ];
    (valid_spec(), any::<Index>(), edit).prop_map(|(spec, at, edit)| {
        let text = spec.to_string();
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let cut = boundaries[at.index(boundaries.len())];
        match edit {
            None => text[..cut].to_owned(),
            Some(c) => format!("{}{c}{}", &text[..cut], &text[cut..]),
        }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_values_never_panic(
        spec in prop_oneof![json(), spec_shaped()],
        limits in limits(),
    ) {
        check_value_and_text(&spec, &limits)?;
    }

    #[test]
    fn mutated_specs_validate_or_name_a_field(
        mut spec in valid_spec(),
        mutations in prop::collection::vec(mutation(), 1..4),
        limits in limits(),
    ) {
        for mutation in &mutations {
            apply(&mut spec, mutation);
        }
        match validate_spec(&spec) {
            Ok(parsed) => check_round_trip(&parsed)?,
            Err(error) => check_error_path(&error, &spec)?,
        }
        check_value_and_text(&spec, &limits)?;
    }

    #[test]
    fn valid_specs_validate_and_round_trip(spec in valid_spec()) {
        let parsed = validate_spec(&spec).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.tasks.len(), tasks(&spec).len());
        check_round_trip(&parsed)?;
    }

    #[test]
    fn valid_specs_fail_only_on_the_limit_they_exceed(spec in valid_spec(), limits in limits()) {
        let edges: usize = tasks(&spec)
            .iter()
            .filter_map(|task| task.get("deps").and_then(Value::as_array))
            .map(Vec::len)
            .sum();
        // In the order validation meets them.
        let exceeded = if depth(&spec) > limits.max_depth {
            Some("sched.max_spec_depth")
        } else if tasks(&spec).len() > limits.max_tasks {
            Some("sched.max_tasks")
        } else if edges > limits.max_edges {
            Some("sched.max_edges")
        } else {
            None
        };
        match (validate_spec_with(&spec, &limits), exceeded) {
            (Ok(_), None) => {}
            (Err(error), Some(setting)) => {
                check_error_path(&error, &spec)?;
                prop_assert!(error.message.contains(setting), "{error}; expected {setting}");
            }
            (result, exceeded) => {
                return Err(TestCaseError::fail(format!("{result:?}; exceeded: {exceeded:?}")));
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(
        text in prop_oneof![
            any::<String>(),
            regex(r#"[\[\]{}",:\\ a-z0-9.eE+-]{0,64}"#),
            damaged_spec_text(),
        ],
        limits in limits(),
    ) {
        let result = parse_spec(&text, &limits);
        match serde_json::from_str::<Value>(&text) {
            Ok(spec) if text.len() <= limits.max_spec_bytes => {
                prop_assert_eq!(&result, &validate_spec_with(&spec, &limits));
            }
            _ => {
                let error = result.as_ref().expect_err("not JSON, or over the size limit");
                check_error_shape(error)?;
                prop_assert!(error.path.is_empty(), "{error}");
                // The parser's own terms are reworded for the spec's author.
                prop_assert!(
                    !error.message.contains("EOF") && !error.message.contains("ident"),
                    "{error}"
                );
            }
        }
        if let Ok(parsed) = &result {
            check_round_trip(parsed)?;
        }
    }
}
