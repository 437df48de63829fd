//! Test harness: real PostgreSQL 15 clusters (run as the `postgres` OS user, as PostgreSQL
//! refuses root) with pg_sched preloaded, and real `sched-worker` processes.
//!
//! The extension must be installed (`make install`) and the worker built in release mode;
//! `make test` does both. `SCHED_WORKER_BIN` and `SCHED_PG_BIN` override the locations.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use postgres::Client;

pub mod ha;
pub mod metrics;

static CLUSTERS: AtomicUsize = AtomicUsize::new(0);

/// Role the test workers log in as: a member of sched_worker and nothing else.
pub const WORKER_ROLE: &str = "test_worker";

pub fn pg_bin() -> PathBuf {
    std::env::var_os("SCHED_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

pub fn worker_bin() -> PathBuf {
    std::env::var_os("SCHED_WORKER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/sched-worker")
        })
}

/// The `sched` command line, as `make install` builds it.
pub fn sched_bin() -> PathBuf {
    std::env::var_os("SCHED_CLI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/sched"))
}

/// The sched-worker of an earlier release, as `make earlier-releases` builds it.
pub fn release_worker_bin(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/releases")
        .join(version)
        .join("sched-worker")
}

/// The Debian packages of an earlier release (`make earlier-releases`), or of this one
/// (`make package`) for None.
pub fn packages(version: Option<&str>) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let dir = match version {
        Some(v) => root.join("releases").join(v).join("debian"),
        None => root.join("debian"),
    };
    let version = version.unwrap_or(env!("CARGO_PKG_VERSION"));
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (make package / make earlier-releases)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(&format!("_{version}_")))
        .collect();
    debs.sort();
    debs
}

/// The version of pg_sched whose SQL the database has.
pub fn extension_version(db: &mut Client) -> String {
    db.query_one(
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_sched'",
        &[],
    )
    .unwrap()
    .get(0)
}

/// The releases before this one, oldest first: those whose install scripts are kept in
/// sql/releases/ (CHANGELOG.md), every one of which must update to this version.
pub fn earlier_releases() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/releases");
    let key = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let mut versions: Vec<String> = std::fs::read_dir(&dir)
        .expect("sql/releases")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let version = name.strip_prefix("pg_sched--")?.strip_suffix(".sql")?;
            (!version.contains("--") && version != env!("CARGO_PKG_VERSION"))
                .then(|| version.to_owned())
        })
        .collect();
    versions.sort_by_key(|v| key(v));
    versions
}

/// The web console's server, as `make install` builds it.
pub fn console_bin() -> PathBuf {
    std::env::var_os("SCHED_CONSOLE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/sched-console")
        })
}

