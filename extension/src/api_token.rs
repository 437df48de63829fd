//! `sched.assume_api_token(token)`: how the console acts for an API token (sql/7_api/api_tokens.sql).
//! Its token connection is a session of a member of `sched_api`; before each request it serves
//! for a token it calls this, which checks the token and makes the token's creator the
//! current role, as `SET ROLE` does. From then on, current_user (the identity the SQL API
//! uses) is that role, with exactly its rights.
//!
//! `SET ROLE` itself would need the session's role to be a member of every token's creator.
//! Instead the token is the proof, and PostgreSQL's own `SetCurrentRoleId` (what `SET ROLE`
//! calls) switches. The function is SECURITY INVOKER and refuses to run where the current
//! role is already switched (inside a SECURITY DEFINER function, or a security-restricted
//! operation), whose end would switch it back over this switch. A refused token changes
//! nothing, as a refused `SET ROLE` does: the console closes a connection whose token was
//! refused.

use pgrx::PgSqlErrorCode;
use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;

use crate::error::fail_as;

#[pg_extern(name = "assume_api_token", strict)]
pub fn assume_api_token(token: &str) -> String {
    let mut context = 0;
    let mut user = Oid::INVALID;
    // SAFETY: plain reads of the backend's user id and security context.
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    if context != 0 {
        fail_as(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "sched.assume_api_token: cannot be called inside a SECURITY DEFINER function or a \
             security-restricted operation; call it at the top level of a session"
                .to_owned(),
        );
    }
    let member =
        Spi::get_one::<bool>("SELECT pg_catalog.pg_has_role(session_user, 'sched_api', 'MEMBER')");
    if member != Ok(Some(true)) {
        fail_as(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "permission denied for API tokens: only a session of a member of sched_api (the \
             console's token connection) may act for a token"
                .to_owned(),
        );
    }
    let (role, refused) = Spi::get_two_with_args::<Oid, String>(
        "SELECT role::oid, refused FROM sched._api_token_role($1)",
        &[token.into()],
    )
    .unwrap_or_else(|e| {
        fail_as(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("sched.assume_api_token: {e}"),
        )
    });
    match (role, refused) {
        (Some(role), None) => {
            // SAFETY: what SET ROLE does; _api_token_role refused superusers.
            unsafe { pg_sys::SetCurrentRoleId(role, false) };
            Spi::get_one::<String>("SELECT current_user::text")
                .ok()
                .flatten()
                .unwrap_or_default()
        }
        (_, refused) => fail_as(
            PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            format!(
                "API token refused: {}",
                refused.unwrap_or_else(|| "not a token of this database".to_owned())
            ),
        ),
    }
}
