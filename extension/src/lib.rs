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
mod api_token;
mod cron;
mod error;
mod graph;
mod gucs;
mod import;
mod logic;
mod master;
mod owned;
mod params;
mod principal;
mod snapshot;
mod spec;
mod sql_check;
mod sql_task;
mod test_run;
mod vacuum;
mod webhook;

pgrx::pg_module_magic!();

// The SQL files, in the install order extension/build.rs derives from the layers of sql/.
include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

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
        snapshot::init_shared_memory();
        master::register();
    }
}
