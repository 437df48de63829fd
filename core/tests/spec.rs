use sched_core::{
    ExecutionType, FailureStrategy, Limits, Priority, SpecError, WorkflowSpec, parse_spec,
    validate_spec, validate_spec_with,
};
use serde_json::{Value, json};

fn error(spec: Value) -> String {
    validate_spec(&spec)
        .expect_err("spec should be rejected")
        .to_string()
}

fn assert_error(spec: Value, expected: &str) {
    assert_eq!(error(spec), expected);
}

fn assert_error_contains(spec: Value, expected: &str) {
    let message = error(spec);
    assert!(message.contains(expected), "{message:?} lacks {expected:?}");
}

/// A one-task workflow with `task` merged into a valid shell task.
fn with_task(task: Value) -> Value {
    let mut base = json!({"name": "t", "type": "shell", "script": "true"});
    for (key, value) in task.as_object().unwrap() {
        base[key] = value.clone();
    }
    json!({"name": "wf", "tasks": [base]})
}

fn diamond() -> Value {
    json!({
        "name": "etl_daily",
        "tasks": [
            {"name": "extract", "type": "shell", "script": "echo extract"},
            {"name": "clean", "type": "shell", "script": "echo clean", "deps": ["extract"]},
            {"name": "enrich", "type": "empty", "deps": ["extract"]},
            {"name": "load", "type": "shell", "script": "echo load", "deps": ["clean", "enrich"]}
        ]
    })
}

fn chain(links: &[(&str, &[&str])]) -> Value {
    let tasks: Vec<Value> = links
        .iter()
        .map(|(name, deps)| json!({"name": name, "type": "empty", "deps": deps}))
        .collect();
    json!({"name": "wf", "tasks": tasks})
}

#[test]
fn valid_diamond_is_accepted() {
    let spec = validate_spec(&diamond()).unwrap();
    assert_eq!(spec.name, "etl_daily");
    assert_eq!(spec.tasks.len(), 4);
    assert_eq!(spec.tasks[3].deps, ["clean", "enrich"]);
    assert_eq!(spec.tasks[0].settings["script"], "echo extract");
    assert!(spec.tasks[2].settings.is_empty());
}

#[test]
fn defaults_are_filled() {
    let spec = validate_spec(&diamond()).unwrap();
    assert_eq!(spec.project, None);
    assert_eq!(spec.timezone, None);
    assert_eq!(spec.description, "");
    assert_eq!(spec.failure_strategy, FailureStrategy::Continue);
    assert_eq!(spec.execution_type, ExecutionType::Parallel);
    assert_eq!(spec.priority, Priority::Medium);
    assert_eq!(spec.worker_group, "default");
    let task = &spec.tasks[0];
    assert_eq!(task.deps, Vec::<String>::new());
    assert_eq!(task.priority, Priority::Medium);
    assert_eq!(task.worker_group, None);
    assert_eq!(task.description, "");
}

#[test]
fn normalised_json_has_every_field() {
    let json = validate_spec(&diamond()).unwrap().to_json();
    assert_eq!(
        json,
        json!({
            "name": "etl_daily", "description": "",
            "failure_strategy": "continue", "execution_type": "parallel",
            "priority": "medium", "worker_group": "default",
            "tasks": [
                {"name": "extract", "type": "shell", "script": "echo extract", "deps": [],
                 "priority": "medium", "description": ""},
                {"name": "clean", "type": "shell", "script": "echo clean", "deps": ["extract"],
                 "priority": "medium", "description": ""},
                {"name": "enrich", "type": "empty", "deps": ["extract"],
                 "priority": "medium", "description": ""},
                {"name": "load", "type": "shell", "script": "echo load",
                 "deps": ["clean", "enrich"], "priority": "medium", "description": ""}
            ]
        })
    );
}

#[test]
fn enum_values_are_case_insensitive_and_emitted_lower_case() {
    let spec = validate_spec(&json!({
        "name": "wf", "failure_strategy": "END", "execution_type": "Parallel",
        "priority": "HighEST",
        "tasks": [{"name": "a", "type": "SHELL", "script": "true", "priority": "Low"}]
    }))
    .unwrap();
    assert_eq!(spec.failure_strategy, FailureStrategy::End);
    assert_eq!(spec.priority, Priority::Highest);
    assert_eq!(spec.tasks[0].task_type, "shell");
    assert_eq!(spec.tasks[0].priority, Priority::Low);
    let json = spec.to_json();
    assert_eq!(json["failure_strategy"], "end");
    assert_eq!(json["execution_type"], "parallel");
    assert_eq!(json["priority"], "highest");
    assert_eq!(json["tasks"][0]["type"], "shell");
    assert_eq!(json["tasks"][0]["priority"], "low");
}

#[test]
fn priority_rank_follows_dolphinscheduler_numbering() {
    let ranks: Vec<i16> = Priority::ALL.iter().map(|p| p.rank()).collect();
    assert_eq!(ranks, [0, 1, 2, 3, 4]);
    assert_eq!(Priority::Highest.as_str(), "highest");
}

#[test]
fn to_json_round_trips_through_validate_spec() {
    let full = json!({
        "name": "wf", "project": "analytics", "description": "nightly",
        "failure_strategy": "End", "priority": "LOW", "worker_group": "gpu",
        "tasks": [
            {"name": "a", "type": "Shell", "script": "echo a", "worker_group": "cpu-1",
             "description": "first", "priority": "high"},
            {"name": "b", "type": "empty", "deps": ["a"]}
        ]
    });
    for spec in [diamond(), full] {
        let first: WorkflowSpec = validate_spec(&spec).unwrap();
        let second = validate_spec(&first.to_json()).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.to_json(), second.to_json());
    }
}

