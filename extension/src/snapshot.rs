//! Consistent snapshots: every SQL task of an instance on the scheduler's database reads one
//! snapshot (a workflow's `"snapshot": "consistent"`), so that parallel extracts never see a
//! torn state.
//!
//! An exported snapshot lives only while the transaction that exported it is open, and no
//! task's transaction lasts the instance. So a background worker per instance holds it:
//! connected as the workflow's owner, it opens a read-only REPEATABLE READ transaction,
//! exports its snapshot, publishes the id in shared memory and waits. A SQL task's own
//! background worker (`sql_task.rs`) imports it before its first statement, as
//! `SET TRANSACTION SNAPSHOT` does. The first SQL task of the instance starts the holder
//! (`sched._instance_snapshot`, called by `sched._run_sql_task`); the master releases it when
//! the instance ends, or when it has held the snapshot longer than `sched.snapshot_max_age`,
//! failing the instance (`sql/4_master/snapshots.sql`): an open snapshot holds back vacuum.
//! Without a master the holder ends on its own a minute after that limit.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::lwlock::PgLwLock;
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;
use pgrx::{JsonB, pg_shmem_init, pg_sys};
use serde_json::json;

use crate::gucs;
use crate::sql_task::pause;

/// Instances that may hold a consistent snapshot at once.
const SLOTS: usize = 64;
/// Room for a snapshot id ("00000003-0000001B-1").
const ID_BYTES: usize = 64;
/// How long a task waits for the holder to publish the snapshot.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long the holder outlives `sched.snapshot_max_age` when no master releases it.
const GRACE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
struct Holder {
    /// The instance, 0 for a free slot.
    instance: i64,
    /// When the slot was taken (a TimestampTz).
    since: i64,
    /// The holder's process once it published the snapshot.
    pid: i32,
    ready: bool,
    /// The master asked it to end.
    release: bool,
    len: u8,
    id: [u8; ID_BYTES],
}

const FREE: Holder = Holder {
    instance: 0,
    since: 0,
    pid: 0,
    ready: false,
    release: false,
    len: 0,
    id: [0; ID_BYTES],
};

#[derive(Clone, Copy)]
pub struct Holders([Holder; SLOTS]);

impl Default for Holders {
    fn default() -> Self {
        Self([FREE; SLOTS])
    }
}

// SAFETY: plain data, no pointers, shared under the lock.
unsafe impl PGRXSharedMemory for Holders {}

static HOLDERS: PgLwLock<Holders> = unsafe { PgLwLock::new(c"pg_sched_snapshot_holders") };
/// Shared memory exists only when the library was preloaded.
static SHARED: AtomicBool = AtomicBool::new(false);

pub fn init_shared_memory() {
    pg_shmem_init!(HOLDERS);
    SHARED.store(true, Ordering::Relaxed);
}

fn error(message: String) -> JsonB {
    JsonB(json!({ "error": message }))
}

fn max_age() -> Duration {
    Duration::from_secs(gucs::SNAPSHOT_MAX_AGE_S.get().max(1) as u64)
}

fn age(since: i64) -> Duration {
    // SAFETY: reads the clock.
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    Duration::from_micros((now - since).max(0) as u64)
}

/// Frees a slot if it still belongs to `instance`.
fn free_slot(slot: usize, instance: i64) {
    let mut holders = HOLDERS.exclusive();
    if holders.0[slot].instance == instance {
        holders.0[slot] = FREE;
    }
}

