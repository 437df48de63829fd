//! Following an instance or a backfill to its end: a progress bar on a terminal, a line per
//! change otherwise (logs, CI). The exit code says how it ended.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio_postgres::Client;

use crate::error::{Result, usage};

const POLL: Duration = Duration::from_millis(200);

/// How a final state maps to the exit code.
pub fn exit_code(state: &str) -> u8 {
    match state {
        "succeeded" => 0,
        "failed" => 1,
        "stopped" | "paused" => 3,
        _ => 4,
    }
}

struct Progress {
    bar: Option<ProgressBar>,
    last: Option<(u64, u64, String)>,
    label: String,
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
        }
    }

    fn show(&mut self, done: u64, total: u64, running: String, unit: &str) {
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
    let mut progress = Progress::new(format!("{workflow} #{id}"), "tasks");
    let state = loop {
        let state: String = client
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
            match s.as_str() {
                "running" | "dispatched" => running.push(task),
                "not run" | "queued" | "delayed" => {}
                _ => done += 1,
            }
        }
        let running = if running.is_empty() {
            String::new()
        } else {
            format!("running: {}", running.join(", "))
        };
        progress.show(done, total, running, "tasks");
        if matches!(
            state.as_str(),
            "succeeded" | "failed" | "stopped" | "paused"
        ) {
            break state;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break state;
        }
        tokio::time::sleep(POLL).await;
    };
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
    let mut progress = Progress::new(format!("backfill {id} of {workflow}"), "dates");
    let (state, failed) = loop {
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
            break (state, failed);
        }
        tokio::time::sleep(POLL).await;
    };
    progress.finish();
    crate::output::say(json, json!({"backfill_id": id, "state": state}), &state);
    Ok(if state == "succeeded" && failed == 0 {
        0
    } else {
        1
    })
}
