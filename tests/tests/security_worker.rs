//! The worker's side of the security model, as a local attacker or a sched_user would test it:
//! tasks never run as root, an alert worker runs no tasks unless told, the work directory and
//! task directories cannot be planted, an unknown datasource reveals no others, and a task's
//! output cannot drive the terminal of whoever reads its log with `sched logs`.
//!
//! The tests run as root, as the harness's workers do.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sched_tests::*;
use serde_json::json;

fn assert_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests run as root, as a worker that serves tenants does"
    );
}

fn private_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Runs a worker that must refuse to start; returns what it said on stderr.
fn refused(cluster: &Cluster, name: &str, cmd: &mut Command) -> String {
    let err_file = cluster.dir.join(format!("refused-{name}.err"));
    let child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let mut worker = Worker {
        child,
        name: name.to_owned(),
    };
    let status = worker.wait_exit(Duration::from_secs(30));
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    assert!(!status.success(), "worker {name} started: {stderr}");
    let registered: i64 = cluster
        .connect()
        .query_one(
            "SELECT count(*) FROM sched.worker WHERE name = $1",
            &[&name],
        )
        .unwrap()
        .get(0);
    assert_eq!(registered, 0, "worker {name} registered: {stderr}");
    stderr
}

fn first_task(db: &mut Client, instance: i64) -> i64 {
    wait_for(Duration::from_secs(30), "the instance's first task", || {
        db.query_opt(
                "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY id LIMIT 1",
                &[&instance],
            )
            .unwrap()
            .map(|r| r.get(0))
    })
}

#[test]
fn an_untenanted_task_on_a_root_worker_runs_as_the_default_tenant_and_cannot_read_the_workers_secrets()
 {
    assert_root();
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let url_file = cluster.dir.join("worker.url");
    private_file(
        &url_file,
        &format!("{} password=s3cret-url\n", cluster.conn_string(WORKER_ROLE)),
    );
    let mut cmd = cluster.worker_command("w1");
    cmd.arg("--database-url-file")
        .arg(&url_file)
        .env("SCHED_TEST_SECRET", "s3cret-env");
    let worker = cluster.start_worker("w1", &mut cmd);
    // A second worker, of group `other`, with another default tenant.
    let mut cmd = cluster.worker_command("w2");
    cmd.args(["--group", "other", "--database-url"])
        .arg(cluster.conn_string(WORKER_ROLE))
        .env("SCHED_DEFAULT_TENANT", "daemon");
    let _other = cluster.start_worker("w2", &mut cmd);

    let probe = format!(
        "id -un; id -G; cat /proc/{pid}/environ || echo denied-environ; cat {url} || echo denied-url; \
         echo HOME=$HOME; stat -c '%U %a' .; echo mine > \"$(pwd -P)/by-path\" && cat \"$(pwd -P)/by-path\"",
        pid = worker.pid(),
        url = url_file.display(),
    );
    define(
        &mut db,
        &json!({"name": "probe", "tasks": [
            {"name": "plain", "type": "shell", "script": probe},
            {"name": "py", "type": "python", "script": "import os\nprint(os.getuid(), os.getcwd() == os.path.realpath('.'))"},
            {"name": "elsewhere", "type": "shell", "worker_group": "other", "script": "id -un"}]})
        .to_string(),
    );
    let id = start(&mut db, "probe");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let out = task_stdout(&mut db, id, "plain");
    assert_eq!(out.first().map(String::as_str), Some("nobody"), "{out:?}");
    assert_eq!(out[1], "65534", "no supplementary groups: {out:?}");
    for expected in [
        "denied-environ",
        "denied-url",
        "HOME=/nonexistent",
        "nobody 700",
        "mine",
    ] {
        assert!(
            out.iter().any(|l| l == expected),
            "{expected} missing: {out:?}"
        );
    }
    assert!(
        out.iter().all(|l| !l.contains("s3cret")),
        "an untenanted task read the worker's secrets: {out:?}"
    );
    assert_eq!(task_output(&mut db, id, "py"), ["65534 True"]);
    assert_eq!(task_output(&mut db, id, "elsewhere"), ["daemon"]);
}

#[test]
fn a_worker_refuses_root_or_a_missing_user_as_its_default_tenant() {
    assert_root();
    let cluster = Cluster::start(&[]);
    let mut cmd = cluster.worker_command("rooted");
    cmd.arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .args(["--default-tenant", "root"]);
    let err = refused(&cluster, "rooted", &mut cmd);
    assert!(
        err.contains("--default-tenant root: OS user root has uid 0 (root)")
            && err.contains("never as root"),
        "{err}"
    );
    let mut cmd = cluster.worker_command("rooted_env");
    cmd.arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .env("SCHED_DEFAULT_TENANT", "root");
    let err = refused(&cluster, "rooted_env", &mut cmd);
    assert!(err.contains("--default-tenant root: "), "{err}");
    let mut cmd = cluster.worker_command("ghost");
    cmd.arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .args(["--default-tenant", "no_such_user_here"]);
    let err = refused(&cluster, "ghost", &mut cmd);
    assert!(
        err.contains("--default-tenant no_such_user_here: no such OS user on this host"),
        "{err}"
    );
}

