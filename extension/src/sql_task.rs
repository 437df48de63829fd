//! SQL and procedure tasks on the scheduler's own database, run as the workflow's owner.
//!
//! A task's statements run in a background worker of their own that connected to the
//! database *as the owner* (as pg_cron does in its background-worker mode), not in a session
//! that switched role: its session user is the owner, so `RESET ROLE`, `SET ROLE`,
//! `SET SESSION AUTHORIZATION` and `set_config('role', ...)` can reach nothing the owner
//! could not already. The background worker does nothing privileged: it reads the task from
//! a dynamic shared memory segment, runs the statements, and writes what happened back into
//! the segment, where the launching call (`sched._execute_as`, made by the sched-worker
//! that claimed the task) reads it.
//!
//! `${name}` placeholders arrive bound (`sched_core::sql`). Their types are what the task
//! declared, else inferred by PostgreSQL from where they stand (variable parameters, as an
//! unprepared PREPARE would): each value is converted with its type's input function when
//! the executor asks for it. Pre statements, the statement and post statements run in one
//! transaction, each analysed only when it runs, so a statement may use what an earlier one
//! created.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::JsonB;
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder};
use pgrx::pg_sys;
use pgrx::prelude::*;
use sched_core::sql::{Bound, Dialect, Statement};
use serde_json::{Value, json};

use crate::error::fail;

/// How long a task waits for a free background worker slot. Others' tasks free theirs as they
/// end, so a burst waits milliseconds; a wait this long means max_worker_processes is too small.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// Room for the result (rows, log, error) in the shared segment.
const OUTPUT_BYTES: usize = 4 << 20;
/// Stored rows stop short of the segment's end, leaving room for the rest of the result.
const ROW_BYTES: usize = OUTPUT_BYTES - (64 << 10);

/// The start of the shared segment; the input (JSON) follows it, then the output (JSON).
#[repr(C)]
struct Header {
    /// Set to 1 once the output is complete.
    done: AtomicU32,
    input_len: u32,
    output_len: u32,
}

unsafe extern "C-unwind" {
    // parser/parse_param.h, which pgrx does not bind.
    fn setup_parse_variable_parameters(
        pstate: *mut pg_sys::ParseState,
        param_types: *mut *mut pg_sys::Oid,
        num_params: *mut c_int,
    );
    // tcop/tcopprot.h; pgrx's binding is a Rust wrapper, which is no signal handler.
    #[link_name = "die"]
    pub(crate) fn backend_die(signal: c_int);
}

/// Runs a sql or procedure task's statements as `owner`, in a background worker connected
/// as that role, and returns what happened: `{"log": [...], "columns", "rows", "row_count",
/// "truncated"}`, or `{"error": ...}`. Internal: granted to no one; `sched._run_sql_task`
/// calls it for the worker that holds the task.
#[pg_extern(name = "_execute_as")]
pub fn execute_as(owner: pg_sys::Oid, settings: JsonB) -> JsonB {
    let input = json!({"settings": settings.0}).to_string();
    let size = std::mem::size_of::<Header>() + input.len() + OUTPUT_BYTES;
    // SAFETY: the segment is sized for the header, the input and the output; it is owned
    // by this call's resource owner and detached when the transaction ends.
    unsafe {
        let segment = pg_sys::dsm_create(size, 0);
        let base = pg_sys::dsm_segment_address(segment).cast::<u8>();
        let header = base.cast::<Header>();
        header.write(Header {
            done: AtomicU32::new(0),
            input_len: input.len() as u32,
            output_len: 0,
        });
        let input_at = base.add(std::mem::size_of::<Header>());
        std::ptr::copy_nonoverlapping(input.as_ptr(), input_at, input.len());

        let builder = BackgroundWorkerBuilder::new("pg_sched sql task")
            .set_type("pg_sched sql task")
            .set_library("pg_sched")
            .set_function("pg_sched_sql_task_main")
            .enable_spi_access()
            .set_restart_time(None)
            .set_argument(Some(pg_sys::Datum::from(
                pg_sys::dsm_segment_handle(segment) as usize,
            )))
            .set_extra(&format!(
                "{} {}",
                pg_sys::MyDatabaseId.to_u32(),
                owner.to_u32()
            ))
            .set_notify_pid(pg_sys::MyProcPid);
        let mut worker: pg_sys::BackgroundWorker = (&builder).into();
        let mut handle: *mut pg_sys::BackgroundWorkerHandle = std::ptr::null_mut();
        // A slot frees without a signal to us, so look again every 10 ms; a kill interrupts.
        let waiting = std::time::Instant::now();
        while !pg_sys::RegisterDynamicBackgroundWorker(&mut worker, &mut handle) {
            if waiting.elapsed() > SLOT_WAIT {
                fail(format!(
                    "no background worker slot was free for the SQL task within {} s; raise \
                     max_worker_processes (each running sql or procedure task on the scheduler's \
                     database uses one)",
                    SLOT_WAIT.as_secs()
                ));
            }
            pause(10);
        }
        // A cancel (the task was killed) or any other error stops the statements too.
        PgTryBuilder::new(|| pg_sys::WaitForBackgroundWorkerShutdown(handle))
            .catch_others(|error| {
                pg_sys::TerminateBackgroundWorker(handle);
                error.rethrow()
            })
            .execute();
        let result = if (*header).done.load(Ordering::Acquire) != 1 {
            json!({
                "error": "the background worker running the statements ended without a result \
                          (terminated, or it could not connect as the workflow's owner: see the server log)"
            })
        } else {
            let output_at = input_at.add(input.len());
            let output = std::slice::from_raw_parts(output_at, (*header).output_len as usize);
            serde_json::from_slice(output)
                .unwrap_or_else(|e| json!({"error": format!("unreadable result: {e}")}))
        };
        pg_sys::dsm_detach(segment);
        JsonB(result)
    }
}

