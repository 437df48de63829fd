//! The master: a background worker that does what no caller's transaction can, reacting to
//! time. In this version that is worker liveness (workers silent for `sched.worker_timeout`
//! are declared dead and their tasks failed over) and, once a minute, retention: log
//! partitions made ahead and dropped after `sched.log_retention`, finished instances deleted
//! after `sched.history_retention`.
//!
//! It keeps no state outside tables, so it can be killed at any moment: an ERROR or SIGTERM
//! ends the process and the postmaster starts a new one after `RESTART_AFTER`.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use crate::gucs;

const RESTART_AFTER: Duration = Duration::from_secs(5);
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
/// Finished instances deleted per transaction, and transactions per pass: 20,000 a minute.
const HISTORY_BATCH: i32 = 1000;
const HISTORY_BATCHES_PER_PASS: usize = 20;
/// Archive transactions per tick (each up to 1,000 instances or about 20,000 attempts).
const ARCHIVE_BATCHES_PER_TICK: usize = 5;

pub fn register() {
    BackgroundWorkerBuilder::new("pg_sched master")
        .set_type("pg_sched master")
        .set_library("pg_sched")
        .set_function("pg_sched_master_main")
        .enable_spi_access()
        .set_restart_time(Some(RESTART_AFTER))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_sched_master_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = gucs::database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    unsafe { pg_sys::pgstat_report_appname(c"pg_sched master".as_ptr()) };
    // The master runs as the bootstrap superuser: nothing it executes may resolve a name through
    // a schema that a database owner or user can write to (a planted public.= for an enum, say).
    let started_at = BackgroundWorker::transaction(|| {
        Spi::run("SET search_path = pg_catalog, pg_temp")
            .expect("pinning the master's search_path");
        Spi::get_one::<TimestampWithTimeZone>("SELECT pg_catalog.now()")
            .expect("reading the clock")
            .expect("now() is never null")
    });
    log!("pg_sched master started for database \"{database}\"");

    let mut maintained: Option<Instant> = None;
    while BackgroundWorker::wait_latch(Some(gucs::tick())) {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let timeout_s = gucs::worker_timeout_s();
        BackgroundWorker::transaction(|| {
            if !extension_ready() {
                return;
            }
            let dead = Spi::get_one_with_args::<i32>(
                "SELECT sched._master_tick(pg_catalog.make_interval(secs => $1), $2)",
                &[f64::from(timeout_s).into(), started_at.into()],
            )
            .expect("sched._master_tick failed")
            .unwrap_or(0);
            if dead > 0 {
                log!(
                    "pg_sched master: {dead} worker(s) missed heartbeats for {timeout_s} s; their tasks were failed over"
                );
            }
        });
        if maintained.is_none_or(|at| at.elapsed() >= MAINTENANCE_EVERY) && maintain() {
            maintained = Some(Instant::now());
        }
        if maintained.is_some() {
            archive();
        }
    }
    // Exit code 1 asks the postmaster to restart us; 0 would unregister the master for good
    // (a SIGTERM from pg_terminate_backend must not switch failover off).
    unsafe { pg_sys::proc_exit(1) };
}

/// Retention, in a transaction of its own so that it never holds up the failover tick;
/// false while the extension is not installed yet.
fn maintain() -> bool {
    let ready = BackgroundWorker::transaction(|| {
        if !extension_ready() {
            return false;
        }
        Spi::run_with_args(
            "SELECT sched._maintain_logs((pg_catalog.now() AT TIME ZONE 'UTC')::date,
                                         pg_catalog.make_interval(secs => $1))",
            &[f64::from(gucs::log_retention_s()).into()],
        )
        .expect("sched._maintain_logs failed");
        true
    });
    if !ready {
        return false;
    }
    // A batch per transaction, so that no pass holds many locks or a long snapshot.
    let mut expired = 0;
    for _ in 0..HISTORY_BATCHES_PER_PASS {
        let batch = BackgroundWorker::transaction(|| {
            Spi::get_one_with_args::<i32>(
                "SELECT sched._expire_history(pg_catalog.now(), pg_catalog.make_interval(secs => $1), $2)",
                &[f64::from(gucs::history_retention_s()).into(), HISTORY_BATCH.into()],
            )
            .expect("sched._expire_history failed")
            .unwrap_or(0)
        });
        expired += batch;
        if batch < HISTORY_BATCH {
            break;
        }
    }
    if expired > 0 {
        log!(
            "pg_sched master: deleted {expired} finished instance(s) past sched.history_retention"
        );
    }
    true
}

/// Moves the attempts of instances that finished a minute ago to the history, a few batches
/// a tick, each in its own transaction.
fn archive() {
    for _ in 0..ARCHIVE_BATCHES_PER_TICK {
        let moved = BackgroundWorker::transaction(|| {
            Spi::get_one::<i32>("SELECT sched._archive_finished(pg_catalog.now())")
                .expect("sched._archive_finished failed")
                .unwrap_or(0)
        });
        if moved == 0 {
            break;
        }
    }
}

/// The master starts with the server, possibly long before CREATE EXTENSION runs.
fn extension_ready() -> bool {
    Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_sched')",
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}