#[test]
fn a_worker_refuses_a_task_whose_tenant_is_root_whatever_the_database_says() {
    assert_root();
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "escalate", "tasks": [{"name": "a", "type": "shell", "script": "id -u"}]}"#,
    );
    // Started with no worker running, then given tenant root behind the API's back: what a
    // grant from before root was refused, or a tampered database, would hand a worker.
    let id = start(&mut db, "escalate");
    first_task(&mut db, id);
    db.execute(
        "UPDATE sched.task_instance SET tenant = 'root' WHERE workflow_instance_id = $1",
        &[&id],
    )
    .unwrap();
    let _worker = cluster.worker("w1", &[]);
    assert_eq!(wait(&mut db, id, 60), "failed");
    let out = task_output(&mut db, id, "a");
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].contains("tenant \"root\": OS user root has uid 0 (root)")
            && out[0].contains("never run tasks as root"),
        "{out:?}"
    );
}

#[test]
fn a_worker_that_delivers_alerts_runs_no_task_unless_it_names_groups() {
    assert_root();
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let marks = cluster.dir.join("marks");
    std::fs::create_dir(&marks).unwrap();
    // The script runs as the worker's default tenant.
    std::fs::set_permissions(&marks, std::fs::Permissions::from_mode(0o1777)).unwrap();
    db.execute(
        "SELECT sched.create_alert_group('marks', $1)",
        &[&json!([{"type": "script",
                   "command": format!("touch {}/alerted-$SCHED_WORKFLOW_INSTANCE_ID", marks.display())}])],
    )
    .unwrap();
    define(
        &mut db,
        r#"{"name": "job", "notify": {"strategy": "all", "alert_group": "marks"},
            "tasks": [{"name": "a", "type": "shell", "script": "true"}]}"#,
    );
    let alerts = cluster.dir.join("alerts.json");
    private_file(&alerts, "{}");
    let _alerts = cluster.worker(
        "alerts",
        &[
            "--alerts",
            alerts.to_str().unwrap(),
            "--poll-interval-ms",
            "100",
        ],
    );
    let groups: Vec<String> = db
        .query_one(
            "SELECT groups FROM sched.workers WHERE name = 'alerts'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(groups.is_empty(), "{groups:?}");

    let waiting = start(&mut db, "job");
    first_task(&mut db, waiting);
    // A stop alerts through the same worker, after the task above was queued (and announced).
    let stopped = start(&mut db, "job");
    db.execute("SELECT sched.stop_workflow($1)", &[&stopped])
        .unwrap();
    let mark = marks.join(format!("alerted-{stopped}"));
    wait_for(
        Duration::from_secs(60),
        "the alert worker to deliver",
        || mark.exists().then_some(()),
    );
    let (state, worker): (String, Option<String>) = db
        .query_one(
            "SELECT state::text, worker FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&waiting],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((state.as_str(), worker), ("queued", None));

    let _tasks = cluster.worker("w1", &[]);
    assert_eq!(wait(&mut db, waiting, 60), "succeeded");
    let ran_on: String = db
        .query_one(
            "SELECT worker FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&waiting],
        )
        .unwrap()
        .get(0);
    assert_eq!(ran_on, "w1");
}

#[test]
fn a_planted_work_directory_is_refused_and_a_missing_one_is_created_private() {
    assert_root();
    let cluster = Cluster::start(&[]);
    let start_in = |name: &str, dir: &Path| {
        let mut cmd = Command::new(worker_bin());
        cmd.args(["--name", name, "--database-url"])
            .arg(cluster.conn_string(WORKER_ROLE))
            .arg("--work-dir")
            .arg(dir);
        cmd
    };
    // Another user's directory: they could plant task directories in it at any time.
    let theirs = cluster.dir.join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    let status = Command::new("chown")
        .arg("postgres")
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(status.success());
    let err = refused(&cluster, "theirs", &mut start_in("theirs", &theirs));
    assert!(
        err.contains(&format!(
            "--work-dir {} belongs to postgres (uid",
            theirs.display()
        )) && err.contains("it must belong to this worker's user, root (uid 0)"),
        "{err}"
    );
    // Root's, but writable by its group; and a /tmp-like one anyone can write.
    for (name, mode, who) in [
        ("shared", 0o770, "its group (mode 0770)"),
        ("open", 0o1777, "its group and others (mode 1777)"),
    ] {
        let dir = cluster.dir.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = refused(&cluster, name, &mut start_in(name, &dir));
        assert!(
            err.contains(&format!(
                "--work-dir {} can be written by {who}",
                dir.display()
            )) && err.contains("chmod go-w"),
            "{err}"
        );
    }
    // A missing one is created, writable by the worker alone.
    let fresh = cluster.dir.join("fresh/work");
    let _worker = cluster.start_worker("fresh", &mut start_in("fresh", &fresh));
    let meta = std::fs::metadata(&fresh).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o711));
    // And the default is no world-writable place.
    let help = Command::new(worker_bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("/var/lib/sched-worker as root"), "{help}");
    assert!(!help.contains("/tmp"), "{help}");
}

