//! Running one claimed task. Each kind of execution is a module behind [`Execution`]: a
//! process (`process`), statements on the scheduler's database as the workflow's owner
//! (`in_database`), statements on a datasource of the worker's configuration
//! (`datasource`). Which one a task type uses is core's task-type table (`Runs`); adding a
//! type is an entry there plus, at most, a module here.

mod datasource;
mod in_database;
mod process;
mod sql;

use std::sync::Arc;
use std::sync::atomic::AtomicI32;
use std::time::SystemTime;

use deadpool_postgres::Pool;
use sched_core::Runs;
use tokio::sync::Notify;

pub use process::{find_python, set_spark_home};

use crate::datasources::Datasources;
use crate::out_params::OutParams;
use crate::protocol::{Claimed, Lease, Outcome};
use crate::reporter::Reports;

/// Exit code reported when the task could not be started.
pub const EXIT_NOT_STARTED: i32 = 127;
/// Exit code shown for a task this worker killed for its timeout, as timeout(1) reports it.
pub const EXIT_TIMED_OUT: i32 = 124;
/// Between SIGTERM and SIGKILL when a process task times out.
pub const TIMEOUT_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The timeout this worker enforces for a task: its `after`, when its strategy kills
/// (`fail`, `warn_fail`); `warn` is the master's alone.
pub fn enforced_timeout(settings: &serde_json::Value) -> Option<(std::time::Duration, String)> {
    let timeout = settings.get("timeout")?;
    let strategy = timeout.get("strategy")?.as_str()?;
    if !matches!(strategy, "fail" | "warn_fail") {
        return None;
    }
    let after = timeout.get("after")?.as_str()?;
    let seconds = sched_core::parse_duration(after).ok()?;
    Some((
        std::time::Duration::from_secs_f64(seconds),
        after.to_owned(),
    ))
}

/// What every execution may use.
pub struct Context {
    pub work_dir: Arc<crate::workdir::WorkDir>,
    pub reports: Reports,
    pub pool: Pool,
    /// For the connection a task on the scheduler's database holds while it runs.
    pub database: tokio_postgres::Config,
    pub datasources: Arc<Datasources>,
}

/// A kind of execution: starts a claimed task, whose outcome it reports through
/// `context.reports` when the task ends.
pub trait Execution {
    fn start(&self, task: &Claimed, context: &Context) -> Started;
}

/// A started task: how to stop it, if it is running; `handed_back` says why this worker
/// could not start it (the task goes back to the queue, the worker backs off).
pub struct Started {
    pub stop: Option<Stop>,
    pub handed_back: Option<String>,
}

/// How a running task is killed.
#[derive(Clone)]
pub enum Stop {
    /// Its process group, 0 once the process has been reaped (its id may then belong to
    /// someone else).
    ProcessGroup(Arc<AtomicI32>),
    /// Statements: the execution cancels them when notified.
    Cancel(Arc<Notify>),
}

impl Stop {
    pub fn stop(&self) {
        match self {
            Stop::ProcessGroup(group) => process::kill(group),
            Stop::Cancel(cancel) => cancel.notify_one(),
        }
    }
}

pub fn start(task: &Claimed, context: &Context) -> Started {
    let lease = task.lease();
    // The claim refused what the task names (a datasource its owner may not use).
    if let Some(why) = task.settings.get("refused").and_then(|e| e.as_str()) {
        return not_started(&context.reports, lease, why.to_owned());
    }
    // A parameter that could only be resolved when the task was claimed, and failed.
    if let Some(why) = task.settings.get("resolve_error").and_then(|e| e.as_str()) {
        return not_started(
            &context.reports,
            lease,
            format!("cannot resolve parameters: {why}"),
        );
    }
    let runs = match sched_core::TASK_TYPES
        .iter()
        .find(|t| t.name == task.task_type)
    {
        Some(builtin) => builtin.runs,
        None if task.settings.get("command_type").is_some() => Runs::Process,
        // Only reachable when the database knows a type this worker binary does not.
        None => {
            return not_started(
                &context.reports,
                lease,
                format!(
                    "version {} does not support task type \"{}\"",
                    env!("CARGO_PKG_VERSION"),
                    task.task_type
                ),
            );
        }
    };
    match runs {
        Runs::Nothing => {
            let outs = match OutParams::of(&task.settings) {
                Ok(outs) => outs,
                Err(why) => return not_started(&context.reports, lease, why),
            };
            let (exit_code, out_params, why) = exported(outs.as_ref(), 0);
            finish_with(&context.reports, lease, exit_code, why, out_params);
            Started {
                stop: None,
                handed_back: None,
            }
        }
        Runs::Process => process::Process.start(task, context),
        Runs::Sql if task.settings.get("datasource").is_some() => {
            datasource::Datasource.start(task, context)
        }
        Runs::Sql => in_database::InDatabase.start(task, context),
        // The scheduler never queues these; a claim of one means a database this worker
        // does not match.
        Runs::Scheduler => not_started(
            &context.reports,
            lease,
            format!(
                "task type \"{}\" runs in the scheduler, not on workers",
                task.task_type
            ),
        ),
    }
}

/// Fails a task that cannot run as specified (a tenant this host lacks, a type this worker
/// does not know), with the reason as its only log line.
fn not_started(reports: &Reports, lease: Lease, why: String) -> Started {
    finish_with(
        reports,
        lease,
        EXIT_NOT_STARTED,
        Some(format!("sched-worker: {why}")),
        None,
    );
    Started {
        stop: None,
        handed_back: None,
    }
}

/// Hands back a task this worker could not start for a reason of its own (its task directory
/// or the process could not be created): another worker may well run it.
fn hand_back(reports: &Reports, lease: Lease, why: String) -> Started {
    reports.handed_back(lease);
    Started {
        stop: None,
        handed_back: Some(why),
    }
}

/// Reports a task that ran nothing (or could not start, saying why): it started and ended now.
fn finish_with(
    reports: &Reports,
    lease: Lease,
    exit_code: i32,
    why: Option<String>,
    out_params: Option<serde_json::Value>,
) {
    let at = SystemTime::now();
    reports.finished(Outcome {
        lease,
        kind: crate::protocol::exit_kind(exit_code),
        exit_code,
        started: at,
        ended: at,
        last_line: why.map(|text| (1, text)),
        handed_back: false,
        out_params,
    });
}

/// The OUT params a task exports as it ends with `exit_code`. A printed value that does not
/// fit its declared type fails a task that succeeded otherwise, saying why in its log.
fn exported(
    outs: Option<&OutParams>,
    exit_code: i32,
) -> (i32, Option<serde_json::Value>, Option<String>) {
    match outs.map(OutParams::export) {
        None => (exit_code, None, None),
        Some(Ok(values)) => (exit_code, Some(values), None),
        Some(Err(why)) => (
            if exit_code == 0 { 1 } else { exit_code },
            None,
            Some(format!("sched-worker: {why}")),
        ),
    }
}
