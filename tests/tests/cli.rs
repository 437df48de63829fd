//! The `sched` command line and the SQL pictures of a DAG, against a real cluster and real
//! workers: start and wait (a progress bar under a pseudo-terminal, lines otherwise), status,
//! logs, listings, run control, backfill, graphs through Graphviz, and apply/export.

use std::process::{Command, Stdio};
use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

#[test]
fn graphs_are_dot_and_mermaid_that_graphviz_renders() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "shape", "params": {"x": "0"}, "tasks": [
            {"name": "extract", "type": "shell", "script": "true"},
            {"name": "pick", "type": "switch", "deps": ["extract"],
             "cases": [{"when": "${x} == 1", "then": ["never"]}], "default": ["always"]},
            {"name": "never", "type": "shell", "script": "true"},
            {"name": "always", "type": "shell", "script": "true"},
            {"name": "report", "type": "shell", "script": "true", "deps": ["extract"]}]}"#,
    );
    let dot: String = db
        .query_one("SELECT sched.workflow_graph('shape')", &[])
        .unwrap()
        .get(0);
    assert!(dot.starts_with("digraph \"shape\""), "{dot}");
    assert!(dot.contains("\"extract\" -> \"report\";"), "{dot}");
    let svg = render_svg(&dot);
    for task in ["extract", "pick", "never", "always", "report"] {
        assert!(
            svg.contains(&format!(">{task}</text>")),
            "{task} missing from the SVG"
        );
    }
    let mermaid: String = db
        .query_one("SELECT sched.workflow_graph('shape', 'mermaid')", &[])
        .unwrap()
        .get(0);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains("t1 --> t5"), "{mermaid}");

    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "shape");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let coloured: String = db
        .query_one("SELECT sched.instance_graph($1)", &[&id])
        .unwrap()
        .get(0);
    let svg = render_svg(&coloured);
    assert!(
        svg.contains(">skipped</text>") && svg.contains(">succeeded</text>"),
        "{coloured}"
    );
    assert!(
        coloured.contains("\"never\" [label=\"never\\nshell\\nskipped\", fillcolor=\"#f5f5f5\""),
        "{coloured}"
    );
    assert!(
        coloured
            .contains("\"always\" [label=\"always\\nshell\\nsucceeded\", fillcolor=\"#b7e1a1\""),
        "{coloured}"
    );

    // A task that has not run is drawn dashed; a workflow of one task has no edges.
    define(
        &mut db,
        r#"{"name": "waiting", "tasks": [
            {"name": "a", "type": "shell", "script": "true", "worker_group": "nobody"},
            {"name": "b", "type": "shell", "script": "true", "deps": ["a"]}]}"#,
    );
    let waiting = start(&mut db, "waiting");
    let dot: String = db
        .query_one("SELECT sched.instance_graph($1)", &[&waiting])
        .unwrap()
        .get(0);
    assert!(
        dot.contains(
            "\"b\" [label=\"b\\nshell\\nnot run\", fillcolor=\"#ffffff\", style=\"rounded,filled,dashed\"];"
        ),
        "{dot}"
    );
    assert!(dot.contains("\"a\" -> \"b\";"), "{dot}");
    db.execute("SELECT sched.stop_workflow($1)", &[&waiting])
        .unwrap();
    define(
        &mut db,
        r#"{"name": "single", "tasks": [{"name": "only", "type": "shell", "script": "true"}]}"#,
    );
    for format in ["dot", "mermaid"] {
        let picture: String = db
            .query_one("SELECT sched.workflow_graph('single', $1)", &[&format])
            .unwrap()
            .get(0);
        assert!(picture.contains("only"), "{picture}");
    }

    let err = error_of(db.query_one("SELECT sched.workflow_graph('shape', 'png')", &[]));
    assert!(
        err.contains("format: \"png\" is not allowed; allowed: dot, mermaid"),
        "{err}"
    );
    db.batch_execute("CREATE ROLE mallory LOGIN IN ROLE sched_user")
        .unwrap();
    let mut mallory = cluster.connect_as("mallory");
    let err = error_of(mallory.query_one("SELECT sched.instance_graph($1)", &[&id]));
    assert!(err.contains("permission denied"), "{err}");
    let err = error_of(mallory.query_one("SELECT sched.workflow_graph('shape')", &[]));
    assert!(err.contains("permission denied"), "{err}");

    // The CLI: svg through Graphviz, and an instance's picture.
    let svg = cluster.sched_expect("postgres", &["graph", "shape", "--format", "svg"], 0);
    assert!(
        svg.contains("<svg") && svg.contains(">report</text>"),
        "{svg}"
    );
    let dot = cluster.sched_expect("postgres", &["graph", "--instance", &id.to_string()], 0);
    assert!(dot.contains("succeeded"), "{dot}");
}

