//! The worker's Prometheus metrics, served at `--metrics-listen`. Every name is declared here,
//! and call sites record through the functions below, one line each. The handles are
//! registered once, when the exporter starts, so that recording is an atomic operation on a
//! handle: no registry look-up, lock or allocation per task. Without `--metrics-listen`
//! nothing is registered and each function returns after one load.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use ::metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::protocol::{Outcome, OutcomeKind};

pub const CLAIMS: &str = "sched_worker_claims_total";
pub const TASKS_CLAIMED: &str = "sched_worker_tasks_claimed_total";
pub const TASKS_STARTED: &str = "sched_worker_tasks_started_total";
pub const TASKS_COMPLETED: &str = "sched_worker_tasks_completed_total";
pub const CLAIM_DURATION: &str = "sched_worker_claim_duration_seconds";
pub const REPORT_DURATION: &str = "sched_worker_report_duration_seconds";
pub const RUNNING_TASKS: &str = "sched_worker_running_tasks";
pub const SLOTS: &str = "sched_worker_slots";
pub const FREE_SLOTS: &str = "sched_worker_free_slots";
pub const FENCED: &str = "sched_worker_fenced";
pub const BACKING_OFF: &str = "sched_worker_backing_off";
pub const REPORT_QUEUE_DEPTH: &str = "sched_worker_report_queue_depth";
pub const LOG_BYTES: &str = "sched_worker_log_bytes_total";
pub const HEARTBEAT_FAILURES: &str = "sched_worker_heartbeat_failures_total";

/// Upper bounds (seconds) of the duration histograms' buckets: a healthy call takes a few
/// milliseconds, one that waits on a lock or a failover up to the call timeout.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

struct Handles {
    claims: Counter,
    tasks_claimed: Counter,
    tasks_started: Counter,
    /// By `STATES`.
    completed: [Counter; 4],
    claim_duration: Histogram,
    report_duration: Histogram,
    running: Gauge,
    slots: Gauge,
    free_slots: Gauge,
    fenced: Gauge,
    backing_off: Gauge,
    report_queue: Gauge,
    log_bytes: Counter,
    heartbeat_failures: Counter,
}

static HANDLES: OnceLock<Handles> = OnceLock::new();

impl Handles {
    /// Registers (and describes) every metric with the current recorder, so that each is
    /// exported from the start, at 0, rather than from its first event.
    fn register() -> Handles {
        describe_counter!(CLAIMS, "Claim calls made to the database");
        describe_counter!(
            TASKS_CLAIMED,
            "Tasks claimed, by claim calls and by completing calls that claim"
        );
        describe_counter!(
            TASKS_STARTED,
            "Claimed tasks run on this worker (not handed back)"
        );
        describe_counter!(
            TASKS_COMPLETED,
            "Task attempts whose end this worker reported, by what the attempt became (succeeded, failed, including timeouts, or killed), or that it handed back to the queue"
        );
        describe_histogram!(CLAIM_DURATION, Unit::Seconds, "Duration of claim calls");
        describe_histogram!(
            REPORT_DURATION,
            Unit::Seconds,
            "Duration of completing calls (each try)"
        );
        describe_gauge!(RUNNING_TASKS, "Tasks claimed and not yet reported");
        describe_gauge!(SLOTS, "Tasks this worker runs at once at most (--slots)");
        describe_gauge!(
            FREE_SLOTS,
            "Slots free for new tasks (a claim under way holds the slots it claims into)"
        );
        describe_gauge!(
            FENCED,
            "1 while the worker has fenced itself (no heartbeat got through) and claims nothing"
        );
        describe_gauge!(
            BACKING_OFF,
            "1 while the worker backs off because tasks could not be started here"
        );
        describe_gauge!(
            REPORT_QUEUE_DEPTH,
            "Task outcomes waiting to be reported, deferred ones included"
        );
        describe_counter!(
            LOG_BYTES,
            Unit::Bytes,
            "Bytes of task output lines sent to be stored"
        );
        describe_counter!(HEARTBEAT_FAILURES, "Heartbeats that failed");
        Handles {
            claims: counter!(CLAIMS),
            tasks_claimed: counter!(TASKS_CLAIMED),
            tasks_started: counter!(TASKS_STARTED),
            completed: STATES.map(|state| counter!(TASKS_COMPLETED, "state" => state)),
            claim_duration: histogram!(CLAIM_DURATION),
            report_duration: histogram!(REPORT_DURATION),
            running: gauge!(RUNNING_TASKS),
            slots: gauge!(SLOTS),
            free_slots: gauge!(FREE_SLOTS),
            fenced: gauge!(FENCED),
            backing_off: gauge!(BACKING_OFF),
            report_queue: gauge!(REPORT_QUEUE_DEPTH),
            log_bytes: counter!(LOG_BYTES),
            heartbeat_failures: counter!(HEARTBEAT_FAILURES),
        }
    }
}

fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .expect("the bucket list is not empty")
}

/// Serves the metrics at `listen` (any path; /metrics by convention) from a thread of its
/// own, so that scrapes never wait on, or hold up, the worker's loop. Call it outside the
/// worker's runtime: inside one, the exporter would run on it.
pub fn install(listen: SocketAddr, slots: usize) -> Result<(), String> {
    builder()
        .with_http_listener(listen)
        .install()
        .map_err(|e| format!("--metrics-listen {listen}: cannot serve metrics there: {e}"))?;
    let handles = Handles::register();
    handles.slots.set(slots as f64);
    handles.free_slots.set(slots as f64);
    let _ = HANDLES.set(handles);
    Ok(())
}

