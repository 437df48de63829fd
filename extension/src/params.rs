//! Parameters, exposed to SQL: `sched.resolve` resolves a template exactly as a task would.

use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

/// Resolves `template` with the startup-style `params` (plain values or {"value", "type"}),
/// the built-ins and `$[...]` time expressions, at `business_time` ("YYYY-MM-DD HH24:MI:SS" in
/// the caller's zone); raises invalid_parameter_value naming the field at fault.
#[pg_extern(name = "_resolve_template", stable, parallel_safe)]
pub fn resolve_template(template: &str, params: JsonB, business_time: &str) -> String {
    let fail = |message: String| -> ! {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            message
        );
    };
    let at = chrono::NaiveDateTime::parse_from_str(business_time, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| fail(format!("schedule_time: {e}")));
    let given =
        sched_core::parse_params(&params.0, "params").unwrap_or_else(|e| fail(e.to_string()));
    let builtins = sched_core::builtins(at, &[]);
    let merged = sched_core::merge(&[&builtins, &given]);
    let values =
        sched_core::resolve_params(&merged, at, "params").unwrap_or_else(|e| fail(e.to_string()));
    sched_core::resolve_template(template, &values, at, "template")
        .unwrap_or_else(|e| fail(e.to_string()))
}
