//! Settings (`sched.*` in postgresql.conf).

use std::ffi::CString;
use std::time::Duration;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, pg_sys};

pub static DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
pub static WORKER_TIMEOUT_S: GucSetting<i32> = GucSetting::<i32>::new(30);
pub static TICK_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);
pub static MAX_LOG_BYTES_PER_TASK: GucSetting<i32> = GucSetting::<i32>::new(16 * 1024 * 1024);

pub fn init() {
    GucRegistry::define_string_guc(
        c"sched.database",
        c"Database whose pg_sched extension the master serves.",
        c"The master waits until CREATE EXTENSION pg_sched has run there.",
        &DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"sched.worker_timeout",
        c"A worker whose last heartbeat is older than this is declared dead and its tasks fail over.",
        c"Workers heartbeat every few seconds; keep this several heartbeats long.",
        &WORKER_TIMEOUT_S,
        1,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"sched.tick_ms",
        c"How often the master looks at time-based work (dead workers).",
        c"Task dispatch never waits for it: it is driven by the transactions that make tasks ready.",
        &TICK_MS,
        10,
        60_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"sched.max_log_bytes_per_task",
        c"Output of one task attempt stored at most; workers drop the rest and say how much.",
        c"Workers read it when they start.",
        &MAX_LOG_BYTES_PER_TASK,
        1024,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_BYTE,
    );
    // Typos such as `sched.worker_timout` become errors instead of silent placeholders.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"sched".as_ptr()) };
}

pub fn database() -> String {
    DATABASE
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "postgres".to_owned())
}

pub fn worker_timeout_s() -> i32 {
    WORKER_TIMEOUT_S.get()
}

pub fn tick() -> Duration {
    Duration::from_millis(TICK_MS.get() as u64)
}
