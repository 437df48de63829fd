//! The workflow spec validator, exposed to the SQL that stores definitions.

use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

use crate::gucs;

/// Validates a workflow spec, given as JSON text, within the sched.max_* limits and returns
/// it normalised (defaults filled, enum values lower case); raises `invalid_parameter_value`
/// naming the offending field or the limit. The text, not a jsonb value, comes in so that its
/// size and nesting are checked before anything parses it recursively.
#[pg_extern(name = "_normalize_spec", stable, parallel_safe)]
pub fn normalize_spec(spec: &str) -> JsonB {
    match sched_core::parse_spec(spec, &gucs::spec_limits()) {
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
