//! Import from DolphinScheduler: export files laid out as its 3.2 and 3.3 exports write them
//! (tests/fixtures/dolphinscheduler), created by sched.import_dolphinscheduler and by
//! `sched import-ds`, read back, scheduled and run on a real worker.

use std::process::{Command, Output, Stdio};

use postgres::Client;
use sched_tests::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    format!(
        "{}/fixtures/dolphinscheduler/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn export(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn import(db: &mut Client, export: &Value, options: Value) -> Result<Value, postgres::Error> {
    db.query_one(
        "SELECT sched.import_dolphinscheduler($1, $2)",
        &[export, &options],
    )
    .map(|row| row.get(0))
}

fn spec(db: &mut Client, name: &str) -> Value {
    db.query_one("SELECT sched.workflow_spec($1)", &[&name])
        .unwrap()
        .get(0)
}

fn task<'a>(spec: &'a Value, name: &str) -> &'a Value {
    spec["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {spec:#}"))
}

fn count(db: &mut Client, query: &str) -> i64 {
    db.query_one(query, &[]).unwrap().get(0)
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_owned())
        .collect()
}

/// The state of each task's latest attempt.
fn states(db: &mut Client, instance: i64) -> Vec<(String, String)> {
    let mut latest: Vec<(String, String)> = Vec::new();
    for (task, state, _) in task_states(db, instance) {
        latest.retain(|(t, _)| *t != task);
        latest.push((task, state));
    }
    latest.sort();
    latest
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_dolphinscheduler_3_2_export_is_created_scheduled_and_runs() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &[]);
    let file = export("ds32_export.json");

    // Without a mapping of datasource 1, the SQL and PROCEDURE tasks cannot be converted:
    // nothing is created, and the reasons name the tasks.
    let report = import(&mut db, &file, json!({})).unwrap();
    assert_eq!(report["created"], json!([]));
    assert_eq!(names(&report["skipped"], "workflow"), ["jobs", "daily_etl"]);
    assert!(
        report["skipped"][1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("task \"count_tables\" cannot be converted: POSTGRESQL datasource id 1 is not mapped"),
        "{report:#}"
    );
    let blocking: Vec<&Value> = report["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["blocking"] == true)
        .collect();
    assert_eq!(
        blocking
            .iter()
            .map(|u| (u["workflow"].as_str().unwrap(), u["task"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [("jobs", "call_proc"), ("daily_etl", "count_tables")]
    );
    assert!(
        blocking[1]["what"]
            .as_str()
            .unwrap()
            .starts_with("POSTGRESQL datasource id 1 is not mapped"),
        "{blocking:?}"
    );

    // A dry run converts and validates, and creates nothing.
    db.batch_execute("SELECT sched.create_task_group('cluster_slots', 2)")
        .unwrap();
    let options = json!({"datasources": {"1": null}, "task_groups": {"2": "cluster_slots"}});
    let mut dry = options.clone();
    dry["dry_run"] = true.into();
    let report = import(&mut db, &file, dry).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(names(&report["created"], "workflow"), ["daily_etl", "jobs"]);
    assert_eq!(report["created"][0]["version_id"], Value::Null);
    assert_eq!(
        report["created"][0]["spec"]["execution_type"],
        "serial_wait"
    );
    assert_eq!(report["schedules"][0]["id"], Value::Null);
    assert_eq!(count(&mut db, "SELECT count(*) FROM sched.workflows"), 0);
    assert_eq!(count(&mut db, "SELECT count(*) FROM sched.schedules"), 0);

    let report = import(&mut db, &file, options.clone()).unwrap();
    // The sub-process's and dependent's target first.
    assert_eq!(names(&report["created"], "workflow"), ["daily_etl", "jobs"]);
    assert_eq!(report["skipped"], json!([]));
    let unmapped: Vec<(Value, Value, String)> = report["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["workflow"].clone(),
                u["task"].clone(),
                u["what"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        (json!("daily_etl"), Value::Null, "name \"daily etl\" is imported as \"daily_etl\"".to_owned()),
        (
            json!("jobs"),
            json!("py"),
            "resource file \"file:/dolphinscheduler/default/resources/lib.py\" is not imported; put it where the workers can read it".to_owned(),
        ),
        (
            json!("jobs"),
            json!("mr_job"),
            "main file \"file:/opt/jobs/wc.jar\" is a resource file: it is used as a path on the worker".to_owned(),
        ),
    ] {
        assert!(unmapped.contains(&expected), "{expected:?} not in {unmapped:#?}");
    }

    let etl = spec(&mut db, "daily_etl");
    assert_eq!(etl["execution_type"], "serial_wait");
    assert_eq!(etl["description"], "extract, check, route and count");
    assert_eq!(
        etl["params"],
        json!({"dt": {"type": "varchar", "value": "$[yyyy-MM-dd-1]"},
               "region": {"type": "varchar", "value": "eu"}})
    );
    let extract = task(&etl, "extract");
    assert_eq!(extract["type"], "shell");
    assert_eq!(extract["priority"], "high");
    assert_eq!(extract["retries"], 2);
    assert_eq!(extract["retry_interval"], "1 min");
    assert_eq!(
        extract["timeout"],
        json!({"after": "10 min", "strategy": "warn_fail"})
    );
    assert_eq!(
        extract["params"],
        json!({"batch": {"type": "varchar", "value": "b7"}})
    );
    assert_eq!(
        extract["out"],
        json!([{"name": "rows", "type": "integer", "default": "0"}])
    );
    assert_eq!(task(&etl, "check")["on_success"], json!(["pick"]));
    assert_eq!(task(&etl, "check")["on_failure"], json!(["alert"]));
    assert_eq!(
        task(&etl, "check")["conditions"]["groups"][0]["items"],
        json!([{"task": "extract", "status": "succeeded"}])
    );
    assert_eq!(
        task(&etl, "pick")["cases"],
        json!([{"when": "${region} == \"eu\"", "then": ["eu_load"]}])
    );
    assert_eq!(task(&etl, "pick")["default"], json!(["us_load"]));
    let count_tables = task(&etl, "count_tables");
    assert_eq!(count_tables["type"], "sql");
    assert_eq!(count_tables["query"], true);
    assert_eq!(count_tables["limit_rows"], 10);
    assert!(count_tables.get("datasource").is_none());
    assert_eq!(task(&etl, "audit")["enabled"], false);

    let jobs = spec(&mut db, "jobs");
    assert_eq!(task(&jobs, "run_etl")["type"], "sub_process");
    assert_eq!(task(&jobs, "run_etl")["workflow"], "daily_etl");
    assert_eq!(
        task(&jobs, "after_etl")["groups"],
        json!([{"relation": "and", "items": [
            {"workflow": "daily_etl", "task": "*", "cycle": "day", "date_value": "last1Days"}]}])
    );
    assert_eq!(task(&jobs, "after_etl")["deps"], json!(["run_etl"]));
    let spark = task(&jobs, "spark_job");
    assert_eq!(
        (
            &spark["type"],
            &spark["program_type"],
            &spark["main_file"],
            &spark["master"],
            &spark["deploy_mode"]
        ),
        (
            &json!("spark"),
            &json!("python"),
            &json!("file:/opt/jobs/job.py"),
            &json!("yarn"),
            &json!("cluster")
        )
    );
    assert_eq!(spark["main_args"], json!(["--day", "${dt}"]));
    let mr = task(&jobs, "mr_job");
    assert_eq!(mr["type"], "mr");
    assert_eq!(mr["main_jar"], "file:/opt/jobs/wc.jar");
    assert_eq!(mr["queue"], "etl");
    assert_eq!(mr["task_group"], "cluster_slots");
    assert_eq!(mr["task_group_priority"], 5);
    let call = task(&jobs, "call_proc");
    assert_eq!(call["procedure"], "double_it");
    assert_eq!(call["delay"], "2 min");
    assert_eq!(
        call["args"],
        json!([{"name": "x", "direction": "in", "type": "integer", "value": "5"},
               {"name": "y", "direction": "out", "type": "integer"}])
    );
    assert_eq!(task(&jobs, "py")["type"], "python");

    // The schedule comes in offline, as the export leaves it, in its own zone.
    let row = db
        .query_one(
            "SELECT cron, timezone, enabled, start_at = '2024-05-01 00:00:00+08', run_options
             FROM sched.schedules WHERE workflow = 'daily_etl'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "0 0 2 * * ? *");
    assert_eq!(row.get::<_, String>(1), "Asia/Shanghai");
    assert!(!row.get::<_, bool>(2));
    assert!(row.get::<_, bool>(3));
    assert_eq!(
        row.get::<_, Value>(4),
        json!({"failure_strategy": "continue", "priority": "medium"})
    );

    // It runs: parameters, the conditions and switch branches, the forbidden task, the SQL
    // task binding a local parameter on the scheduler's database.
    let id = start(&mut db, "daily_etl");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(
        states(&mut db, id),
        pairs(&[
            ("alert", "skipped"),
            ("audit", "forbidden"),
            ("check", "succeeded"),
            ("count_tables", "succeeded"),
            ("eu_load", "succeeded"),
            ("extract", "succeeded"),
            ("pick", "succeeded"),
            ("us_load", "skipped"),
        ])
    );
    let extract_log = task_output(&mut db, id, "extract");
    assert!(
        extract_log
            .iter()
            .any(|l| l.starts_with("extract 20") && l.ends_with(" eu batch b7")),
        "{extract_log:?}"
    );
    let load_log = task_output(&mut db, id, "eu_load");
    assert!(
        load_log.iter().any(|l| l.starts_with("loading eu for 20")),
        "{load_log:?}"
    );
    let out: Value = db
        .query_one(
            "SELECT out_params FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'count_tables'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(out["tables"], "1");

    // A second import is refused as a whole, naming the workflow; with replace it adds
    // versions and keeps the one schedule.
    let err = error_of(import(&mut db, &file, options.clone()));
    assert_eq!(
        err,
        "workflow \"daily_etl\": workflow \"daily_etl\" already exists"
    );
    let mut replace = options.clone();
    replace["replace"] = true.into();
    import(&mut db, &file, replace).unwrap();
    assert_eq!(
        count(
            &mut db,
            "SELECT max(version)::bigint FROM sched.workflow_versions('jobs')"
        ),
        2
    );
    assert_eq!(count(&mut db, "SELECT count(*) FROM sched.schedules"), 1);
}

#[test]
fn an_error_rolls_the_whole_import_back_and_names_the_field() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let mut file = export("ds33_export.json");
    let err = error_of(import(&mut db, &json!({"x": 1}), json!({})));
    assert_eq!(
        err,
        "invalid DolphinScheduler export: export: must be a JSON array of workflows, as DolphinScheduler's export writes it"
    );
    file[1]["workflowDefinition"]["executionType"] = "SOMETIMES".into();
    assert_eq!(
        error_of(import(&mut db, &file, json!({}))),
        "invalid DolphinScheduler export: [1].workflowDefinition.executionType: \"SOMETIMES\" is not allowed; allowed: PARALLEL, SERIAL_WAIT, SERIAL_DISCARD, SERIAL_PRIORITY"
    );
    // child_flow converts and validates, parent_flow's spec is refused by the validator:
    // neither exists afterwards.
    let mut file = export("ds33_export.json");
    file[1]["taskDefinitionList"][2]["failRetryTimes"] = 1000.into();
    let err = error_of(import(&mut db, &file, json!({})));
    assert!(
        err.starts_with("workflow \"parent_flow\": invalid workflow spec: tasks[2].retries:"),
        "{err}"
    );
    assert_eq!(count(&mut db, "SELECT count(*) FROM sched.workflows"), 0);
    assert_eq!(
        error_of(import(&mut db, &file, json!({"dry_run": "yes"}))),
        "options.dry_run: must be true or false"
    );

    // A sched_user imports as itself: the workflows and the schedule are its own.
    db.batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let report = import(&mut alice, &export("ds33_export.json"), json!({})).unwrap();
    assert_eq!(
        names(&report["created"], "workflow"),
        ["child_flow", "parent_flow"]
    );
    let owners: Vec<String> = db
        .query(
            "SELECT owner::text FROM sched.workflows UNION ALL SELECT owner FROM sched.schedules",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(owners, ["alice", "alice", "alice"]);
}

fn sched(cluster: &Cluster, args: &[&str]) -> Output {
    Command::new(sched_bin())
        .arg("--database-url")
        .arg(cluster.conn_string("postgres"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sched")
}

fn stdout_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sched_import_ds_reads_a_3_3_export() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let _worker = cluster.worker("w1", &[]);
    let path = fixture("ds33_export.json");

    let dry = stdout_ok(&sched(&cluster, &["import-ds", &path, "--dry-run"]));
    assert!(dry.starts_with("would create 2 workflow(s)\n"), "{dry}");
    for expected in [
        "child_flow",
        "parent_flow",
        "0 0 6 ? * MON-FRI *",
        "skipped 1 workflow(s)",
        "web_check  task \"ping\" cannot be converted: task type \"HTTP\" has no pg_sched equivalent",
        "schedule: alerts on failure to warning group 1 are not imported",
    ] {
        assert!(dry.contains(expected), "{expected:?} not in\n{dry}");
    }
    assert_eq!(count(&mut db, "SELECT count(*) FROM sched.workflows"), 0);

    let created = stdout_ok(&sched(&cluster, &["import-ds", &path]));
    assert!(created.starts_with("created 2 workflow(s)\n"), "{created}");
    let parent = spec(&mut db, "parent_flow");
    assert_eq!(
        parent["params"],
        json!({"mode": {"type": "varchar", "value": "quick"}})
    );
    assert_eq!(
        parent["timeout"],
        json!({"after": "60 min", "strategy": "warn"})
    );
    assert_eq!(task(&parent, "run_child")["workflow"], "child_flow");
    let wait_child = task(&parent, "wait_child");
    assert_eq!(
        (
            &wait_child["on_failure"],
            &wait_child["wait_for"],
            &wait_child["check_interval"]
        ),
        (&json!("wait"), &json!("30 min"), &json!("5 s"))
    );
    assert_eq!(
        wait_child["groups"][0]["items"],
        json!([{"workflow": "child_flow", "cycle": "day", "date_value": "today"}])
    );
    assert_eq!(
        task(&parent, "report")["deps"],
        json!(["run_child", "wait_child"])
    );
    assert_eq!(
        task(&parent, "route")["cases"],
        json!([{"when": "${mode} == \"full\"", "then": ["full_step"]}])
    );
    assert_eq!(task(&parent, "route")["default"], json!(["quick_step"]));
    let child = spec(&mut db, "child_flow");
    assert_eq!(
        task(&child, "greet")["out"],
        json!([{"name": "greeting", "type": "varchar", "default": ""}])
    );
    let row = db
        .query_one(
            "SELECT timezone, enabled, run_options FROM sched.schedules WHERE workflow = 'parent_flow'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Europe/Berlin");
    assert!(!row.get::<_, bool>(1));
    assert_eq!(
        row.get::<_, Value>(2),
        json!({"failure_strategy": "end", "priority": "high"})
    );

    // End to end: the sub-workflow passes the child's OUT value on, the dependent task finds
    // the child's instance of today, and the conditions and switch pick their branches.
    let id = start(&mut db, "parent_flow");
    assert_eq!(wait(&mut db, id, 90), "succeeded");
    assert_eq!(
        states(&mut db, id),
        pairs(&[
            ("cleanup", "skipped"),
            ("full_step", "skipped"),
            ("gate", "succeeded"),
            ("quick_step", "succeeded"),
            ("report", "succeeded"),
            ("route", "succeeded"),
            ("run_child", "succeeded"),
            ("wait_child", "succeeded"),
        ])
    );
    assert!(task_output(&mut db, id, "report").contains(&"child said hello".to_owned()));
    assert!(task_output(&mut db, id, "quick_step").contains(&"quick quick".to_owned()));

    // --force creates the skipped workflow with the HTTP task as an empty one; --json gives
    // the report as the SQL function returns it.
    let forced = stdout_ok(&sched(
        &cluster,
        &["--json", "import-ds", &path, "--force", "--replace"],
    ));
    let report: Value = serde_json::from_str(forced.trim()).unwrap();
    assert_eq!(
        names(&report["created"], "workflow"),
        ["child_flow", "parent_flow", "web_check"]
    );
    assert_eq!(report["schedules"][0]["workflow"], "parent_flow");
    let web = spec(&mut db, "web_check");
    assert_eq!(task(&web, "ping")["type"], "empty");
    assert_eq!(task(&web, "after")["deps"], json!(["ping"]));
    assert_eq!(count(&mut db, "SELECT count(*) FROM sched.schedules"), 1);

    let bad = sched(&cluster, &["import-ds", &path, "--datasource", "x=y"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "sched: --datasource x=y: must be ID=NAME\n"
    );
}