/// Waits `ms` on this backend's latch and serves interrupts (a cancel ends the wait with an
/// ERROR): the wait of a call that polls for what no signal announces.
pub(crate) fn pause(ms: i64) {
    // SAFETY: waits on this backend's latch, as any backend does.
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    check_for_interrupts!();
}

/// The background worker: attach, connect as the owner, run, report, exit.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_sched_sql_task_main(arg: pg_sys::Datum) {
    // SAFETY: `die` is PostgreSQL's SIGTERM handler for backends: a terminate request
    // stops the running statement at its next interrupt check.
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as c_int, Some(backend_die));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
    let mut ids = BackgroundWorker::get_extra()
        .split(' ')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (database, owner) = (ids.next().unwrap_or(0), ids.next().unwrap_or(0));
    // SAFETY: the launcher keeps the segment until this process has exited; a segment that
    // is gone (the launcher's transaction ended) means there is no one to answer.
    let segment = unsafe { pg_sys::dsm_attach(arg.value() as pg_sys::dsm_handle) };
    if segment.is_null() {
        return;
    }
    let (header, input, output_at) = unsafe {
        let base = pg_sys::dsm_segment_address(segment).cast::<u8>();
        let header = base.cast::<Header>();
        let input_at = base.add(std::mem::size_of::<Header>());
        let input = std::slice::from_raw_parts(input_at, (*header).input_len as usize);
        (header, input, input_at.add(input.len()))
    };
    let input: Value = serde_json::from_slice(input).unwrap_or(Value::Null);
    BackgroundWorker::connect_worker_to_spi_by_oid(
        Some(pg_sys::Oid::from(database)),
        Some(pg_sys::Oid::from(owner)),
    );
    let settings = &input["settings"];
    let result =
        PgTryBuilder::new(|| in_transaction(settings["snapshot"].as_str(), || run(settings)))
            .catch_others(|error| json!({"error": error_text(&error)}))
            .execute();
    let mut bytes = result.to_string().into_bytes();
    if bytes.len() > OUTPUT_BYTES {
        bytes = json!({"error": "the result did not fit the shared memory segment"})
            .to_string()
            .into_bytes();
    }
    // SAFETY: the output area is OUTPUT_BYTES long; `done` is published after the bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), output_at, bytes.len());
        (*header).output_len = bytes.len() as u32;
        (*header).done.store(1, Ordering::Release);
    }
}