#[test]
fn inherited_worker_group_is_omitted_from_json() {
    let spec = validate_spec(&diamond()).unwrap();
    assert!(spec.to_json()["tasks"][0].get("worker_group").is_none());
}

#[test]
fn spec_must_be_an_object() {
    let err = validate_spec(&json!([])).unwrap_err();
    assert_eq!(
        err,
        SpecError {
            path: String::new(),
            message: "must be a JSON object".into()
        }
    );
    assert_eq!(err.to_string(), "spec: must be a JSON object");
}

#[test]
fn workflow_name_is_required() {
    assert_error(json!({"tasks": []}), "name: required");
}

#[test]
fn workflow_name_must_be_a_string() {
    assert_error(json!({"name": 1, "tasks": []}), "name: must be a string");
}

#[test]
fn workflow_name_must_follow_name_rules() {
    assert_error(
        json!({"name": "bad name!", "tasks": []}),
        "name: \"bad name!\" is not a valid name; use 1-63 letters, digits, '_', '-' or '.', \
         starting with a letter or digit",
    );
    assert_error_contains(
        json!({"name": "", "tasks": []}),
        "name: \"\" is not a valid name",
    );
    assert_error_contains(json!({"name": "_x", "tasks": []}), "is not a valid name");
    assert_error_contains(json!({"name": "é", "tasks": []}), "is not a valid name");
    let long = "a".repeat(64);
    assert_error_contains(json!({"name": long, "tasks": []}), "is not a valid name");
    let spec = validate_spec(&with_task(json!({"name": "a".repeat(63)}))).unwrap();
    assert_eq!(spec.tasks[0].name.len(), 63);
    validate_spec(&with_task(json!({"name": "9.load-all_v2"}))).unwrap();
}

#[test]
fn admit_when_is_one_expression_and_snapshot_consistent_or_own() {
    let tasks = json!([{"name": "a", "type": "empty"}]);
    let spec = validate_spec(
        &json!({"name": "wf", "admit_when": " replication_lag < 30 ",
                                     "snapshot": "consistent", "tasks": tasks}),
    )
    .unwrap();
    assert_eq!(spec.to_json()["admit_when"], json!("replication_lag < 30"));
    assert_eq!(spec.to_json()["snapshot"], json!("consistent"));
    assert_error_contains(
        json!({"name": "wf", "admit_when": "true; DROP TABLE t", "tasks": tasks}),
        "admit_when: must be one SQL boolean expression",
    );
    assert_error_contains(
        json!({"name": "wf", "snapshot": "frozen", "tasks": tasks}),
        "snapshot: \"frozen\" is not \"consistent\"",
    );
    let own = validate_spec(&json!({"name": "wf", "snapshot": "own", "tasks": tasks})).unwrap();
    assert!(own.to_json().get("snapshot").is_none());
    assert!(own.to_json().get("admit_when").is_none());
}

#[test]
fn unknown_workflow_field_lists_allowed_fields() {
    assert_error(
        json!({"name": "wf", "nmae": "x", "tasks": []}),
        "nmae: unknown field; allowed: name, project, description, failure_strategy, \
         execution_type, priority, worker_group, tenant, timezone, env, params, timeout, notify, schedule_on, strict_sql, protect_objects, deadline, admit_when, snapshot, tasks",
    );
}

#[test]
fn notify_is_checked_and_read_back_normalised() {
    let task = json!([{"name": "a", "type": "empty"}]);
    assert_error(
        json!({"name": "wf", "notify": {"strategy": "failure"}, "tasks": task}),
        "notify.alert_group: required when strategy is success, failure or all",
    );
    let spec = sched_core::validate_spec(
        &json!({"name": "wf", "notify": {"strategy": "ALL", "alert_group": "ops"}, "tasks": task}),
    )
    .unwrap();
    assert_eq!(
        spec.to_json()["notify"],
        json!({"strategy": "all", "alert_group": "ops"})
    );
    assert_eq!(sched_core::validate_spec(&spec.to_json()).unwrap(), spec);
}

#[test]
fn tasks_must_be_a_non_empty_array() {
    assert_error(json!({"name": "wf"}), "tasks: required");
    assert_error(
        json!({"name": "wf", "tasks": []}),
        "tasks: must be a non-empty array",
    );
    assert_error(
        json!({"name": "wf", "tasks": {}}),
        "tasks: must be a non-empty array",
    );
}

#[test]
fn task_must_be_an_object() {
    assert_error(
        json!({"name": "wf", "tasks": ["a"]}),
        "tasks[0]: must be a JSON object",
    );
}

#[test]
fn task_count_is_limited() {
    let tasks: Vec<Value> = (0..=Limits::default().max_tasks)
        .map(|i| json!({"name": format!("t{i}"), "type": "empty"}))
        .collect();
    assert_error(
        json!({"name": "wf", "tasks": tasks}),
        "tasks: 100001 tasks is more than sched.max_tasks allows (100000)",
    );
}

#[test]
fn unknown_task_field_lists_common_and_type_fields() {
    assert_error(
        with_task(json!({"retires": 2})),
        "tasks[0].retires: unknown field; allowed: name, type, deps, priority, worker_group, \
         description, env, params, out, retries, retry_interval, timeout, delay, task_group, \
         task_group_priority, enabled, produces, script",
    );
}

