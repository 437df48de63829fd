//! The Debian packages (`make package`, scripts/package.sh): the previous release's installed
//! with apt-get on this machine, a cluster made with its extension, its worker started the
//! way its systemd unit starts it, a workflow run; then this release's packages installed over
//! them, PostgreSQL restarted and the extension updated, and nothing lost: the instance and
//! its log are there, the administrator's configuration is as it was, and the new worker runs.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sched_tests::*;

const CURRENT: &str = env!("CARGO_PKG_VERSION");
const UNIT: &str = "/lib/systemd/system/sched-worker.service";
const CONN: &str = "/etc/sched/worker.conn";

fn apt_install(debs: &[PathBuf]) {
    let out = Command::new("apt-get")
        // --reinstall: the machine may hold these very versions already (an earlier run's
        // packages, with `make install`'s files over them since), and they must be on disk.
        .args([
            "install",
            "-y",
            "--reinstall",
            "--allow-downgrades",
            "--no-install-recommends",
        ])
        .args(debs)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apt-get install {debs:?}:\n{}\n{}",
        lossy(&out.stdout),
        lossy(&out.stderr)
    );
}

/// This release's packages are what the machine keeps, however the test ends: the other
/// tests load the extension's library from where the packages put it.
struct Reinstall(Vec<PathBuf>);

impl Drop for Reinstall {
    fn drop(&mut self) {
        apt_install(&self.0);
    }
}

/// `KEY=value` lines as systemd reads an EnvironmentFile (double quotes stripped).
fn environment_file(path: &str) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// The worker as its unit starts it: ExecStart with `$VAR`s of the EnvironmentFile expanded
/// (split on whitespace, as systemd does for `$VAR`), in that environment.
fn unit_worker(cluster: &Cluster, log: &str) -> std::process::Child {
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{UNIT} has no {key}"))
            .to_owned()
    };
    let env = environment_file(&value("EnvironmentFile"));
    let mut words: Vec<String> = Vec::new();
    for word in value("ExecStart").split_whitespace() {
        match word.strip_prefix('$') {
            Some(var) => words.extend(
                env.get(var)
                    .map_or("", String::as_str)
                    .split_whitespace()
                    .map(str::to_owned),
            ),
            None => words.push(word.to_owned()),
        }
    }
    assert_eq!(words[0], "/usr/bin/sched-worker", "{words:?}");
    let log = std::fs::File::create(cluster.dir.join(log)).unwrap();
    Command::new(&words[0])
        .args(&words[1..])
        .envs(&env)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The unit's worker registered; with `protocol`, speaking it (0.2.0's SQL has no column).
fn wait_registered(db: &mut postgres::Client, protocol: Option<i32>) -> String {
    let sql = match protocol {
        Some(p) => format!("SELECT name FROM sched.workers WHERE alive AND protocol = {p}"),
        None => "SELECT name FROM sched.workers WHERE alive".to_owned(),
    };
    wait_for(
        Duration::from_secs(60),
        "the packaged worker to register",
        || db.query_opt(&sql, &[]).unwrap().map(|r| r.get(0)),
    )
}

fn stop(mut worker: std::process::Child) {
    unsafe { libc::kill(worker.id() as i32, libc::SIGTERM) };
    wait_for(
        Duration::from_secs(60),
        "the packaged worker to stop",
        || worker.try_wait().unwrap().map(|_| ()),
    );
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_previous_release_s_packages_upgrade_to_this_one_s_and_nothing_is_lost() {
    let previous = earlier_releases()
        .pop()
        .expect("sql/releases/ keeps no earlier release");
    let old = packages(Some(&previous));
    let new = packages(None);
    assert_eq!(old.len(), 4, "{old:?}");
    assert_eq!(new.len(), 4, "{new:?}");
    let _reinstall = Reinstall(new.clone());

    apt_install(&old);
    assert_eq!(mode(CONN), 0o600, "{CONN} holds a password");
    assert!(Path::new(UNIT).exists());
    let sharedir = String::from_utf8(
        Command::new(pg_bin().join("pg_config"))
            .arg("--sharedir")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let control =
        std::fs::read_to_string(format!("{}/extension/pg_sched.control", sharedir.trim())).unwrap();
    assert!(
        control.contains(&format!("default_version = '{previous}'")),
        "{control}"
    );

    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let version = extension_version(&mut db);
    assert_eq!(version, previous);
    // The administrator's one step: the connection string, into the file the package made.
    std::fs::write(CONN, cluster.conn_string(WORKER_ROLE)).unwrap();
    assert_eq!(mode(CONN), 0o600);
    let worker = unit_worker(&cluster, "worker-unit-old.log");
    wait_registered(&mut db, None);
    define(
        &mut db,
        r#"{"name": "packaged", "tasks": [{"name": "hello", "type": "shell", "script": "echo hello from the package"}]}"#,
    );
    let first = start(&mut db, "packaged");
    assert_eq!(wait(&mut db, first, 60), "succeeded");
    stop(worker);

    // The upgrade, as the README's "Upgrading" says: packages, restart, update, workers.
    let edited = format!(
        "{}\n# edited by the administrator\n",
        std::fs::read_to_string("/etc/sched/worker.env").unwrap()
    );
    std::fs::write("/etc/sched/worker.env", &edited).unwrap();
    apt_install(&new);
    assert_eq!(
        std::fs::read_to_string("/etc/sched/worker.env").unwrap(),
        edited,
        "the upgrade replaced a conffile"
    );
    assert_eq!(
        std::fs::read_to_string(CONN).unwrap(),
        cluster.conn_string(WORKER_ROLE)
    );
    assert_eq!(mode(CONN), 0o600);
    cluster.stop_server();
    cluster.start_server();
    let mut db = cluster.connect();
    wait_for(
        Duration::from_secs(30),
        "the master to wait for the update",
        || {
            cluster
                .server_log()
                .contains(&format!("is version {previous} and the library {CURRENT}"))
                .then_some(())
        },
    );
    db.batch_execute("ALTER EXTENSION pg_sched UPDATE").unwrap();
    let version = extension_version(&mut db);
    assert_eq!(version, CURRENT);
    let worker = unit_worker(&cluster, "worker-unit-new.log");
    let protocol: i32 = db
        .query_one("SELECT sched._worker_protocol()", &[])
        .unwrap()
        .get(0);
    wait_registered(&mut db, Some(protocol));

    assert_eq!(instance_state(&mut db, first), "succeeded");
    assert_eq!(
        task_stdout(&mut db, first, "hello"),
        vec!["hello from the package".to_owned()]
    );
    let second = start(&mut db, "packaged");
    assert_eq!(wait(&mut db, second, 60), "succeeded");
    let out = Command::new("/usr/bin/sched")
        .arg("--database-url")
        .arg(cluster.conn_string("postgres"))
        .args(["ls", "workflows"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    assert!(
        lossy(&out.stdout).contains("packaged"),
        "{}",
        lossy(&out.stdout)
    );
    stop(worker);
}