/// Polls `check` every 20 ms until it returns Some, or panics naming `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Cluster {
    pub dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Cluster {
    /// A fresh cluster with pg_sched preloaded and created in database `postgres`.
    /// `settings` are extra postgresql.conf lines.
    pub fn start(settings: &[&str]) -> Cluster {
        Cluster::start_with_env(settings, &[])
    }

    /// As `start`, with these variables in the server's environment.
    pub fn start_with_env(settings: &[&str], env: &[(&str, &str)]) -> Cluster {
        Cluster::start_inner(settings, env, None)
    }

    /// As `start`, with the SQL of an earlier release (its kept install script, under this
    /// build's library), as a database looks after the library was upgraded and before
    /// ALTER EXTENSION pg_sched UPDATE.
    pub fn start_release(version: &str, settings: &[&str]) -> Cluster {
        Cluster::start_inner(settings, &[], Some(version))
    }

    fn start_inner(settings: &[&str], env: &[(&str, &str)], version: Option<&str>) -> Cluster {
        let n = CLUSTERS.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("sched-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create cluster dir");
        run_ok(Command::new("chown").arg("postgres").arg(&dir));
        // Tests run their workers as root, whose tasks without a tenant run as `nobody`, and
        // tasks write marker files here; sticky, as /tmp, so no task removes another's files.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .expect("open the cluster dir to tasks");
        let data = dir.join("data");
        run_ok(
            as_postgres(pg_bin().join("initdb"))
                .args(["-N", "-A", "trust", "-U", "postgres", "-E", "UTF8", "-D"])
                .arg(&data),
        );
        let mut conf = format!(
            "shared_preload_libraries = 'pg_sched'\nlisten_addresses = ''\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 100\nsched.tick_ms = 200\n",
            dir.display()
        );
        for s in settings {
            conf.push_str(s);
            conf.push('\n');
        }
        std::fs::write(data.join("postgresql.auto.conf"), conf).expect("write settings");
        let cluster = Cluster {
            dir,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        cluster.start_server();
        let mut db = cluster.connect();
        let version = version.map_or(String::new(), |v| format!(" VERSION '{v}'"));
        db.batch_execute(&format!(
            "CREATE EXTENSION pg_sched{version}; CREATE ROLE {WORKER_ROLE} LOGIN IN ROLE sched_worker;"
        ))
        .expect("create extension");
        cluster
    }

    pub fn conn_string(&self, user: &str) -> String {
        format!("host={} user={user} dbname=postgres", self.dir.display())
    }

    /// A superuser connection.
    pub fn connect(&self) -> Client {
        self.connect_as("postgres")
    }

    pub fn connect_as(&self, user: &str) -> Client {
        Client::connect(&self.conn_string(user), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect as {user}: {e}"))
    }

    /// A connection as `user` whose notices and warnings (RAISE NOTICE, RAISE WARNING) are
    /// collected, in order.
    pub fn connect_with_notices(
        &self,
        user: &str,
    ) -> (Client, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = notices.clone();
        let client = <postgres::Config as std::str::FromStr>::from_str(&self.conn_string(user))
            .expect("connection string")
            .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_owned()))
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect as {user}: {e}"));
        (client, notices)
    }

    /// Starts a worker logged in as `WORKER_ROLE`; `args` are extra command line flags.
    pub fn worker(&self, name: &str, args: &[&str]) -> Worker {
        let mut cmd = self.worker_command(name);
        cmd.arg("--database-url")
            .arg(self.conn_string(WORKER_ROLE))
            .args(args);
        self.start_worker(name, &mut cmd)
    }

    /// A worker's command line without any connection flag, for tests that give their own.
    pub fn worker_command(&self, name: &str) -> Command {
        let mut cmd = Command::new(worker_bin());
        cmd.args(["--name", name, "--work-dir"])
            .arg(self.dir.join("work"))
            .env("RUST_LOG", "info");
        cmd
    }

    /// Spawns `cmd` (see `worker_command`) and waits for the worker to register.
    pub fn start_worker(&self, name: &str, cmd: &mut Command) -> Worker {
        self.start_worker_in(&self.conn_string("postgres"), name, cmd)
    }

    /// As `start_worker`, for a worker of the database that `url` connects to.
    pub fn start_worker_in(&self, url: &str, name: &str, cmd: &mut Command) -> Worker {
        let log =
            std::fs::File::create(self.dir.join(format!("worker-{name}.log"))).expect("worker log");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", worker_bin().display()));
        let worker = Worker {
            child,
            name: name.to_owned(),
        };
        let mut db =
            Client::connect(url, postgres::NoTls).expect("connect to watch the worker register");
        wait_for(
            Duration::from_secs(30),
            &format!("worker {name} to register"),
            || {
                let row = db
                    .query_opt(
                        "SELECT id FROM sched.worker WHERE name = $1 AND alive",
                        &[&name],
                    )
                    .unwrap();
                row.map(|_| ())
            },
        );
        worker
    }

    /// Stops the server at once, as a crash or a lost network would look to clients.
    pub fn stop_server(&self) {
        run_ok(
            as_postgres(pg_bin().join("pg_ctl"))
                .args(["-m", "immediate", "-w", "-D"])
                .arg(self.dir.join("data"))
                .arg("stop"),
        );
    }

    /// Starts the server (again, after `stop_server`).
    pub fn start_server(&self) {
        start_server_in(&self.dir, &self.env);
    }

    /// Runs the `sched` command line as `user` against this cluster.
    pub fn sched(&self, user: &str, args: &[&str]) -> Output {
        Command::new(sched_bin())
            .arg("--database-url")
            .arg(self.conn_string(user))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run sched (make install builds it)")
    }

    /// Runs `sched` and expects this exit code; returns its stdout.
    pub fn sched_expect(&self, user: &str, args: &[&str], code: i32) -> String {
        let out = self.sched(user, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "sched {args:?}\nstdout: {}\nstderr: {}",
            lossy(&out.stdout),
            lossy(&out.stderr)
        );
        lossy(&out.stdout)
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        discard_server(&self.dir);
    }
}

