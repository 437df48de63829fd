use sched_core::{CommandType, Limits, builtin_command_types, parse_spec_with, shell_quote};
use serde_json::{Map, Value, json};

fn def(value: Value) -> Result<CommandType, String> {
    CommandType::parse("tool", &value).map_err(|e| e.to_string())
}

fn settings(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn values_are_shell_quoted_and_optional_parts_need_their_fields() {
    let tool = def(json!({
        "fields": {
            "input": {"kind": "string", "required": true},
            "mode": {"kind": "enum", "values": ["fast", "slow"], "default": "fast"},
            "cores": {"kind": "integer"},
            "verbose": {"kind": "boolean"},
            "args": {"kind": "list"}
        },
        "command": "tool {input} --mode={mode}[ --cores {cores}][ -v={verbose}][ -- {args}] {{literal}} [[x]]"
    }))
    .unwrap();
    let line = tool
        .render(&settings(
            json!({"input": "a b'c $(touch x)", "args": ["1", "two words"]}),
        ))
        .unwrap();
    assert_eq!(
        line,
        r#"tool 'a b'\''c $(touch x)' --mode='fast' -- '1' 'two words' {literal} [x]"#
    );
    let line = tool
        .render(&settings(
            json!({"input": "i", "cores": 4, "verbose": true, "args": []}),
        ))
        .unwrap();
    assert_eq!(
        line,
        "tool 'i' --mode='fast' --cores '4' -v='true' {literal} [x]"
    );
    assert_eq!(shell_quote("it's"), r#"'it'\''s'"#);
}

#[test]
fn a_value_still_not_of_its_kind_after_resolution_is_refused_naming_the_field() {
    let tool =
        def(json!({"fields": {"cores": {"kind": "integer"}}, "command": "t[ {cores}]"})).unwrap();
    assert_eq!(
        tool.render(&settings(json!({"cores": "four"})))
            .unwrap_err()
            .to_string(),
        "cores: must be an integer"
    );
    assert_eq!(
        tool.render(&settings(json!({"cores": "4"}))).unwrap(),
        "t '4'"
    );
}

#[test]
fn bad_definitions_are_refused_naming_the_field() {
    for (definition, expected) in [
        (json!([]), "definition: must be a JSON object"),
        (
            json!({"command": "x", "extra": 1}),
            "extra: unknown field; allowed: description, fields, command, interpreter",
        ),
        (json!({"fields": {}}), "command: required"),
        (
            json!({"command": "  "}),
            "command: must be a non-empty string",
        ),
        (
            json!({"command": "x {nope}"}),
            "command: {nope} at position 2 names no field; fields: none",
        ),
        (
            json!({"command": "x {a"}),
            "command: '{' at position 2 is never closed",
        ),
        (
            json!({"command": "x [a [b]]"}),
            "command: '[' at position 5: optional parts do not nest",
        ),
        (
            json!({"command": "x ]"}),
            "command: ']' at position 2 closes nothing",
        ),
        (
            json!({"fields": {"a": {"kind": "float"}}, "command": "x"}),
            "fields.a.kind: \"float\" is not a field kind; allowed: string, integer, boolean, enum, list",
        ),
        (
            json!({"fields": {"a": {}}, "command": "x"}),
            "fields.a.kind: required",
        ),
        (
            json!({"fields": {"a": {"kind": "enum"}}, "command": "x"}),
            "fields.a.values: an enum needs a non-empty array of strings",
        ),
        (
            json!({"fields": {"a": {"kind": "string", "values": ["x"]}}, "command": "x"}),
            "fields.a.values: only an enum has values",
        ),
        (
            json!({"fields": {"a": {"kind": "integer", "default": "x"}}, "command": "x"}),
            "fields.a.default: must be an integer",
        ),
        (
            json!({"fields": {"a": {"kind": "string", "required": "yes"}}, "command": "x"}),
            "fields.a.required: must be true or false",
        ),
        (
            json!({"fields": {"deps": {"kind": "list"}}, "command": "x"}),
            "fields.deps: \"deps\" is a common task field",
        ),
        (
            json!({"fields": {"A": {"kind": "list"}}, "command": "x"}),
            "fields.A: \"A\" is not a valid field name",
        ),
        (
            json!({"fields": {"command_type": {"kind": "string"}}, "command": "x"}),
            "fields.command_type: \"command_type\" is reserved",
        ),
        (
            json!({"fields": {"a": {"kind": "string", "colour": 1}}, "command": "x"}),
            "fields.a.colour: unknown field; allowed: kind, required, default, values",
        ),
        (
            json!({"command": "x", "interpreter": 3}),
            "interpreter: must be a program name or path",
        ),
    ] {
        let err = def(definition.clone()).unwrap_err();
        assert!(
            err.starts_with(expected),
            "{definition}: {err} lacks {expected}"
        );
    }
}

#[test]
fn specs_using_command_types_are_validated_like_built_in_types() {
    let registered = [def(json!({
        "fields": {"input": {"kind": "string", "required": true}, "mode": {"kind": "enum", "values": ["fast", "slow"]},
                   "n": {"kind": "integer"}, "args": {"kind": "list"}},
        "command": "tool {input}"
    }))
    .unwrap()];
    let check = |task: Value| {
        let spec = json!({"name": "wf", "tasks": [task]}).to_string();
        parse_spec_with(&spec, &Limits::default(), &registered).map_err(|e| e.to_string())
    };
    check(json!({"name": "t", "type": "TOOL", "input": "a", "mode": "slow", "n": 3, "args": ["x", "${p}"]})).unwrap();
    // A parameter decides later.
    check(json!({"name": "t", "type": "tool", "input": "a", "n": "${n}"})).unwrap();
    for (task, expected) in [
        (
            json!({"name": "t", "type": "tool"}),
            "tasks[0].input: required",
        ),
        (
            json!({"name": "t", "type": "tool", "input": 1}),
            "tasks[0].input: must be a string",
        ),
        (
            json!({"name": "t", "type": "tool", "input": "a", "mode": "medium"}),
            "tasks[0].mode: \"medium\" is not allowed; allowed: fast, slow",
        ),
        (
            json!({"name": "t", "type": "tool", "input": "a", "n": 1.5}),
            "tasks[0].n: must be an integer",
        ),
        (
            json!({"name": "t", "type": "tool", "input": "a", "args": "x"}),
            "tasks[0].args: must be an array of strings",
        ),
        (
            json!({"name": "t", "type": "tool", "input": "a", "script": "x"}),
            "tasks[0].script: unknown field; allowed: name, type, deps, priority, worker_group, description, env, params, out, retries, retry_interval, timeout, delay, task_group, task_group_priority, enabled, produces, args, input, mode, n",
        ),
        (
            json!({"name": "t", "type": "tool", "input": "$[yyyyMMdd+]"}),
            "tasks[0].input: $[yyyyMMdd+]",
        ),
        (
            json!({"name": "t", "type": "tol"}),
            "tasks[0].type: unknown task type \"tol\"; allowed: conditions, dependent, dynamic, empty, mr, procedure, python, shell, spark, sql, sub_process, switch, tool",
        ),
    ] {
        let err = check(task.clone()).unwrap_err();
        assert!(err.starts_with(expected), "{task}: {err} lacks {expected}");
    }
}

#[test]
fn mr_builds_the_hadoop_jar_command_line() {
    let mr = builtin_command_types()
        .iter()
        .find(|t| t.name == "mr")
        .unwrap();
    let line = mr
        .render(&settings(json!({
            "main_jar": "/jobs/wc.jar", "main_class": "org.Wc", "app_name": "word count",
            "queue": "etl", "others": ["-D", "k=v"], "main_args": ["/in", "/out dir"]
        })))
        .unwrap();
    assert_eq!(
        line,
        "hadoop jar '/jobs/wc.jar' 'org.Wc' -D mapreduce.job.name='word count' -D mapreduce.job.queuename='etl' '-D' 'k=v' '/in' '/out dir'"
    );
    assert_eq!(
        mr.render(&settings(json!({"main_jar": "j.jar"}))).unwrap(),
        "hadoop jar 'j.jar'"
    );
}

#[test]
fn registered_names_are_words_and_not_built_in() {
    let register = |name: &str, definition: Value| {
        CommandType::register(name, &definition).map_err(|e| e.to_string())
    };
    assert_eq!(
        register("shell", json!({"command": "x"})).unwrap_err(),
        "name: \"shell\" is a built-in task type"
    );
    assert_eq!(
        register("mr", json!({"command": "x"})).unwrap_err(),
        "name: \"mr\" is a built-in task type"
    );
    assert!(
        register("9x", json!({"command": "x"}))
            .unwrap_err()
            .starts_with("name: \"9x\" is not a valid task type name")
    );
    assert_eq!(
        register("tool", json!([])).unwrap_err(),
        "definition: must be a JSON object"
    );
    assert_eq!(
        register("tool", json!({"command": "{x}"})).unwrap_err(),
        "definition.command: {x} at position 0 names no field; fields: none"
    );
    register("tool", json!({"command": "x"})).unwrap();
}

#[test]
fn spark_picks_its_program_and_options_by_program_type() {
    let spark = builtin_command_types()
        .iter()
        .find(|t| t.name == "spark")
        .unwrap();
    let submit = r#""${SPARK_HOME:+$SPARK_HOME/bin/}spark-submit""#;
    assert_eq!(
        spark
            .render(&settings(json!({
                "program_type": "java", "main_file": "/jobs/app.jar", "main_class": "org.App",
                "master": "yarn", "deploy_mode": "cluster", "app_name": "my app", "driver_cores": 2,
                "executor_memory": "2g", "others": ["--conf", "a=b"], "main_args": ["x y"]
            })))
            .unwrap(),
        format!(
            "{submit} --master 'yarn' --deploy-mode 'cluster' --name 'my app' --driver-cores '2' --executor-memory '2g' '--conf' 'a=b' --class 'org.App' '/jobs/app.jar' 'x y'"
        )
    );
    assert_eq!(
        spark
            .render(&settings(
                json!({"program_type": "python", "main_file": "job.py", "main_class": "ignored"})
            ))
            .unwrap(),
        format!("{submit} 'job.py'")
    );
    assert_eq!(
        spark
            .render(&settings(
                json!({"program_type": "sql", "main_file": "q.sql", "main_args": ["ignored"]})
            ))
            .unwrap(),
        r#""${SPARK_HOME:+$SPARK_HOME/bin/}spark-sql" -f 'q.sql'"#
    );
}

#[test]
fn conditional_parts_name_a_field_and_values() {
    for (command, expected) in [
        (
            "x [?nope=a:y]",
            "command: '[?nope=a:' at position 2 names no field \"nope\"",
        ),
        (
            "x [?m=:y]",
            "command: '[?m=:' at position 2 has an empty value",
        ),
        (
            "x [?m a]",
            "command: '[?' at position 2 needs field=value|value: before its text",
        ),
        (
            "x [?m:y]",
            "command: '[?m:' at position 2: write [?field=value|value:...]",
        ),
        ("x [?m=a:y", "command: '[' at position 2 is never closed"),
    ] {
        let err =
            def(json!({"fields": {"m": {"kind": "string"}}, "command": command})).unwrap_err();
        assert!(
            err.starts_with(expected),
            "{command}: {err} lacks {expected}"
        );
    }
}
