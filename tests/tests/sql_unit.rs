//! The SQL tier: the engine's functions tested directly in SQL with pgTAP, one file of
//! `tests/sql/` per function, named by the behaviour it checks. No worker runs: a file drives
//! the state by calling the engine's functions itself, as the superuser.
//!
//! Each file is a pgTAP script in a transaction it rolls back (`BEGIN; SELECT plan(n); …
//! SELECT * FROM finish(); ROLLBACK;`), run on a connection of its own: no file sees another's
//! rows, and the master of the cluster never sees any. `pg_prove` runs the same files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use postgres::SimpleQueryMessage;
use sched_tests::*;

#[test]
fn every_sql_test_file_passes() {
    let cluster = Cluster::start(&[]);
    cluster
        .connect()
        .batch_execute("CREATE EXTENSION pgtap")
        .expect("CREATE EXTENSION pgtap (make test-setup installs postgresql-15-pgtap)");
    let files = sql_files();
    assert!(!files.is_empty(), "no tests/sql/*.sql file");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| run_file(&cluster, file).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} SQL test files failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

fn sql_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("list tests/sql").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    files
}

/// Runs one file; on failure, says why with the file's name and its TAP output.
fn run_file(cluster: &Cluster, file: &Path) -> Result<(), String> {
    let began = Instant::now();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(file).map_err(|e| format!("{name}: {e}"))?;
    // A file that committed would leave rows the master acts on and later files see.
    let statements: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("--"))
        .collect();
    if statements.first() != Some(&"BEGIN;") || statements.last() != Some(&"ROLLBACK;") {
        return Err(format!(
            "{name}: must start with `BEGIN;` and end with `ROLLBACK;`"
        ));
    }
    // A connection per file: an error leaves its transaction aborted, and closing the
    // connection rolls it back.
    let mut db = cluster.connect();
    let messages = db.simple_query(&text).map_err(|e| {
        let why = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |db| db.to_string());
        format!("{name}: stopped by an error before its tests finished:\n{why}")
    })?;
    // Other rows (from setup statements) are not TAP, and TAP parsers ignore them too.
    let tap: Vec<String> = messages
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .flat_map(|cell| cell.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| is_tap(line))
        .collect();
    let tests = check_tap(&tap).map_err(|why| format!("{name}: {why}\n{}", tap.join("\n")))?;
    println!("ok {name}: {tests} tests in {:?}", began.elapsed());
    Ok(())
}

fn is_tap(line: &str) -> bool {
    line.starts_with("1..") || line.starts_with('#') || test_number(line).is_some()
}

/// The number of an `ok n` or `not ok n` line.
fn test_number(line: &str) -> Option<usize> {
    let rest = line
        .strip_prefix("not ok ")
        .or_else(|| line.strip_prefix("ok "))?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Passes, with the number of tests, when the plan is given once, no test is `not ok` (but for
/// TODO tests), and the tests run 1 to n.
fn check_tap(tap: &[String]) -> Result<usize, String> {
    let plans: Vec<usize> = tap
        .iter()
        .filter_map(|line| line.strip_prefix("1..")?.parse().ok())
        .collect();
    let [planned] = plans[..] else {
        return Err(format!(
            "expected one plan line `1..n`, found {}",
            plans.len()
        ));
    };
    let numbers: Vec<usize> = tap.iter().filter_map(|line| test_number(line)).collect();
    // A TODO test is a known failure, named by `todo()` in the file: TAP does not count it.
    let failed: Vec<&String> = tap
        .iter()
        .filter(|line| line.starts_with("not ok") && !line.contains("# TODO"))
        .collect();
    if !failed.is_empty() {
        return Err(format!(
            "{} of {} tests failed",
            failed.len(),
            numbers.len()
        ));
    }
    if numbers != (1..=planned).collect::<Vec<_>>() {
        return Err(format!("planned {planned} tests, ran {}", numbers.len()));
    }
    Ok(planned)
}
