//! What the worker and the scheduler's database exchange through the worker protocol
//! (`sql/5_protocol/worker.sql`): a claimed task and its lease, the outcome reported for it, the
//! stream of a log line, a claimed alert delivery. The database calls (`db`), the reporter and
//! the executors all speak in these types, so they live below all three.

use std::time::SystemTime;

pub(crate) use sched_core::state::Outcome as OutcomeKind;

/// What a worker must present with every report: the attempt and the registration that
/// claimed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Lease {
    pub task_instance_id: i64,
    pub worker_id: i64,
}

/// A claimed task, with the lease (task instance id + worker id) to present when reporting.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub task_instance_id: i64,
    pub workflow_instance_id: i64,
    pub task_name: String,
    pub task_type: String,
    pub settings: serde_json::Value,
    /// OS user to run the task as; `None` runs it as the worker's user.
    pub tenant: Option<String>,
    pub worker_id: i64,
}

impl Claimed {
    pub(crate) fn lease(&self) -> Lease {
        Lease {
            task_instance_id: self.task_instance_id,
            worker_id: self.worker_id,
        }
    }
}

/// Which of a task's outputs a line came from. The worker's own lines about an attempt (why
/// it did not start, a timeout, dropped output, a SQL error) are `Err`, as a program's
/// diagnostics would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Out,
    Err,
}

impl Stream {
    /// As sched.task_log_line.stream stores it.
    pub(crate) fn as_sql(self) -> &'static str {
        match self {
            Stream::Out => "out",
            Stream::Err => "err",
        }
    }
}

/// How a task attempt ended, by the worker's clock.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub lease: Lease,
    /// What the attempt becomes: the worker says so, the database does not read exit codes.
    pub kind: OutcomeKind,
    /// Shown with the attempt: the process's exit code (128 + the signal that ended it).
    pub exit_code: i32,
    pub started: SystemTime,
    pub ended: SystemTime,
    /// A last log line (number, text) to store, as stream err, before the completion: why the
    /// task did not start, or how much output was dropped.
    pub last_line: Option<(i32, String)>,
    /// This worker could not start it: it goes back to the queue instead of completing.
    pub handed_back: bool,
    /// The declared OUT params as exported; `None` when the task declares none.
    pub out_params: Option<serde_json::Value>,
}

/// Exit code of a task that was killed (SIGKILL's 128 + 9).
pub(crate) const EXIT_KILLED: i32 = 137;

/// How a process's exit code reads, as DolphinScheduler reads it: 0 succeeded, 137 (SIGKILL's
/// 128 + 9: a kill request, a stop, the worker's shutdown) killed, anything else failed. A
/// process this worker killed for its timeout is `TimedOut`, whatever its code.
pub(crate) fn exit_kind(exit_code: i32) -> OutcomeKind {
    match exit_code {
        0 => OutcomeKind::Succeeded,
        EXIT_KILLED => OutcomeKind::Killed,
        _ => OutcomeKind::Failed,
    }
}

/// An alert delivery claimed for this worker: the alert, and the channel to send it to.
#[derive(Debug, Clone)]
pub(crate) struct ClaimedAlert {
    pub alert_id: i64,
    pub channel_no: i32,
    pub channel: serde_json::Value,
    pub attempt: i32,
    pub event: String,
    pub workflow_instance_id: i64,
    pub task_instance_id: Option<i64>,
    pub title: String,
    pub message: String,
    pub details: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
