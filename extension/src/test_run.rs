//! Test runs (`sched.test_run`, sql/7_api/test_run.sql): a sql or procedure task's statements
//! run here, in the caller's transaction, as the workflow's owner with the owner's login
//! `search_path`, in a subtransaction of their own. A failure rolls the subtransaction back and
//! is returned; a success keeps its effects for the tasks after it, until the test run rolls
//! everything back. What the statements say (NOTICE, INFO, WARNING) is collected for the task
//! instead of reaching the client one line after another.

use std::cell::RefCell;
use std::ffi::{CString, c_int};
use std::time::Instant;

use pgrx::JsonB;
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{Value, json};

use crate::sql_task::{error_text, run};

// utils/timeout.h, which pgrx does not bind.
unsafe extern "C-unwind" {
    fn enable_timeout_after(id: c_int, delay_ms: c_int);
    fn disable_timeout(id: c_int, keep_indicator: bool);
    fn get_timeout_active(id: c_int) -> bool;
    fn get_timeout_indicator(id: c_int, reset_indicator: bool) -> bool;
}
/// `STATEMENT_TIMEOUT` in PostgreSQL 15's `TimeoutId`.
const STATEMENT_TIMEOUT: c_int = 3;

thread_local! {
    /// The messages of the statements running now; `None` when none runs.
    static HEARD: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    static PREVIOUS_HOOK: RefCell<pg_sys::emit_log_hook_type> = const { RefCell::new(None) };
}

#[pg_guard]
unsafe extern "C-unwind" fn hear(edata: *mut pg_sys::ErrorData) {
    // SAFETY: PostgreSQL passes the report being emitted, alive for this call.
    unsafe {
        let level = (*edata).elevel as u32;
        if (pg_sys::INFO..=pg_sys::WARNING_CLIENT_ONLY).contains(&level) {
            HEARD.with_borrow_mut(|heard| {
                if let Some(heard) = heard {
                    let message = if (*edata).message.is_null() {
                        String::new()
                    } else {
                        std::ffi::CStr::from_ptr((*edata).message)
                            .to_string_lossy()
                            .into_owned()
                    };
                    let word = match level {
                        pg_sys::INFO => "INFO",
                        pg_sys::NOTICE => "NOTICE",
                        _ => "WARNING",
                    };
                    heard.push(format!("{word}: {message}"));
                    (*edata).output_to_client = false;
                    (*edata).output_to_server = false;
                }
            });
        }
        if let Some(previous) = PREVIOUS_HOOK.with_borrow(|p| *p) {
            previous(edata);
        }
    }
}

/// Runs a sql or procedure task's bound statements (`settings`, as an attempt would run
/// them) as `owner`, restricted (no SET ROLE, no temporary objects, nothing left in the
/// session) when the caller is another role. Returns `{"state": "succeeded" | "failed",
/// "error", "log", "columns", "rows", "row_count", "truncated", "out", "notices",
/// "duration_ms"}`; never raises for what the statements do. A positive `timeout_ms` cancels
/// the statements after that long (as statement_timeout would) unless a statement timeout
/// already runs.
#[pg_extern(name = "_test_sql")]
pub fn test_sql(
    owner: pg_sys::Oid,
    restricted: bool,
    search_path: &str,
    task_type: &str,
    settings: JsonB,
    timeout_ms: default!(i32, 0),
) -> JsonB {
    let started = Instant::now();
    let path = CString::new(search_path).unwrap_or_default();
    HEARD.with_borrow_mut(|heard| *heard = Some(Vec::new()));
    // SAFETY: the subtransaction is released or rolled back before returning, and the memory
    // context and resource owner put back, as PL/pgSQL does around an exception block. The user
    // id and the settings are the subtransaction's: a rollback puts them back, a release is
    // preceded by putting them back here. The hook is put back on every path.
    // SAFETY: reads whether this backend's statement timeout is armed.
    let timed = timeout_ms > 0 && !unsafe { get_timeout_active(STATEMENT_TIMEOUT) };
    let mut result = unsafe {
        PREVIOUS_HOOK.with_borrow_mut(|p| *p = pg_sys::emit_log_hook);
        pg_sys::emit_log_hook = Some(hear);
        let context = pg_sys::CurrentMemoryContext;
        let resource_owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let outcome = PgTryBuilder::new(|| {
            let (mut user, mut security) = (pg_sys::InvalidOid, 0);
            pg_sys::GetUserIdAndSecContext(&mut user, &mut security);
            let mut switched = security | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32;
            if restricted {
                switched |= pg_sys::SECURITY_RESTRICTED_OPERATION as i32;
            }
            pg_sys::SetUserIdAndSecContext(owner, switched);
            if timed {
                enable_timeout_after(STATEMENT_TIMEOUT, timeout_ms);
            }
            let nest = pg_sys::NewGUCNestLevel();
            // The hook hears only what goes to the server log: INFO and up does while the
            // statements run, and the hook keeps what it hears out of the log and the client.
            for (name, value, context) in [
                (
                    c"search_path",
                    path.as_c_str(),
                    pg_sys::GucContext::PGC_USERSET,
                ),
                (c"log_min_messages", c"info", pg_sys::GucContext::PGC_SUSET),
            ] {
                pg_sys::set_config_option(
                    name.as_ptr(),
                    value.as_ptr(),
                    context,
                    pg_sys::GucSource::PGC_S_SESSION,
                    pg_sys::GucAction::GUC_ACTION_SAVE,
                    true,
                    0,
                    false,
                );
            }
            let result = run(&settings.0);
            // What the statements SET ends with them, as it would with their session.
            pg_sys::AtEOXact_GUC(false, nest);
            pg_sys::SetUserIdAndSecContext(user, security);
            Ok(result)
        })
        .catch_others(|error| Err(error_text(&error)))
        .execute();
        if timed {
            // A timeout that fired after the statements ended must not cancel what follows.
            let fired = get_timeout_indicator(STATEMENT_TIMEOUT, true);
            disable_timeout(STATEMENT_TIMEOUT, false);
            if fired && outcome.is_ok() {
                pg_sys::QueryCancelPending = 0;
            }
        }
        let keep = matches!(&outcome, Ok(result) if result.get("error").is_none());
        pg_sys::MemoryContextSwitchTo(context);
        if keep {
            pg_sys::ReleaseCurrentSubTransaction();
        } else {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = resource_owner;
        pg_sys::emit_log_hook = PREVIOUS_HOOK.with_borrow(|p| *p);
        outcome.unwrap_or_else(|error| json!({"error": error}))
    };
    let notices = HEARD.with_borrow_mut(Option::take).unwrap_or_default();
    if result.get("error").is_none() {
        let mut columns: Vec<String> =
            serde_json::from_value(result["columns"].clone()).unwrap_or_default();
        let rows: Vec<Vec<Option<String>>> =
            serde_json::from_value(result["rows"].clone()).unwrap_or_default();
        match sched_core::sql::task_out(task_type, &settings.0, &mut columns, &rows) {
            Ok(out) => {
                result["columns"] = json!(columns);
                result["out"] = json!(out);
            }
            Err(why) => result["error"] = Value::String(why),
        }
    }
    result["state"] = json!(if result.get("error").is_none() {
        "succeeded"
    } else {
        "failed"
    });
    result["notices"] = json!(notices);
    result["duration_ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
    JsonB(result)
}
