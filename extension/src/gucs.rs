//! Settings (`sched.*` in postgresql.conf).

use std::ffi::CString;
use std::time::Duration;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, pg_sys};

pub static DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
pub static WORKER_TIMEOUT_S: GucSetting<i32> = GucSetting::<i32>::new(30);
pub static TICK_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);
pub static MAX_LOG_BYTES_PER_TASK: GucSetting<i32> = GucSetting::<i32>::new(16 * 1024 * 1024);
pub static LOG_RETENTION_S: GucSetting<i32> = GucSetting::<i32>::new(30 * 86_400);
pub static HISTORY_RETENTION_S: GucSetting<i32> = GucSetting::<i32>::new(90 * 86_400);
pub static MAX_SPEC_BYTES: GucSetting<i32> = GucSetting::<i32>::new(32 * 1024 * 1024);
pub static MAX_TASKS: GucSetting<i32> = GucSetting::<i32>::new(100_000);
pub static MAX_EDGES: GucSetting<i32> = GucSetting::<i32>::new(1_000_000);
pub static MAX_SPEC_DEPTH: GucSetting<i32> = GucSetting::<i32>::new(32);
pub static MAX_SQL_TASK_WORKERS: GucSetting<i32> = GucSetting::<i32>::new(8);
pub static MAX_RUNNING_INSTANCES: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static MAX_SUBPROCESS_INSTANCES: GucSetting<i32> = GucSetting::<i32>::new(1000);
pub static MAX_DYNAMIC_ITEMS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static MAX_SUBPROCESS_DEPTH: GucSetting<i32> = GucSetting::<i32>::new(10);
pub static MAX_UNFINISHED_INSTANCES_PER_ROLE: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static MISFIRE_THRESHOLD_S: GucSetting<i32> = GucSetting::<i32>::new(60);
pub static ALERT_MAX_ATTEMPTS: GucSetting<i32> = GucSetting::<i32>::new(5);
pub static SNAPSHOT_MAX_AGE_S: GucSetting<i32> = GucSetting::<i32>::new(600);
pub static ALERT_RETRY_DELAY_MS: GucSetting<i32> = GucSetting::<i32>::new(10_000);

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
    GucRegistry::define_int_guc(
        c"sched.log_retention",
        c"Task output older than this is dropped, a day's partition at a time.",
        c"Counted from the day the attempt was queued.",
        &LOG_RETENTION_S,
        3600,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"sched.history_retention",
        c"Finished workflow instances that ended longer ago than this are deleted with their task attempts.",
        c"Unfinished instances are never deleted.",
        &HISTORY_RETENTION_S,
        3600,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"sched.max_sql_task_workers",
        c"Most sql and procedure tasks that run at once on the scheduler's database, each in a background worker of its own.",
        c"Others wait for a free one; each also needs a slot of max_worker_processes.",
        &MAX_SQL_TASK_WORKERS,
        1,
        1024,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"sched.snapshot_max_age",
        c"Longest an instance's SQL tasks may read one consistent snapshot; then the instance fails.",
        c"An open snapshot holds back vacuum everywhere in the database (workflows with \"snapshot\": \"consistent\").",
        &SNAPSHOT_MAX_AGE_S,
        1,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"sched.max_running_instances",
        c"Most workflow instances that run at once; 0 for no limit.",
        c"Instances started beyond it wait in waiting_thread and start by priority, then first come, as others end.",
        &MAX_RUNNING_INSTANCES,
        0,
        1_000_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    // Sub-processes are admitted with their parent, past sched.max_running_instances, so
    // one start could otherwise fan out without bound.
    GucRegistry::define_int_guc(
        c"sched.max_subprocess_instances",
        c"Most sub-process instances one top-level instance may create, counting every level below it.",
        c"A SUB_PROCESS task that would create more fails saying so.",
        &MAX_SUBPROCESS_INSTANCES,
        1,
        10_000_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    // A dynamic task's spec caps its own runs (max_items); this caps every one, so that no
    // list a task reads at run time can flood the queue.
    GucRegistry::define_int_guc(
        c"sched.max_dynamic_items",
        c"Most elements one run of a DYNAMIC task may have, whatever its max_items says.",
        c"A dynamic task whose lists make more fails saying so.",
        &MAX_DYNAMIC_ITEMS,
        1,
        1_000_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"sched.max_subprocess_depth",
        c"Most levels of sub-processes below a top-level instance.",
        c"A SUB_PROCESS task that would nest deeper fails saying so.",
        &MAX_SUBPROCESS_DEPTH,
        1,
        1000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"sched.max_unfinished_instances_per_role",
        c"Most unfinished workflow instances one role may have started (sub-processes not counted); 0 for no limit.",
        c"A start beyond it is refused, naming the role; a schedule's fire beyond it is skipped with a warning.",
        &MAX_UNFINISHED_INSTANCES_PER_ROLE,
        0,
        10_000_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"sched.misfire_threshold",
        c"A schedule's fire this late counts as missed, and its misfire policy (all, latest, none) decides about it.",
        c"Quartz's misfireThreshold; fires later than this were missed while the server or the master was down.",
        &MISFIRE_THRESHOLD_S,
        1,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"sched.alert_max_attempts",
        c"Attempts to send an alert to one channel before it is marked failed.",
        c"Alert workers retry a failed delivery after sched.alert_retry_delay, doubling each time.",
        &ALERT_MAX_ATTEMPTS,
        1,
        100,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"sched.alert_retry_delay",
        c"Wait before the first retry of a failed alert delivery; each further retry waits twice as long, at most an hour.",
        c"Counted from the failed attempt.",
        &ALERT_RETRY_DELAY_MS,
        100,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    // Limits on specs: superuser-only, so that a user cannot lift them for a session.
    let defaults = sched_core::Limits::default();
    for (name, short, value, min, max, default, flags) in [
        (
            c"sched.max_spec_bytes",
            c"Longest workflow spec accepted, as JSON text.",
            &MAX_SPEC_BYTES,
            1024,
            1 << 30,
            defaults.max_spec_bytes,
            GucFlags::UNIT_BYTE,
        ),
        (
            c"sched.max_tasks",
            c"Most tasks a workflow may have.",
            &MAX_TASKS,
            1,
            10_000_000,
            defaults.max_tasks,
            GucFlags::default(),
        ),
        (
            c"sched.max_edges",
            c"Most dependencies (deps entries summed over its tasks) a workflow may have.",
            &MAX_EDGES,
            0,
            100_000_000,
            defaults.max_edges,
            GucFlags::default(),
        ),
        // serde_json stops at 128 levels on its own; the setting stays below that.
        (
            c"sched.max_spec_depth",
            c"Deepest nesting of arrays and objects accepted in a workflow spec.",
            &MAX_SPEC_DEPTH,
            4,
            127,
            defaults.max_depth,
            GucFlags::default(),
        ),
    ] {
        debug_assert_eq!(
            value.get() as usize,
            default,
            "the setting's default is core's"
        );
        GucRegistry::define_int_guc(
            name,
            short,
            c"A spec past it is refused with an error naming this setting.",
            value,
            min,
            max,
            GucContext::Suset,
            flags,
        );
    }
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

pub fn spec_limits() -> sched_core::Limits {
    let get = |setting: &GucSetting<i32>| setting.get().max(0) as usize;
    sched_core::Limits {
        max_spec_bytes: get(&MAX_SPEC_BYTES),
        max_tasks: get(&MAX_TASKS),
        max_edges: get(&MAX_EDGES),
        max_depth: get(&MAX_SPEC_DEPTH),
    }
}

pub fn log_retention_s() -> i32 {
    LOG_RETENTION_S.get()
}

pub fn history_retention_s() -> i32 {
    HISTORY_RETENTION_S.get()
}

pub fn tick() -> Duration {
    Duration::from_millis(TICK_MS.get() as u64)
}