/// The id of the snapshot the SQL tasks of `instance` read, `{"snapshot": id}`, starting its
/// holder (connected as `owner`) if none holds it yet; `{"error": ...}` when there is none to
/// be had. Internal: `sched._run_sql_task` calls it.
#[pg_extern(name = "_instance_snapshot")]
pub fn instance_snapshot(instance: i64, owner: pg_sys::Oid) -> JsonB {
    if !SHARED.load(Ordering::Relaxed) {
        return error(
            "a consistent snapshot needs pg_sched in shared_preload_libraries".to_owned(),
        );
    }
    let waiting = Instant::now();
    let mut launched: Option<(usize, *mut pg_sys::BackgroundWorkerHandle)> = None;
    loop {
        {
            let mut holders = HOLDERS.exclusive();
            match holders.0.iter().position(|h| h.instance == instance) {
                Some(i) => {
                    let h = holders.0[i];
                    if h.ready && !h.release {
                        if age(h.since) > max_age() {
                            return error(format!(
                                "the instance's consistent snapshot is older than sched.snapshot_max_age ({} s)",
                                max_age().as_secs()
                            ));
                        }
                        let id = String::from_utf8_lossy(&h.id[..h.len as usize]).into_owned();
                        return JsonB(json!({ "snapshot": id }));
                    }
                }
                None => {
                    let Some(free) = holders.0.iter().position(|h| h.instance == 0) else {
                        return error(format!(
                            "{SLOTS} instances hold a consistent snapshot already; wait for one to end"
                        ));
                    };
                    holders.0[free] = Holder {
                        instance,
                        // SAFETY: reads the clock.
                        since: unsafe { pg_sys::GetCurrentTimestamp() },
                        ..FREE
                    };
                    drop(holders);
                    match launch(free, instance, owner) {
                        Ok(handle) => launched = Some((free, handle)),
                        Err(why) => {
                            free_slot(free, instance);
                            return error(why);
                        }
                    }
                    continue;
                }
            }
        }
        // Starting, or a released one ending: wait for it.
        if let Some((slot, handle)) = launched {
            let mut pid = 0;
            // SAFETY: the handle was returned by RegisterDynamicBackgroundWorker in this call.
            let status = unsafe { pg_sys::GetBackgroundWorkerPid(handle, &mut pid) };
            if status == pg_sys::BgwHandleStatus::BGWH_STOPPED {
                let ready = HOLDERS.share().0[slot].ready;
                if !ready {
                    free_slot(slot, instance);
                    return error(
                        "the background worker holding the consistent snapshot ended before it \
                         took one (see the server log)"
                            .to_owned(),
                    );
                }
            }
        }
        if waiting.elapsed() > START_LIMIT {
            return error(format!(
                "no consistent snapshot of the instance was published within {} s",
                START_LIMIT.as_secs()
            ));
        }
        pause(10);
    }
}

fn launch(
    slot: usize,
    instance: i64,
    owner: pg_sys::Oid,
) -> Result<*mut pg_sys::BackgroundWorkerHandle, String> {
    let builder = BackgroundWorkerBuilder::new("pg_sched snapshot")
        .set_type("pg_sched snapshot")
        .set_library("pg_sched")
        .set_function("pg_sched_snapshot_main")
        .enable_spi_access()
        .set_restart_time(None)
        .set_argument(Some(pg_sys::Datum::from(slot)))
        // SAFETY: reads this backend's database.
        .set_extra(&format!(
            "{} {} {instance}",
            unsafe { pg_sys::MyDatabaseId }.to_u32(),
            owner.to_u32()
        ))
        // SAFETY: reads this backend's pid.
        .set_notify_pid(unsafe { pg_sys::MyProcPid });
    let mut worker: pg_sys::BackgroundWorker = (&builder).into();
    let mut handle: *mut pg_sys::BackgroundWorkerHandle = std::ptr::null_mut();
    // SAFETY: registers a worker described by a filled struct; the handle is palloc'd here.
    if unsafe { pg_sys::RegisterDynamicBackgroundWorker(&mut worker, &mut handle) } {
        Ok(handle)
    } else {
        Err(
            "no background worker slot is free to hold the consistent snapshot; raise \
             max_worker_processes"
                .to_owned(),
        )
    }
}