#[test]
fn run_policies_are_checked_and_round_trip() {
    for (task, expected) in [
        (
            json!({"retries": -1}),
            "tasks[0].retries: must be a whole number from 0 to 100",
        ),
        (
            json!({"retries": "2"}),
            "tasks[0].retries: must be a whole number from 0 to 100",
        ),
        (
            json!({"retry_interval": "soon"}),
            "tasks[0].retry_interval: \"soon\" is not a duration such as \"30 s\", \"5 min\" or \"1 h 30 min\" (units ms, s, min, h, d)",
        ),
        (
            json!({"retry_interval": 5}),
            "tasks[0].retry_interval: must be a string, a duration such as \"5 min\"",
        ),
        (
            json!({"delay": "31 d"}),
            "tasks[0].delay: \"31 d\" is out of range; allowed: 0 s to 30 days",
        ),
        (
            json!({"timeout": "5 min"}),
            "tasks[0].timeout: must be an object {\"after\": \"10 min\", \"strategy\": one of warn, fail, warn_fail}",
        ),
        (
            json!({"timeout": {"strategy": "fail"}}),
            "tasks[0].timeout.after: required",
        ),
        (
            json!({"timeout": {"after": "0 s"}}),
            "tasks[0].timeout.after: \"0 s\" is out of range; allowed: 1 s to 30 days",
        ),
        (
            json!({"timeout": {"after": "1 s", "strategy": "explode"}}),
            "tasks[0].timeout.strategy: \"explode\" is not a valid timeout strategy; allowed: warn, fail, warn_fail",
        ),
        (
            json!({"timeout": {"after": "1 s", "when": 1}}),
            "tasks[0].timeout.when: unknown field; allowed: after, strategy",
        ),
    ] {
        assert_error(with_task(task), expected);
    }
    assert_error(
        json!({"name": "wf", "timeout": {"after": "1 h", "strategy": "fail"}, "tasks": [{"name": "a", "type": "empty"}]}),
        "timeout.strategy: \"fail\" is not a valid timeout strategy; allowed: warn, stop",
    );
    let spec = json!({"name": "wf", "timeout": {"after": "1 h"}, "tasks": [
        {"name": "a", "type": "empty", "retries": 2, "timeout": {"after": "90 s", "strategy": "WARN_FAIL"}, "delay": "5 s"}]});
    let parsed = validate_spec(&spec).unwrap();
    let normal = parsed.to_json();
    assert_eq!(
        normal["timeout"],
        json!({"after": "1 h", "strategy": "warn"})
    );
    let task = &normal["tasks"][0];
    assert_eq!(task["retries"], 2);
    assert_eq!(task["retry_interval"], "1 min");
    assert_eq!(
        task["timeout"],
        json!({"after": "90 s", "strategy": "warn_fail"})
    );
    assert_eq!(task["delay"], "5 s");
    assert_eq!(validate_spec(&normal).unwrap(), parsed);
}

#[test]
fn task_name_and_type_are_required() {
    assert_error(
        json!({"name": "wf", "tasks": [{"type": "empty"}]}),
        "tasks[0].name: required",
    );
    assert_error(
        json!({"name": "wf", "tasks": [{"name": "a"}]}),
        "tasks[0].type: required",
    );
}

#[test]
fn task_name_must_follow_name_rules() {
    assert_error_contains(
        with_task(json!({"name": "a b"})),
        "tasks[0].name: \"a b\" is not a valid name",
    );
}

#[test]
fn unknown_task_type_lists_known_types() {
    assert_error(
        with_task(json!({"type": "pyton"})),
        "tasks[0].type: unknown task type \"pyton\"; allowed: conditions, dependent, dynamic, empty, mr, procedure, python, shell, spark, sql, sub_process, switch",
    );
    assert_error(
        with_task(json!({"type": 3})),
        "tasks[0].type: must be a string",
    );
}

#[test]
fn shell_script_is_required_and_non_empty() {
    assert_error(
        json!({"name": "wf", "tasks": [{"name": "a", "type": "shell"}]}),
        "tasks[0].script: required",
    );
    assert_error(
        with_task(json!({"script": ""})),
        "tasks[0].script: must be a non-empty string",
    );
    assert_error(
        with_task(json!({"script": ["ls"]})),
        "tasks[0].script: must be a non-empty string",
    );
}

#[test]
fn type_specific_field_is_unknown_for_other_types() {
    assert_error_contains(
        json!({"name": "wf", "tasks": [{"name": "a", "type": "empty", "script": "x"}]}),
        "tasks[0].script: unknown field; allowed: name, type, deps, priority, worker_group, \
         description",
    );
}

#[test]
fn invalid_priority_lists_allowed_values() {
    assert_error(
        json!({"name": "wf", "priority": "urgent", "tasks": []}),
        "priority: \"urgent\" is not a valid priority; allowed: highest, high, medium, low, \
         lowest",
    );
    assert_error_contains(
        with_task(json!({"priority": "urgent"})),
        "tasks[0].priority: \"urgent\" is not a valid priority",
    );
    assert_error(
        with_task(json!({"priority": 1})),
        "tasks[0].priority: must be a string",
    );
}

#[test]
fn invalid_failure_strategy_lists_allowed_values() {
    assert_error(
        json!({"name": "wf", "failure_strategy": "stop", "tasks": []}),
        "failure_strategy: \"stop\" is not a valid failure strategy; allowed: continue, end",
    );
}

