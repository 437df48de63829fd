//! SQL and procedure tasks on the scheduler's database, checked against the live catalog
//! when a workflow is defined (`sched._check_sql`, `sql/2_kernel/sql_check.sql`).
//!
//! Each statement is parsed, analysed and planned as the workflow's owner, with the owner's
//! login `search_path`, in the defining transaction (so that it sees what that transaction
//! created), and never run: a query or a data-changing statement is EXPLAINed, which also
//! checks the owner's privileges on what it reads and writes; a CALL is analysed, which
//! finds its procedure. Any other statement (DDL, SET, ...) may change what the next ones
//! see, so the task's later statements are checked only when they run. What a checked
//! statement uses (relations, functions and procedures, read from its analysed and
//! rewritten form, views included) is returned for `sched.workflow_dependency`.

use std::collections::BTreeSet;
use std::ffi::{CString, c_void};

use pgrx::JsonB;
use pgrx::PgList;
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{Value, json};

use crate::error::fail;
use crate::sql_task::{execute_options, with_params};

/// How long a check waits for a lock on what a statement uses.
const LOCK_TIMEOUT: &std::ffi::CStr = c"500ms";

/// The statement that evaluates an `admit_when` (`sched_core::admit`); a bad expression is
/// refused naming `field`.
#[pg_extern(name = "_admit_statement", immutable, parallel_safe)]
pub fn admit_statement(expr: &str, field: &str) -> String {
    sched_core::admit::statement(expr).unwrap_or_else(|why| fail(format!("{field}: {why}")))
}

/// The statements of these tasks that can be checked at definition, in the order they run:
/// `[{"task": path, "name", "field", "text", "types"}]`, from
/// `[{"path": "tasks[3]", "name": "load", "task": {...}}]`.
#[pg_extern(name = "_sql_checks", stable, parallel_safe)]
pub fn sql_checks(tasks: JsonB) -> JsonB {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let at = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .naive_utc();
    let mut all = Vec::new();
    for entry in tasks.0.as_array().into_iter().flatten() {
        let path = entry["path"].as_str().unwrap_or_default();
        let checkable = sched_core::sql::checkable(&entry["task"], at)
            .unwrap_or_else(|e| fail(format!("{path}.{e}")));
        for c in checkable {
            all.push(
                json!({"task": path, "name": entry["name"], "field": c.field,
                            "text": c.text, "types": c.types}),
            );
        }
    }
    JsonB(Value::Array(all))
}

/// Parses, analyses and plans `text` as `owner` with `search_path`, running nothing; raises
/// what the statement would raise before it does anything. Returns what it uses,
/// `{"relations": [oid...], "functions": [oid...], "more": bool}`: `more` is false after a
/// statement that is neither a query, a data change nor a CALL, when what follows is not
/// checked.
#[pg_extern(name = "_analyze_as")]
pub fn analyze_as(
    owner: pg_sys::Oid,
    search_path: &str,
    text: &str,
    types: Vec<Option<String>>,
) -> JsonB {
    let text = CString::new(text)
        .unwrap_or_else(|_| fail("the statement contains a NUL character".into()));
    let path = CString::new(search_path).unwrap_or_default();
    let types: Vec<Option<&str>> = types.iter().map(Option::as_deref).collect();
    let mut uses = Uses::default();
    let mut more = true;
    // SAFETY: the user id and the settings are put back before returning; an error unwinds
    // through the caller's subtransaction, whose abort puts both back. Restricted, the owner's
    // functions the planner may call cannot change role or leave anything in the session.
    unsafe {
        let (mut user, mut context) = (pg_sys::InvalidOid, 0);
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            owner,
            context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
        let nest = pg_sys::NewGUCNestLevel();
        // Planning locks what a statement reads or writes: a definition does not wait long
        // behind an ALTER or a CREATE INDEX for a check (sched._check_sql says it skipped it).
        for (name, value) in [
            (c"search_path", path.as_c_str()),
            (c"lock_timeout", LOCK_TIMEOUT),
        ] {
            pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
        }
        pg_sys::SPI_connect();
        let all = text.to_bytes();
        for raw in
            PgList::<pg_sys::RawStmt>::from_pg(pg_sys::pg_parse_query(text.as_ptr())).iter_ptr()
        {
            let start = (*raw).stmt_location.max(0) as usize;
            let end = match (*raw).stmt_len {
                0 => all.len(),
                len => start + len as usize,
            };
            let statement = String::from_utf8_lossy(&all[start..end.min(all.len())]).into_owned();
            match (*(*raw).stmt).type_ {
                pg_sys::NodeTag::T_SelectStmt
                | pg_sys::NodeTag::T_InsertStmt
                | pg_sys::NodeTag::T_UpdateStmt
                | pg_sys::NodeTag::T_DeleteStmt
                | pg_sys::NodeTag::T_MergeStmt => {
                    explain(&statement, &types);
                    prepare(&statement, &types, &mut uses);
                }
                pg_sys::NodeTag::T_CallStmt => prepare(&statement, &types, &mut uses),
                _ => {
                    more = false;
                    break;
                }
            }
        }
        pg_sys::SPI_finish();
        // As PostgreSQL's maintenance commands do around the owner's code: whatever the
        // owner's functions set while planning is undone with the search_path.
        pg_sys::AtEOXact_GUC(false, nest);
        pg_sys::SetUserIdAndSecContext(user, context);
    }
    JsonB(json!({"relations": uses.relations, "functions": uses.functions, "more": more}))
}