/// Starts the server whose data and log are under `dir`, with `env` in its environment.
pub(crate) fn start_server_in(dir: &Path, env: &[(String, String)]) {
    run_ok(
        as_postgres(pg_bin().join("pg_ctl"))
            .args(["-w", "-t", "60", "-D"])
            .arg(dir.join("data"))
            .arg("-l")
            .arg(dir.join("server.log"))
            .arg("start")
            .envs(env.iter().map(|(k, v)| (k, v))),
    );
}

/// Stops the server under `dir` at once and removes it, unless a test failed: then it is kept
/// for its logs.
pub(crate) fn discard_server(dir: &Path) {
    let _ = as_postgres(pg_bin().join("pg_ctl"))
        .args(["-m", "immediate", "-D"])
        .arg(dir.join("data"))
        .arg("stop")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !std::thread::panicking() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

pub struct Worker {
    pub child: Child,
    pub name: String,
}

impl Worker {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Waits for the process to exit and returns its status.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = &mut self.child;
        wait_for(limit, "the worker to exit", || child.try_wait().unwrap())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn as_postgres(program: PathBuf) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", "postgres", "--"]).arg(program);
    cmd
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Defines a workflow from a JSON spec text; returns the version id.
pub fn define(db: &mut Client, spec: &str) -> i64 {
    let spec: serde_json::Value = serde_json::from_str(spec).expect("test spec is JSON");
    db.query_one("SELECT sched.create_workflow($1)", &[&spec])
        .expect("create_workflow")
        .get(0)
}

/// The output lines (up to 100,000 per attempt) of every attempt of `task` in `instance`, in
/// order.
pub fn task_output(db: &mut Client, instance: i64, task: &str) -> Vec<String> {
    db.query(
        "SELECT l FROM sched.task_instances ti, sched.task_log(ti.id, 0, 100000) WITH ORDINALITY AS t(l, n)
         WHERE ti.workflow_instance_id = $1 AND ti.task = $2 ORDER BY ti.id, t.n",
        &[&instance, &task],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// A task's stdout lines, in order. Lines of stdout and stderr are numbered as the worker
/// reads them, so their relative order is only as good as the pipes': a test that asserts
/// the order of a script's lines reads one stream.
pub fn task_stdout(db: &mut Client, instance: i64, task: &str) -> Vec<String> {
    db.query(
        "SELECT l.line FROM sched.task_instances ti, sched.task_log_lines(ti.id, 0, 100000) l
         WHERE ti.workflow_instance_id = $1 AND ti.task = $2 AND l.stream = 'out' ORDER BY ti.id, l.line_no",
        &[&instance, &task],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

pub fn start(db: &mut Client, name: &str) -> i64 {
    db.query_one("SELECT sched.start_workflow($1)", &[&name])
        .expect("start_workflow")
        .get(0)
}

/// Waits (via sched.wait_workflow) and returns the final state.
pub fn wait(db: &mut Client, instance: i64, limit_s: i32) -> String {
    db.query_one(
        "SELECT sched.wait_workflow($1, make_interval(secs => $2))",
        &[&instance, &(limit_s as f64)],
    )
    .expect("wait_workflow")
    .get(0)
}

/// State of every task of an instance, by task name, latest attempt last.
pub fn task_states(db: &mut Client, instance: i64) -> Vec<(String, String, i32)> {
    db.query(
        "SELECT task, state, attempt FROM sched.task_instances WHERE workflow_instance_id = $1 ORDER BY task, attempt",
        &[&instance],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// The id of the instance's attempt that is running, once one is (within 30 s).
pub fn running_attempt(db: &mut Client, instance: i64) -> i64 {
    wait_for(Duration::from_secs(30), "a task to run", || {
        db.query_opt(
            "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1 AND state = 'running'",
            &[&instance],
        )
        .unwrap()
        .map(|r| r.get(0))
    })
}

/// Whether a process runs whose command line starts with `prefix` and a space (a task's
/// `exec -a <prefix> ...`).
pub fn process_runs(prefix: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", &format!("^{prefix} ")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Waits until the master's first maintenance made today's partition of the attempts'
/// history: a test that archives attempts itself (`sched._archive_finished`) before then races
/// the partition's creation, and its insert into the default partition can fail.
pub fn wait_history_partition(db: &mut Client) {
    wait_for(
        Duration::from_secs(30),
        "the master to make today's history partition",
        || {
            db.query_one(
                "SELECT to_regclass('sched.task_instance_history_' || to_char((now() AT TIME ZONE 'UTC')::date, 'YYYYMMDD'))::text",
                &[],
            )
            .unwrap()
            .get::<_, Option<String>>(0)
            .map(|_| ())
        },
    );
}

pub fn instance_state(db: &mut Client, instance: i64) -> String {
    db.query_one(
        "SELECT state::text FROM sched.workflow_instance WHERE id = $1",
        &[&instance],
    )
    .unwrap()
    .get(0)
}

/// The message of a failed statement (panics if it succeeded).
pub fn error_of<T: std::fmt::Debug>(result: Result<T, postgres::Error>) -> String {
    let err = result.expect_err("statement should have failed");
    match err.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => err.to_string(),
    }
}

/// Resident memory of a process in kB (0 once it is gone).
pub fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A TCP proxy to a cluster's socket that can stop forwarding without closing anything, as a
/// network that silently drops packets would.
pub struct Proxy {
    pub port: u16,
    blackhole: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    pub fn start(cluster: &Cluster) -> Proxy {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let socket = cluster.dir.join(".s.PGSQL.5432");
        let blackhole = Arc::new(AtomicBool::new(false));
        let hole = blackhole.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let (Ok(client), Ok(server)) =
                    (client, std::os::unix::net::UnixStream::connect(&socket))
                else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (h1, h2) = (hole.clone(), hole.clone());
                std::thread::spawn(move || pump(client, server, h1));
                std::thread::spawn(move || pump(s2, c2, h2));
            }
        });
        Proxy { port, blackhole }
    }

    /// From now on nothing gets through in either direction, and nothing is closed.
    pub fn blackhole(&self) {
        self.blackhole.store(true, Ordering::SeqCst);
    }

    /// Forwarding resumes, with whatever was held back.
    pub fn restore(&self) {
        self.blackhole.store(false, Ordering::SeqCst);
    }
}

fn pump(
    mut from: impl std::io::Read,
    mut to: impl std::io::Write,
    blackhole: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        while blackhole.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// The process id a task wrote to `file`, once it has (within 30 s).
pub fn pid_written_to(file: &Path) -> i32 {
    wait_for(
        Duration::from_secs(30),
        &format!("a task to write its child's pid to {}", file.display()),
        || {
            std::fs::read_to_string(file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        },
    )
}

/// Waits (up to 10 s) until no process has id `pid`.
pub fn wait_gone(pid: i32) {
    wait_for(
        Duration::from_secs(10),
        &format!("process {pid} to be gone"),
        || {
            // SAFETY: signal 0 only checks for existence.
            (unsafe { libc::kill(pid, 0) } != 0).then_some(())
        },
    );
}

/// A `hadoop` that prints each argument it was given between brackets, one per line: no
/// Hadoop distribution can be installed here, and the point is the exact command line.
pub fn recording_hadoop(cluster: &Cluster) -> String {
    let bin = cluster.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let hadoop = bin.join("hadoop");
    std::fs::write(&hadoop, "#!/bin/sh\nprintf '[%s]\\n' \"$@\"\n").unwrap();
    std::fs::set_permissions(&hadoop, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

/// The Spark installation of `make setup`'s PySpark virtualenv.
pub fn spark_home() -> String {
    let venv = std::env::var("SCHED_SPARK_VENV").unwrap_or_else(|_| "/opt/sched-spark".into());
    let out = std::process::Command::new(format!("{venv}/bin/python"))
        .args([
            "-c",
            "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        ])
        .output()
        .expect("the PySpark virtualenv of make setup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A real MariaDB server (Debian's mariadb-server), in a directory of its own, listening on
/// a free local port; root over its socket, and a database `shop` for user `etl`, whose
/// password is `password`.
pub struct MariaDb {
    pub dir: PathBuf,
    pub port: u16,
    child: Child,
}

impl MariaDb {
    pub const PASSWORD: &str = "etl-secret-pw";

    pub fn start(under: &Path) -> MariaDb {
        let dir = under.join("mariadb");
        let data = dir.join("data");
        std::fs::create_dir_all(&dir).unwrap();
        run_ok(Command::new("mariadb-install-db").args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            &format!("--datadir={}", data.display()),
        ]));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let child = Command::new("mariadbd")
            .args([
                "--no-defaults",
                "--user=root",
                &format!("--datadir={}", data.display()),
                &format!("--socket={}", dir.join("sock").display()),
                &format!("--port={port}"),
                "--bind-address=127.0.0.1",
                &format!("--pid-file={}", dir.join("pid").display()),
                "--innodb-buffer-pool-size=16M",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mariadbd");
        let server = MariaDb { dir, port, child };
        wait_for(
            Duration::from_secs(60),
            "MariaDB to accept connections",
            || server.sql("SELECT 1").is_ok().then_some(()),
        );
        server
            .sql(&format!(
                "CREATE DATABASE shop; CREATE USER etl@'%' IDENTIFIED BY '{}'; GRANT ALL ON shop.* TO etl@'%';",
                Self::PASSWORD
            ))
            .expect("create the etl user");
        server
    }

    /// Runs statements as root with the mariadb client; its output on success.
    pub fn sql(&self, statements: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .args([
                "--no-defaults",
                "-uroot",
                &format!("--socket={}", self.dir.join("sock").display()),
                "-N",
                "-B",
                "-e",
                statements,
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command types recorded for an instance, in order.
pub fn commands(db: &mut Client, instance: i64) -> Vec<String> {
    db.query(
        "SELECT command_type FROM sched.commands WHERE workflow_instance_id = $1 ORDER BY id",
        &[&instance],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Waits until `n` attempts of the instance are running.
pub fn wait_running(db: &mut Client, instance: i64, n: i64) {
    wait_for(
        Duration::from_secs(60),
        &format!("{n} running attempts of instance {instance}"),
        || {
            let running: i64 = db
            .query_one(
                "SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1 AND state = 'running'",
                &[&instance],
            )
            .unwrap()
            .get(0);
            (running == n).then_some(())
        },
    );
}

/// A running sched-console for a cluster, on a free loopback port; killed when dropped. Its
/// standard error is in `log`.
pub struct Console {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub log: PathBuf,
    child: std::process::Child,
}

impl Console {
    pub fn start(cluster: &Cluster) -> Console {
        Console::start_with(cluster, &[])
    }

    /// A console with extra command line flags.
    pub fn start_with(cluster: &Cluster, args: &[&str]) -> Console {
        Console::start_at(
            cluster,
            &format!("host={} dbname=postgres", cluster.dir.display()),
            args,
        )
    }

    /// A console of the database `url` names (its log in `cluster`'s directory).
    pub fn start_at(cluster: &Cluster, url: &str, args: &[&str]) -> Console {
        let (addr, log, mut cmd) = Console::command(cluster, url, args);
        let mut child = cmd
            .spawn()
            .expect("start sched-console (make install builds it)");
        wait_for(Duration::from_secs(30), "the console to listen", || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "sched-console exited ({status}) instead of listening:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::net::TcpStream::connect(addr).ok()
        });
        Console {
            base: format!("http://{addr}"),
            addr,
            log,
            child,
        }
    }

    /// Runs a console that must refuse to start: it exits unsuccessfully (within 30 s) and
    /// without ever listening; returns what it wrote to standard error.
    pub fn refused(cluster: &Cluster, args: &[&str]) -> String {
        let url = format!("host={} dbname=postgres", cluster.dir.display());
        let (addr, log, mut cmd) = Console::command(cluster, &url, args);
        // Held as a Console, so that one that does start is killed when the test fails.
        let mut console = Console {
            base: format!("http://{addr}"),
            addr,
            log,
            child: cmd
                .spawn()
                .expect("start sched-console (make install builds it)"),
        };
        let status = wait_for(Duration::from_secs(30), "the console to exit", || {
            console.child.try_wait().unwrap()
        });
        let stderr = console.log();
        assert!(
            !status.success(),
            "sched-console should have refused to start: {status}\n{stderr}"
        );
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "sched-console listened on {addr} before refusing to start"
        );
        stderr
    }

    fn command(
        cluster: &Cluster,
        url: &str,
        args: &[&str],
    ) -> (std::net::SocketAddr, PathBuf, Command) {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let log = cluster.dir.join(format!("console-{}.log", addr.port()));
        let mut cmd = Command::new(console_bin());
        cmd.args(["--listen", &addr.to_string(), "--database-url", url])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("console log"));
        (addr, log, cmd)
    }

    /// What the console wrote to standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes the cluster verify passwords, as the console requires, for every role but
/// `postgres` and the workers' role, which stay trusted on the socket (the other tests' way
/// in).
pub fn require_passwords(cluster: &Cluster) {
    set_hba(
        cluster,
        &[
            "local all postgres trust",
            &format!("local all {WORKER_ROLE} trust"),
            "local all all scram-sha-256",
        ],
    );
}

/// Replaces the cluster's pg_hba.conf with `lines` (which must keep `postgres` able to
/// connect) and waits until the server has loaded it: a new connection reports a
/// configuration load time after the reload was asked for.
pub fn set_hba(cluster: &Cluster, lines: &[&str]) {
    let mut db = cluster.connect();
    let load_time = "SELECT pg_conf_load_time()::text";
    let before: String = db.query_one(load_time, &[]).unwrap().get(0);
    std::fs::write(
        cluster.dir.join("data/pg_hba.conf"),
        lines.join("\n") + "\n",
    )
    .expect("write pg_hba.conf");
    db.execute("SELECT pg_reload_conf()", &[]).unwrap();
    wait_for(
        Duration::from_secs(30),
        "PostgreSQL to load the new pg_hba.conf",
        || {
            let now: String = cluster.connect().query_one(load_time, &[]).unwrap().get(0);
            (now != before).then_some(())
        },
    );
}

/// A connection as `user` with its password (for roles `require_passwords` left no other
/// way in).
pub fn connect_with_password(cluster: &Cluster, user: &str, password: &str) -> Client {
    Client::connect(
        &format!("{} password={password}", cluster.conn_string(user)),
        postgres::NoTls,
    )
    .unwrap_or_else(|e| panic!("connect as {user} with a password: {e}"))
}

/// Output bytes as text, invalid UTF-8 replaced.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// aiosmtpd, storing what it receives in a maildir; its handler adds X-RcptTo.
pub struct Smtp {
    pub port: u16,
    pub maildir: PathBuf,
    child: Child,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Smtp {
    pub fn start(dir: &Path) -> Smtp {
        let venv = std::env::var("SCHED_SMTP_VENV").unwrap_or_else(|_| "/opt/sched-smtp".into());
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new(format!("{venv}/bin/python"))
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (scripts/setup.sh installs it)");
        wait_for(Duration::from_secs(30), "aiosmtpd to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Smtp {
            port,
            maildir,
            child,
        }
    }

    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
    }

    pub fn wait_messages(&self, n: usize) -> Vec<Vec<u8>> {
        wait_for(Duration::from_secs(60), &format!("{n} emails"), || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
