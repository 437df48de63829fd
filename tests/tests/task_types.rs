//! Task types beyond shell: what each runs, and that output, OUT capture, failure and kill
//! behave as for shell.

use sched_tests::*;

#[test]
fn python_tasks_resolve_parameters_print_out_values_and_fail_with_the_traceback() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "py", "failure_strategy": "continue", "params": {"who": "world"}, "tasks": [
            {"name": "hello", "type": "python", "out": [{"name": "n", "type": "integer"}],
             "script": "import sys\nprint('hello ${who}')\nprint('to stderr', file=sys.stderr)\nprint('${setValue(n=%d)}' % (6 * 7))"},
            {"name": "after", "type": "shell", "deps": ["hello"], "script": "echo n=${n}"},
            {"name": "boom", "type": "python", "script": "raise ValueError('boom')"},
            {"name": "exit3", "type": "python", "script": "raise SystemExit(3)"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "2"]);
    let id = start(&mut db, "py");
    assert_eq!(wait(&mut db, id, 60), "failed");
    let mut hello = task_output(&mut db, id, "hello");
    hello.sort();
    assert_eq!(hello, ["${setValue(n=42)}", "hello world", "to stderr"]);
    assert_eq!(task_output(&mut db, id, "after"), ["n=42"]);
    let boom = task_output(&mut db, id, "boom");
    assert_eq!(
        boom.last().map(String::as_str),
        Some("ValueError: boom"),
        "{boom:?}"
    );
    let codes: Vec<(String, String, Option<i32>)> = db
        .query(
            "SELECT task, state, exit_code FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY task",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let codes: Vec<(&str, &str, Option<i32>)> = codes
        .iter()
        .map(|(t, s, c)| (t.as_str(), s.as_str(), *c))
        .collect();
    assert_eq!(
        codes,
        [
            ("after", "succeeded", Some(0)),
            ("boom", "failed", Some(1)),
            ("exit3", "failed", Some(3)),
            ("hello", "succeeded", Some(0)),
        ]
    );
}

#[test]
fn a_stopped_python_task_is_killed_with_what_it_started() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let pid_file = cluster.dir.join("child.pid");
    define(
        &mut db,
        &serde_json::json!({"name": "pylong", "tasks": [
            {"name": "long", "type": "python",
             "script": format!("import subprocess, time\np = subprocess.Popen(['sleep', '300'])\nopen('{}', 'w').write(str(p.pid))\ntime.sleep(300)", pid_file.display())}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "pylong");
    let child = pid_written_to(&pid_file);
    db.execute("SELECT sched.stop_workflow($1)", &[&id])
        .unwrap();
    assert_eq!(wait(&mut db, id, 30), "stopped");
    assert_eq!(
        task_states(&mut db, id),
        [("long".to_owned(), "killed".to_owned(), 1)]
    );
    wait_gone(child);
}

#[test]
fn a_worker_without_the_python_interpreter_fails_python_tasks_saying_why() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "nopy", "tasks": [{"name": "p", "type": "python", "script": "print(1)"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--python", "/nonexistent/python3"]);
    let id = start(&mut db, "nopy");
    assert_eq!(wait(&mut db, id, 60), "failed");
    assert_eq!(
        task_output(&mut db, id, "p"),
        [
            "sched-worker: python interpreter /nonexistent/python3 was not found or is not executable; install it or pass --python"
        ]
    );
}

#[test]
fn mr_runs_hadoop_jar_with_each_resolved_value_as_one_argument() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let pwned = cluster.dir.join("pwned");
    define(
        &mut db,
        &serde_json::json!({"name": "wordcount", "params": {"day": "$[yyyy-MM-dd]"}, "tasks": [
            {"name": "count", "type": "MR", "main_jar": "/jobs/wc.jar", "main_class": "org.example.WordCount",
             "app_name": format!("count ${{day}} $(touch {})", pwned.display()), "queue": "etl",
             "others": ["-D", "mapreduce.map.memory.mb=2048"], "main_args": ["/in/${day}", "it's here"]},
            {"name": "plain", "type": "mr", "main_jar": "j.jar"}]})
        .to_string(),
    );
    let mut cmd = cluster.worker_command("w1");
    cmd.env("PATH", recording_hadoop(&cluster))
        .arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE));
    let _worker = cluster.start_worker("w1", &mut cmd);
    let id: i64 = db
        .query_one(
            "SELECT sched.start_workflow('wordcount', '{}', '{\"schedule_time\": \"2024-03-15 02:30:00+00\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(
        task_output(&mut db, id, "count"),
        [
            "[jar]",
            "[/jobs/wc.jar]",
            "[org.example.WordCount]",
            "[-D]",
            &format!(
                "[mapreduce.job.name=count 2024-03-15 $(touch {})]",
                pwned.display()
            ),
            "[-D]",
            "[mapreduce.job.queuename=etl]",
            "[-D]",
            "[mapreduce.map.memory.mb=2048]",
            "[/in/2024-03-15]",
            "[it's here]",
        ]
    );
    assert!(!pwned.exists(), "a field value ran as shell code");
    assert_eq!(task_output(&mut db, id, "plain"), ["[jar]", "[j.jar]"]);
}

