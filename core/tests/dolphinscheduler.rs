//! Conversion of DolphinScheduler 3.2 and 3.3 workflow exports into pg_sched specs and
//! schedules: every task type, what is reported as unmapped or skipped, `force`, and errors
//! naming the field of the export at fault.

use sched_core::dolphinscheduler::convert;
use sched_core::validate_spec;
use serde_json::{Value, json};

fn task(code: i64, name: &str, task_type: &str, params: Value) -> Value {
    json!({
        "id": 1, "code": code, "name": name, "version": 1, "description": "",
        "projectCode": 9752680865600_i64, "userId": 1, "taskType": task_type,
        "taskParams": params, "taskParamList": [], "taskParamMap": null,
        "flag": "YES", "isCache": "NO", "taskPriority": "MEDIUM", "userName": null,
        "projectName": null, "workerGroup": "default", "environmentCode": -1,
        "failRetryTimes": 0, "failRetryInterval": 1, "timeoutFlag": "CLOSE",
        "timeoutNotifyStrategy": null, "timeout": 0, "delayTime": 0, "resourceIds": null,
        "createTime": "2023-06-01 20:41:02", "updateTime": "2023-06-01 20:41:02",
        "modifyBy": null, "taskGroupId": 0, "taskGroupPriority": 0, "cpuQuota": -1,
        "memoryMax": -1, "taskExecuteType": "BATCH"
    })
}

fn relation(pre: i64, post: i64) -> Value {
    json!({"id": 1, "name": "", "preTaskCode": pre, "preTaskVersion": 0,
           "postTaskCode": post, "postTaskVersion": 1, "conditionType": "NONE",
           "conditionParams": {}})
}

/// One workflow as DolphinScheduler 3.2 (`v33` false) or 3.3 writes it.
fn workflow(
    v33: bool,
    code: i64,
    name: &str,
    globals: &str,
    tasks: Vec<Value>,
    relations: Vec<Value>,
    schedule: Value,
) -> Value {
    let def = json!({
        "id": 1, "code": code, "name": name, "version": 1, "releaseState": "OFFLINE",
        "projectCode": 9752680865600_i64, "description": "", "globalParams": globals,
        "globalParamList": [], "globalParamMap": {}, "flag": "YES", "userId": 1,
        "locations": "[]", "timeout": 0, "warningGroupId": null, "executionType": "PARALLEL"
    });
    if v33 {
        json!({"workflowDefinition": def, "workflowTaskRelationList": relations,
               "taskDefinitionList": tasks, "schedule": schedule})
    } else {
        json!({"processDefinition": def, "processTaskRelationList": relations,
               "taskDefinitionList": tasks, "schedule": schedule})
    }
}

fn shell(code: i64, name: &str, script: &str) -> Value {
    task(
        code,
        name,
        "SHELL",
        json!({"localParams": [], "rawScript": script, "resourceList": []}),
    )
}

fn spec_of<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no workflow {name} in {result:#}"))
}

fn task_of<'a>(spec: &'a Value, name: &str) -> &'a Value {
    spec["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()
}

