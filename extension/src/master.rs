//! The master: a background worker that does what no caller's transaction can, reacting to
//! time: worker liveness (workers silent for `sched.worker_timeout` are declared dead and
//! their tasks failed over), run policies (delayed attempts queued on time, timeouts), the
//! events of triggers (a watched table's change, a dataset's update: `sched._drain_events`), and
//! once a minute retention: log partitions made ahead and dropped after
//! `sched.log_retention`, finished instances deleted after `sched.history_retention`. It
//! analyses the engine's tables as they grow and starts a vacuum of the task table as soon as
//! autovacuum's rule finds it due (`vacuum.rs`).
//!
//! Policies are event-timed: `sched._policy_tick` says when it next has work, and the master
//! sleeps until then (at most a tick); a transaction that creates such work wakes it when it
//! commits (`sched._wake_master`), through the master's latch, whose pid is in shared memory.
//!
//! It keeps no state outside tables, so it can be killed at any moment: an ERROR or SIGTERM
//! ends the process and the launcher starts a new one after `RESTART_AFTER`.
//!
//! The launcher is the background worker the server starts (once recovery is over: never on a
//! standby, at once on promotion). It connects to no database, so that it can wait quietly for
//! `sched.database` to exist, where a worker connecting to a missing database would fail and
//! be restarted every few seconds; then it starts the master as a dynamic background worker,
//! and starts it again whenever it ends.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, DynamicBackgroundWorker,
    SignalWakeFlags,
};
use pgrx::prelude::*;
use pgrx::{PgAtomic, PgXactCallbackEvent, pg_shmem_init, register_xact_callback};

use crate::gucs;
use crate::vacuum::{Reading, Vacuums};

const RESTART_AFTER: Duration = Duration::from_secs(5);
/// How often the launcher looks for the database and at the master.
const LAUNCHER_POLL: Duration = Duration::from_secs(1);
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
/// Finished instances deleted per transaction, and transactions per pass: 20,000 a minute.
const HISTORY_BATCH: i32 = 1000;
const HISTORY_BATCHES_PER_PASS: usize = 20;
/// Archive transactions per tick (each up to 1,000 instances or about 20,000 attempts).
const ARCHIVE_BATCHES_PER_TICK: usize = 5;

/// The running master's pid, 0 when there is none.
static MASTER_PID: PgAtomic<AtomicI32> = unsafe { PgAtomic::new(c"pg_sched_master_pid") };
/// Shared memory exists only when the library was preloaded.
static SHARED: AtomicBool = AtomicBool::new(false);
/// This backend's transaction has asked to wake the master at commit.
static WAKE_PENDING: AtomicBool = AtomicBool::new(false);

pub fn init_shared_memory() {
    pg_shmem_init!(MASTER_PID);
    SHARED.store(true, Ordering::Relaxed);
}

/// Whether the calling process is the master: only it evaluates `admit_when` expressions
/// (`sql/3_engine/admit_when.sql`), so that no user's transaction can make it wait.
#[pg_extern(name = "_in_master", volatile)]
pub fn in_master() -> bool {
    // SAFETY: reads this process's pid.
    SHARED.load(Ordering::Relaxed)
        && MASTER_PID.get().load(Ordering::Relaxed) == unsafe { pg_sys::MyProcPid }
}

/// Wakes the master when the calling transaction commits: what it created (a delayed attempt,
/// a timeout) is invisible to the master before.
#[pg_extern(name = "_wake_master", volatile)]
pub fn wake_master() {
    if !SHARED.load(Ordering::Relaxed) || WAKE_PENDING.swap(true, Ordering::Relaxed) {
        return;
    }
    register_xact_callback(PgXactCallbackEvent::Commit, || {
        WAKE_PENDING.store(false, Ordering::Relaxed);
        let pid = MASTER_PID.get().load(Ordering::Relaxed);
        if pid > 0 {
            // SAFETY: BackendPidGetProc returns the live PGPROC of that pid or null; setting
            // its latch is what PostgreSQL's own wakeups do.
            unsafe {
                let proc = pg_sys::BackendPidGetProc(pid);
                if !proc.is_null() {
                    pg_sys::SetLatch(&mut (*proc).procLatch);
                }
            }
        }
    });
    register_xact_callback(PgXactCallbackEvent::Abort, || {
        WAKE_PENDING.store(false, Ordering::Relaxed);
    });
}

