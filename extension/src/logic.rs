//! The pure parts of logic tasks (sched-core's `logic` and `expr`), for the SQL that decides
//! them (sql/3_engine/branches.sql, dependent.sql).

use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::{Value, json};

use crate::error::fail;
use crate::params::text_map;

/// Which SWITCH case holds over `values` (the parameter values the task sees): `{"case": i}`
/// for the first true one (from 0), `{"case": null}` for none; `errors` says why cases whose
/// condition could not be evaluated counted as false.
#[pg_extern(name = "_switch_choose", immutable, parallel_safe)]
pub fn switch_choose(cases: JsonB, values: JsonB) -> JsonB {
    let values = text_map(&values.0);
    let mut errors = Vec::new();
    let cases = cases.0.as_array().cloned().unwrap_or_default();
    for (i, case) in cases.iter().enumerate() {
        let when = case.get("when").and_then(Value::as_str).unwrap_or_default();
        match sched_core::expr::parse(when).and_then(|e| e.eval(&values)) {
            Ok(true) => return JsonB(json!({"case": i, "errors": errors})),
            Ok(false) => {}
            Err(e) => errors.push(Value::String(format!("cases[{i}]: {e}"))),
        }
    }
    JsonB(json!({"case": null, "errors": errors}))
}

/// The periods of a DEPENDENT item's date value at a business time (local, `YYYY-MM-DD
/// HH24:MI:SS`), oldest first, as local `[lo, hi)` timestamps.
#[pg_extern(name = "_dependent_periods", immutable, parallel_safe)]
pub fn dependent_periods(
    cycle: &str,
    date_value: &str,
    business_time: &str,
) -> TableIterator<'static, (name!(lo, String), name!(hi, String))> {
    let at = chrono::NaiveDateTime::parse_from_str(business_time, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| fail(format!("business time {business_time}: {e}")));
    let cycle = sched_core::Cycle::from_name(cycle).unwrap_or_else(|| {
        fail(format!(
            "cycle \"{cycle}\": allowed: hour, day, week, month"
        ))
    });
    let periods = sched_core::logic::intervals(cycle, date_value, at).unwrap_or_else(|e| fail(e));
    let text = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    TableIterator::new(
        periods
            .into_iter()
            .map(move |(lo, hi)| (text(lo), text(hi)))
            .collect::<Vec<_>>(),
    )
}

/// The cycle of a cron schedule from its next two fires (local), as a dependent backfill
/// matches DEPENDENT items: hour, day, week or month; NULL with fewer than two fires.
#[pg_extern(name = "_fires_cycle", immutable, parallel_safe)]
pub fn fires_cycle(fires: Vec<String>) -> Option<String> {
    let parsed: Vec<chrono::NaiveDateTime> = fires
        .iter()
        .filter_map(|f| chrono::NaiveDateTime::parse_from_str(f, "%Y-%m-%d %H:%M:%S").ok())
        .collect();
    sched_core::logic::cron_cycle(&parsed).map(|c| c.as_str().to_owned())
}