/// Asks the holder of `instance`'s snapshot to end; false when none holds one.
#[pg_extern(name = "_release_snapshot")]
pub fn release_snapshot(instance: i64) -> bool {
    if !SHARED.load(Ordering::Relaxed) {
        return false;
    }
    let pid = {
        let mut holders = HOLDERS.exclusive();
        let Some(h) = holders.0.iter_mut().find(|h| h.instance == instance) else {
            return false;
        };
        h.release = true;
        h.pid
    };
    if pid > 0 {
        // SAFETY: BackendPidGetProc returns the live PGPROC of that pid or null.
        unsafe {
            let proc = pg_sys::BackendPidGetProc(pid);
            if !proc.is_null() {
                pg_sys::SetLatch(&mut (*proc).procLatch);
            }
        }
    }
    true
}

/// 2000-01-01, PostgreSQL's epoch, in seconds since the Unix epoch.
const POSTGRES_EPOCH_UNIX_S: f64 = 946_684_800.0;

/// The instances whose SQL tasks read a consistent snapshot now: since when (seconds since the
/// Unix epoch), and whether it is published yet.
#[pg_extern(name = "_snapshot_holders")]
pub fn snapshot_holders() -> TableIterator<
    'static,
    (
        name!(instance_id, i64),
        name!(since, f64),
        name!(ready, bool),
    ),
> {
    let rows: Vec<_> = if SHARED.load(Ordering::Relaxed) {
        HOLDERS
            .share()
            .0
            .iter()
            .filter(|h| h.instance != 0)
            .map(|h| {
                (
                    h.instance,
                    h.since as f64 / 1e6 + POSTGRES_EPOCH_UNIX_S,
                    h.ready,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    TableIterator::new(rows)
}

/// The holder: connect as the owner, export a snapshot, publish it, wait to be released.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_sched_snapshot_main(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGTERM);
    let slot = arg.value().min(SLOTS - 1);
    let extra = BackgroundWorker::get_extra().to_owned();
    let mut words = extra.split(' ');
    let database = words
        .next()
        .and_then(|w| w.parse::<u32>().ok())
        .unwrap_or(0);
    let owner = words
        .next()
        .and_then(|w| w.parse::<u32>().ok())
        .unwrap_or(0);
    let instance = words
        .next()
        .and_then(|w| w.parse::<i64>().ok())
        .unwrap_or(0);
    BackgroundWorker::connect_worker_to_spi_by_oid(
        Some(pg_sys::Oid::from(database)),
        Some(pg_sys::Oid::from(owner)),
    );
    let limit = max_age() + GRACE;
    let started = Instant::now();
    PgTryBuilder::new(|| {
        // SAFETY: the transaction is this process's only one; the isolation level and read-only
        // are set before it takes a snapshot, as SET TRANSACTION would.
        unsafe {
            pg_sys::SetCurrentStatementStartTimestamp();
            pg_sys::StartTransactionCommand();
            pg_sys::XactIsoLevel = pg_sys::XACT_REPEATABLE_READ as i32;
            pg_sys::XactReadOnly = true;
            let id =
                std::ffi::CStr::from_ptr(pg_sys::ExportSnapshot(pg_sys::GetTransactionSnapshot()))
                    .to_bytes()
                    .to_vec();
            let activity = CString::new(format!(
                "pg_sched: holds the consistent snapshot of instance {instance}"
            ))
            .unwrap_or_default();
            pg_sys::pgstat_report_activity(
                pg_sys::BackendState::STATE_IDLEINTRANSACTION,
                activity.as_ptr(),
            );
            let mut holders = HOLDERS.exclusive();
            let h = &mut holders.0[slot];
            if h.instance != instance || id.len() > ID_BYTES {
                return;
            }
            h.id[..id.len()].copy_from_slice(&id);
            h.len = id.len() as u8;
            h.pid = pg_sys::MyProcPid;
            h.ready = true;
        }
        while BackgroundWorker::wait_latch(Some(Duration::from_secs(1))) {
            let h = HOLDERS.share().0[slot];
            if h.instance != instance || h.release || started.elapsed() > limit {
                break;
            }
        }
    })
    .finally(|| free_slot(slot, instance))
    .execute();
    // SAFETY: nothing was written; ending the transaction releases the snapshot.
    unsafe { pg_sys::AbortCurrentTransaction() };
}
