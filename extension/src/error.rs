//! How the extension's SQL functions refuse their input: one error, so that every refusal
//! reaches the caller with the same SQLSTATE.

use pgrx::prelude::*;

/// Raises `invalid_parameter_value` with `message`, which names the field at fault.
pub(crate) fn fail(message: String) -> ! {
    ereport!(
        ERROR,
        pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message
    );
}
