//! The web console in a real browser: Playwright driving Debian's Chromium (headless) through
//! console/web/e2e/console.mjs, against a real cluster, a worker and sched-console: every
//! page as a sched_user and as a sched_admin, in English and Chinese, each checked by
//! axe-core.

use std::process::Command;

use sched_tests::*;

#[test]
fn the_console_in_a_browser() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user;
         CREATE ROLE bob LOGIN PASSWORD 'bob-pw' IN ROLE sched_user;
         CREATE ROLE boss LOGIN PASSWORD 'boss-pw' IN ROLE sched_admin;",
    )
    .unwrap();
    let mut alice = cluster.connect_as("alice");
    define(
        &mut alice,
        r#"{"name": "alices_sql", "tasks": [{"name": "q", "type": "sql", "sql": "SELECT 1"}]}"#,
    );
    // The logic tasks' forms: a switch, a conditions and a dependent task.
    define(
        &mut alice,
        r#"{"name": "ui_logic", "params": {"region": "eu"}, "tasks": [
            {"name": "route", "type": "switch", "cases": [{"when": "${region} == \"eu\"", "then": ["eu"]}], "default": ["us"]},
            {"name": "eu", "type": "empty", "deps": ["route"]},
            {"name": "us", "type": "empty", "deps": ["route"]},
            {"name": "check", "type": "conditions", "deps": ["eu"],
             "conditions": {"groups": [{"items": [{"task": "eu", "status": "succeeded"}]}]},
             "on_success": ["ok"], "on_failure": ["bad"]},
            {"name": "ok", "type": "empty", "deps": ["check"]},
            {"name": "bad", "type": "empty", "deps": ["check"]},
            {"name": "wait_sql", "type": "dependent",
             "groups": [{"items": [{"workflow": "alices_sql", "cycle": "day", "date_value": "today"}]}]}]}"#,
    );
    // Time to interactive at size: the editor at 1,000 tasks (ten layers of 100, each task
    // after the one above it, every seventh also after that one's neighbour), a run of 10,000.
    let layered = |name: &str, layers: usize, width: usize| {
        let tasks: Vec<serde_json::Value> = (0..layers * width)
            .map(|i| {
                let mut deps = vec![];
                if i >= width {
                    deps.push(format!("t{}", i - width));
                    if i % 7 == 0 && i % width + 1 < width {
                        deps.push(format!("t{}", i - width + 1));
                    }
                }
                serde_json::json!({"name": format!("t{i}"), "type": "empty", "deps": deps})
            })
            .collect();
        serde_json::json!({"name": name, "tasks": tasks}).to_string()
    };
    // Lineage on the triggers page: one dataset, its producer and its consumer.
    define(
        &mut alice,
        r#"{"name": "ui_orders", "tasks": [{"name": "load", "type": "empty", "produces": ["dw.orders"]}]}"#,
    );
    define(
        &mut alice,
        r#"{"name": "ui_report", "schedule_on": {"datasets": ["dw.orders"]}, "tasks": [{"name": "r", "type": "empty"}]}"#,
    );
    // A dynamic task: one node with its elements' progress, its elements paged.
    define(
        &mut alice,
        r#"{"name": "ui_fan", "tasks": [{"name": "each", "type": "dynamic", "over": {"f": ["a", "b", "c"]},
            "parallelism": 2, "run": {"type": "shell", "script": "echo ${f}"}}]}"#,
    );
    define(&mut alice, &layered("ui_big", 10, 100));
    define(&mut alice, &layered("ui_huge", 10, 1000));
    let mut bob = cluster.connect_as("bob");
    define(
        &mut bob,
        r#"{"name": "bobs_secret", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let _worker = cluster.worker("w1", &["--slots", "4"]);

    // The console signs in only roles whose password PostgreSQL verifies; alice's and bob's
    // connections above are already open.
    require_passwords(&cluster);
    let console = Console::start(&cluster);
    let shots = std::env::var("SCHED_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| cluster.dir.join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../console/web");
    let out = Command::new("node")
        .arg("e2e/console.mjs")
        .current_dir(&web)
        .env("CONSOLE_URL", &console.base)
        .env("CONSOLE_USER", "alice")
        .env("CONSOLE_PASSWORD", "alice-pw")
        .env("ADMIN_USER", "boss")
        .env("ADMIN_PASSWORD", "boss-pw")
        .env("SCREENSHOTS", &shots)
        .output()
        .expect("node (Node 20) and console/web's node_modules (make install)");
    drop(console);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The speed figures (time to interactive), for the record: printed, never asserted.
    for line in stdout.lines().filter(|l| l.starts_with("measured:")) {
        println!("{line}");
    }
    assert!(
        out.status.success(),
        "{stdout}\n{}\nscreenshots in {}",
        String::from_utf8_lossy(&out.stderr),
        shots.display()
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
    // What the browser did is in the database, as alice's.
    let states: Vec<String> = alice
        .query(
            "SELECT DISTINCT state FROM sched.workflow_instances WHERE workflow = 'ui_flow'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(states, ["succeeded"]);
    let schedules: i64 = alice
        .query_one("SELECT count(*) FROM sched.schedules WHERE workflow = 'ui_flow' AND cron = '0 45 4 * * ?'", &[])
        .unwrap()
        .get(0);
    assert_eq!(schedules, 1);
}
