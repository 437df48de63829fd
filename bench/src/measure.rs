//! What the bench's scenarios share, in both of its modules: defining a workflow, reading a
//! worker's metrics, and summing up figures.

use sched_tests::Client;
use serde_json::{Value, json};

/// A worker's Prometheus metrics, as text.
pub fn scrape(listen: &str) -> Option<String> {
    ureq::get(format!("http://{listen}/metrics"))
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()
}

pub fn define(db: &mut Client, spec: Value) {
    db.query_one("SELECT sched.create_workflow($1, true)", &[&spec])
        .unwrap();
}

pub fn summary(values: &mut [f64]) -> Value {
    values.sort_by(f64::total_cmp);
    let pct = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    json!({
        "p50": round(pct(0.5)),
        "p95": round(pct(0.95)),
        "p99": round(pct(0.99)),
        "min": round(values[0]),
        "max": round(values[values.len() - 1]),
        "n": values.len(),
    })
}

pub fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
