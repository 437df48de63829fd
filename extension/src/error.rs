//! How the extension's SQL functions refuse their input: one error, so that every refusal
//! reaches the caller with the same SQLSTATE, save the few that PostgreSQL names otherwise
//! (who may do something).

use pgrx::PgSqlErrorCode;
use pgrx::prelude::*;

/// Raises `invalid_parameter_value` with `message`, which names the field at fault.
pub(crate) fn fail(message: String) -> ! {
    fail_as(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
}

/// Raises `message` with the SQLSTATE `code`.
pub(crate) fn fail_as(code: PgSqlErrorCode, message: String) -> ! {
    ereport!(ERROR, code, message);
}
