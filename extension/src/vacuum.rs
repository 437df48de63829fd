//! The master's vacuum of `sched.task_instance`, as soon as autovacuum's rule finds it due
//! (`sql/4_master/vacuum.sql` says why: the ready queue's dead head).
//!
//! VACUUM cannot run in a function or a transaction block, so it runs in a background worker
//! of its own, at the top level, as a client's `VACUUM` statement would; the master's tick
//! never waits for it. It runs with autovacuum's cost delay and limit and without parallel
//! workers, as one autovacuum worker would; at most one runs at a time, one starts at most
//! every five seconds, and only for dead rows that came after what the last one could not
//! remove (rows an open snapshot still sees stay dead, and vacuuming them again is no use).

use std::ffi::{CStr, c_int};
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder};
use pgrx::prelude::*;
use pgrx::{PgList, pg_sys};

use crate::gucs;
use crate::sql_task::backend_die;

/// `INDEX_CLEANUP ON`: left to itself, a vacuum skips the indexes when the dead rows sit in
/// under 2 % of the table's pages, and the dead head it is run for is in an index.
/// `PARALLEL 0`: as autovacuum, one process, one slot of `max_worker_processes`.
const STATEMENT: &CStr = c"VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON, PARALLEL 0) sched.task_instance";
/// Between two starts, whatever the statistics say: a vacuum that failed leaves them as they were.
const START_EVERY: Duration = Duration::from_secs(5);

/// What `sched._vacuum_due(left_behind)` says.
pub struct Reading {
    pub due: bool,
    /// Dead rows in the table now.
    pub dead_rows: i64,
    /// Vacuums of the table that completed (not autovacuum's).
    pub vacuums: i64,
}

/// The master's view of its vacuums.
pub struct Vacuums {
    /// The running one's handle, in the master's TopMemoryContext.
    running: *mut pg_sys::BackgroundWorkerHandle,
    started_at: Option<Instant>,
    /// Completed vacuums when the running one started.
    vacuums_before: i64,
    /// Dead rows the last vacuum left, less any removed since: only rows beyond them count.
    left_behind: i64,
}

impl Default for Vacuums {
    fn default() -> Self {
        Vacuums {
            running: std::ptr::null_mut(),
            started_at: None,
            vacuums_before: 0,
            left_behind: 0,
        }
    }
}

impl Vacuums {
    /// Starts a vacuum when none runs and `read` (the master's reading of
    /// `sched._vacuum_due(left_behind)`) says it is due. Called by the master between its
    /// transactions.
    pub fn start_if_due(&mut self, mut read: impl FnMut(i64) -> Reading) {
        if !self.running.is_null() {
            let mut pid: pg_sys::pid_t = 0;
            // SAFETY: the handle came from RegisterDynamicBackgroundWorker and is freed only here.
            let status = unsafe { pg_sys::GetBackgroundWorkerPid(self.running, &mut pid) };
            if status != pg_sys::BgwHandleStatus::BGWH_STOPPED {
                return;
            }
            // SAFETY: palloc'd in TopMemoryContext by launch, not used after.
            unsafe { pg_sys::pfree(self.running.cast()) };
            self.running = std::ptr::null_mut();
            // What it could not remove is what is dead right after it; one that skipped the
            // locked table or failed removed nothing, and the next may try again.
            let after = read(0);
            if after.vacuums > self.vacuums_before {
                self.left_behind = after.dead_rows;
            }
            return;
        }
        if self.started_at.is_some_and(|at| at.elapsed() < START_EVERY) {
            return;
        }
        let now = read(self.left_behind);
        // Removed since (by autovacuum, say): what is left behind is at most what is dead.
        self.left_behind = self.left_behind.min(now.dead_rows);
        if now.due {
            self.started_at = Some(Instant::now());
            self.vacuums_before = now.vacuums;
            self.running = launch();
        }
    }
}