#[test]
fn a_symlink_planted_where_a_task_directory_goes_does_not_redirect_it() {
    assert_root();
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let work = cluster.dir.join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o711)).unwrap();
    define(
        &mut db,
        r#"{"name": "planted", "tasks": [{"name": "a", "type": "shell",
            "script": "pwd -P; stat -c '%U %a' .; echo mine > mine"}]}"#,
    );
    let id = start(&mut db, "planted");
    let task = first_task(&mut db, id);
    // A directory of root's that the task's user must not get, nor write into.
    let victim = cluster.dir.join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(victim.join("keep"), "root's\n").unwrap();
    let task_dir = work.join(format!("task-{task}"));
    std::os::unix::fs::symlink(&victim, &task_dir).unwrap();

    let _worker = cluster.worker("w1", &[]);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let real: PathBuf = std::fs::canonicalize(&work)
        .unwrap()
        .join(format!("task-{task}"));
    assert_eq!(
        task_output(&mut db, id, "a"),
        [real.display().to_string(), "nobody 700".to_owned()]
    );
    let meta = std::fs::metadata(&victim).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o755));
    let left: Vec<String> = std::fs::read_dir(&victim)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["keep"]);
    wait_for(
        Duration::from_secs(30),
        "the task directory to be removed",
        || std::fs::symlink_metadata(&task_dir).is_err().then_some(()),
    );
    assert!(victim.join("keep").exists());
}

#[test]
fn an_unknown_datasource_fails_naming_only_the_one_asked_for() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let sources = cluster.dir.join("datasources.json");
    private_file(
        &sources,
        &json!({"payroll_7f3a": {"kind": "postgresql",
                                 "url": format!("host={} user=postgres dbname=postgres", cluster.dir.display())}})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &["--datasources", sources.to_str().unwrap()]);
    // Both are declared in the database; only the worker's file says which it can reach.
    db.batch_execute(
        "SELECT sched.create_datasource('nowhere', 'postgresql');
         SELECT sched.create_datasource('payroll_7f3a', 'postgresql');
         SELECT sched.grant_datasource('postgres', 'nowhere');
         SELECT sched.grant_datasource('postgres', 'payroll_7f3a');",
    )
    .unwrap();
    define(
        &mut db,
        r#"{"name": "fishing", "tasks": [
            {"name": "guess", "type": "sql", "datasource": "nowhere", "sql": "SELECT 1"},
            {"name": "known", "type": "sql", "datasource": "payroll_7f3a", "sql": "SELECT 1"}]}"#,
    );
    let id = start(&mut db, "fishing");
    assert_eq!(wait(&mut db, id, 60), "failed");
    let out = task_output(&mut db, id, "guess");
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].contains("this worker has no datasource \"nowhere\";"),
        "{out:?}"
    );
    assert!(!out[0].contains("payroll"), "{out:?}");
    assert_eq!(
        task_output(&mut db, id, "known"),
        ["sql: 1 row(s) returned"]
    );
}

fn sched(cluster: &Cluster, args: &[&str]) -> Vec<u8> {
    let out = Command::new(sched_bin())
        .arg("--database-url")
        .arg(cluster.conn_string("postgres"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sched");
    assert!(
        out.status.success(),
        "sched {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn sched_logs_escapes_control_characters_unless_raw() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        r#"{"name": "noisy", "tasks": [{"name": "a", "type": "shell",
            "script": "printf 'title \\033]0;owned\\007 clear \\033[2J back\\rX \\302\\233c\\n'; printf 'tab\\there\\n'"}]}"#,
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "noisy");
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    let task = first_task(&mut db, id).to_string();
    let controls = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .chars()
            .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
            .count()
    };
    let escaped = "title \\u{1b}]0;owned\\u{7} clear \\u{1b}[2J back\\u{d}X \\u{9b}c\ntab\there\n";
    for args in [vec!["logs", &task], vec!["logs", &task, "--follow"]] {
        let shown = sched(&cluster, &args);
        assert_eq!(controls(&shown), 0, "{args:?}: {shown:?}");
        assert_eq!(String::from_utf8_lossy(&shown), escaped, "{args:?}");
    }
    let raw = sched(&cluster, &["logs", &task, "--raw"]);
    assert_eq!(controls(&raw), 5, "{raw:?}");
    let file = cluster.dir.join("task.log");
    sched(
        &cluster,
        &["logs", &task, "--output", file.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&file).unwrap(), raw);
}