/// Runs `body` in a transaction of its own; given a snapshot id (`snapshot.rs`), REPEATABLE
/// READ on that snapshot, imported before anything takes another.
fn in_transaction<R>(snapshot: Option<&str>, body: impl FnOnce() -> R) -> R {
    // SAFETY: this process's only transaction; the isolation level is set and the snapshot
    // imported before the first snapshot is taken, as SET TRANSACTION SNAPSHOT requires.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        if let Some(id) = snapshot {
            pg_sys::XactIsoLevel = pg_sys::XACT_REPEATABLE_READ as i32;
            let id = CString::new(id).unwrap_or_default();
            pg_sys::ImportSnapshot(id.as_ptr());
        }
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        let result = body();
        pg_sys::PopActiveSnapshot();
        pg_sys::CommitTransactionCommand();
        result
    }
}

/// A caught error as a task reports it: its message, with its detail and hint.
pub(crate) fn error_text(error: &pg_sys::panic::CaughtError) -> String {
    match error {
        pg_sys::panic::CaughtError::PostgresError(r)
        | pg_sys::panic::CaughtError::ErrorReport(r)
        | pg_sys::panic::CaughtError::RustPanic { ereport: r, .. } => {
            let mut text = r.message().to_owned();
            if let Some(detail) = r.detail() {
                text.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = r.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            text
        }
    }
}

/// What a statement's rows became.
struct Rows {
    columns: Vec<String>,
    kept: Vec<Vec<Option<String>>>,
    count: u64,
    bytes: usize,
    limit: usize,
    truncated: bool,
    returned_rows: bool,
}

/// Runs the task's statements inside the current transaction (the background worker's, or a
/// test run's subtransaction).
pub(crate) fn run(settings: &Value) -> Value {
    let limit = settings
        .get("limit_rows")
        .and_then(Value::as_i64)
        .unwrap_or(sched_core::sql::DEFAULT_LIMIT_ROWS)
        .max(0) as usize;
    let mut log = Vec::new();
    let statements = match sched_core::sql::statements(settings, Dialect::Postgres) {
        Ok(statements) => statements,
        Err(why) => return json!({"error": why}),
    };
    // SAFETY: SPI is used between connect and finish, inside the worker's transaction.
    unsafe { pg_sys::SPI_connect() };
    let mut result = json!({"columns": [], "rows": [], "row_count": 0, "truncated": false});
    for Statement { field, bound, keep } in &statements {
        let mut rows = Rows {
            columns: Vec::new(),
            kept: Vec::new(),
            count: 0,
            bytes: 0,
            limit: if *keep { limit } else { 0 },
            truncated: false,
            returned_rows: false,
        };
        let text = CString::new(bound.postgres()).unwrap_or_default();
        // SAFETY: reports the statement to pg_stat_activity, which copies it.
        unsafe {
            pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, text.as_ptr())
        };
        let (code, processed) = execute(bound, &mut rows);
        if code < 0 {
            let name = code_name(code);
            let why = if code == pg_sys::SPI_ERROR_TRANSACTION {
                "transaction control (BEGIN, COMMIT, ROLLBACK) is not allowed: a task's statements run in one transaction".to_owned()
            } else {
                format!("the statement could not be run ({name})")
            };
            unsafe { pg_sys::SPI_finish() };
            return json!({"error": format!("{field}: {why}"), "log": log});
        }
        if rows.returned_rows {
            let kept = rows.kept.len();
            log.push(format!(
                "{field}: {} row(s) returned{}",
                rows.count,
                if *keep && (kept as u64) < rows.count {
                    format!(", the first {kept} kept")
                } else {
                    String::new()
                }
            ));
        } else {
            let what = code_name(code);
            match what.strip_prefix("SPI_OK_") {
                Some(verb @ ("INSERT" | "UPDATE" | "DELETE" | "MERGE" | "SELINTO")) => {
                    log.push(format!("{field}: {verb}, {processed} row(s) affected"))
                }
                _ => log.push(format!("{field}: done")),
            }
        }
        if *keep {
            result = json!({
                "columns": rows.columns,
                "rows": rows.kept,
                "row_count": rows.count,
                "truncated": rows.truncated || (rows.kept.len() as u64) < rows.count,
            });
        }
    }
    unsafe { pg_sys::SPI_finish() };
    result["log"] = json!(log);
    result
}

