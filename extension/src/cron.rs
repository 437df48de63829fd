//! Cron helpers for SQL (what a visual cron builder calls); the rules are sched-core's.

use pgrx::prelude::*;

use crate::fail;

/// The next `n` fire times of `expr` strictly after `after` (seconds since the epoch), in
/// `timezone`, as seconds since the epoch.
#[pg_extern(name = "_cron_fires", immutable, parallel_safe)]
pub fn cron_fires(expr: &str, n: i32, after: f64, timezone: &str) -> SetOfIterator<'static, f64> {
    if !(1..=1000).contains(&n) {
        fail(format!("n: must be between 1 and 1000, got {n}"));
    }
    let cron = sched_core::cron::parse(expr, None).unwrap_or_else(|e| fail(format!("cron: {e}")));
    let tz =
        sched_core::cron::time_zone(timezone, "timezone").unwrap_or_else(|e| fail(e.to_string()));
    let after = chrono::DateTime::from_timestamp(after.floor() as i64, 0)
        .unwrap_or_else(|| fail("after: out of range".into()));
    let fires = cron.next_fires(after, tz, n as usize);
    SetOfIterator::new(fires.into_iter().map(|t| t.timestamp() as f64))
}