pub fn register() {
    BackgroundWorkerBuilder::new("pg_sched launcher")
        .set_type("pg_sched launcher")
        .set_library("pg_sched")
        .set_function("pg_sched_launcher_main")
        .enable_spi_access()
        .set_restart_time(Some(RESTART_AFTER))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_sched_launcher_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // No database: only the shared catalogs, where pg_database is.
    BackgroundWorker::connect_worker_to_spi(None, None);
    let database = gucs::database();
    let mut master: Option<DynamicBackgroundWorker> = None;
    let mut ended_at: Option<Instant> = None;
    let mut said_waiting = false;
    while BackgroundWorker::wait_latch(Some(LAUNCHER_POLL)) {
        if let Some(running) = &master {
            match running.pid() {
                Ok(_) | Err(BackgroundWorkerStatus::NotYetStarted) => continue,
                Err(_) => {
                    master = None;
                    ended_at = Some(Instant::now());
                }
            }
        }
        if ended_at.is_some_and(|at| at.elapsed() < RESTART_AFTER) {
            continue;
        }
        if !database_exists(&database) {
            if !std::mem::replace(&mut said_waiting, true) {
                log!(
                    "pg_sched: waiting for database \"{database}\" (sched.database) to be created"
                );
            }
            continue;
        }
        said_waiting = false;
        master = BackgroundWorkerBuilder::new("pg_sched master")
            .set_type("pg_sched master")
            .set_library("pg_sched")
            .set_function("pg_sched_master_main")
            .enable_spi_access()
            .set_restart_time(None)
            .set_notify_pid(unsafe { pg_sys::MyProcPid })
            .load_dynamic()
            .map_err(|_| warning!("pg_sched: cannot start the master: no background worker slot is free (max_worker_processes)"))
            .ok();
        if master.is_none() {
            ended_at = Some(Instant::now());
        }
    }
    // The master gets its own SIGTERM at shutdown. Exit code 1 asks the postmaster to restart
    // the launcher: a SIGTERM from pg_terminate_backend must not switch failover off.
    unsafe { pg_sys::proc_exit(1) };
}