#[test]
fn execution_types_are_parsed_in_any_case() {
    for (kind, normal) in [
        ("SERIAL_WAIT", "serial_wait"),
        ("serial_discard", "serial_discard"),
        ("Serial_Priority", "serial_priority"),
        ("parallel", "parallel"),
    ] {
        let spec = validate_spec(&json!({"name": "wf", "execution_type": kind, "tasks": [{"name": "a", "type": "empty"}]}))
            .unwrap();
        assert_eq!(spec.to_json()["execution_type"], normal);
    }
    assert_error_contains(
        json!({"name": "wf", "execution_type": "batch", "tasks": []}),
        "execution_type: \"batch\" is not a valid execution type; allowed: parallel, serial_wait, serial_discard, serial_priority",
    );
}

#[test]
fn worker_group_must_follow_name_rules() {
    assert_error_contains(
        json!({"name": "wf", "worker_group": "", "tasks": []}),
        "worker_group: \"\" is not a valid name",
    );
    assert_error_contains(
        with_task(json!({"worker_group": "gpu pool"})),
        "tasks[0].worker_group: \"gpu pool\" is not a valid name",
    );
    assert_error(
        with_task(json!({"worker_group": null})),
        "tasks[0].worker_group: must be a string",
    );
}

#[test]
fn project_and_description_must_be_strings() {
    assert_error(
        json!({"name": "wf", "project": 1, "tasks": []}),
        "project: must be a string",
    );
    assert_error(
        with_task(json!({"description": false})),
        "tasks[0].description: must be a string",
    );
}

#[test]
fn deps_must_be_an_array_of_strings() {
    let spec = |deps: Value| {
        json!({"name": "wf", "tasks": [
            {"name": "a", "type": "empty"},
            {"name": "b", "type": "empty", "deps": deps}
        ]})
    };
    assert_error(
        spec(json!("a")),
        "tasks[1].deps: must be an array of task names",
    );
    assert_error(spec(json!([1])), "tasks[1].deps[0]: must be a string");
}

#[test]
fn duplicate_task_name_points_at_both_tasks() {
    assert_error(
        chain(&[
            ("extract", &[]),
            ("load", &[]),
            ("clean", &[]),
            ("load", &[]),
        ]),
        "tasks[3].name: duplicate task name \"load\" (also tasks[1])",
    );
}

#[test]
fn deps_must_name_existing_tasks() {
    assert_error(
        chain(&[("extract", &[]), ("load", &[]), ("report", &["lod"])]),
        "tasks[2].deps: unknown task \"lod\"",
    );
}

#[test]
fn task_may_not_depend_on_itself() {
    assert_error(
        chain(&[("a", &[]), ("b", &[]), ("x", &["a", "x"])]),
        "tasks[2].deps: task \"x\" depends on itself",
    );
}

#[test]
fn duplicate_dependency_is_rejected() {
    assert_error(
        chain(&[("a", &[]), ("b", &["a", "a"])]),
        "tasks[1].deps: duplicate dependency \"a\"",
    );
}

#[test]
fn two_task_cycle_is_reported_with_its_path() {
    assert_error(
        chain(&[("start", &[]), ("a", &["start", "b"]), ("b", &["a"])]),
        "tasks[1].deps: cycle: a -> b -> a",
    );
}

#[test]
fn three_task_cycle_reads_in_execution_order() {
    // c runs before a, a before b, b before c.
    assert_error(
        chain(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &["c"])]),
        "tasks[0].deps: cycle: a -> b -> c -> a",
    );
}

#[test]
fn wide_fan_out_and_fan_in_is_accepted() {
    let width = 10_000;
    let leaves: Vec<String> = (0..width).map(|i| format!("leaf_{i}")).collect();
    let mut tasks = vec![json!({"name": "root", "type": "empty"})];
    tasks.extend(
        leaves
            .iter()
            .map(|name| json!({"name": name, "type": "shell", "script": "true", "deps": ["root"]})),
    );
    tasks.push(json!({"name": "join", "type": "empty", "deps": leaves}));
    let spec = validate_spec(&json!({"name": "wide", "tasks": tasks})).unwrap();
    assert_eq!(spec.tasks.len(), width + 2);
    assert_eq!(spec.tasks[width + 1].deps.len(), width);
}

#[test]
fn tenant_and_env_are_kept_and_round_trip() {
    let spec = json!({
        "name": "wf", "tenant": "etl_user", "env": {"TZ": "UTC", "MODE": "full"},
        "tasks": [{"name": "t", "type": "shell", "script": "true", "env": {"MODE": "delta"}}]
    });
    let parsed = validate_spec(&spec).unwrap();
    assert_eq!(parsed.tenant.as_deref(), Some("etl_user"));
    assert_eq!(parsed.env["TZ"], "UTC");
    assert_eq!(parsed.tasks[0].env["MODE"], "delta");
    let json = parsed.to_json();
    assert_eq!(json["tenant"], "etl_user");
    assert_eq!(json["tasks"][0]["env"]["MODE"], "delta");
    assert_eq!(validate_spec(&json).unwrap(), parsed);
}

#[test]
fn unset_tenant_and_env_are_left_out_of_json() {
    let json = validate_spec(&diamond()).unwrap().to_json();
    assert!(
        json.get("tenant").is_none() && json.get("env").is_none(),
        "{json}"
    );
    assert!(json["tasks"][0].get("env").is_none(), "{json}");
}

#[test]
fn tenant_must_be_an_os_user_name() {
    for bad in [
        json!(""),
        json!("9lives"),
        json!("has space"),
        json!("a".repeat(33)),
        json!(7),
    ] {
        let message =
            error(json!({"name": "wf", "tenant": bad, "tasks": [{"name": "t", "type": "empty"}]}));
        assert!(message.starts_with("tenant: "), "{message}");
    }
    assert_error_contains(
        json!({"name": "wf", "tenant": "a b", "tasks": [{"name": "t", "type": "empty"}]}),
        "is not a valid OS user name",
    );
}

