//! sched-worker: claims task instances from a pg_sched database and runs them.

mod alerts;
mod config;
mod datasources;
mod db;
mod executor;
mod heartbeat;
mod metrics;
mod notifier;
mod os;
mod out_params;
mod output;
mod protocol;
mod reporter;
mod slots;
mod timer;
mod users;
mod wakeups;
mod watchdog;
mod workdir;
mod worker;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    // Tasks that run as the worker's own OS user could otherwise read its memory and
    // environment (/proc/<pid>/environ, ptrace), where the database password is.
    // SAFETY: prctl(PR_SET_DUMPABLE) has no memory-safety preconditions.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) };
    if std::env::args().nth(1).as_deref() == Some(watchdog::ARG) {
        return watchdog::run();
    }
    let config = config::Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Before the runtime: the exporter then gets a thread of its own (see metrics::install).
    if let Some(listen) = config.metrics_listen {
        if let Err(err) = metrics::install(listen, config.slots()) {
            eprintln!("sched-worker: {err}");
            return std::process::ExitCode::FAILURE;
        }
        tracing::info!("serving metrics at http://{listen}/metrics");
    }
    // One thread: the work is waiting on PostgreSQL and on child processes, and a small
    // footprint matters more than parallel polling.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("sched-worker: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(worker::run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sched-worker: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