async fn timed<T>(histogram: impl Fn(&Handles) -> &Histogram, call: impl Future<Output = T>) -> T {
    let Some(h) = HANDLES.get() else {
        return call.await;
    };
    let at = Instant::now();
    let result = call.await;
    histogram(h).record(at.elapsed());
    result
}

/// A claim call, counted and timed.
pub async fn claim<T>(call: impl Future<Output = T>) -> T {
    if let Some(h) = HANDLES.get() {
        h.claims.increment(1);
    }
    timed(|h| &h.claim_duration, call).await
}

/// A completing call, timed.
pub async fn report<T>(call: impl Future<Output = T>) -> T {
    timed(|h| &h.report_duration, call).await
}

pub fn claimed(tasks: usize) {
    if let Some(h) = HANDLES.get() {
        h.tasks_claimed.increment(tasks as u64);
    }
}

/// A claimed task started here (not handed back).
pub fn started() {
    if let Some(h) = HANDLES.get() {
        h.tasks_started.increment(1);
    }
}

/// The `state` labels of `sched_worker_tasks_completed_total`.
const STATES: [&str; 4] = ["succeeded", "failed", "killed", "handed_back"];
const HANDED_BACK: usize = 3;

/// How an attempt ended, as an index into `STATES`: by the outcome the worker reports, as the
/// database reads it (a timeout fails the attempt).
fn state(outcome: &Outcome) -> usize {
    match outcome.kind {
        _ if outcome.handed_back => HANDED_BACK,
        OutcomeKind::Succeeded => 0,
        OutcomeKind::Killed => 2,
        OutcomeKind::Failed | OutcomeKind::TimedOut => 1,
    }
}

/// An outcome handed to the reporter: queued until reported or voided.
pub fn queued() {
    if let Some(h) = HANDLES.get() {
        h.report_queue.increment(1.0);
    }
}

/// Outcomes that left the report queue stored, by how their attempts ended, and `released`
/// ones handed back to the queue.
pub fn reported(outcomes: &[Outcome], released: usize) {
    if let Some(h) = HANDLES.get() {
        for outcome in outcomes {
            h.completed[state(outcome)].increment(1);
        }
        h.completed[HANDED_BACK].increment(released as u64);
        h.report_queue.decrement((outcomes.len() + released) as f64);
    }
}

/// Outcomes that left the report queue unreported: a fence voided them.
pub fn voided(outcomes: usize) {
    if let Some(h) = HANDLES.get() {
        h.report_queue.decrement(outcomes as f64);
    }
}

pub fn running(tasks: usize) {
    if let Some(h) = HANDLES.get() {
        h.running.set(tasks as f64);
    }
}

pub fn free_slots(slots: usize) {
    if let Some(h) = HANDLES.get() {
        h.free_slots.set(slots as f64);
    }
}

pub fn fenced(fenced: bool) {
    if let Some(h) = HANDLES.get() {
        h.fenced.set(if fenced { 1.0 } else { 0.0 });
    }
}

pub fn backing_off(backing_off: bool) {
    if let Some(h) = HANDLES.get() {
        h.backing_off.set(if backing_off { 1.0 } else { 0.0 });
    }
}

pub fn log_bytes(bytes: usize) {
    if let Some(h) = HANDLES.get() {
        h.log_bytes.increment(bytes as u64);
    }
}

pub fn heartbeat_failed() {
    if let Some(h) = HANDLES.get() {
        h.heartbeat_failures.increment(1);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::protocol::Lease;

    fn outcome(kind: OutcomeKind, handed_back: bool) -> Outcome {
        Outcome {
            lease: Lease {
                task_instance_id: 1,
                worker_id: 1,
            },
            kind,
            exit_code: 0,
            started: SystemTime::now(),
            ended: SystemTime::now(),
            last_line: None,
            handed_back,
            out_params: None,
        }
    }

    #[test]
    fn outcomes_are_labelled_as_the_database_reads_them_unless_handed_back() {
        let label = |kind, handed_back| STATES[state(&outcome(kind, handed_back))];
        assert_eq!(label(OutcomeKind::Succeeded, false), "succeeded");
        assert_eq!(label(OutcomeKind::Killed, false), "killed");
        assert_eq!(label(OutcomeKind::Failed, false), "failed");
        assert_eq!(label(OutcomeKind::TimedOut, false), "failed");
        assert_eq!(label(OutcomeKind::Succeeded, true), "handed_back");
    }

    #[test]
    fn every_metric_is_exported_from_the_start_in_the_text_format() {
        let recorder = builder().build_recorder();
        let h = ::metrics::with_local_recorder(&recorder, Handles::register);
        h.completed[0].increment(2);
        h.claim_duration.record(Duration::from_millis(3));
        h.report_queue.increment(1.0);
        let text = recorder.handle().render();
        for line in [
            "# TYPE sched_worker_claims_total counter",
            "sched_worker_claims_total 0",
            "sched_worker_tasks_completed_total{state=\"succeeded\"} 2",
            "sched_worker_tasks_completed_total{state=\"killed\"} 0",
            "# TYPE sched_worker_claim_duration_seconds histogram",
            "sched_worker_claim_duration_seconds_bucket{le=\"0.0025\"} 0",
            "sched_worker_claim_duration_seconds_bucket{le=\"0.005\"} 1",
            "sched_worker_claim_duration_seconds_bucket{le=\"+Inf\"} 1",
            "sched_worker_claim_duration_seconds_count 1",
            "sched_worker_report_duration_seconds_count 0",
            "sched_worker_report_queue_depth 1",
            "sched_worker_log_bytes_total 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in:\n{text}"
            );
        }
    }
}