#[test]
fn env_names_values_and_the_reserved_prefix_are_checked() {
    assert_error(
        with_task(json!({"env": {"SCHED_DATABASE_URL": "x"}})),
        "tasks[0].env.SCHED_DATABASE_URL: names starting with SCHED_ are reserved for the variables pg_sched sets",
    );
    assert_error_contains(
        with_task(json!({"env": {"1X": "x"}})),
        "tasks[0].env.1X: \"1X\" is not a valid variable name",
    );
    assert_error(
        with_task(json!({"env": {"X": 1}})),
        "tasks[0].env.X: must be a string",
    );
    assert_error(
        with_task(json!({"env": {"X": "a\u{0}b"}})),
        "tasks[0].env.X: must not contain a NUL character",
    );
    assert_error_contains(
        json!({"name": "wf", "env": ["X=1"], "tasks": [{"name": "t", "type": "empty"}]}),
        "env: must be an object of names to strings",
    );
}

#[test]
fn default_limits_are_the_documented_ones() {
    assert_eq!(
        Limits::default(),
        Limits {
            max_spec_bytes: 33_554_432,
            max_tasks: 100_000,
            max_edges: 1_000_000,
            max_depth: 32,
        }
    );
}

/// Small limits keep the tests fast; a `chain` spec is 4 deep, at its `deps` arrays.
fn small_limits() -> Limits {
    Limits {
        max_spec_bytes: 200,
        max_tasks: 3,
        max_edges: 2,
        max_depth: 4,
    }
}

fn parse_error(text: &str, limits: &Limits) -> String {
    parse_spec(text, limits)
        .expect_err("spec should be rejected")
        .to_string()
}

#[test]
fn parse_spec_accepts_what_validate_spec_accepts() {
    let spec = diamond();
    assert_eq!(
        parse_spec(&spec.to_string(), &Limits::default()),
        validate_spec(&spec)
    );
}

#[test]
fn spec_text_size_is_limited_before_it_is_parsed() {
    let limits = small_limits();
    let fits = chain(&[("a", &[])]).to_string();
    parse_spec(&fits, &limits).unwrap();
    // Padding makes valid JSON too long.
    assert_eq!(
        parse_error(&format!("{fits:201}"), &limits),
        "spec: 201 bytes is more than sched.max_spec_bytes allows (200)"
    );
    // The size is checked first, before the depth or the syntax.
    assert_eq!(
        parse_error(&"[".repeat(201), &limits),
        "spec: 201 bytes is more than sched.max_spec_bytes allows (200)"
    );
}

#[test]
fn spec_text_depth_is_limited_before_it_is_parsed() {
    let limits = small_limits();
    let deep = r#"{"name": "wf", "tasks": [{"name": "a", "type": "empty", "env": {"X": [1]}}]}"#;
    assert_eq!(
        parse_error(deep, &limits),
        "spec: nested deeper than sched.max_spec_depth allows (4)"
    );
    // Far deeper than serde_json's own limit of 128, and unterminated: still the depth
    // error, because the parser never sees it.
    let limits = Limits::default();
    assert_eq!(
        parse_error(&"[".repeat(100_000), &limits),
        "spec: nested deeper than sched.max_spec_depth allows (32)"
    );
    assert_eq!(
        parse_error(&format!("{}{}", "[{\"a\":".repeat(17), "1"), &limits),
        "spec: nested deeper than sched.max_spec_depth allows (32)"
    );
}

#[test]
fn brackets_inside_strings_do_not_count_as_depth() {
    let limits = small_limits();
    let script = r#"[[[[{{{{ \" \\ ]]]] \" [[[["#;
    let text = format!(
        r#"{{"name": "wf", "tasks": [{{"name": "a", "type": "shell", "script": "{script}"}}]}}"#
    );
    let spec = parse_spec(&text, &limits).unwrap();
    assert_eq!(
        spec.tasks[0].settings["script"],
        r#"[[[[{{{{ " \ ]]]] " [[[["#
    );
    // An escaped backslash ends the escape, so the quote after it closes the string.
    let text = r#"{"name": "wf\\", "tasks": [[[[]]]]}"#;
    assert_eq!(
        parse_error(text, &limits),
        "spec: nested deeper than sched.max_spec_depth allows (4)"
    );
}

#[test]
fn value_depth_is_limited() {
    let limits = small_limits();
    let spec = with_task(json!({"env": {"X": [1]}}));
    assert_eq!(
        validate_spec_with(&spec, &limits).unwrap_err().to_string(),
        "spec: nested deeper than sched.max_spec_depth allows (4)"
    );
    let mut deep = json!(1);
    for _ in 0..32 {
        deep = json!([deep]);
    }
    assert_eq!(
        validate_spec(&deep).unwrap_err().to_string(),
        "spec: must be a JSON object"
    );
    let deep = json!([deep]);
    assert_eq!(
        validate_spec(&deep).unwrap_err().to_string(),
        "spec: nested deeper than sched.max_spec_depth allows (32)"
    );
    let zero = Limits {
        max_depth: 0,
        ..Limits::default()
    };
    assert_eq!(
        validate_spec_with(&json!({}), &zero)
            .unwrap_err()
            .to_string(),
        "spec: nested deeper than sched.max_spec_depth allows (0)"
    );
    assert_eq!(
        parse_error("{}", &zero),
        "spec: nested deeper than sched.max_spec_depth allows (0)"
    );
}