fn code_name(code: c_int) -> String {
    // SAFETY: SPI_result_code_string returns a static string for any code.
    unsafe { CStr::from_ptr(pg_sys::SPI_result_code_string(code)) }
        .to_string_lossy()
        .into_owned()
}

/// The parameters of one statement: their types, as declared or as the parser infers them
/// (an array PostgreSQL may grow), and their values as text.
struct Params {
    types: *mut pg_sys::Oid,
    count: c_int,
    values: Vec<Option<CString>>,
}

fn type_oid(name: Option<&str>) -> pg_sys::Oid {
    match name {
        Some("int4") => pg_sys::INT4OID,
        Some("int8") => pg_sys::INT8OID,
        Some("float4") => pg_sys::FLOAT4OID,
        Some("float8") => pg_sys::FLOAT8OID,
        Some("date") => pg_sys::DATEOID,
        Some("time") => pg_sys::TIMEOID,
        Some("timestamp") => pg_sys::TIMESTAMPOID,
        Some("bool") => pg_sys::BOOLOID,
        Some("jsonb") => pg_sys::JSONBOID,
        _ => pg_sys::InvalidOid,
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn parser_setup(pstate: *mut pg_sys::ParseState, arg: *mut c_void) {
    let params = arg.cast::<Params>();
    // SAFETY: `arg` is the Params of the statement being analysed, alive for its run.
    unsafe { setup_parse_variable_parameters(pstate, &mut (*params).types, &mut (*params).count) };
}

#[pg_guard]
unsafe extern "C-unwind" fn fetch_param(
    list: pg_sys::ParamListInfo,
    id: c_int,
    _speculative: bool,
    workspace: *mut pg_sys::ParamExternData,
) -> *mut pg_sys::ParamExternData {
    // SAFETY: the list is ours (see `execute`), its fetch argument the statement's Params.
    unsafe {
        let params = &*(*list).paramFetchArg.cast::<Params>();
        let i = (id - 1) as usize;
        let mut oid = if id >= 1 && id <= params.count {
            *params.types.add(i)
        } else {
            pg_sys::InvalidOid
        };
        if oid == pg_sys::InvalidOid {
            oid = pg_sys::UNKNOWNOID;
        }
        (*workspace).ptype = oid;
        (*workspace).pflags = pg_sys::PARAM_FLAG_CONST as u16;
        match params.values.get(i).and_then(Option::as_ref) {
            None => {
                (*workspace).isnull = true;
                (*workspace).value = pg_sys::Datum::from(0usize);
            }
            Some(text) => {
                let mut input = pg_sys::InvalidOid;
                let mut io_param = pg_sys::InvalidOid;
                pg_sys::getTypeInputInfo(oid, &mut input, &mut io_param);
                (*workspace).isnull = false;
                (*workspace).value =
                    pg_sys::OidInputFunctionCall(input, text.as_ptr() as *mut c_char, io_param, -1);
            }
        }
        workspace
    }
}

/// A receiver that keeps the first rows of a result as text and counts the rest.
#[repr(C)]
struct Collector {
    base: pg_sys::DestReceiver,
    rows: *mut Rows,
    outputs: Vec<pg_sys::Oid>,
}

#[pg_guard]
unsafe extern "C-unwind" fn collector_startup(
    receiver: *mut pg_sys::DestReceiver,
    _operation: c_int,
    desc: pg_sys::TupleDesc,
) {
    // SAFETY: the receiver is a Collector (see `execute`); desc is the result's descriptor.
    unsafe {
        let collector = &mut *receiver.cast::<Collector>();
        let rows = &mut *collector.rows;
        rows.returned_rows = true;
        rows.columns.clear();
        collector.outputs.clear();
        for i in 0..(*desc).natts as usize {
            let attr = (*desc).attrs.as_slice((*desc).natts as usize)[i];
            rows.columns.push(
                CStr::from_ptr(attr.attname.data.as_ptr())
                    .to_string_lossy()
                    .into_owned(),
            );
            let mut output = pg_sys::InvalidOid;
            let mut varlena = false;
            pg_sys::getTypeOutputInfo(attr.atttypid, &mut output, &mut varlena);
            collector.outputs.push(output);
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn collector_receive(
    slot: *mut pg_sys::TupleTableSlot,
    receiver: *mut pg_sys::DestReceiver,
) -> bool {
    // SAFETY: as in collector_startup; the slot holds one row of that descriptor.
    unsafe {
        let collector = &mut *receiver.cast::<Collector>();
        let rows = &mut *collector.rows;
        rows.count += 1;
        if rows.kept.len() >= rows.limit || rows.truncated {
            return true;
        }
        let natts = collector.outputs.len();
        pg_sys::slot_getsomeattrs(slot, natts as c_int);
        let mut row = Vec::with_capacity(natts);
        let mut bytes = 0;
        for (i, output) in collector.outputs.iter().enumerate() {
            if *(*slot).tts_isnull.add(i) {
                row.push(None);
                continue;
            }
            let text = pg_sys::OidOutputFunctionCall(*output, *(*slot).tts_values.add(i));
            let text = CStr::from_ptr(text).to_string_lossy().into_owned();
            bytes += text.len() + 8;
            row.push(Some(text));
        }
        if rows.bytes + bytes > ROW_BYTES {
            rows.truncated = true;
        } else {
            rows.bytes += bytes;
            rows.kept.push(row);
        }
        true
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn collector_noop(_receiver: *mut pg_sys::DestReceiver) {}

/// Executes one bound statement; returns SPI's code and the rows it processed.
fn execute(bound: &Bound, rows: &mut Rows) -> (c_int, u64) {
    let text = CString::new(bound.postgres())
        .unwrap_or_else(|_| fail("the statement contains a NUL character".into()));
    let types: Vec<Option<&str>> = bound.args.iter().map(|a| a.pg_type()).collect();
    let values = bound
        .args
        .iter()
        .map(|a| {
            a.value
                .as_deref()
                .map(|v| CString::new(v).unwrap_or_default())
        })
        .collect();
    with_params(&types, values, |list| {
        let mut collector = Collector {
            base: pg_sys::DestReceiver {
                receiveSlot: Some(collector_receive),
                rStartup: Some(collector_startup),
                rShutdown: Some(collector_noop),
                rDestroy: Some(collector_noop),
                mydest: pg_sys::CommandDest::DestNone,
            },
            rows,
            outputs: Vec::new(),
        };
        let options = execute_options(list, (&mut collector as *mut Collector).cast());
        // SAFETY: the text, the parameters and the collector outlive the call.
        let code = unsafe { pg_sys::SPI_execute_extended(text.as_ptr(), &options) };
        (code, unsafe { pg_sys::SPI_processed })
    })
}

/// How a task's statement runs: with these parameters, writing to `dest` (none: SPI keeps
/// the rows), read-write, in the caller's transaction.
pub(crate) fn execute_options(
    params: pg_sys::ParamListInfo,
    dest: *mut pg_sys::DestReceiver,
) -> pg_sys::SPIExecuteOptions {
    pg_sys::SPIExecuteOptions {
        params,
        read_only: false,
        allow_nonatomic: false,
        must_return_tuples: false,
        tcount: 0,
        dest,
        owner: std::ptr::null_mut(),
    }
}

/// Calls `run` with a parameter list of these declared types (`None`: inferred from where
/// the parameter stands) and values (`None`: NULL), set up for SPI's parser and executor.
pub(crate) fn with_params<R>(
    types: &[Option<&str>],
    values: Vec<Option<CString>>,
    run: impl FnOnce(pg_sys::ParamListInfo) -> R,
) -> R {
    let count = types.len();
    // SAFETY: the Params live on this frame until `run` returns, the arrays are palloc'd in
    // the current (SPI's) context.
    unsafe {
        let oids = pg_sys::palloc0(std::mem::size_of::<pg_sys::Oid>() * count.max(1))
            .cast::<pg_sys::Oid>();
        for (i, name) in types.iter().enumerate() {
            *oids.add(i) = type_oid(*name);
        }
        let mut params = Params {
            types: oids,
            count: count as c_int,
            values,
        };
        let list = pg_sys::makeParamList(count as c_int);
        let params_ptr: *mut Params = &mut params;
        (*list).paramFetch = Some(fetch_param);
        (*list).paramFetchArg = params_ptr.cast();
        (*list).parserSetup = Some(parser_setup);
        (*list).parserSetupArg = params_ptr.cast();
        run(list)
    }
}