fn render_svg(dot: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("Graphviz's dot (scripts/setup.sh installs graphviz)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dot -Tsvg failed on:\n{dot}");
    lossy(&out.stdout)
}

#[test]
fn start_wait_status_logs_and_run_control() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        r#"{"name": "ok", "params": {"x": "0"}, "tasks": [
            {"name": "first", "type": "shell", "script": "echo x is ${x}"},
            {"name": "second", "type": "shell", "script": "echo done", "deps": ["first"]}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "bad", "tasks": [{"name": "boom", "type": "shell", "script": "echo no >&2; exit 5"}]}"#,
    );
    define(
        &mut db,
        &json!({"name": "slow", "tasks": [{"name": "waits", "type": "shell",
                "script": format!("echo one; while [ ! -e {} ]; do sleep 0.05; done; echo two", gate.display())}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);

    // Not a terminal: progress is a line per change on stderr, the final state on stdout.
    let out = cluster.sched("postgres", &["start", "ok", "--param", "x=41", "--wait"]);
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
    assert_eq!(lossy(&out.stdout), "succeeded\n");
    let progress = lossy(&out.stderr);
    assert!(progress.contains("2/2 tasks done"), "{progress}");
    let id: i64 = db
        .query_one(
            "SELECT max(id) FROM sched.workflow_instances WHERE workflow = 'ok'",
            &[],
        )
        .unwrap()
        .get(0);

    let status = cluster.sched_expect("postgres", &["status", &id.to_string()], 0);
    let first = status.find("first").unwrap();
    let second = status.find("second").unwrap();
    assert!(
        status.starts_with(&format!("ok #{id}: succeeded\n")) && first < second,
        "{status}"
    );
    let json_status: Value = serde_json::from_str(&cluster.sched_expect(
        "postgres",
        &["--json", "status", &id.to_string()],
        0,
    ))
    .unwrap();
    assert_eq!(json_status["tasks"][1]["deps"], json!(["first"]));
    assert_eq!(json_status["tasks"][0]["exit_code"], 0);
    let ti = json_status["tasks"][0]["task_instance_id"]
        .as_i64()
        .unwrap()
        .to_string();
    assert_eq!(
        cluster.sched_expect("postgres", &["logs", &ti], 0),
        "x is 41\n"
    );
    let file = cluster.dir.join("first.log");
    cluster.sched_expect(
        "postgres",
        &["logs", &ti, "--output", file.to_str().unwrap()],
        0,
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x is 41\n");

    // A failure exits 1; a database error exits 2 and reads like psql, not like the driver.
    assert_eq!(
        cluster.sched_expect("postgres", &["start", "bad", "--wait"], 1),
        "failed\n"
    );
    let bad: i64 = db
        .query_one(
            "SELECT max(id) FROM sched.workflow_instances WHERE workflow = 'bad'",
            &[],
        )
        .unwrap()
        .get(0);
    cluster.sched_expect("postgres", &["recover", &bad.to_string()], 0);
    assert_eq!(
        cluster.sched_expect("postgres", &["wait", &bad.to_string()], 1),
        "failed\n"
    );
    let attempts: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&bad],
        )
        .unwrap()
        .get(0);
    assert_eq!(attempts, 2, "recover ran the failed task again");
    let out = cluster.sched("postgres", &["start", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        lossy(&out.stderr),
        "sched: workflow \"nope\" does not exist\n"
    );
    let out = cluster.sched("postgres", &["start", "ok", "--option", "priority=urgent"]);
    assert!(
        lossy(&out.stderr).contains("options.priority: \"urgent\""),
        "{}",
        lossy(&out.stderr)
    );

    // Follow a running task's log to its end.
    let slow: i64 = cluster
        .sched_expect("postgres", &["start", "slow"], 0)
        .trim()
        .parse()
        .unwrap();
    wait_running(&mut db, slow, 1);
    let ti: i64 = db
        .query_one(
            "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&slow],
        )
        .unwrap()
        .get(0);
    let follower = Command::new(sched_bin())
        .arg("--database-url")
        .arg(cluster.conn_string("postgres"))
        .args(["logs", &ti.to_string(), "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(30), "the first line stored", || {
        (!task_output(&mut db, slow, "waits").is_empty()).then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    let followed = follower.wait_with_output().unwrap();
    assert_eq!(lossy(&followed.stdout), "one\ntwo\n");
    assert_eq!(wait(&mut db, slow, 60), "succeeded");

    // Run control and listings. Waiting past --timeout exits 4 with the state so far.
    std::fs::remove_file(&gate).unwrap();
    let paused: i64 = cluster
        .sched_expect("postgres", &["start", "slow"], 0)
        .trim()
        .parse()
        .unwrap();
    wait_running(&mut db, paused, 1);
    assert_eq!(
        cluster.sched_expect(
            "postgres",
            &["wait", &paused.to_string(), "--timeout", "1"],
            4
        ),
        "running\n"
    );
    cluster.sched_expect("postgres", &["pause", &paused.to_string()], 0);
    std::fs::write(&gate, "").unwrap();
    assert_eq!(
        cluster.sched_expect("postgres", &["wait", &paused.to_string()], 3),
        "paused\n"
    );
    std::fs::remove_file(&gate).unwrap();
    cluster.sched_expect("postgres", &["resume", &paused.to_string()], 0);
    std::fs::write(&gate, "").unwrap();
    assert_eq!(
        cluster.sched_expect("postgres", &["wait", &paused.to_string()], 0),
        "succeeded\n"
    );
    std::fs::remove_file(&gate).unwrap();
    let slow: i64 = cluster
        .sched_expect("postgres", &["start", "slow"], 0)
        .trim()
        .parse()
        .unwrap();
    wait_running(&mut db, slow, 1);
    cluster.sched_expect("postgres", &["stop", &slow.to_string()], 0);
    assert_eq!(
        cluster.sched_expect("postgres", &["wait", &slow.to_string()], 3),
        "stopped\n"
    );
    let listed = cluster.sched_expect(
        "postgres",
        &["ls", "instances", "--state", "stopped", "--since", "1 hour"],
        0,
    );
    assert!(
        listed
            .lines()
            .nth(2)
            .unwrap()
            .starts_with(&slow.to_string()),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 3, "{listed}");
    let listed: Value = serde_json::from_str(&cluster.sched_expect(
        "postgres",
        &["--json", "ls", "instances", "--workflow", "ok"],
        0,
    ))
    .unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["workflow"] == "ok")
    );
    assert!(
        cluster
            .sched_expect("postgres", &["ls", "workflows"], 0)
            .contains("slow")
    );
    assert!(
        cluster
            .sched_expect("postgres", &["ls", "workers"], 0)
            .contains("w1")
    );
    cluster.sched_expect("postgres", &["rerun", &id.to_string()], 0);
    assert_eq!(
        cluster.sched_expect("postgres", &["wait", &id.to_string()], 0),
        "succeeded\n"
    );
    let runs: i32 = db
        .query_one(
            "SELECT run FROM sched.workflow_instances WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(runs, 2);
    let killed: i64 = cluster
        .sched_expect("postgres", &["start", "slow"], 0)
        .trim()
        .parse()
        .unwrap();
    wait_running(&mut db, killed, 1);
    let ti: i64 = db
        .query_one(
            "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&killed],
        )
        .unwrap()
        .get(0);
    cluster.sched_expect("postgres", &["kill", &ti.to_string()], 0);
    assert_eq!(
        cluster.sched_expect("postgres", &["wait", &killed.to_string()], 1),
        "failed\n"
    );
}

#[test]
fn progress_is_a_bar_under_a_terminal() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "gated", "tasks": [
            {"name": "quick", "type": "shell", "script": "true"},
            {"name": "held", "type": "shell", "deps": ["quick"],
             "script": format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "gated");
    wait_running(&mut db, id, 1);
    // script(1) gives sched a pseudo-terminal; what it draws comes back on script's stdout.
    let command = format!(
        "{} --database-url '{}' wait {id}",
        sched_bin().display(),
        cluster.conn_string("postgres")
    );
    let mut child = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pty = child.stdout.take().unwrap();
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let screen = screen.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = pty.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    // The bar is drawn while the task runs, naming it; then the task may end.
    wait_for(
        Duration::from_secs(30),
        "the bar at 1/2 with the running task",
        || {
            let seen = lossy(&screen.lock().unwrap());
            (seen.contains("1/2 tasks") && seen.contains("running: held")).then_some(())
        },
    );
    std::fs::write(&gate, "").unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(status.code(), Some(0));
    let screen = lossy(&screen.lock().unwrap());
    assert!(screen.contains("gated #"), "{screen:?}");
    assert!(screen.contains("2/2 tasks"), "{screen:?}");
    assert!(
        screen.contains("[=============================="),
        "a drawn bar: {screen:?}"
    );
    assert!(
        screen.contains("\u{1b}["),
        "terminal control sequences: {screen:?}"
    );
    assert!(screen.trim_end().ends_with("succeeded"), "{screen:?}");
}

#[test]
fn backfill_waits_over_its_dates() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "daily", "tasks": [{"name": "a", "type": "shell", "script": "echo ${system.biz.date}"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);
    let out = cluster.sched(
        "postgres",
        &[
            "backfill",
            "daily",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-03",
            "--parallel",
            "2",
            "--wait",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
    assert_eq!(lossy(&out.stdout), "succeeded\n");
    assert!(
        lossy(&out.stderr).contains("3/3 dates done"),
        "{}",
        lossy(&out.stderr)
    );
    let id = cluster.sched_expect(
        "postgres",
        &["backfill", "daily", "--dates", "2024-04-01,2024-04-05"],
        0,
    );
    let dates: i64 = db
        .query_one(
            "SELECT total FROM sched.backfills WHERE id = $1",
            &[&id.trim().parse::<i64>().unwrap()],
        )
        .unwrap()
        .get(0);
    assert_eq!(dates, 2);
    let listed = cluster.sched_expect("postgres", &["ls", "backfills", "--workflow", "daily"], 0);
    assert_eq!(listed.lines().count(), 4, "{listed}");
}

#[test]
fn apply_and_export_keep_workflows_as_code() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN IN ROLE sched_user; CREATE ROLE bob LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let mut bob = cluster.connect_as("bob");
    define(
        &mut bob,
        r#"{"name": "bobs", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let dir = cluster.dir.join("flows");
    std::fs::create_dir(&dir).unwrap();
    let etl = dir.join("etl.yaml");
    std::fs::write(
        &etl,
        "name: etl\ntasks:\n  - name: extract\n    type: shell\n    script: echo extract\n\
         schedules:\n  - cron: \"0 0 2 * * ?\"\n    timezone: Asia/Shanghai\n    priority: high\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("other.json"),
        r#"{"name": "other", "tasks": [{"name": "a", "type": "empty"}]}"#,
    )
    .unwrap();
    let path = dir.to_str().unwrap();
    let versions = |db: &mut Client| -> Vec<(String, i32)> {
        db.query(
            "SELECT name, version FROM sched.workflows ORDER BY name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };

    let dry = cluster.sched_expect("alice", &["apply", "--dry-run", path], 0);
    assert!(
        dry.contains("etl: created") && dry.contains("+name: etl") && dry.contains("(dry run"),
        "{dry}"
    );
    assert!(dry.contains("+ schedule 0 0 2 * * ?"), "{dry}");
    assert_eq!(versions(&mut db), [("bobs".to_owned(), 1)]);

    let applied = cluster.sched_expect("alice", &["apply", path], 0);
    assert!(
        applied.contains("etl: created") && applied.contains("other: created"),
        "{applied}"
    );
    assert_eq!(
        cluster.sched_expect("alice", &["apply", path], 0),
        "no changes\n"
    );
    assert_eq!(
        versions(&mut db),
        [
            ("bobs".to_owned(), 1),
            ("etl".to_owned(), 1),
            ("other".to_owned(), 1)
        ]
    );
    let schedules: i64 = db
        .query_one("SELECT count(*) FROM sched.schedules", &[])
        .unwrap()
        .get(0);
    assert_eq!(schedules, 1);

    // A changed file: a new version, the diff shows the new task; the schedule's cron changes.
    std::fs::write(
        &etl,
        "name: etl\ntasks:\n  - name: extract\n    type: shell\n    script: echo extract\n\
         \x20 - name: load\n    type: shell\n    script: echo load\n    deps: [extract]\n\
         schedules:\n  - cron: \"0 30 2 * * ?\"\n    timezone: Asia/Shanghai\n    priority: high\n",
    )
    .unwrap();
    let changed = cluster.sched_expect("alice", &["apply", path], 0);
    assert!(
        changed.contains("etl: changed") && changed.contains("+  name: load"),
        "{changed}"
    );
    assert!(
        changed.contains("- schedule 0 0 2 * * ?") && changed.contains("+ schedule 0 30 2 * * ?"),
        "{changed}"
    );
    assert_eq!(versions(&mut db)[1], ("etl".to_owned(), 2));

    // Export then apply changes nothing.
    let exported = cluster.sched_expect("alice", &["export", "etl"], 0);
    assert!(
        exported.contains("schedules:") && exported.contains("Asia/Shanghai"),
        "{exported}"
    );
    std::fs::write(&etl, &exported).unwrap();
    assert_eq!(
        cluster.sched_expect("alice", &["apply", path], 0),
        "no changes\n"
    );

    // A bad file fails the whole apply, naming the file and the field.
    std::fs::write(
        dir.join("zbad.yaml"),
        "name: zbad\ntasks:\n  - name: a\n    type: shel\n",
    )
    .unwrap();
    let out = cluster.sched("alice", &["apply", path]);
    assert_eq!(out.status.code(), Some(2));
    let err = lossy(&out.stderr);
    assert!(
        err.contains("zbad.yaml") && err.contains("tasks[0].type"),
        "{err}"
    );
    std::fs::remove_file(dir.join("zbad.yaml")).unwrap();

    // Prune drops alice's workflows no file defines, never bob's.
    std::fs::remove_file(dir.join("other.json")).unwrap();
    let pruned = cluster.sched_expect("alice", &["apply", "--prune", path], 0);
    assert!(pruned.contains("other: dropped"), "{pruned}");
    assert_eq!(
        versions(&mut db),
        [("bobs".to_owned(), 1), ("etl".to_owned(), 2)]
    );
}