#[test]
fn task_count_limit_is_configurable() {
    let limits = small_limits();
    let spec = chain(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[])]);
    assert_eq!(
        validate_spec_with(&spec, &limits).unwrap_err().to_string(),
        "tasks: 4 tasks is more than sched.max_tasks allows (3)"
    );
    validate_spec_with(&chain(&[("a", &[]), ("b", &[]), ("c", &[])]), &limits).unwrap();
}

#[test]
fn dependencies_are_limited_over_the_whole_workflow() {
    let limits = small_limits();
    validate_spec_with(&chain(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]), &limits).unwrap();
    let spec = chain(&[("a", &[]), ("b", &["a"]), ("c", &["a", "b"])]);
    assert_eq!(
        validate_spec_with(&spec, &limits).unwrap_err().to_string(),
        "tasks[2].deps: the workflow has more than sched.max_edges allows (2) dependencies in all"
    );
    // Counted before the names are checked: these do not even resolve.
    let spec = chain(&[("a", &["x", "y", "z"])]);
    assert_eq!(
        validate_spec_with(&spec, &limits).unwrap_err().to_string(),
        "tasks[0].deps: the workflow has more than sched.max_edges allows (2) dependencies in all"
    );
}

#[test]
fn invalid_json_is_reported_with_its_position() {
    let limits = Limits::default();
    assert_eq!(
        parse_error(r#"{"name": "wf",}"#, &limits),
        "spec: not valid JSON: trailing comma at line 1 column 15"
    );
    assert_eq!(
        parse_error("{\n  \"name\": tru }", &limits),
        "spec: not valid JSON: expected true, false or null at line 2 column 14"
    );
    assert_eq!(
        parse_error(r#"{"tasks": [{"name": "a""#, &limits),
        "spec: not valid JSON: the text ends inside an object at line 1 column 23"
    );
    assert_eq!(
        parse_error(r#"{"tasks": ["#, &limits),
        "spec: not valid JSON: the text ends inside an array at line 1 column 11"
    );
    assert_eq!(
        parse_error("", &limits),
        "spec: not valid JSON: the text ends where a value should be at line 1 column 0"
    );
    assert_eq!(
        parse_error("{} {}", &limits),
        "spec: not valid JSON: trailing characters at line 1 column 4"
    );
}

#[test]
fn numbers_beyond_f64_are_errors_not_infinities() {
    let limits = Limits::default();
    assert_eq!(
        parse_error(r#"{"name": 1e400}"#, &limits),
        "spec: not valid JSON: number out of range at line 1 column 14"
    );
    assert_eq!(
        parse_error(r#"{"name": -1e400}"#, &limits),
        "spec: not valid JSON: number out of range at line 1 column 15"
    );
    let huge = "9".repeat(400);
    assert!(
        parse_error(&format!(r#"{{"name": {huge}}}"#), &limits)
            .starts_with("spec: not valid JSON: number out of range at line 1 column "),
    );
    // Large but representable numbers parse, and the field then says what it wants.
    assert_eq!(
        parse_error(r#"{"name": 123456789012345678901234567890}"#, &limits),
        "name: must be a string"
    );
    // Within a task (whose text is parsed apart from the rest), the position is still the
    // whole text's.
    assert_eq!(
        parse_error(
            "{\"name\": \"w\", \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"},\n {\"name\": \"b\", \"type\": \"empty\", \"retries\": 1e400}]}",
            &limits
        ),
        "spec: not valid JSON: number out of range at line 2 column 48"
    );
}

#[test]
fn a_spec_from_text_is_the_spec_from_its_value() {
    let spec = json!({"name": "w", "worker_group": "etl", "params": {"day": "${system.biz.date}"},
        "notify": {"strategy": "failure", "alert_group": "ops"},
        "tasks": [
            {"name": "a", "type": "shell", "script": "echo ${day}", "retries": 2, "retry_interval": "1m",
             "timeout": {"after": "10m", "strategy": "fail"}, "params": {"x": "1"}, "out": ["y"]},
            {"name": "b", "type": "sql", "sql": "SELECT 1", "datasource": "dw", "deps": ["a"], "priority": "HIGH"},
            {"name": "c", "type": "conditions", "deps": ["b"],
             "conditions": {"groups": [{"items": [{"task": "b"}]}]}, "on_success": ["d"]},
            {"name": "d", "type": "empty", "deps": ["c"], "enabled": false}]});
    let from_text = parse_spec(&spec.to_string(), &Limits::default()).unwrap();
    assert_eq!(from_text, validate_spec(&spec).unwrap());
    // Its normalised text, written straight from it, is its normalised value.
    let text: Value = serde_json::from_str(&serde_json::to_string(&from_text).unwrap()).unwrap();
    assert_eq!(text, from_text.to_json());
}

#[test]
fn globals_locals_and_outs_are_normalised_and_round_trip() {
    let spec = validate_spec(&json!({
        "name": "wf",
        "params": {"dt": "$[yyyyMMdd-1]", "n": {"value": 3, "type": "INTEGER"}},
        "tasks": [{"name": "a", "type": "shell", "script": "echo ${dt}",
                   "params": {"m": "${n}"}, "out": ["rows", {"name": "ok", "type": "boolean", "default": "false"}]}]
    }))
    .unwrap();
    let normal = spec.to_json();
    assert_eq!(
        normal["params"],
        json!({"dt": {"value": "$[yyyyMMdd-1]", "type": "varchar"}, "n": {"value": "3", "type": "integer"}})
    );
    assert_eq!(
        normal["tasks"][0]["params"],
        json!({"m": {"value": "${n}", "type": "varchar"}})
    );
    assert_eq!(
        normal["tasks"][0]["out"],
        json!([{"name": "rows", "type": "varchar", "default": ""},
               {"name": "ok", "type": "boolean", "default": "false"}])
    );
    assert_eq!(validate_spec(&normal).unwrap(), spec);
    assert!(
        !validate_spec(&json!({"name": "wf", "tasks": [{"name": "a", "type": "empty"}]}))
            .unwrap()
            .to_json()
            .as_object()
            .unwrap()
            .contains_key("params")
    );
}

#[test]
fn bad_params_are_refused_at_definition_naming_the_field() {
    assert_error_contains(
        json!({"name": "wf", "params": [], "tasks": [{"name": "a", "type": "empty"}]}),
        "params: must be an object of parameter names to values",
    );
    assert_error_contains(
        json!({"name": "wf", "params": {"a": "${b}", "b": "${a}"}, "tasks": [{"name": "a", "type": "empty"}]}),
        "params: reference cycle: a -> b -> a",
    );
    assert_error_contains(
        json!({"name": "wf", "params": {"n": {"value": "x", "type": "integer"}}, "tasks": [{"name": "a", "type": "empty"}]}),
        "params.n: \"x\" is not an integer",
    );
    assert_error_contains(
        json!({"name": "wf", "params": {"d": "$[yyyyMMdd+]"}, "tasks": [{"name": "a", "type": "empty"}]}),
        "params.d: ",
    );
    // A built-in is known at definition: system.biz.date is yyyyMMdd, never a date.
    assert_error_contains(
        json!({"name": "wf", "params": {"d": {"value": "${system.biz.date}", "type": "date"}},
               "tasks": [{"name": "a", "type": "empty"}]}),
        "params.d: \"19991231\" is not a date",
    );
    assert_error_contains(
        with_task(json!({"params": {"n": {"value": "1", "type": "bigint"}}})),
        "tasks[0].params.n.type: \"bigint\" is not a valid parameter type",
    );
    assert_error_contains(
        with_task(json!({"params": {"1x": "a"}})),
        "tasks[0].params.1x: \"1x\" is not a valid parameter name",
    );
}

#[test]
fn a_value_given_only_at_start_is_not_type_checked_at_definition() {
    validate_spec(&json!({"name": "wf", "params": {"n": {"value": "${count}", "type": "integer"}},
                          "tasks": [{"name": "a", "type": "empty", "params": {"m": {"value": "${up}", "type": "long"}}}]}))
    .unwrap();
    // A local referring to a global is checked with the global's value.
    assert_error_contains(
        json!({"name": "wf", "params": {"g": "abc"},
               "tasks": [{"name": "a", "type": "empty", "params": {"m": {"value": "${g}", "type": "integer"}}}]}),
        "tasks[0].params.m: \"abc\" is not an integer",
    );
}

#[test]
fn bad_out_declarations_are_refused() {
    assert_error_contains(
        with_task(json!({"out": "rows"})),
        "tasks[0].out: must be an array",
    );
    assert_error_contains(
        with_task(json!({"out": [1]})),
        "tasks[0].out[0]: must be a name or an object",
    );
    assert_error_contains(
        with_task(json!({"out": [{"type": "integer"}]})),
        "tasks[0].out[0].name: required",
    );
    assert_error_contains(
        with_task(json!({"out": ["a", {"name": "a"}]})),
        "tasks[0].out[1].name: duplicate OUT parameter \"a\" (also tasks[0].out[0])",
    );
    assert_error_contains(
        with_task(json!({"out": [{"name": "n", "type": "integer", "default": "x"}]})),
        "tasks[0].out[0].default: \"x\" is not an integer",
    );
    assert_error_contains(
        with_task(json!({"out": [{"name": "n", "value": "1"}]})),
        "tasks[0].out[0].value: unknown field; allowed: name, type, default",
    );
    assert_error_contains(
        with_task(json!({"out": ["a b"]})),
        "tasks[0].out[0].name: \"a b\" is not a valid parameter name",
    );
}

#[test]
fn a_python_task_needs_its_script() {
    assert_error(
        json!({"name": "wf", "tasks": [{"name": "p", "type": "PYTHON"}]}),
        "tasks[0].script: required",
    );
    assert_error(
        json!({"name": "wf", "tasks": [{"name": "p", "type": "python", "script": ""}]}),
        "tasks[0].script: must be a non-empty string",
    );
}

#[test]
fn timezone_is_an_iana_zone_and_reads_back() {
    let spec = validate_spec(&json!({"name": "wf", "timezone": "Asia/Shanghai",
        "tasks": [{"name": "a", "type": "empty"}]}))
    .unwrap();
    assert_eq!(spec.timezone.as_deref(), Some("Asia/Shanghai"));
    assert_eq!(spec.to_json()["timezone"], "Asia/Shanghai");
    assert_error(
        json!({"name": "wf", "timezone": "Mars/Olympus", "tasks": [{"name": "a", "type": "empty"}]}),
        "timezone: \"Mars/Olympus\" is not an IANA time zone name, e.g. \"UTC\", \"Asia/Shanghai\", \"Europe/Berlin\"",
    );
}

#[test]
fn project_is_a_role_name_left_out_unless_given() {
    let spec = validate_spec(&json!({"name": "wf", "project": "Data Team",
        "tasks": [{"name": "a", "type": "empty"}]}))
    .unwrap();
    assert_eq!(spec.to_json()["project"], "Data Team");
    assert!(
        validate_spec(&diamond())
            .unwrap()
            .to_json()
            .get("project")
            .is_none()
    );
    assert_error(
        json!({"name": "wf", "project": "", "tasks": [{"name": "a", "type": "empty"}]}),
        "project: \"\" is not a role name: 1 to 63 bytes, no control characters",
    );
}

#[test]
fn a_spec_with_a_dynamic_task_is_checked_and_normalised() {
    let spec = json!({"name": "w", "tasks": [
        {"name": "list", "type": "shell", "script": "true", "out": [{"name": "files", "type": "list"}]},
        {"name": "each", "type": "dynamic", "deps": ["list"], "over": {"file": "files"},
         "run": {"type": "SHELL", "script": "echo ${file}", "retries": 1}, "parallelism": 4}]});
    let checked = validate_spec(&spec).unwrap().to_json();
    let each = &checked["tasks"][1];
    assert_eq!(each["on_failure"], json!("stop"));
    assert_eq!(
        each["max_items"],
        json!(sched_core::dynamic::DEFAULT_MAX_ITEMS)
    );
    assert_eq!(each["run"]["type"], json!("shell"));
    assert_eq!(each["run"]["retries"], json!(1));
    assert!(each["run"].get("name").is_none());
    // The normal form validates to itself.
    assert_eq!(validate_spec(&checked).unwrap().to_json(), checked);

    let mut bad = spec.clone();
    bad["tasks"][1]["run"] = json!({"type": "shell"});
    let e = validate_spec(&bad).unwrap_err();
    assert_eq!(e.path, "tasks[1].run.script");
    let mut bad = spec.clone();
    bad["tasks"][1]["parallelism"] = json!(0);
    assert_eq!(
        validate_spec(&bad).unwrap_err().path,
        "tasks[1].parallelism"
    );
    let mut bad = spec.clone();
    bad["tasks"][1]["on_failure"] = json!("retry");
    let e = validate_spec(&bad).unwrap_err();
    assert!(e.message.contains("stop, continue"), "{}", e.message);
    let mut bad = spec;
    bad["tasks"][1].as_object_mut().unwrap().remove("over");
    assert_eq!(validate_spec(&bad).unwrap_err().path, "tasks[1].over");
}

#[test]
fn strict_sql_and_protect_objects_are_booleans_kept_only_when_set() {
    let tasks = json!([{"name": "a", "type": "empty"}]);
    for field in ["strict_sql", "protect_objects"] {
        assert_error(
            json!({"name": "wf", field: "yes", "tasks": tasks}),
            &format!("{field}: must be true or false"),
        );
        let set = validate_spec(&json!({"name": "wf", field: true, "tasks": tasks})).unwrap();
        assert_eq!(set.to_json()[field], json!(true));
        let unset = validate_spec(&json!({"name": "wf", field: false, "tasks": tasks})).unwrap();
        assert!(unset.to_json().get(field).is_none());
    }
}

#[test]
fn a_deadline_is_a_time_of_day_days_after_or_a_duration() {
    let tasks = json!([{"name": "a", "type": "empty"}]);
    for ok in ["06:00", "+1 day 06:00", "2 h"] {
        let spec = validate_spec(&json!({"name": "wf", "deadline": ok, "tasks": tasks})).unwrap();
        assert_eq!(spec.to_json()["deadline"], json!(ok));
    }
    assert_error_contains(
        json!({"name": "wf", "deadline": "soon", "tasks": tasks}),
        "deadline: \"soon\" is not a time of day on the business date (\"06:00\")",
    );
    assert_error(
        json!({"name": "wf", "deadline": 6, "tasks": tasks}),
        "deadline: must be a string",
    );
    let none = validate_spec(&json!({"name": "wf", "tasks": tasks})).unwrap();
    assert!(none.to_json().get("deadline").is_none());
}

#[test]
fn a_spec_names_what_needs_a_right_in_spec_order_but_the_default_worker_group() {
    let spec = json!({"name": "w", "worker_group": "etl", "notify": {"strategy": "failure", "alert_group": "ops"},
        "tasks": [
            {"name": "plain", "type": "empty"},
            {"name": "q", "type": "sql", "sql": "SELECT 1", "datasource": "dw", "worker_group": "default",
             "task_group": "db", "send_result": {"alert_group": "reports", "rows": 5}},
            {"name": "list", "type": "shell", "script": "true", "out": [{"name": "files", "type": "list"}]},
            {"name": "each", "type": "dynamic", "deps": ["list"], "over": {"file": "files"}, "worker_group": "gpu",
             "run": {"type": "shell", "script": "echo ${file}", "worker_group": "cpu", "task_group": "fs"}}]});
    let uses: Vec<(String, String, String)> = validate_spec(&spec)
        .unwrap()
        .uses()
        .iter()
        .map(|u| {
            let field = |k: &str| u[k].as_str().unwrap().to_owned();
            (field("kind"), field("name"), field("field"))
        })
        .collect();
    let expected = [
        ("worker_group", "etl", "worker_group"),
        ("alert_group", "ops", "notify.alert_group"),
        ("datasource", "dw", "tasks[1].datasource"),
        ("alert_group", "reports", "tasks[1].send_result.alert_group"),
        ("task_group", "db", "tasks[1].task_group"),
        ("worker_group", "gpu", "tasks[3].worker_group"),
        ("worker_group", "cpu", "tasks[3].run.worker_group"),
        ("task_group", "fs", "tasks[3].run.task_group"),
    ];
    assert_eq!(
        uses,
        expected.map(|(k, n, f)| (k.to_owned(), n.to_owned(), f.to_owned()))
    );
}