#[test]
fn administrators_register_task_types_that_specs_use_like_built_in_ones() {
    let cluster = Cluster::start(&[]);
    let mut admin = cluster.connect();
    admin
        .batch_execute("CREATE ROLE alice LOGIN IN ROLE sched_user")
        .unwrap();
    let mut alice = cluster.connect_as("alice");
    let definition = serde_json::json!({
        "description": "copies a file",
        "fields": {
            "src": {"kind": "string", "required": true},
            "mode": {"kind": "enum", "values": ["fast", "safe"], "default": "safe"},
            "copies": {"kind": "integer"},
            "tags": {"kind": "list"}
        },
        "command": "echo copy {src} mode={mode}[ copies={copies}][ {tags}]",
        "interpreter": "sh"
    });
    let err = error_of(alice.execute(
        "SELECT sched.register_task_type('copy', $1)",
        &[&definition],
    ));
    assert!(
        err.contains("permission denied for sched.register_task_type"),
        "{err}"
    );
    let err = error_of(alice.execute("SELECT sched.drop_task_type('mr')", &[]));
    assert!(
        err.contains("permission denied for sched.drop_task_type"),
        "{err}"
    );
    for (name, bad, expected) in [
        (
            "shell",
            definition.clone(),
            "name: \"shell\" is a built-in task type",
        ),
        (
            "Copy",
            definition.clone(),
            "name: \"Copy\" is not a valid task type name",
        ),
        (
            "copy",
            serde_json::json!({"command": "echo {nope}"}),
            "definition.command: {nope} at position 5 names no field",
        ),
    ] {
        let err =
            error_of(admin.execute("SELECT sched.register_task_type($1, $2)", &[&name, &bad]));
        assert!(err.contains(expected), "{err} lacks {expected}");
    }
    admin
        .execute(
            "SELECT sched.register_task_type('copy', $1)",
            &[&definition],
        )
        .unwrap();
    let err = error_of(admin.execute(
        "SELECT sched.register_task_type('copy', $1)",
        &[&definition],
    ));
    assert!(err.contains("task type \"copy\" already exists"), "{err}");

    let bad: serde_json::Value = serde_json::from_str(
        r#"{"name": "cp", "tasks": [{"name": "c", "type": "copy", "src": "a", "mode": "quick"}]}"#,
    )
    .unwrap();
    let err = error_of(alice.query_one("SELECT sched.create_workflow($1)", &[&bad]));
    assert!(
        err.contains("tasks[0].mode: \"quick\" is not allowed; allowed: fast, safe"),
        "{err}"
    );
    define(
        &mut alice,
        r#"{"name": "cp", "tasks": [
            {"name": "c", "type": "copy", "src": "${file}", "copies": "${n}", "tags": ["a b", "${file}"]},
            {"name": "bad", "type": "copy", "src": "x", "copies": "${word}"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id: i64 = alice
        .query_one(
            r#"SELECT sched.start_workflow('cp', '{"file": "it''s.txt", "n": "3", "word": "three"}')"#,
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut alice, id, 60), "failed");
    assert_eq!(
        task_output(&mut alice, id, "c"),
        ["copy it's.txt mode=safe copies=3 a b it's.txt"]
    );
    assert_eq!(
        task_output(&mut alice, id, "bad"),
        ["sched-worker: cannot resolve parameters: copies: must be an integer"]
    );

    let types: Vec<(String, bool)> = alice
        .query(
            "SELECT name, builtin FROM sched.task_types ORDER BY name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let names: Vec<(&str, bool)> = types.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    assert_eq!(
        names,
        [
            ("conditions", true),
            ("copy", false),
            ("dependent", true),
            ("dynamic", true),
            ("empty", true),
            ("mr", true),
            ("procedure", true),
            ("python", true),
            ("shell", true),
            ("spark", true),
            ("sql", true),
            ("sub_process", true),
            ("switch", true)
        ]
    );

    let err = error_of(admin.execute("SELECT sched.drop_task_type('copy')", &[]));
    assert!(
        err.contains("task type \"copy\" is used by workflow \"cp\" (version 1)"),
        "{err}"
    );
    alice
        .execute("SELECT sched.drop_workflow('cp')", &[])
        .unwrap();
    admin
        .execute("SELECT sched.drop_task_type('copy')", &[])
        .unwrap();
}

#[test]
fn spark_submits_a_pyspark_job_in_local_mode_and_passes_its_out_value_on() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let job = cluster.dir.join("job.py");
    std::fs::write(
        &job,
        "import sys\n\
         from pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.getOrCreate()\n\
         n = int(sys.argv[1])\n\
         total = spark.range(1, n + 1).selectExpr('sum(id) AS s').first()['s']\n\
         print('app %s sum %d' % (spark.sparkContext.appName, total))\n\
         print('${setValue(total=%d)}' % total)\n\
         spark.stop()\n",
    )
    .unwrap();
    define(
        &mut db,
        &serde_json::json!({"name": "sparky", "params": {"n": "100"}, "tasks": [
            {"name": "sum", "type": "spark", "program_type": "python", "main_file": job.display().to_string(),
             "master": "local[1]", "app_name": "sum to ${n}", "driver_memory": "512m",
             "others": ["--conf", "spark.ui.enabled=false"], "main_args": ["${n}"],
             "out": [{"name": "total", "type": "long"}]},
            {"name": "report", "type": "shell", "deps": ["sum"], "script": "echo total=${total}"}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--spark-home", &spark_home()]);
    let id = start(&mut db, "sparky");
    assert_eq!(wait(&mut db, id, 180), "succeeded");
    let out = task_output(&mut db, id, "sum");
    assert!(
        out.iter().any(|l| l == "app sum to 100 sum 5050"),
        "{out:?}"
    );
    assert_eq!(task_output(&mut db, id, "report"), ["total=5050"]);
}
