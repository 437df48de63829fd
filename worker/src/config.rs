//! Command line and environment settings of a worker.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

pub const POLL_INTERVAL_DEFAULT_MS: u64 = 5_000;
pub const SHUTDOWN_GRACE_DEFAULT_S: u64 = 30;

/// sched-worker claims task instances from a pg_sched database and runs them.
#[derive(Debug, Parser)]
#[command(name = "sched-worker", version, about)]
pub struct Config {
    /// PostgreSQL connection string (key=value or postgres:// URL). The role needs only
    /// membership in sched_worker. Several hosts with target_session_attrs=read-write follow
    /// a failover. A password here is visible to every local user in the process list: put
    /// it in --database-url-file instead.
    #[arg(
        long,
        env = "SCHED_DATABASE_URL",
        required_unless_present = "database_url_file",
        conflicts_with = "database_url_file"
    )]
    pub database_url: Option<String>,

    /// File holding the connection string, readable by the worker's user only (mode 0600).
    #[arg(long, env = "SCHED_DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,

    /// Worker name, unique among live workers [default: <host name>-<pid>].
    #[arg(long)]
    pub name: Option<String>,

    /// Worker group to serve; repeat for several [default: default, or none with --alerts].
    #[arg(long = "group")]
    pub groups: Vec<String>,

    /// Tasks run at once at most [default: number of CPUs].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub slots: Option<u32>,

    /// On SIGTERM, seconds running tasks get to finish before they are killed.
    #[arg(long, default_value_t = SHUTDOWN_GRACE_DEFAULT_S)]
    pub shutdown_grace: u64,

    /// Milliseconds between fallback polls for ready tasks (NOTIFY normally wakes the worker).
    #[arg(long, default_value_t = POLL_INTERVAL_DEFAULT_MS, value_parser = clap::value_parser!(u64).range(10..))]
    pub poll_interval_ms: u64,

    /// Python interpreter of python tasks: a path, or a name looked up on PATH.
    #[arg(long, env = "SCHED_PYTHON", default_value = "python3")]
    pub python: PathBuf,

    /// Spark installation whose bin/spark-submit and bin/spark-sql spark tasks run (tasks
    /// get it as SPARK_HOME); without it they find them on PATH.
    #[arg(long, env = "SPARK_HOME")]
    pub spark_home: Option<PathBuf>,

    /// JSON file naming the datasources sql and procedure tasks may use on this worker:
    /// {"name": {"kind": "postgresql"|"mysql", "url": ..., "password_file": ...}}.
    #[arg(long, env = "SCHED_DATASOURCES")]
    pub datasources: Option<PathBuf>,

    /// Deliver alerts, with the SMTP server, credentials, sender and webhook endpoints of this
    /// JSON file (mode 0600): {"smtp": {"host", "port", "tls", "user", "password", "from"},
    /// "webhooks": {name: {"url", "headers"}}, "allowed_urls": [prefix, ...],
    /// "script_timeout_s"}. Without --group the worker then runs no tasks.
    #[arg(long, env = "SCHED_ALERTS")]
    pub alerts: Option<PathBuf>,

    /// OS user that tasks without a tenant run as when the worker runs as root (never root
    /// itself); a worker of another user runs them as its own user.
    #[arg(long, env = "SCHED_DEFAULT_TENANT")]
    pub default_tenant: Option<String>,

    /// Directory under which each task gets its own working directory; it must belong to the
    /// worker's user and be writable by nobody else [default: /var/lib/sched-worker as root,
    /// else $XDG_STATE_HOME/sched-worker or ~/.local/state/sched-worker].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,

    /// Serve Prometheus metrics over HTTP at this address (ADDR:PORT, path /metrics); off
    /// when not given. Anyone who can reach it can read them: keep it on loopback or an
    /// internal network.
    #[arg(long, env = "SCHED_METRICS_LISTEN", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
}

pub const DEFAULT_TENANT: &str = "nobody";

impl Config {
    /// The connection string, from the command line or from --database-url-file.
    pub fn database_url(&self) -> Result<String, String> {
        let Some(path) = &self.database_url_file else {
            return Ok(self.database_url.clone().unwrap_or_default());
        };
        let shown = path.display();
        let meta =
            std::fs::metadata(path).map_err(|e| format!("--database-url-file {shown}: {e}"))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "--database-url-file {shown} is readable by others (mode {mode:04o}); \
                 run chmod 600 on it: it holds the database password"
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--database-url-file {shown}: {e}"))?;
        let url = text.trim();
        if url.is_empty() {
            return Err(format!("--database-url-file {shown} is empty"));
        }
        Ok(url.to_owned())
    }

    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", host_name(), std::process::id()))
    }

    pub fn slots(&self) -> usize {
        self.slots.map(|s| s as usize).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    /// The groups this worker serves. A worker named to deliver alerts serves none unless
    /// told: its alert file holds secrets (SMTP and webhook credentials), which the tasks it
    /// would otherwise run could reach.
    pub fn groups(&self) -> Vec<String> {
        if !self.groups.is_empty() || self.alerts.is_some() {
            return self.groups.clone();
        }
        vec!["default".to_owned()]
    }

    /// `--work-dir`, or the default for the worker's user: never a world-writable place such
    /// as /tmp, where another local user could create it first and plant task directories.
    pub fn work_dir(&self) -> Result<PathBuf, String> {
        if let Some(dir) = &self.work_dir {
            return Ok(dir.clone());
        }
        if crate::os::euid() == 0 {
            return Ok(PathBuf::from("/var/lib/sched-worker"));
        }
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|home| home.join(".local/state"))
            })
            .ok_or(
                "--work-dir: required, as neither XDG_STATE_HOME nor HOME is set to an absolute path",
            )?;
        Ok(state.join("sched-worker"))
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