#[test]
fn shell_with_params_policies_and_relations_in_both_shapes() {
    for v33 in [false, true] {
        let mut a = task(
            11,
            "extract",
            "SHELL",
            json!({"localParams": [
                {"prop": "rows", "direct": "OUT", "type": "INTEGER", "value": "0"},
                {"prop": "region", "direct": "IN", "type": "VARCHAR", "value": "eu"},
                {"prop": "n", "direct": "IN", "type": "LONG", "value": "3"}],
                   "rawScript": "echo '${setValue(rows=42)}'", "resourceList": []}),
        );
        a["failRetryTimes"] = 2.into();
        a["failRetryInterval"] = 5.into();
        a["timeoutFlag"] = "OPEN".into();
        a["timeout"] = 30.into();
        a["timeoutNotifyStrategy"] = "WARNFAILED".into();
        a["delayTime"] = 1.into();
        a["taskPriority"] = "HIGH".into();
        a["workerGroup"] = "etl".into();
        let mut b = shell(12, "load", "echo ${rows}");
        b["flag"] = "NO".into();
        let export = json!([workflow(
            v33,
            100,
            "daily",
            r#"[{"prop":"dt","direct":"IN","type":"VARCHAR","value":"$[yyyy-MM-dd-1]"}]"#,
            vec![a, b],
            vec![relation(0, 11), relation(11, 12)],
            Value::Null
        )]);
        let result = convert(&export, &json!({})).unwrap();
        let spec = spec_of(&result, "daily");
        assert_eq!(spec["params"], json!({"dt": "$[yyyy-MM-dd-1]"}));
        assert_eq!(spec["execution_type"], "parallel");
        let extract = task_of(spec, "extract");
        assert_eq!(extract["type"], "shell");
        assert_eq!(extract["script"], "echo '${setValue(rows=42)}'");
        assert_eq!(
            extract["params"],
            json!({"region": "eu", "n": {"value": "3", "type": "long"}})
        );
        assert_eq!(
            extract["out"],
            json!([{"name": "rows", "type": "integer", "default": "0"}])
        );
        assert_eq!(extract["retries"], 2);
        assert_eq!(extract["retry_interval"], "5 min");
        assert_eq!(
            extract["timeout"],
            json!({"after": "30 min", "strategy": "warn_fail"})
        );
        assert_eq!(extract["delay"], "1 min");
        assert_eq!(extract["priority"], "high");
        assert_eq!(extract["worker_group"], "etl");
        assert!(extract.get("deps").is_none());
        let load = task_of(spec, "load");
        assert_eq!(load["deps"], json!(["extract"]));
        assert_eq!(load["enabled"], false);
        assert_eq!(result["unmapped"], json!([]));
        // What is produced is a spec our validator takes.
        validate_spec(spec).unwrap();
    }
}

fn all_types(v33: bool) -> Value {
    let sub_key = if v33 {
        "workflowDefinitionCode"
    } else {
        "processDefinitionCode"
    };
    let sub_type = if v33 { "SUB_WORKFLOW" } else { "SUB_PROCESS" };
    let child = workflow(
        v33,
        200,
        "child",
        "[]",
        vec![shell(21, "hello", "echo hi")],
        vec![relation(0, 21)],
        Value::Null,
    );
    let tasks = vec![
        shell(1, "start", "echo '${setValue(region=eu)}'"),
        task(
            2,
            "query",
            "SQL",
            json!({"localParams": [{"prop": "n", "direct": "OUT", "type": "LONG", "value": ""}],
            "type": "POSTGRESQL", "datasource": 7, "sql": "select count(*) as n from pg_class",
            "sqlType": "0", "preStatements": ["set search_path = public"], "postStatements": [],
            "displayRows": 10, "sendEmail": false}),
        ),
        task(
            3,
            "call_it",
            "PROCEDURE",
            json!({"localParams": [
                {"prop": "x", "direct": "IN", "type": "INTEGER", "value": "5"},
                {"prop": "y", "direct": "OUT", "type": "INTEGER", "value": ""}],
            "type": "POSTGRESQL", "datasource": 7, "method": "{call double_it(${x}, ${y})}"}),
        ),
        task(
            4,
            "py",
            "PYTHON",
            json!({"localParams": [], "rawScript": "print(1)", "resourceList": []}),
        ),
        task(
            5,
            "spark_job",
            "SPARK",
            json!({"localParams": [], "programType": "PYTHON",
            "mainJar": {"resourceName": "/jobs/job.py"}, "deployMode": "local", "driverCores": 1,
            "driverMemory": "512M", "numExecutors": 2, "executorCores": 2, "executorMemory": "2G",
            "appName": "job", "mainArgs": "--day '2024 03'", "others": "--conf a=b", "yarnQueue": ""}),
        ),
        task(
            6,
            "mr_job",
            "MR",
            json!({"localParams": [], "programType": "JAVA",
            "mainJar": {"resourceName": "/jobs/wc.jar"}, "mainClass": "WordCount", "appName": "wc",
            "yarnQueue": "q1", "mainArgs": "/in /out", "others": "-D a=b"}),
        ),
        task(
            7,
            "run_child",
            sub_type,
            json!({"localParams": [], sub_key: 200}),
        ),
        task(
            8,
            "wait_child",
            "DEPENDENT",
            json!({"localParams": [], "dependence": {
            "relation": "AND", "checkInterval": 20, "failurePolicy": "DEPENDENT_FAILURE_WAITING",
            "failureWaitingTime": 30, "dependTaskList": [{"relation": "OR", "dependItemList": [
                {"projectCode": 1, "definitionCode": 200, "depTaskCode": 0, "cycle": "day", "dateValue": "today"},
                {"projectCode": 1, "definitionCode": 200, "depTaskCode": -1, "cycle": "hour", "dateValue": "last1Hour"},
                {"projectCode": 1, "definitionCode": 200, "depTaskCode": 21, "cycle": "week", "dateValue": "lastWeek", "parameterPassing": true}]}]}}),
        ),
        task(
            9,
            "check",
            "CONDITIONS",
            json!({"localParams": [], "dependence": {"relation": "AND",
            "dependTaskList": [{"relation": "AND", "dependItemList": [{"depTaskCode": 1, "status": "SUCCESS"}]}]},
            "conditionResult": {"successNode": [10], "failedNode": [11]}}),
        ),
        task(
            10,
            "pick",
            "SWITCH",
            json!({"localParams": [], "switchResult": {
            "dependTaskList": [{"condition": "${region} == \"eu\"", "nextNode": if v33 { json!(12) } else { json!([12]) }}],
            "nextNode": 13}}),
        ),
        shell(11, "on_fail", "echo failed"),
        shell(12, "eu", "echo eu"),
        shell(13, "other", "echo other"),
    ];
    let relations = vec![
        relation(0, 1),
        relation(1, 2),
        relation(2, 3),
        relation(0, 4),
        relation(0, 5),
        relation(0, 6),
        relation(0, 7),
        relation(0, 8),
        relation(1, 9),
        relation(9, 10),
        relation(9, 11),
        relation(10, 12),
        relation(10, 13),
    ];
    let schedule = json!({"id": 3, (if v33 { "workflowDefinitionCode" } else { "processDefinitionCode" }): 300,
        "startTime": "2024-01-01 00:00:00", "endTime": "2124-01-01 00:00:00", "timezoneId": "Asia/Shanghai",
        "crontab": "0 30 2 * * ? *", "failureStrategy": "END", "warningType": "FAILURE",
        "releaseState": "OFFLINE", "warningGroupId": 2,
        (if v33 { "workflowInstancePriority" } else { "processInstancePriority" }): "HIGH",
        "workerGroup": "default", "tenantCode": "default", "environmentCode": -1});
    // The parent first, to show that the order comes from the references.
    json!([
        workflow(v33, 300, "every type", "[]", tasks, relations, schedule),
        child
    ])
}

