//! sched-console: the web console's server. Users sign in with their PostgreSQL role's
//! password; each session is a connection as that role, so the console sees and does exactly
//! what that role may in SQL, through the SQL API (see `api.rs`).

mod api;
mod assets;
mod error;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use clap::Parser;

use crate::session::Sessions;

#[derive(Debug, Parser)]
#[command(
    name = "sched-console",
    version,
    about = "pg_sched's web console server"
)]
struct Flags {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the database is (host, port, dbname; key=value or a URL). Users sign in with their
    /// own role and password; a user or password given here is not used.
    #[arg(
        long,
        env = "SCHED_DATABASE_URL",
        default_value = "host=/var/run/postgresql dbname=postgres"
    )]
    database_url: String,
    /// Minutes a session lasts without being used.
    #[arg(long, default_value_t = 480)]
    session_idle_minutes: u64,
    /// Mark cookies Secure (only sent over HTTPS). The default is on unless --listen is a
    /// loopback address, where the console is reached over plain HTTP.
    #[arg(long)]
    secure_cookies: Option<bool>,
}

pub struct App {
    pub sessions: Sessions,
    pub secure_cookies: bool,
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/login", post(api::sign_in))
        .route("/api/logout", post(api::sign_out))
        .route("/api/me", get(api::me))
        .route(
            "/api/workflows",
            get(api::workflows).post(api::save_workflow),
        )
        .route("/api/workflows/{name}", get(api::workflow))
        .route("/api/workflows/{name}/diff", get(api::diff))
        .route("/api/workflows/{name}/start", post(api::start))
        .route("/api/task_types", get(api::task_types))
        .route("/api/instances", get(api::instances))
        .route("/api/instances/{id}", get(api::instance))
        .route("/api/instances/{id}/events", get(api::instance_events))
        .route("/api/instances/{id}/{action}", post(api::control))
        .route("/api/attempts/{id}/log", get(api::log))
        .route("/api/attempts/{id}/log.txt", get(api::log_download))
        .route("/api/attempts/{id}/{action}", post(api::attempt_control))
        .route("/api/cron", get(api::cron))
        .route("/api/cron/build", post(api::cron_build))
        .route("/api/schedules", post(api::schedule))
        .route("/api/schedules/{id}/{action}", post(api::schedule_control))
        .route("/api/backfills", post(api::backfill))
        .route("/api/backfills/{id}", get(api::backfill_progress))
        .route("/api/backfills/{id}/events", get(api::backfill_events))
        .route("/api/workers", get(api::workers))
        .route("/api/workers/events", get(api::worker_events))
        .route("/api/alerts", get(api::alerts))
        .route("/api/alerts/events", get(api::alert_events))
        .fallback(assets::serve)
        .with_state(app)
}

fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    let base: tokio_postgres::Config = match flags.database_url.parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sched-console: --database-url: not a connection string: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let app = Arc::new(App {
        sessions: Sessions::new(base, Duration::from_secs(flags.session_idle_minutes * 60)),
        secure_cookies: flags
            .secure_cookies
            .unwrap_or(!flags.listen.ip().is_loopback()),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(flags.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("sched-console: cannot listen on {}: {e}", flags.listen);
                return std::process::ExitCode::from(2);
            }
        };
        eprintln!("sched-console: listening on http://{}", flags.listen);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, router(app))
            .with_graceful_shutdown(shutdown)
            .await
        {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sched-console: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