/// Registers the vacuum's background worker; null when no slot is free (autovacuum still
/// comes, and a later tick asks again).
fn launch() -> *mut pg_sys::BackgroundWorkerHandle {
    let builder = BackgroundWorkerBuilder::new("pg_sched vacuum")
        .set_type("pg_sched vacuum")
        .set_library("pg_sched")
        .set_function("pg_sched_vacuum_main")
        .enable_spi_access()
        .set_restart_time(None);
    let mut worker: pg_sys::BackgroundWorker = (&builder).into();
    let mut handle: *mut pg_sys::BackgroundWorkerHandle = std::ptr::null_mut();
    // SAFETY: registers a worker described by a filled struct; the handle is palloc'd in
    // TopMemoryContext so that it outlives the master's transactions.
    unsafe {
        let previous = pg_sys::MemoryContextSwitchTo(pg_sys::TopMemoryContext);
        let registered = pg_sys::RegisterDynamicBackgroundWorker(&mut worker, &mut handle);
        pg_sys::MemoryContextSwitchTo(previous);
        if registered {
            handle
        } else {
            std::ptr::null_mut()
        }
    }
}

/// The background worker: connect as the bootstrap superuser, take autovacuum's cost limits,
/// vacuum, exit.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_sched_vacuum_main(_arg: pg_sys::Datum) {
    // SAFETY: `die` is PostgreSQL's SIGTERM handler for backends: a shutdown stops the vacuum
    // at its next interrupt check, as it would a client's.
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as c_int, Some(backend_die));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
    BackgroundWorker::connect_worker_to_spi(Some(&gucs::database()), None);
    BackgroundWorker::transaction(|| {
        // As the master: no name resolves through a schema others can write to. The settings
        // are the session's, so they outlive this transaction.
        Spi::run(
            "SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false),
                    pg_catalog.set_config('vacuum_cost_delay',
                        CASE WHEN pg_catalog.current_setting('autovacuum_vacuum_cost_delay') = '-1'
                             THEN pg_catalog.current_setting('vacuum_cost_delay')
                             ELSE pg_catalog.current_setting('autovacuum_vacuum_cost_delay') END, false),
                    pg_catalog.set_config('vacuum_cost_limit',
                        CASE WHEN pg_catalog.current_setting('autovacuum_vacuum_cost_limit') = '-1'
                             THEN pg_catalog.current_setting('vacuum_cost_limit')
                             ELSE pg_catalog.current_setting('autovacuum_vacuum_cost_limit') END, false),
                    pg_catalog.set_config('application_name', 'pg_sched vacuum', false)",
        )
        .expect("setting the vacuum's session");
    });
    // SAFETY: what PostgreSQL does for a client's VACUUM: parse it and run it at the top level
    // of a transaction command, which the vacuum commits and starts again around the table it
    // processes. The statement lives in PortalContext (which a background worker has none of),
    // not in the transaction's memory: the vacuum still reads the table's name from it after
    // its first commit, to say that it skipped a locked table.
    unsafe {
        pg_sys::PortalContext = pg_sys::AllocSetContextCreateInternal(
            pg_sys::TopMemoryContext,
            c"pg_sched vacuum".as_ptr(),
            0,
            8 * 1024,
            8 * 1024 * 1024,
        );
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, STATEMENT.as_ptr());
        let previous = pg_sys::MemoryContextSwitchTo(pg_sys::PortalContext);
        let parsed = PgList::<pg_sys::RawStmt>::from_pg(pg_sys::raw_parser(
            STATEMENT.as_ptr(),
            pg_sys::RawParseMode::RAW_PARSE_DEFAULT,
        ));
        let raw = parsed.get_ptr(0).expect("VACUUM parses to one statement");
        let pstate = pg_sys::make_parsestate(std::ptr::null_mut());
        (*pstate).p_sourcetext = STATEMENT.as_ptr();
        pg_sys::MemoryContextSwitchTo(previous);
        pg_sys::ExecVacuum(pstate, (*raw).stmt.cast::<pg_sys::VacuumStmt>(), true);
        pg_sys::CommitTransactionCommand();
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null());
    }
}
