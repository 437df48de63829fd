//! pg_sched: the PostgreSQL side of the scheduler.
//!
//! Vocabulary: a *workflow* is a named, versioned DAG of *task definitions*; a *workflow
//! instance* is one run of one version; a *task instance* is one attempt of one task in one
//! workflow instance. Workers (the `sched-worker` binary) claim task instances; the *master*
//! (a background worker, `master.rs`) only reacts to time.
//!
//! This crate stays thin: the schema and every state transition are SQL under `../sql`, the
//! spec rules are `sched-core`. Rust here is the glue PostgreSQL needs: the spec validator as a
//! SQL function, the GUCs, the master, the trampoline that tells the internal functions who is
//! calling (`principal.rs`) and the hook that applies REASSIGN/DROP OWNED to workflows.

use pgrx::prelude::*;

mod alert;
mod cron;
mod gucs;
mod import;
mod logic;
mod master;
mod owned;
mod params;
mod principal;
mod spec;
mod sql_task;

pgrx::pg_module_magic!();

/// Raises `invalid_parameter_value` with `message`, which names the field at fault.
pub(crate) fn fail(message: String) -> ! {
    ereport!(
        ERROR,
        pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message
    );
}

extension_sql_file!("../../sql/000_bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!(
    "../../sql/010_definitions.sql",
    name = "definitions",
    requires = ["bootstrap"]
);
extension_sql_file!(
    "../../sql/020_instances.sql",
    name = "instances",
    requires = ["definitions"]
);
extension_sql_file!(
    "../../sql/030_workers.sql",
    name = "workers",
    requires = ["instances"]
);
extension_sql_file!(
    "../../sql/040_tenants.sql",
    name = "tenants",
    requires = ["workers"]
);
extension_sql_file!(
    "../../sql/100_access.sql",
    name = "access",
    requires = ["tenants"]
);
extension_sql_file!(
    "../../sql/110_definition_api.sql",
    name = "definition_api",
    requires = [
        "access",
        spec::normalize_spec,
        spec::normalize_params,
        spec::check_time_zone
    ]
);
extension_sql_file!(
    "../../sql/120_advance.sql",
    name = "advance",
    requires = ["definition_api"]
);
extension_sql_file!(
    "../../sql/125_admission.sql",
    name = "admission",
    requires = ["advance"]
);
extension_sql_file!(
    "../../sql/130_run_api.sql",
    name = "run_api",
    requires = ["admission"]
);
extension_sql_file!(
    "../../sql/135_run_control.sql",
    name = "run_control",
    requires = ["run_api"]
);
extension_sql_file!(
    "../../sql/140_worker_api.sql",
    name = "worker_api",
    requires = ["run_control"]
);
extension_sql_file!(
    "../../sql/150_roles.sql",
    name = "roles",
    requires = ["worker_api"]
);
extension_sql_file!(
    "../../sql/155_use_grants.sql",
    name = "use_grants",
    requires = ["roles"]
);
extension_sql_file!(
    "../../sql/160_retention.sql",
    name = "retention",
    requires = ["use_grants"]
);
extension_sql_file!(
    "../../sql/170_params.sql",
    name = "params",
    requires = ["retention", params::resolve_template]
);
extension_sql_file!(
    "../../sql/180_task_types.sql",
    name = "task_types",
    requires = [
        "params",
        spec::normalize_task_type,
        spec::command_types,
        spec::builtin_task_types
    ]
);
extension_sql_file!(
    "../../sql/190_sql_tasks.sql",
    name = "sql_tasks",
    requires = ["task_types", sql_task::execute_as]
);
extension_sql_file!(
    "../../sql/195_alerts.sql",
    name = "alerts",
    requires = ["sql_tasks", alert::channels, alert::notify_with]
);
extension_sql_file!(
    "../../sql/200_policies.sql",
    name = "policies",
    requires = ["alerts", master::wake_master]
);
extension_sql_file!(
    "../../sql/205_task_groups.sql",
    name = "task_groups_api",
    requires = ["policies"]
);
extension_sql_file!(
    "../../sql/210_cron.sql",
    name = "cron",
    requires = [
        "task_groups_api",
        cron::cron_fires,
        cron::cron_prev_fires,
        cron::cron_words,
        cron::cron_structure,
        cron::cron_text
    ]
);
extension_sql_file!(
    "../../sql/215_schedules.sql",
    name = "schedules",
    requires = ["cron"]
);
extension_sql_file!(
    "../../sql/220_backfill.sql",
    name = "backfill",
    requires = ["schedules"]
);
extension_sql_file!(
    "../../sql/230_logic_tasks.sql",
    name = "logic_tasks",
    requires = [
        "backfill",
        logic::switch_choose,
        logic::dependent_periods,
        logic::fires_cycle
    ]
);
extension_sql_file!(
    "../../sql/240_logs.sql",
    name = "logs",
    requires = ["logic_tasks"]
);
extension_sql_file!(
    "../../sql/250_graphs.sql",
    name = "graphs",
    requires = ["logs"]
);
extension_sql_file!(
    "../../sql/260_metrics.sql",
    name = "metrics",
    requires = ["graphs"]
);
extension_sql_file!(
    "../../sql/270_import.sql",
    name = "import",
    requires = ["metrics", import::dolphinscheduler_convert]
);
extension_sql_file!(
    "../../sql/900_views.sql",
    name = "views",
    requires = ["graphs"]
);
extension_sql_file!("../../sql/990_grants.sql", name = "grants", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // pgrx attaches a captured Rust backtrace to the DETAIL of errors that cross its guards
    // whenever RUST_BACKTRACE is set in the server's environment: users would read the
    // extension's internals in their error messages. Capture is decided once, from this.
    // SAFETY: _PG_init runs in a single-threaded process (the postmaster, or a backend loading
    // the library), before anything reads the environment concurrently.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    gucs::init();
    owned::init();
    // The master exists only when the library is preloaded: a bgworker cannot be registered
    // later, and without one the SQL API still works (nothing fails workers over).
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        master::init_shared_memory();
        master::register();
    }
}
