//! The structure docs/architecture.md describes, checked: the SQL layers, states named in one
//! place, no import circles. Each check is a script under scripts/ (so it runs without a
//! build); each is run here on the repository, and on a copy with one violation planted, to
//! show that it would catch one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `scripts/<script>` on `root`; returns whether it passed and what it printed.
fn check(script: &str, root: Option<&Path>) -> (bool, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("scripts").join(script));
    if let Some(root) = root {
        cmd.arg(root);
    }
    let out = cmd.output().expect("python3 runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("sched-architecture-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_sql_function_uses_only_its_own_layer_or_a_lower_one() {
    let (ok, out) = check("sql-layers.py", None);
    assert!(ok, "{out}");
}

#[test]
fn a_kernel_function_calling_the_api_fails_the_layering_check() {
    let dir = scratch("layers");
    copy_dir(&repo().join("sql"), &dir);
    let locks = dir.join("2_kernel/locks.sql");
    let planted = fs::read_to_string(&locks).unwrap()
        + "\nCREATE FUNCTION sched._upward() RETURNS bigint LANGUAGE sql AS $$ SELECT sched._start_workflow(NULL, 'x', '{}', '{}') $$;\n";
    fs::write(&locks, planted).unwrap();
    let (ok, out) = check("sql-layers.py", Some(&dir));
    assert!(!ok, "{out}");
    assert!(
        out.contains("2_kernel/locks.sql: _upward uses sched._start_workflow, defined in 7_api/runs.sql, a higher layer than 2_kernel"),
        "{out}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lists_of_states_are_named_only_in_core() {
    let (ok, out) = check("state-literals.py", None);
    assert!(ok, "{out}");
}

#[test]
fn a_hand_written_state_list_fails_the_state_check() {
    let dir = scratch("states");
    fs::create_dir_all(dir.join("sql/1_schema")).unwrap();
    fs::copy(
        repo().join("sql/1_schema/01_vocabulary.sql"),
        dir.join("sql/1_schema/01_vocabulary.sql"),
    )
    .unwrap();
    // The planted lists are written from their names, so that this file holds none itself.
    let list = |quote: &str, names: &[&str]| -> String {
        names
            .iter()
            .map(|n| format!("{quote}{n}{quote}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    fs::create_dir_all(dir.join("sql/3_engine")).unwrap();
    fs::write(
        dir.join("sql/3_engine/planted.sql"),
        format!(
            "SELECT count(*) FROM sched.task_instance ti WHERE ti.state IN ({});\n",
            list("'", &["dispatched", "running"])
        ),
    )
    .unwrap();
    fs::create_dir_all(dir.join("console/web/src")).unwrap();
    fs::write(
        dir.join("console/web/src/planted.jsx"),
        format!("const done = [{}];\n", list("'", &["succeeded", "failed"])),
    )
    .unwrap();
    let (ok, out) = check("state-literals.py", Some(&dir));
    assert!(!ok, "{out}");
    assert!(
        out.contains("sql/3_engine/planted.sql:1: dispatched, running"),
        "{out}"
    );
    assert!(
        out.contains("console/web/src/planted.jsx:1: succeeded, failed"),
        "{out}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_crate_and_no_console_page_imports_in_a_circle() {
    let (ok, out) = check("import-cycles.py", None);
    assert!(ok, "{out}");
}

#[test]
fn modules_that_import_each_other_fail_the_circle_check() {
    let dir = scratch("circles");
    let src = dir.join("worker/src");
    fs::create_dir_all(&src).unwrap();
    fs::write(
        src.join("main.rs"),
        "mod db;\nmod reporter;\nfn main() { reporter::run(); }\n",
    )
    .unwrap();
    fs::write(
        src.join("db.rs"),
        "use crate::reporter::Lease;\npub fn call(_: Lease) {}\n",
    )
    .unwrap();
    fs::write(
        src.join("reporter.rs"),
        "// crate::nothing in a comment is no edge\npub struct Lease;\npub fn run() { crate::db::call(Lease) }\n",
    )
    .unwrap();
    let web = dir.join("console/web/src");
    fs::create_dir_all(&web).unwrap();
    fs::write(
        web.join("main.jsx"),
        "import { Page } from './page.jsx';\nexport const Button = 1;\n",
    )
    .unwrap();
    fs::write(
        web.join("page.jsx"),
        "import { Button } from './main.jsx';\nexport const Page = Button;\n",
    )
    .unwrap();
    let (ok, out) = check("import-cycles.py", Some(&dir));
    assert!(!ok, "{out}");
    assert!(
        out.contains("worker/src: db, reporter import each other"),
        "{out}"
    );
    assert!(
        out.contains("console/web/src: main.jsx, page.jsx import each other"),
        "{out}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The install order is the layers' (extension/build.rs): each file's first statement comes
/// after the previous file's in the installed script.
#[test]
fn the_installed_script_follows_the_layers() {
    let out = Command::new("python3")
        .arg(repo().join("scripts/sql-layers.py"))
        .arg("--order")
        .output()
        .unwrap();
    let order = String::from_utf8(out.stdout).unwrap();
    let share = Command::new(sched_tests::pg_bin().join("pg_config"))
        .arg("--sharedir")
        .output()
        .unwrap();
    let extensions =
        PathBuf::from(String::from_utf8(share.stdout).unwrap().trim()).join("extension");
    // This version's: the kept scripts of earlier releases are installed beside it.
    let script = extensions.join(concat!("pg_sched--", env!("CARGO_PKG_VERSION"), ".sql"));
    let text = fs::read_to_string(&script).unwrap();
    let mut at = 0;
    for file in order.lines() {
        let sql = fs::read_to_string(repo().join("sql").join(file)).unwrap();
        let first = sql
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with("--"))
            .unwrap_or_else(|| panic!("{file} is empty"));
        let found = text[at..].find(first).unwrap_or_else(|| {
            panic!(
                "{file}'s `{first}` is not after the files before it in {}",
                script.display()
            )
        });
        at += found;
    }
}
