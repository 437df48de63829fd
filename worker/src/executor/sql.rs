//! What the two SQL executions share: running the work until it ends or is killed, then the
//! log, the stored result, the OUT values and the outcome, in that order.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_postgres::{CancelToken, NoTls};

use super::{Started, Stop};
use crate::db;
use crate::protocol::EXIT_KILLED;
use crate::protocol::{Claimed, Lease, Outcome, OutcomeKind, Stream};
use crate::reporter::Reports;

/// What running a task's statements gave.
#[derive(Debug, Default)]
pub struct SqlResult {
    /// A line per statement (what it did), in order.
    pub log: Vec<String>,
    /// The kept statement's result: column names and the rows kept, values as text.
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    pub row_count: u64,
    pub truncated: bool,
    /// Whether a statement's result was kept (a query, or a procedure's out values).
    pub kept: bool,
    pub error: Option<String>,
}

impl SqlResult {
    pub fn failed(why: impl Into<String>) -> SqlResult {
        SqlResult {
            error: Some(why.into()),
            ..SqlResult::default()
        }
    }

    /// Reads the JSON that `sched.run_sql_task` returns.
    pub fn from_json(value: &Value) -> SqlResult {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .map(|s| s.as_str().unwrap_or_default().to_owned())
                .collect()
        };
        let rows: Vec<Vec<Option<String>>> = value["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                row.as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .collect();
        let columns = strings(&value["columns"]);
        SqlResult {
            log: strings(&value["log"]),
            kept: !columns.is_empty(),
            columns,
            rows,
            row_count: value["row_count"].as_u64().unwrap_or(0),
            truncated: value["truncated"].as_bool().unwrap_or(false),
            error: value["error"].as_str().map(str::to_owned),
        }
    }

    /// Bounds the kept rows to the task's `limit_rows`.
    pub fn limit(&mut self, limit: usize) {
        if self.rows.len() > limit {
            self.rows.truncate(limit);
            self.truncated = true;
        }
    }
}

/// The cancel token of a PostgreSQL connection running a task's statements, once connected:
/// a kill sends the server a cancel request for them.
#[derive(Clone, Default)]
pub struct Cancel(Arc<Mutex<Option<CancelToken>>>);

impl Cancel {
    pub fn set(&self, token: CancelToken) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
    }

    pub fn cancel(&self) {
        if let Some(token) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            tokio::spawn(async move {
                let _ = token.cancel_query(NoTls).await;
            });
        }
    }
}

/// The task's `limit_rows`, or the default.
pub fn limit_rows(settings: &Value) -> usize {
    settings
        .get("limit_rows")
        .and_then(Value::as_i64)
        .unwrap_or(sched_core::sql::DEFAULT_LIMIT_ROWS)
        .max(0) as usize
}

/// Runs `work` on the event loop: a kill cancels it (through `on_kill`, then by dropping
/// it); whatever it gave is reported.
pub fn spawn<W, K>(
    task: &Claimed,
    pool: deadpool_postgres::Pool,
    reports: Reports,
    work: W,
    on_kill: K,
) -> Started
where
    W: Future<Output = SqlResult> + Send + 'static,
    K: FnOnce() + Send + 'static,
{
    let cancel = Arc::new(Notify::new());
    let killed = cancel.clone();
    let lease = task.lease();
    let task_type = task.task_type.clone();
    let settings = task.settings.clone();
    let timeout = super::enforced_timeout(&settings);
    tokio::spawn(async move {
        let started = SystemTime::now();
        let deadline = timeout
            .as_ref()
            .map(|(after, _)| tokio::time::Instant::now() + *after);
        let result = tokio::select! {
            result = work => Ok(result),
            () = killed.notified() => Err(EXIT_KILLED),
            () = crate::timer::until(deadline) => Err(super::EXIT_TIMED_OUT),
        };
        let ended = SystemTime::now();
        match result {
            Err(exit_code) => {
                on_kill();
                let why = if exit_code == EXIT_KILLED {
                    "killed".to_owned()
                } else {
                    let after = timeout.map(|(_, after)| after).unwrap_or_default();
                    format!("sched-worker: timed out after {after}; the statement was cancelled")
                };
                finish(
                    &reports,
                    lease,
                    exit_code,
                    started,
                    ended,
                    1,
                    Some(why),
                    None,
                );
            }
            Ok(result) => {
                report(
                    &pool, &reports, lease, &task_type, &settings, result, started, ended,
                )
                .await
            }
        }
    });
    Started {
        stop: Some(Stop::Cancel(cancel)),
        handed_back: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    reports: &Reports,
    lease: Lease,
    exit_code: i32,
    started: SystemTime,
    ended: SystemTime,
    line_no: i32,
    last_line: Option<String>,
    out_params: Option<Value>,
) {
    reports.finished(Outcome {
        lease,
        kind: match exit_code {
            super::EXIT_TIMED_OUT => OutcomeKind::TimedOut,
            code => crate::protocol::exit_kind(code),
        },
        exit_code,
        started,
        ended,
        last_line: last_line.map(|text| (line_no, text)),
        handed_back: false,
        out_params,
    });
}

#[allow(clippy::too_many_arguments)]
async fn report(
    pool: &deadpool_postgres::Pool,
    reports: &Reports,
    lease: Lease,
    task_type: &str,
    settings: &Value,
    mut result: SqlResult,
    started: SystemTime,
    ended: SystemTime,
) {
    let mut line_no = 0;
    for line in std::mem::take(&mut result.log) {
        line_no += 1;
        reports.line(lease, line_no, line, Stream::Out).await;
    }
    if let Some(error) = result.error {
        finish(
            reports,
            lease,
            1,
            started,
            ended,
            line_no + 1,
            Some(format!("ERROR: {error}")),
            None,
        );
        return;
    }
    let out_params =
        sched_core::sql::task_out(task_type, settings, &mut result.columns, &result.rows)
            .map(|values| values.map(|v| json!(v)));
    if result.kept {
        let stored = json!({"columns": result.columns, "rows": result.rows,
                            "row_count": result.row_count, "truncated": result.truncated});
        if let Err(err) = db::store_task_result(pool, lease, &stored).await {
            line_no += 1;
            reports
                .line(
                    lease,
                    line_no,
                    format!("sched-worker: the result could not be stored: {err:#}"),
                    Stream::Err,
                )
                .await;
        }
    }
    match out_params {
        Ok(out_params) => finish(reports, lease, 0, started, ended, 0, None, out_params),
        Err(why) => finish(
            reports,
            lease,
            1,
            started,
            ended,
            line_no + 1,
            Some(format!("sched-worker: {why}")),
            None,
        ),
    }
}
