//! Cron helpers for SQL (what a visual cron builder calls); the rules are sched-core's.

use pgrx::prelude::*;

use crate::error::fail;

/// The expression, or an error naming it (`cron: day-of-week: ...`).
fn parsed(expr: &str) -> sched_core::cron::Cron {
    sched_core::cron::parse(expr, None).unwrap_or_else(|e| {
        if e.path == "cron" {
            fail(e.to_string())
        } else {
            fail(format!("cron: {e}"))
        }
    })
}

/// The next `n` fire times of `expr` strictly after `after` (seconds since the epoch), in
/// `timezone`, as seconds since the epoch.
#[pg_extern(name = "_cron_fires", immutable, parallel_safe)]
pub fn cron_fires(expr: &str, n: i32, after: f64, timezone: &str) -> SetOfIterator<'static, f64> {
    if !(1..=1000).contains(&n) {
        fail(format!("n: must be between 1 and 1000, got {n}"));
    }
    let cron = parsed(expr);
    let tz =
        sched_core::cron::time_zone(timezone, "timezone").unwrap_or_else(|e| fail(e.to_string()));
    let after = chrono::DateTime::from_timestamp(after.floor() as i64, 0)
        .unwrap_or_else(|| fail("after: out of range".into()));
    let fires = cron.next_fires(after, tz, n as usize);
    SetOfIterator::new(fires.into_iter().map(|t| t.timestamp() as f64))
}

/// The previous `n` fire times of `expr` strictly before `before` (seconds since the epoch),
/// in `timezone`, latest first, as seconds since the epoch.
#[pg_extern(name = "_cron_prev_fires", immutable, parallel_safe)]
pub fn cron_prev_fires(
    expr: &str,
    n: i32,
    before: f64,
    timezone: &str,
) -> SetOfIterator<'static, f64> {
    if !(1..=1000).contains(&n) {
        fail(format!("n: must be between 1 and 1000, got {n}"));
    }
    let cron = parsed(expr);
    let tz =
        sched_core::cron::time_zone(timezone, "timezone").unwrap_or_else(|e| fail(e.to_string()));
    // Fires are whole seconds: one strictly before a fractional `before` is one before the
    // next whole second.
    let before = chrono::DateTime::from_timestamp(before.ceil() as i64, 0)
        .unwrap_or_else(|| fail("before: out of range".into()));
    let fires = cron.prev_fires(before, tz, n as usize);
    SetOfIterator::new(fires.into_iter().map(|t| t.timestamp() as f64))
}

/// `expr` in words, `lang` en or zh.
#[pg_extern(name = "_cron_words", immutable, parallel_safe)]
pub fn cron_words(expr: &str, lang: &str) -> String {
    let cron = parsed(expr);
    sched_core::cron::describe(&cron, lang).unwrap_or_else(|e| fail(e.to_string()))
}

/// The per-field structure of `expr` that a builder edits.
#[pg_extern(name = "_cron_structure", immutable, parallel_safe)]
pub fn cron_structure(expr: &str) -> pgrx::JsonB {
    let cron = parsed(expr);
    pgrx::JsonB(cron.to_json())
}

/// The expression of a structure as `_cron_structure` returns it.
#[pg_extern(name = "_cron_text", immutable, parallel_safe)]
pub fn cron_text(spec: pgrx::JsonB) -> String {
    sched_core::cron::build(&spec.0).unwrap_or_else(|e| fail(format!("spec.{e}")))
}

/// The deadline (`sched_core::deadline`) of a run fired at `fire` (seconds since the epoch) in
/// `timezone`, as seconds since the epoch; an error names `field`.
#[pg_extern(name = "_deadline_at", immutable, parallel_safe)]
pub fn deadline_at(deadline: &str, fire: f64, timezone: &str, field: &str) -> f64 {
    let parsed =
        sched_core::deadline::parse(deadline).unwrap_or_else(|e| fail(format!("{field}: {e}")));
    let tz =
        sched_core::cron::time_zone(timezone, "timezone").unwrap_or_else(|e| fail(e.to_string()));
    let fire = chrono::DateTime::from_timestamp_millis((fire * 1000.0).round() as i64)
        .unwrap_or_else(|| fail("fire: out of range".into()));
    parsed.at(fire, tz).timestamp_millis() as f64 / 1000.0
}
