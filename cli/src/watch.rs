//! Following an instance or a backfill to its end: a progress bar on a terminal, a line per
//! change otherwise (logs, CI). The exit code says how it ended; Ctrl-C stops only the
//! waiting, says how to come back, and exits [`INTERRUPTED`].

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_postgres::Client;

use crate::error::{Result, usage};

const POLL: Duration = Duration::from_millis(200);

/// The exit code of a wait ended by Ctrl-C (SIGINT), as shells report a process it killed.
pub const INTERRUPTED: u8 = 130;

/// Ctrl-C from now on: installed before the first look, so that it never kills sched
/// without the hint.
fn interrupts() -> Result<Signal> {
    Ok(signal(SignalKind::interrupt())?)
}

/// The state sets progress is shown by, as the server names them (`sched.state_model()`).
struct StateSets {
    claimed: Vec<String>,
    waiting: Vec<String>,
    finished: Vec<String>,
}

impl StateSets {
    async fn read(client: &Client) -> Result<StateSets> {
        let model: serde_json::Value = client
            .query_one("SELECT sched.state_model()", &[])
            .await?
            .get(0);
        let set = |kind: &str, name: &str| -> Vec<String> {
            model[kind][name]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(StateSets {
            claimed: set("task_sets", "claimed"),
            waiting: set("task_sets", "waiting"),
            finished: set("workflow_sets", "finished"),
        })
    }
}

/// How a final state maps to the exit code.
pub fn exit_code(state: &str) -> u8 {
    match state {
        "succeeded" => 0,
        "failed" => 1,
        "stopped" => 3,
        "paused" => 3,
        _ => 4,
    }
}

/// Counts as shown: never below what was shown before. A retry puts a done task back to
/// waiting, a rerun puts all of them back; the bar must not run backwards meanwhile.
#[derive(Debug, Default)]
struct Monotonic {
    done: u64,
    total: u64,
}

impl Monotonic {
    fn next(&mut self, done: u64, total: u64) -> (u64, u64) {
        self.total = self.total.max(total);
        self.done = self.done.max(done).min(self.total);
        (self.done, self.total)
    }
}

struct Progress {
    bar: Option<ProgressBar>,
    last: Option<(u64, u64, String)>,
    label: String,
    shown: Monotonic,
}

impl Progress {
    fn new(label: String, unit: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}}"
                ))
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            last: None,
            label,
            shown: Monotonic::default(),
        }
    }

    fn show(&mut self, done: u64, total: u64, running: String, unit: &str) {
        let (done, total) = self.shown.next(done, total);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(running);
            return;
        }
        let now = (done, total, running);
        if self.last.as_ref() != Some(&now) {
            let running = if now.2.is_empty() {
                String::new()
            } else {
                format!(", {}", now.2)
            };
            eprintln!("{}: {}/{} {unit} done{running}", self.label, now.0, now.1);
            self.last = Some(now);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    /// Leaves the bar as it is, for the message below it.
    fn abandon(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

pub async fn instance(client: &Client, id: i64, json: bool, timeout: Option<u64>) -> Result<u8> {
    let workflow: String = client
        .query_opt(
            "SELECT workflow FROM sched.workflow_instances WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| usage(format!("workflow instance {id} does not exist")))?;
    let deadline = timeout.map(|s| Instant::now() + Duration::from_secs(s));
    let mut interrupt = interrupts()?;
    let mut progress = Progress::new(format!("{workflow} #{id}"), "tasks");
    let sets = StateSets::read(client).await?;
    let mut state = String::new();
    let look = async {
        loop {
            state = client
                .query_one(
                    "SELECT state FROM sched.workflow_instances WHERE id = $1",
                    &[&id],
                )
                .await?
                .get(0);
            let rows = client
                .query("SELECT task, state FROM sched.instance_tasks($1)", &[&id])
                .await?;
            let total = rows.len() as u64;
            let mut done = 0;
            let mut running = Vec::new();
            for row in &rows {
                let task: String = row.get(0);
                let s: String = row.get(1);
                if sets.claimed.contains(&s) {
                    running.push(task);
                } else if !sets.waiting.contains(&s) && s != "not run" {
                    done += 1;
                }
            }
            let running = if running.is_empty() {
                String::new()
            } else {
                format!("running: {}", running.join(", "))
            };
            progress.show(done, total, running, "tasks");
            if sets.finished.contains(&state) || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok::<_, crate::error::CliError>(());
            }
            tokio::time::sleep(POLL).await;
        }
    };
    let interrupted = tokio::select! {
        looked = look => {
            looked?;
            false
        }
        _ = interrupt.recv() => true,
    };
    if interrupted {
        progress.abandon();
        eprintln!(
            "sched: stopped waiting; instance {id} goes on ({}). Reattach with: sched wait {id}",
            if state.is_empty() {
                "state unknown"
            } else {
                state.as_str()
            }
        );
        crate::output::say(
            json,
            json!({"instance_id": id, "state": state, "interrupted": true}),
            &state,
        );
        return Ok(INTERRUPTED);
    }
    progress.finish();
    crate::output::say(json, json!({"instance_id": id, "state": state}), &state);
    Ok(exit_code(&state))
}

pub async fn backfill(client: &Client, id: i64, json: bool) -> Result<u8> {
    let workflow: String = client
        .query_opt("SELECT workflow FROM sched.backfills WHERE id = $1", &[&id])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| usage(format!("backfill {id} does not exist")))?;
    let mut interrupt = interrupts()?;
    let mut progress = Progress::new(format!("backfill {id} of {workflow}"), "dates");
    let look = async {
        loop {
            let row = client
                .query_one(
                    "SELECT state, total, succeeded, failed, running FROM sched.backfills WHERE id = $1",
                    &[&id],
                )
                .await?;
            let state: String = row.get(0);
            let (total, succeeded, failed, running): (i64, i64, i64, i64) =
                (row.get(1), row.get(2), row.get(3), row.get(4));
            let running = if running > 0 {
                format!("{running} running")
            } else {
                String::new()
            };
            progress.show((succeeded + failed) as u64, total as u64, running, "dates");
            if state != "running" {
                return Ok::<_, crate::error::CliError>((state, failed));
            }
            tokio::time::sleep(POLL).await;
        }
    };
    let (state, failed) = tokio::select! {
        looked = look => looked?,
        _ = interrupt.recv() => {
            progress.abandon();
            eprintln!(
                "sched: stopped waiting; backfill {id} goes on. Follow it with: sched ls backfills --workflow {workflow}"
            );
            return Ok(INTERRUPTED);
        }
    };
    progress.finish();
    crate::output::say(json, json!({"backfill_id": id, "state": state}), &state);
    Ok(if state == "succeeded" && failed == 0 {
        0
    } else {
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_progress_never_goes_backwards() {
        let mut shown = Monotonic::default();
        assert_eq!(shown.next(1, 3), (1, 3));
        // A failed task counted done, then its retry waits: still 2 of 3.
        assert_eq!(shown.next(2, 3), (2, 3));
        assert_eq!(shown.next(1, 3), (2, 3));
        // A rerun resets every task.
        assert_eq!(shown.next(0, 3), (2, 3));
        assert_eq!(shown.next(3, 3), (3, 3));
        assert_eq!(shown.next(0, 2), (3, 3));
    }

    #[test]
    fn final_states_map_to_exit_codes() {
        assert_eq!(exit_code("succeeded"), 0);
        assert_eq!(exit_code("failed"), 1);
        assert_eq!(exit_code("paused"), 3);
        assert_eq!(exit_code("running"), 4);
        assert_ne!(INTERRUPTED, exit_code("running"));
    }
}