fn database_exists(name: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(name) else {
        return false;
    };
    // A heap scan, not get_database_oid's index scan: with no database selected, opening the
    // index reads pg_class when the shared relcache init file is missing (a fresh cluster),
    // and that fails.
    BackgroundWorker::transaction(|| unsafe {
        let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, lock);
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            pg_sys::Anum_pg_database_datname as pg_sys::AttrNumber,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::Oid::from(pg_sys::F_NAMEEQ),
            pg_sys::Datum::from(name.as_ptr()),
        );
        let scan = pg_sys::systable_beginscan(
            rel,
            pg_sys::Oid::from(pg_sys::DatabaseNameIndexId),
            false,
            std::ptr::null_mut(),
            1,
            &mut key,
        );
        let found = !pg_sys::systable_getnext(scan).is_null();
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(rel, lock);
        found
    })
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
    MASTER_PID
        .get()
        .store(unsafe { pg_sys::MyProcPid }, Ordering::Relaxed);

    let mut maintained: Option<Instant> = None;
    let mut vacuums = Vacuums::default();
    let mut ticked: Option<Instant> = None;
    let mut sleep = gucs::tick();
    while BackgroundWorker::wait_latch(Some(sleep)) {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // A background worker's statistics stay in its own memory until it reports them, and
        // the master never idles as a client backend does: without this, autovacuum would not
        // see the rows it inserts, archives and deletes, nor pg_stat_user_functions its ticks,
        // until it exits. At most once a second (PGSTAT_MIN_INTERVAL), between transactions.
        unsafe { pg_sys::pgstat_report_stat(false) };
        let tick = gucs::tick();
        // Events first, in a transaction of their own: a watched table's change waits for
        // nothing else (sql/4_master/events.sql).
        let next_event = BackgroundWorker::transaction(|| {
            if !extension_ready() {
                return None;
            }
            Spi::get_one::<f64>(
                "SELECT extract(epoch FROM t - pg_catalog.clock_timestamp())::float8 FROM sched._drain_events() AS t",
            )
            .expect("sched._drain_events failed")
        });
        // Seconds to the next due work, and whether it was due already when the tick looked
        // (a row another transaction held).
        let next_policy = BackgroundWorker::transaction(|| {
            if !extension_ready() {
                return None;
            }
            let (seconds, stuck) = Spi::get_two::<f64, bool>(
                "SELECT extract(epoch FROM t - pg_catalog.clock_timestamp())::float8, t <= pg_catalog.now()
                 FROM sched._policy_tick() AS t",
            )
            .expect("sched._policy_tick failed");
            seconds.map(|seconds| (seconds, stuck.unwrap_or(false)))
        });
        sleep = match next_policy {
            None => tick,
            // Work that could not be done is looked at again shortly; work that became due
            // while the tick ran, at once.
            Some((_, true)) => Duration::from_millis(10),
            Some((seconds, false)) => Duration::from_secs_f64(seconds.max(0.0)).min(tick),
        };
        if let Some(seconds) = next_event {
            sleep = sleep.min(Duration::from_secs_f64(seconds.max(0.0)));
        }
        if ticked.is_some_and(|at| at.elapsed() < tick) {
            continue;
        }
        ticked = Some(Instant::now());
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
        // In a transaction of its own: an analysis may read a large table's sample.
        BackgroundWorker::transaction(|| {
            if extension_ready() {
                Spi::run("SELECT sched._analyze_grown()").expect("sched._analyze_grown failed");
            }
        });
        vacuums.start_if_due(|left_behind| {
            BackgroundWorker::transaction(|| {
                if !extension_ready() {
                    return Reading {
                        due: false,
                        dead_rows: 0,
                        vacuums: 0,
                    };
                }
                let (due, dead_rows, vacuums) = Spi::get_three_with_args::<bool, i64, i64>(
                    "SELECT due, dead_rows, vacuums FROM sched._vacuum_due($1)",
                    &[left_behind.into()],
                )
                .expect("sched._vacuum_due failed");
                Reading {
                    due: due.unwrap_or(false),
                    dead_rows: dead_rows.unwrap_or(0),
                    vacuums: vacuums.unwrap_or(0),
                }
            })
        });
        if maintained.is_none_or(|at| at.elapsed() >= MAINTENANCE_EVERY) && maintain() {
            maintained = Some(Instant::now());
        }
        if maintained.is_some() {
            archive();
        }
    }
    // The launcher starts the next master, however this one ended.
    unsafe { pg_sys::proc_exit(0) };
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
/// a tick, each in its own transaction (which looks again at which SQL is installed: it may
/// have been replaced since the tick).
fn archive() {
    for _ in 0..ARCHIVE_BATCHES_PER_TICK {
        let moved = BackgroundWorker::transaction(|| {
            if !extension_ready() {
                return 0;
            }
            Spi::get_one::<i32>("SELECT sched._archive_finished(pg_catalog.now())")
                .expect("sched._archive_finished failed")
                .unwrap_or(0)
        });
        if moved == 0 {
            break;
        }
    }
}

/// The master starts with the server, possibly long before CREATE EXTENSION runs; and after a
/// new release's library was installed and the server restarted, it finds the SQL of the
/// release before until ALTER EXTENSION pg_sched UPDATE runs. It works only on the SQL of its
/// own release, which is the only SQL it was tested against, and waits otherwise (saying so
/// once); the update's commit lets it go on, nothing of what it would have done is lost (a fire
/// missed meanwhile is a misfire, handled by the schedule's policy).
fn extension_ready() -> bool {
    let installed = Spi::get_one::<String>(sched_core::protocol::EXTENSION_VERSION)
        .ok()
        .flatten();
    let library = env!("CARGO_PKG_VERSION");
    let ready = installed.as_deref() == Some(library);
    WAITING_FOR.with_borrow_mut(|said| match installed {
        Some(sql) if !ready && said.as_deref() != Some(&sql) => {
            log!(
                "pg_sched master: the extension's SQL in this database is version {sql} and the library {library}; \
                 the master waits until ALTER EXTENSION pg_sched UPDATE"
            );
            *said = Some(sql);
        }
        _ if ready && said.take().is_some() => {
            log!("pg_sched master: the extension's SQL is version {library}, the library's; the master goes on");
        }
        _ => {}
    });
    ready
}

thread_local! {
    /// The SQL version the master last said it waits on, so that it says it once.
    static WAITING_FOR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}
