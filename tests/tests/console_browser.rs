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