/// The relations and functions (procedures too) a statement's analysed form names.
#[derive(Default)]
struct Uses {
    relations: BTreeSet<u32>,
    functions: BTreeSet<u32>,
}

#[pg_guard]
unsafe extern "C-unwind" fn collect(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: `context` is the Uses of the statement being walked; `node` is a node of its
    // analysed form, of the type its tag says.
    unsafe {
        let uses = &mut *context.cast::<Uses>();
        match (*node).type_ {
            pg_sys::NodeTag::T_RangeTblEntry => {
                let rte = node.cast::<pg_sys::RangeTblEntry>();
                if (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION {
                    uses.relations.insert((*rte).relid.to_u32());
                }
                // The walker goes on into the entry's subquery or functions itself.
                return false;
            }
            pg_sys::NodeTag::T_Query => {
                return pg_sys::query_tree_walker(
                    node.cast(),
                    Some(collect),
                    context,
                    pg_sys::QTW_EXAMINE_RTES_BEFORE as i32,
                );
            }
            pg_sys::NodeTag::T_FuncExpr => {
                uses.functions
                    .insert((*node.cast::<pg_sys::FuncExpr>()).funcid.to_u32());
            }
            _ => {}
        }
        pg_sys::expression_tree_walker(node, Some(collect), context)
    }
}

/// EXPLAIN: analysed, planned and the executor set up (privileges), nothing run.
fn explain(statement: &str, types: &[Option<&str>]) {
    let text = CString::new(format!("EXPLAIN (COSTS OFF) {statement}")).unwrap_or_default();
    with_params(types, Vec::new(), |list| {
        let options = execute_options(list, std::ptr::null_mut());
        // SAFETY: the text and the parameters outlive the call.
        let code = unsafe { pg_sys::SPI_execute_extended(text.as_ptr(), &options) };
        if code < 0 {
            fail(format!(
                "the statement could not be checked (SPI code {code})"
            ));
        }
    })
}

/// Analysed (a CALL is no query EXPLAIN takes: analysing it finds its procedure), and what
/// its analysed and rewritten form names added to `uses`.
fn prepare(statement: &str, types: &[Option<&str>], uses: &mut Uses) {
    let text = CString::new(statement).unwrap_or_default();
    with_params(types, Vec::new(), |list| {
        // SAFETY: the parser setup reads the Params `list` points at, alive for the call; the
        // plan's sources and their queries live in SPI's context until SPI_finish.
        unsafe {
            let options = pg_sys::SPIPrepareOptions {
                parserSetup: (*list).parserSetup,
                parserSetupArg: (*list).parserSetupArg,
                parseMode: pg_sys::RawParseMode::RAW_PARSE_DEFAULT,
                cursorOptions: 0,
            };
            let plan = pg_sys::SPI_prepare_extended(text.as_ptr(), &options);
            if plan.is_null() {
                let code = pg_sys::SPI_result;
                fail(format!(
                    "the statement could not be checked (SPI code {code})"
                ));
            }
            let context: *mut Uses = uses;
            let sources = PgList::<pg_sys::CachedPlanSource>::from_pg(
                pg_sys::SPI_plan_get_plan_sources(plan),
            );
            for source in sources.iter_ptr() {
                for query in PgList::<pg_sys::Query>::from_pg((*source).query_list).iter_ptr() {
                    let utility = (*query).utilityStmt;
                    if !utility.is_null() && (*utility).type_ == pg_sys::NodeTag::T_CallStmt {
                        let call = utility.cast::<pg_sys::CallStmt>();
                        collect((*call).funcexpr.cast(), context.cast());
                    } else {
                        pg_sys::query_tree_walker(
                            query,
                            Some(collect),
                            context.cast(),
                            pg_sys::QTW_EXAMINE_RTES_BEFORE as i32,
                        );
                    }
                }
            }
        }
    })
}