#[test]
fn every_task_type_in_both_shapes() {
    for v33 in [false, true] {
        let result = convert(&all_types(v33), &json!({"datasources": {"7": "warehouse"}})).unwrap();
        let names: Vec<&str> = result["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["child", "every_type"], "{v33}");
        let spec = spec_of(&result, "every_type");
        let t = |n| task_of(spec, n);
        assert_eq!(t("query")["sql"], "select count(*) as n from pg_class");
        assert_eq!(t("query")["datasource"], "warehouse");
        assert_eq!(t("query")["query"], true);
        assert_eq!(t("query")["limit_rows"], 10);
        assert_eq!(
            t("query")["pre_statements"],
            json!(["set search_path = public"])
        );
        assert_eq!(t("query")["out"], json!([{"name": "n", "type": "long"}]));
        assert_eq!(t("call_it")["procedure"], "double_it");
        assert_eq!(
            t("call_it")["args"],
            json!([
            {"name": "x", "direction": "in", "type": "integer", "value": "5"},
            {"name": "y", "direction": "out", "type": "integer"}])
        );
        assert_eq!(t("py")["type"], "python");
        assert_eq!(t("spark_job")["type"], "spark");
        assert_eq!(t("spark_job")["program_type"], "python");
        assert_eq!(t("spark_job")["main_file"], "/jobs/job.py");
        assert_eq!(t("spark_job")["master"], "local");
        assert_eq!(t("spark_job")["main_args"], json!(["--day", "2024 03"]));
        assert_eq!(t("spark_job")["others"], json!(["--conf", "a=b"]));
        assert_eq!(t("spark_job")["num_executors"], 2);
        assert_eq!(t("mr_job")["main_jar"], "/jobs/wc.jar");
        assert_eq!(t("mr_job")["queue"], "q1");
        assert_eq!(t("mr_job")["main_args"], json!(["/in", "/out"]));
        assert_eq!(t("mr_job")["others"], json!(["-D", "a=b"]));
        assert_eq!(t("run_child")["workflow"], "child");
        assert_eq!(
            t("wait_child")["groups"],
            json!([{"relation": "or", "items": [
            {"workflow": "child", "cycle": "day", "date_value": "today"},
            {"workflow": "child", "cycle": "hour", "date_value": "last1Hour", "task": "*"},
            {"workflow": "child", "cycle": "week", "date_value": "lastWeek", "task": "hello", "parameter_passing": true}]}])
        );
        assert_eq!(t("wait_child")["check_interval"], "20 s");
        assert_eq!(t("wait_child")["on_failure"], "wait");
        assert_eq!(t("wait_child")["wait_for"], "30 min");
        assert_eq!(
            t("check")["conditions"],
            json!({"relation": "and", "groups": [
            {"relation": "and", "items": [{"task": "start", "status": "succeeded"}]}]})
        );
        assert_eq!(t("check")["on_success"], json!(["pick"]));
        assert_eq!(t("check")["on_failure"], json!(["on_fail"]));
        assert_eq!(
            t("pick")["cases"],
            json!([{"when": "${region} == \"eu\"", "then": ["eu"]}])
        );
        assert_eq!(t("pick")["default"], json!(["other"]));
        validate_spec(spec).unwrap();
        validate_spec(spec_of(&result, "child")).unwrap();

        assert_eq!(
            result["schedules"],
            json!([{"workflow": "every_type", "cron": "0 30 2 * * ? *", "options": {
            "timezone": "Asia/Shanghai", "start": "2024-01-01T00:00:00+08:00", "end": "2124-01-01T00:00:00+08:00",
            "failure_strategy": "end", "priority": "high", "enabled": false}}])
        );
        let whats: Vec<&str> = result["unmapped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["what"].as_str().unwrap())
            .collect();
        assert!(
            whats.contains(&"name \"every type\" is imported as \"every_type\""),
            "{whats:?}"
        );
        assert!(
            whats
                .iter()
                .any(|w| w.starts_with("schedule: alerts on failure to warning group 2")),
            "{whats:?}"
        );
        assert!(
            whats.iter().any(|w| w.contains("/jobs/wc.jar")),
            "{whats:?}"
        );
        assert!(
            result["unmapped"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["blocking"] == false)
        );
        assert_eq!(result["skipped"], json!([]));
    }
}

#[test]
fn blocking_problems_skip_the_workflow_and_what_uses_it_unless_forced() {
    let export = all_types(false);
    // No datasource mapping: the SQL and PROCEDURE tasks cannot be converted.
    let result = convert(&export, &json!({})).unwrap();
    let names: Vec<&str> = result["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["child"]);
    assert_eq!(result["skipped"][0]["workflow"], "every_type");
    let blocking: Vec<&Value> = result["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["blocking"] == true)
        .collect();
    assert_eq!(blocking.len(), 2);
    assert_eq!(blocking[0]["task"], "query");
    assert!(
        blocking[0]["what"]
            .as_str()
            .unwrap()
            .starts_with("POSTGRESQL datasource id 7 is not mapped")
    );
    assert!(result["schedules"].as_array().unwrap().is_empty());

    let forced = convert(&export, &json!({"force": true})).unwrap();
    let spec = spec_of(&forced, "every_type");
    assert_eq!(task_of(spec, "query")["type"], "empty");
    assert_eq!(task_of(spec, "call_it")["deps"], json!(["query"]));
    validate_spec(spec).unwrap();

    // Null maps a datasource to the scheduler's own database.
    let local = convert(&export, &json!({"datasources": {"7": null}})).unwrap();
    let query = task_of(spec_of(&local, "every_type"), "query");
    assert_eq!(query["type"], "sql");
    assert!(query.get("datasource").is_none());
}

#[test]
fn unknown_types_and_outside_references_are_listed_with_their_task() {
    let export = json!([
        workflow(
            false,
            1,
            "user",
            "[]",
            vec![
                task(
                    1,
                    "web",
                    "HTTP",
                    json!({"localParams": [], "url": "http://x"})
                ),
                task(
                    2,
                    "sub",
                    "SUB_PROCESS",
                    json!({"processDefinitionCode": 999})
                ),
                task(
                    3,
                    "sw",
                    "SWITCH",
                    json!({"switchResult": {"dependTaskList": [{"condition": "${a}.length > 2", "nextNode": 1}]}})
                ),
            ],
            vec![relation(0, 1), relation(0, 2), relation(0, 3)],
            Value::Null
        ),
        workflow(
            false,
            2,
            "uses_user",
            "[]",
            vec![task(
                4,
                "run",
                "SUB_PROCESS",
                json!({"processDefinitionCode": 1})
            ),],
            vec![relation(0, 4)],
            Value::Null
        ),
    ]);
    let result = convert(&export, &json!({})).unwrap();
    assert_eq!(result["workflows"], json!([]));
    let unmapped = result["unmapped"].as_array().unwrap();
    assert_eq!(
        unmapped[0],
        json!({"workflow": "user", "task": "web", "what": "task type \"HTTP\" has no pg_sched equivalent", "blocking": true})
    );
    assert_eq!(unmapped[1]["task"], "sub");
    assert!(
        unmapped[1]["what"]
            .as_str()
            .unwrap()
            .starts_with("workflow code 999 is not in the file")
    );
    assert_eq!(unmapped[2]["task"], "sw");
    assert!(unmapped[2]["what"].as_str().unwrap().starts_with(
        "switch condition \"${a}.length > 2\" is not in pg_sched's condition language"
    ));
    assert_eq!(
        result["skipped"][1],
        json!({"workflow": "uses_user", "reason": "it uses workflow \"user\", which is skipped"})
    );

    // A workflow outside the file can be named.
    let mapped = convert(
        &json!([export[1].clone()]),
        &json!({"workflows": {"1": "existing"}}),
    )
    .unwrap();
    assert_eq!(
        task_of(spec_of(&mapped, "uses_user"), "run")["workflow"],
        "existing"
    );
}

#[test]
fn task_groups_names_and_string_task_params() {
    let mut t = task(
        5,
        "第一 步",
        "SHELL",
        json!(
            "{\"localParams\":[],\"rawScript\":\"echo 1\",\"resourceList\":[{\"id\":1,\"resourceName\":\"/r/a.sh\"}]}"
        ),
    );
    t["taskGroupId"] = 3.into();
    t["taskGroupPriority"] = 7.into();
    let export = json!([workflow(
        true,
        1,
        "w",
        "",
        vec![t.clone()],
        vec![relation(0, 5)],
        Value::Null
    )]);
    let result = convert(&export, &json!({"task_groups": {"3": "db_slots"}})).unwrap();
    let only = &result["workflows"][0]["tasks"][0];
    assert_eq!(only["name"], "task_5");
    assert_eq!(only["script"], "echo 1");
    assert_eq!(only["task_group"], "db_slots");
    assert_eq!(only["task_group_priority"], 7);
    let whats: Vec<&str> = result["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        whats,
        [
            "name \"第一 步\" is imported as \"task_5\"",
            "resource file \"/r/a.sh\" is not imported; put it where the workers can read it"
        ]
    );

    let unmapped_group = convert(&export, &json!({})).unwrap();
    assert!(
        unmapped_group["workflows"][0]["tasks"][0]
            .get("task_group")
            .is_none()
    );
    assert!(
        unmapped_group["unmapped"][2]["what"]
            .as_str()
            .unwrap()
            .starts_with("task group id 3 is not mapped")
    );
}

#[test]
fn errors_name_the_field_of_the_export() {
    let cases = [
        (
            json!({}),
            "export: must be a JSON array of workflows, as DolphinScheduler's export writes it",
        ),
        (
            json!([{"schedule": null}]),
            "[0]: has neither processDefinition (DolphinScheduler 3.2) nor workflowDefinition (3.3 and later)",
        ),
    ];
    for (export, message) in cases {
        assert_eq!(
            convert(&export, &json!({})).unwrap_err().to_string(),
            message
        );
    }
    let mut bad = workflow(
        false,
        1,
        "w",
        "[]",
        vec![task(5, "t", "SHELL", json!({"localParams": []}))],
        vec![],
        Value::Null,
    );
    assert_eq!(
        convert(&json!([bad.clone()]), &json!({}))
            .unwrap_err()
            .to_string(),
        "[0].taskDefinitionList[0].taskParams.rawScript: required"
    );
    bad["processDefinition"]["executionType"] = "SOMETIMES".into();
    assert_eq!(
        convert(&json!([bad.clone()]), &json!({}))
            .unwrap_err()
            .to_string(),
        "[0].processDefinition.executionType: \"SOMETIMES\" is not allowed; allowed: PARALLEL, SERIAL_WAIT, SERIAL_DISCARD, SERIAL_PRIORITY"
    );
    let dangling = workflow(
        true,
        1,
        "w",
        "[]",
        vec![shell(5, "t", "true")],
        vec![relation(6, 5)],
        Value::Null,
    );
    assert_eq!(
        convert(&json!([dangling]), &json!({}))
            .unwrap_err()
            .to_string(),
        "[0].workflowTaskRelationList[0].preTaskCode: 6 is not the code of a task in taskDefinitionList"
    );
    assert_eq!(
        convert(&json!([]), &json!({"datasource": {}}))
            .unwrap_err()
            .to_string(),
        "options.datasource: unknown option; allowed: dry_run, replace, datasources, task_groups, workflows, force"
    );
}

#[test]
fn referring_workflows_in_a_cycle_is_an_error() {
    let export = json!([
        workflow(
            false,
            1,
            "a",
            "[]",
            vec![task(
                1,
                "t",
                "SUB_PROCESS",
                json!({"processDefinitionCode": 2})
            )],
            vec![],
            Value::Null
        ),
        workflow(
            false,
            2,
            "b",
            "[]",
            vec![task(
                2,
                "t",
                "SUB_PROCESS",
                json!({"processDefinitionCode": 1})
            )],
            vec![],
            Value::Null
        ),
    ]);
    assert_eq!(
        convert(&export, &json!({})).unwrap_err().to_string(),
        "[0]: workflows refer to each other through SUB_PROCESS or DEPENDENT tasks in a cycle: a -> b -> a; import them one at a time"
    );
}

#[test]
fn a_dynamic_task_runs_its_sub_workflow_over_its_lists() {
    let child = workflow(
        false,
        200,
        "child",
        "[]",
        vec![shell(21, "hello", "echo ${region} ${day}")],
        vec![relation(0, 21)],
        Value::Null,
    );
    let parent = workflow(
        false,
        100,
        "fan",
        "[]",
        vec![task(
            1,
            "each",
            "DYNAMIC",
            json!({"processDefinitionCode": 200, "maxNumOfSubWorkflowInstances": 64,
                   "degreeOfParallelism": 2, "filterCondition": "",
                   "listParameters": [{"name": "region", "value": "eu; us", "separator": ";"},
                                      {"name": "day", "value": "${days}", "separator": ","}]}),
        )],
        vec![relation(0, 1)],
        Value::Null,
    );
    let result = convert(&json!([child.clone(), parent.clone()]), &json!({})).unwrap();
    let fan = result["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "fan")
        .unwrap();
    let each = &fan["tasks"][0];
    assert_eq!(each["type"], "dynamic");
    assert_eq!(each["run"], "child");
    assert_eq!(each["over"], json!({"region": ["eu", "us"], "day": "days"}));
    assert_eq!(each["parallelism"], 2);
    assert_eq!(each["max_items"], 64);
    validate_spec(fan).unwrap();
    assert!(
        result["unmapped"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["blocking"] == false)
    );

    // A filter would leave combinations out: not converting it changes what runs.
    let mut filtered = parent;
    filtered["taskDefinitionList"][0]["taskParams"]["filterCondition"] = json!("eu,1");
    let result = convert(&json!([child, filtered]), &json!({})).unwrap();
    let whats: Vec<(&str, bool)> = result["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["what"].as_str().unwrap(), u["blocking"] == true))
        .collect();
    assert!(
        whats.contains(&(
            "filterCondition is not imported: every combination runs",
            true
        )),
        "{whats:?}"
    );
}
