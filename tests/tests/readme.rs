//! The README's SQL examples run as written, in order, through psql.

use sched_tests::*;

#[test]
fn the_readme_tour_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let mut sql = String::new();
    let mut in_block = false;
    for line in readme.lines() {
        match (in_block, line.trim_end()) {
            (false, "```sql") => in_block = true,
            (true, "```") => in_block = false,
            (true, text) => {
                sql.push_str(text);
                sql.push('\n');
            }
            _ => {}
        }
    }
    assert!(
        sql.contains("create_workflow"),
        "no SQL found in the README"
    );

    let cluster = Cluster::start(&[]);
    let _worker = cluster.worker("w1", &[]);
    let out = std::process::Command::new(pg_bin().join("psql"))
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(cluster.conn_string("postgres"))
        .args(["-c", "\\set ECHO none"])
        .arg("-f")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(sql.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "psql failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert!(stdout.contains("extracting"), "{stdout}");
    assert!(stdout.contains("stopped"), "{stdout}");
    assert!(stdout.contains("42 rows in us on 2024-03-14"), "{stdout}");
    // The alerts example: the failure is in the outbox for both channels of the group.
    assert!(
        stdout
            .lines()
            .filter(|l| l.contains("workflow_failed") && l.contains("pending"))
            .count()
            == 2,
        "{stdout}"
    );
    // Events and datasets: the downstream was there when its upstream's end was seen; the
    // table's change and the two datasets start theirs once the master takes them.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("ev_load") && l.contains("trigger") && l.contains("42")),
        "{stdout}"
    );
    let mut db = cluster.connect();
    for (workflow, param, value) in [
        ("ev_ingest", "changed_rows", "2"),
        ("ev_daily_report", "dataset_events", "dw.customers"),
    ] {
        wait_for(
            std::time::Duration::from_secs(60),
            &format!("the README's {workflow} to start"),
            || {
                db.query_opt(
                    "SELECT 1 FROM sched.workflow_instances WHERE workflow = $1 AND command_type = 'trigger'
                       AND params->>$2 LIKE '%' || $3 || '%'",
                    &[&workflow, &param, &value],
                )
                .unwrap()
            },
        );
    }
    // The SQL check's example: a warning, then a refusal under strict_sql.
    for said in [
        r#"WARNING:  tasks[0].sql: relation "ordres" does not exist"#,
        r#"NOTICE:  refused: tasks[0].sql: relation "ordres" does not exist"#,
        r#"NOTICE:  kept: cannot drop public.readme_orders: the SQL of workflow readme_guarded uses it ("protect_objects": true)"#,
    ] {
        assert!(stderr.contains(said), "{said}: {stderr}");
    }
    // The deadline's example: the schedule's own deadline is the one in force.
    assert!(stdout.contains(" readme_report | 04:30"), "{stdout}");
    assert!(
        stdout.contains(" readme_backfills | replication_lag < 30 AND lock_waits < 20"),
        "{stdout}"
    );
    assert!(stdout.contains(" consistent\n"), "{stdout}");
    // The test run's example: the mocked shell task, the total and the INSERT's row came back,
    // and the INSERT is gone.
    for said in [
        r#" fetch | mocked    |               | {"batch": "7"}"#,
        r#" total | succeeded | [["42"]]      | {"total": "42"}"#,
        r#" store | succeeded | [["42", "7"]] |"#,
    ] {
        assert!(stdout.contains(said), "{said}: {stdout}");
    }
    assert!(
        stdout.contains(
            "readme_sales_after_test \n-------------------------\n                       2"
        ),
        "{stdout}"
    );
    // The dynamic task's example: one element per file, their OUT values gathered in order.
    assert!(
        stdout.contains(r#"["a.csv:10", "b.csv:10", "c.csv:10"]"#),
        "{stdout}"
    );
    // The logic tasks' example: the sub-process took the eu case, and the forbidden audit passed.
    for (task, state) in [
        ("eu_load", "succeeded"),
        ("us_load", "skipped"),
        ("audit", "forbidden"),
        ("publish", "succeeded"),
        ("page_someone", "skipped"),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(task) && l.contains(state)),
            "{task} {state}: {stdout}"
        );
    }
}

#[test]
fn the_readme_parameter_examples_resolve_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("\n## Parameters\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has a Parameters section");
    let cell = |c: &str| c.trim().trim_matches('`').to_owned();
    let rows: Vec<(String, String, String)> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 3, "a row of template, params, result: {l}");
            (cell(cells[0]), cell(cells[1]), cell(cells[2]))
        })
        .collect();
    assert!(rows.len() >= 20, "only {} examples found", rows.len());

    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    for (template, params, expected) in rows {
        let params: serde_json::Value = serde_json::from_str(&params).unwrap();
        let got: String = db
            .query_one(
                "SELECT sched.resolve($1, $2, '2024-03-15 02:30:00')",
                &[&template, &params],
            )
            .unwrap_or_else(|e| panic!("{template} with {params}: {e}"))
            .get(0);
        assert_eq!(got, expected, "{template} with {params}");
    }
}

/// The README's `sh` block of sched commands runs as written, after its first SQL block
/// (which defines etl_daily), with the connection in the libpq environment.
#[test]
fn the_readme_command_line_examples_run() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let block = |tag: &str| -> String {
        let mut lines = readme.lines().skip_while(|l| l.trim_end() != tag).skip(1);
        lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let define = block("```sql");
    let commands = block("```sh");
    assert!(
        commands.contains("sched apply"),
        "no sched examples found in the README"
    );

    let cluster = Cluster::start(&[]);
    let _worker = cluster.worker("w1", &[]);
    let mut db = cluster.connect();
    db.batch_execute(&define).unwrap();
    let dir = cluster.dir.join("readme-cli");
    std::fs::create_dir(&dir).unwrap();
    let path = format!(
        "{}:{}:{}",
        sched_bin().parent().unwrap().display(),
        pg_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &commands])
        .current_dir(&dir)
        .env("PATH", path)
        .env("PGHOST", &cluster.dir)
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's sched examples failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("succeeded"), "{stdout}");
    // The test run: extract mocked, the shell tasks after it not run, all rolled back.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("extract") && l.contains("mocked")),
        "{stdout}"
    );
    assert!(
        stdout.contains("everything the test run did was rolled back"),
        "{stdout}"
    );
    assert!(
        std::fs::read_to_string(dir.join("etl_daily.svg"))
            .unwrap()
            .contains("<svg")
    );
    assert!(
        std::fs::read_to_string(dir.join("flows/etl_daily.yaml"))
            .unwrap()
            .contains("name: etl_daily")
    );
    assert!(
        std::fs::read_to_string(dir.join("task.log"))
            .unwrap()
            .contains("extracting")
    );
    assert!(
        stdout.contains("no changes"),
        "export then apply changes nothing: {stdout}"
    );
}
