//! The master's vacuum of `sched.task_instance`, as soon as autovacuum's rule finds it due
//! (`sql/4_master/vacuum.sql` says why: the ready queue's dead head).
//!
//! VACUUM cannot run in a function or a transaction block, so it runs in a background worker
//! of its own, at the top level, as a client's `VACUUM` statement would; the master's tick
//! never waits for it. It runs with autovacuum's cost limits, so that it takes from the
//! engine's work no more than autovacuum would, only sooner; at most one runs at a time, and
//! one starts at most every five seconds.

use std::ffi::{CStr, c_int};
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, DynamicBackgroundWorker};
use pgrx::prelude::*;
use pgrx::{PgList, pg_sys};

use crate::gucs;
use crate::sql_task::backend_die;

/// `INDEX_CLEANUP ON`: left to itself, a vacuum skips the indexes when the dead rows sit in
/// under 2 % of the table's pages, and the dead head it is run for is in an index.
const STATEMENT: &CStr = c"VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON) sched.task_instance";
/// Between two starts, whatever the statistics say: a vacuum that failed leaves them as they were.
const START_EVERY: Duration = Duration::from_secs(5);

/// The master's view of its vacuums: the one running, and when the last started.
#[derive(Default)]
pub struct Vacuums {
    running: Option<DynamicBackgroundWorker>,
    started_at: Option<Instant>,
}

impl Vacuums {
    /// Starts a vacuum when none runs and `due` (the master's reading of `sched._vacuum_due()`)
    /// says so. Called by the master between its transactions.
    pub fn start_if_due(&mut self, due: impl FnOnce() -> bool) {
        if self.running.as_ref().is_some_and(|w| w.pid().is_ok())
            || self.started_at.is_some_and(|at| at.elapsed() < START_EVERY)
        {
            return;
        }
        self.running = None;
        if !due() {
            return;
        }
        self.started_at = Some(Instant::now());
        // SAFETY: reads this process's pid.
        self.running = BackgroundWorkerBuilder::new("pg_sched vacuum")
            .set_type("pg_sched vacuum")
            .set_library("pg_sched")
            .set_function("pg_sched_vacuum_main")
            .enable_spi_access()
            .set_restart_time(None)
            .set_notify_pid(unsafe { pg_sys::MyProcPid })
            .load_dynamic()
            // No free slot: autovacuum still comes, and the next tick asks again.
            .ok();
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
    // of a transaction command, which the vacuum commits and starts again around each table
    // it processes. Its memory lives in PortalContext, which a background worker has none of.
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
        let parsed = PgList::<pg_sys::RawStmt>::from_pg(pg_sys::raw_parser(
            STATEMENT.as_ptr(),
            pg_sys::RawParseMode::RAW_PARSE_DEFAULT,
        ));
        let raw = parsed.get_ptr(0).expect("VACUUM parses to one statement");
        let pstate = pg_sys::make_parsestate(std::ptr::null_mut());
        (*pstate).p_sourcetext = STATEMENT.as_ptr();
        pg_sys::ExecVacuum(pstate, (*raw).stmt.cast::<pg_sys::VacuumStmt>(), true);
        pg_sys::CommitTransactionCommand();
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null());
    }
}
