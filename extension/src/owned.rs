//! Workflows are owned by roles, and PostgreSQL's commands for what roles own apply to them:
//! `REASSIGN OWNED BY old TO new` moves old's workflows to new, and `DROP OWNED BY old` drops
//! them (refused while one of them has unfinished instances), in the database where pg_sched is
//! installed. `DROP ROLE` itself is refused by PostgreSQL while the role owns workflows or holds
//! tenant grants, through the privilege sql/7_api/roles.sql gives such roles.
//!
//! The hook frame only looks at the statement's node tag and passes every statement on
//! unchanged, so that errors of the statement itself longjmp through it untouched; the work for
//! the two statements above happens in guarded functions.

use std::ffi::c_char;

use pgrx::pg_sys::{
    self, DestReceiver, Node, NodeTag, Oid, ParamListInfo, PlannedStmt, ProcessUtilityContext,
    QueryCompletion, QueryEnvironment, RoleSpec,
};
use pgrx::prelude::*;
use pgrx::{IntoDatum, PgList};

static mut PREVIOUS: pg_sys::ProcessUtility_hook_type = None;

unsafe extern "C-unwind" {
    #[link_name = "standard_ProcessUtility"]
    fn standard_process_utility(
        pstmt: *mut PlannedStmt,
        query_string: *const c_char,
        read_only_tree: bool,
        context: ProcessUtilityContext::Type,
        params: ParamListInfo,
        query_env: *mut QueryEnvironment,
        dest: *mut DestReceiver,
        qc: *mut QueryCompletion,
    );
}

pub fn init() {
    // SAFETY: _PG_init runs once per backend, before any statement.
    unsafe {
        PREVIOUS = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut PlannedStmt,
    query_string: *const c_char,
    read_only_tree: bool,
    context: ProcessUtilityContext::Type,
    params: ParamListInfo,
    query_env: *mut QueryEnvironment,
    dest: *mut DestReceiver,
    qc: *mut QueryCompletion,
) {
    unsafe {
        let stmt = (*pstmt).utilityStmt;
        let tag = if stmt.is_null() {
            NodeTag::T_Invalid
        } else {
            (*stmt).type_
        };
        if tag == NodeTag::T_DropOwnedStmt {
            before_drop_owned(stmt);
        }
        let next = PREVIOUS.unwrap_or(standard_process_utility);
        next(
            pstmt,
            query_string,
            read_only_tree,
            context,
            params,
            query_env,
            dest,
            qc,
        );
        if tag == NodeTag::T_ReassignOwnedStmt {
            after_reassign_owned(stmt);
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn before_drop_owned(stmt: *mut Node) {
    unsafe {
        let stmt = stmt as *mut pg_sys::DropOwnedStmt;
        let roles = role_oids((*stmt).roles);
        // PostgreSQL checks the right to DROP OWNED only when it runs the statement, after this
        // hook: without the same check first, anyone could drop (or learn the names of) another
        // role's workflows. A role it does not know, or may not act for, is left to PostgreSQL
        // to refuse with its own error.
        let user = pg_sys::GetUserId();
        if roles
            .iter()
            .any(|&role| role == Oid::INVALID || !pg_sys::has_privs_of_role(user, role))
        {
            return;
        }
        if let Some(function) = internal_function("sched._drop_owned(pg_catalog.oid[])") {
            call(function, &[datum(roles.into_datum())]);
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn after_reassign_owned(stmt: *mut Node) {
    unsafe {
        let stmt = stmt as *mut pg_sys::ReassignOwnedStmt;
        if let Some(function) =
            internal_function("sched._reassign_owned(pg_catalog.oid[], pg_catalog.oid)")
        {
            let roles = role_oids((*stmt).roles);
            let new_owner = pg_sys::get_rolespec_oid((*stmt).newrole, true);
            call(
                function,
                &[datum(roles.into_datum()), datum(new_owner.into_datum())],
            );
        }
    }
}

unsafe fn role_oids(list: *mut pg_sys::List) -> Vec<Oid> {
    unsafe {
        PgList::<RoleSpec>::from_pg(list)
            .iter_ptr()
            .map(|role| pg_sys::get_rolespec_oid(role, true))
            .collect()
    }
}

/// The function, when pg_sched is installed in this database.
unsafe fn internal_function(signature: &str) -> Option<Oid> {
    unsafe {
        if pg_sys::get_extension_oid(c"pg_sched".as_ptr(), true) == Oid::INVALID {
            return None;
        }
    }
    Spi::get_one_with_args::<Oid>(
        "SELECT pg_catalog.to_regprocedure($1)::pg_catalog.oid",
        &[signature.into()],
    )
    .ok()
    .flatten()
}

/// Calls an internal function directly: the role running the command passed PostgreSQL's own
/// checks for it, and need not be granted EXECUTE on sched's internals.
unsafe fn call(function: Oid, args: &[pg_sys::Datum]) {
    unsafe {
        match args {
            [a] => {
                pg_sys::OidFunctionCall1Coll(function, Oid::INVALID, *a);
            }
            [a, b] => {
                pg_sys::OidFunctionCall2Coll(function, Oid::INVALID, *a, *b);
            }
            _ => unreachable!("internal role functions take one or two arguments"),
        }
    }
}

/// Role oids and arrays of them always convert; the internal functions are strict about NULL.
fn datum(value: Option<pg_sys::Datum>) -> pg_sys::Datum {
    value.expect("an oid or an oid array converts to a datum")
}
