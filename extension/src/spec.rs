//! The workflow spec validator, exposed to the SQL that stores definitions.

use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

/// Validates a workflow spec and returns it normalised (defaults filled, enum values lower
/// case); raises `invalid_parameter_value` naming the offending field.
#[pg_extern(name = "_normalize_spec", immutable, parallel_safe)]
pub fn normalize_spec(spec: JsonB) -> JsonB {
    match sched_core::validate_spec(&spec.0) {
        Ok(valid) => JsonB(valid.to_json()),
        Err(err) => {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("invalid workflow spec: {err}")
            );
        }
    }
}
