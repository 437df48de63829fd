//! sched-console: the web console's server. Users sign in with their PostgreSQL role's
//! password, which PostgreSQL itself must verify; each session is a connection as that role,
//! so the console sees and does exactly what that role may in SQL, through the SQL API (see
//! `api/`). It answers only requests addressed to it by one of its own host names.

mod api;
mod app;
mod assets;
mod error;
mod limits;
mod metrics;
mod pg;
mod session;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;

use crate::app::App;
use crate::error::ApiError;
use crate::limits::FailureLimit;
use crate::session::{Limits, Sessions};
use crate::tokens::Tokens;

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
    /// Where and as whom the console checks API tokens and acts for them (`Authorization:
    /// Bearer`, tokens of sched.create_api_token): a connection string with a role that is a
    /// member of sched_api (and its password, or a pg_hba.conf line that lets it in). Without
    /// it, requests with a token are refused.
    #[arg(long, env = "SCHED_TOKEN_DATABASE_URL", hide_env_values = true)]
    token_database_url: Option<String>,
    /// Minutes a session lasts without being used.
    #[arg(long, default_value_t = 480)]
    session_idle_minutes: u64,
    /// Seconds a session's PostgreSQL connection stays open without being used (no request,
    /// no live view open); the next use opens it again with the password given at sign-in.
    #[arg(long, default_value_t = 300)]
    connection_idle_seconds: u64,
    /// Host names (`name` or `name:port`, exactly as the browser's Host header has them) the
    /// console answers for; other requests are refused, which keeps pages of other sites
    /// from reaching it through DNS rebinding. Default: the --listen address and
    /// localhost:<port> (and 127.0.0.1:<port>, [::1]:<port> when listening on all addresses).
    #[arg(long, value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Failed sign-ins allowed per role, and per client address, in any minute; more are
    /// refused (429, with Retry-After) until the oldest is a minute old.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_failed_sign_ins: u32,
    /// Sessions one role may have at once; signing in once more is refused.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    max_sessions_per_user: u32,
    /// Live views (Server-Sent Events streams) one session may have open at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    max_streams_per_session: u32,
    /// Mark cookies Secure (only sent over HTTPS). The default is on unless --listen is a
    /// loopback address, where the console is reached over plain HTTP.
    #[arg(long)]
    secure_cookies: Option<bool>,
    /// Serve Prometheus metrics over HTTP at this address (ADDR:PORT, path /metrics); off
    /// when not given. It has no sign-in: keep it on loopback or an internal network.
    #[arg(long, env = "SCHED_METRICS_LISTEN", value_name = "ADDR:PORT")]
    metrics_listen: Option<SocketAddr>,
}

/// The Host names a console listening on `listen` is reached by when none are given.
fn default_hosts(listen: SocketAddr) -> Vec<String> {
    let port = listen.port();
    let mut hosts = vec![listen.to_string(), format!("localhost:{port}")];
    if listen.ip().is_unspecified() {
        hosts.push(format!("127.0.0.1:{port}"));
        hosts.push(format!("[::1]:{port}"));
    }
    hosts
}

fn check_allowed_hosts(hosts: &[String]) -> Result<Vec<String>, String> {
    hosts
        .iter()
        .map(|h| {
            let h = h.trim().to_ascii_lowercase();
            let valid = !h.is_empty()
                && h.parse::<axum::http::uri::Authority>()
                    .is_ok_and(|a| a.as_str() == h && !h.contains('@'));
            valid.then_some(h.clone()).ok_or_else(|| {
                format!("--allowed-hosts: \"{h}\" is not a host name with an optional port (name or name:port)")
            })
        })
        .collect()
}

/// Refuses requests addressed to a host the console does not answer for: a page of another
/// site that rebinds its own name to this address still sends its own name as Host.
/// What a request body may hold: axum's default, which the JSON extractors applied before.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Reads each request's body whole before its handler runs, whether the handler reads it or
/// not. hyper keeps a connection alive only when the request's body was read to its end; when
/// a handler that ignores it (sign-out, revoke, drop) answered before the body had arrived,
/// the connection closed under the client's next request on it.
async fn read_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body: could not be read whole; at most {BODY_LIMIT} bytes"),
        )
        .into_response(),
    }
}

async fn check_host(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let authority = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_ascii_lowercase());
    let allowed = |h: &Option<String>| {
        h.as_ref()
            .is_some_and(|h| app.allowed_hosts.iter().any(|a| a == h))
    };
    if allowed(&host) && (authority.is_none() || allowed(&authority)) {
        return next.run(request).await;
    }
    let given = match (&host, &authority) {
        (Some(h), Some(a)) if h != a => format!("Host \"{h}\" and request target \"{a}\""),
        (Some(h), _) => format!("Host \"{h}\""),
        (None, Some(a)) => format!("request target \"{a}\""),
        (None, None) => "no Host header".to_owned(),
    };
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        format!(
            "this console does not answer for {given}; it answers for: {} (--allowed-hosts)",
            app.allowed_hosts.join(", ")
        ),
    )
    .into_response()
}

/// Refuses to start when PostgreSQL lets a role in without checking a password: a
/// connection as a role that does not exist, with a random password, must be asked for one.
/// If PostgreSQL cannot be reached now the console starts anyway: every sign-in makes the
/// same check.
async fn check_passwords_are_verified(base: &tokio_postgres::Config) -> Result<(), String> {
    let role = format!("sched_console_probe_{}", &session::random_token()[..12]);
    let mut config = base.clone();
    config
        .user(&role)
        .password(session::random_token())
        .application_name("sched-console");
    let attempt = pg::connect(&config).await;
    if attempt.authenticated && !attempt.asked_password {
        return Err(format!(
            "PostgreSQL at {} does not check passwords: a connection as the role {role} (which does \
             not exist) with a random password was let in without being asked for one, because \
             pg_hba.conf has trust (or peer or ident) for it. Signing in to the console would then \
             accept any password. Give the console's connections a password method in pg_hba.conf, \
             above the line that matches now, e.g.\n\n    {}\n\n(keep trust or peer only for the \
             roles that need it, such as postgres and the workers' role), then reload PostgreSQL \
             (SELECT pg_reload_conf()) and start the console again.",
            pg::describe(base),
            pg::hba_line(base, "all")
        ));
    }
    if let Err(pg::Failure::Unreachable(why)) = &attempt.result {
        eprintln!(
            "sched-console: cannot check now that PostgreSQL verifies passwords ({why}); every \
             sign-in is checked"
        );
    }
    Ok(())
}

fn router(app: Arc<App>) -> Router {
    let router = Router::new()
        .route("/hooks/{hook}", post(api::hooks::receive))
        .route("/api/login", post(api::sign_in::sign_in))
        .route("/api/logout", post(api::sign_in::sign_out))
        .route("/api/me", get(api::sign_in::me))
        .route("/api/openapi.json", get(api::openapi::document))
        .route("/api/dashboard", get(api::dashboard::dashboard))
        .route(
            "/api/dashboard/task_states",
            get(api::dashboard::task_states),
        )
        .route(
            "/api/tokens",
            get(api::tokens::tokens).post(api::tokens::create_token),
        )
        .route("/api/tokens/{name}/revoke", post(api::tokens::revoke_token))
        .route(
            "/api/workflows",
            get(api::workflows::workflows).post(api::workflows::save_workflow),
        )
        .route("/api/workflows/{name}", get(api::workflows::workflow))
        .route("/api/workflows/{name}/diff", get(api::workflows::diff))
        .route(
            "/api/workflows/{name}/compare",
            get(api::workflows::compare),
        )
        .route(
            "/api/workflows/{name}/versions/{version}/make_current",
            post(api::workflows::make_current),
        )
        .route("/api/workflows/{name}/start", post(api::workflows::start))
        .route(
            "/api/workflows/{name}/test_run",
            post(api::workflows::test_run),
        )
        .route(
            "/api/workflows/{name}/export.yaml",
            get(api::workflows::export),
        )
        .route("/api/workflows/{name}/copy", post(api::workflows::copy))
        .route(
            "/api/workflows/{name}/delete",
            post(api::workflows::drop_workflow),
        )
        .route("/api/task_types", get(api::task_types::task_types))
        .route("/api/states", get(api::states::states))
        .route("/api/instances", get(api::instances::instances))
        .route("/api/instances/batch", post(api::instances::control_many))
        .route(
            "/api/task_instances",
            get(api::task_instances::task_instances),
        )
        .route(
            "/api/task_instances/batch",
            post(api::task_instances::control_many),
        )
        .route("/api/instances/{id}", get(api::instances::instance))
        .route(
            "/api/instances/{id}/events",
            get(api::live::instance_events),
        )
        .route(
            "/api/instances/{id}/{action}",
            post(api::instances::control),
        )
        .route("/api/attempts/{id}/log", get(api::attempts::log))
        .route(
            "/api/attempts/{id}/log.txt",
            get(api::attempts::log_download),
        )
        .route(
            "/api/attempts/{id}/{action}",
            post(api::attempts::attempt_control),
        )
        .route("/api/cron", get(api::cron::cron))
        .route("/api/cron/build", post(api::cron::cron_build))
        .route(
            "/api/schedules",
            get(api::schedules::schedules).post(api::schedules::schedule),
        )
        .route(
            "/api/schedules/{id}",
            axum::routing::patch(api::schedules::alter_schedule),
        )
        .route(
            "/api/schedules/{id}/{action}",
            post(api::schedules::schedule_control),
        )
        .route("/api/backfills", post(api::backfills::backfill))
        .route(
            "/api/backfills/preview",
            post(api::backfills::backfill_preview),
        )
        .route(
            "/api/backfills/{id}",
            get(api::backfills::backfill_progress),
        )
        .route(
            "/api/backfills/{id}/events",
            get(api::live::backfill_events),
        )
        .route(
            "/api/task_groups",
            get(api::groups::task_groups).post(api::groups::save_task_group),
        )
        .route(
            "/api/task_groups/{name}/delete",
            post(api::groups::drop_task_group),
        )
        .route(
            "/api/alert_groups",
            get(api::groups::alert_groups).post(api::groups::create_alert_group),
        )
        .route(
            "/api/alert_groups/{name}",
            axum::routing::patch(api::groups::alter_alert_group),
        )
        .route(
            "/api/alert_groups/{name}/delete",
            post(api::groups::drop_alert_group),
        )
        .route(
            "/api/alert_groups/{name}/test",
            post(api::groups::test_alert_group),
        )
        .route(
            "/api/triggers",
            get(api::triggers::triggers).post(api::triggers::create_trigger),
        )
        .route(
            "/api/triggers/{id}/{action}",
            post(api::triggers::trigger_control),
        )
        .route("/api/datasets", get(api::triggers::datasets))
        .route("/api/rights", get(api::rights::rights))
        .route("/api/rights/grant", post(api::rights::grant))
        .route("/api/datasources", post(api::rights::create_datasource))
        .route(
            "/api/datasources/{name}/delete",
            post(api::rights::drop_datasource),
        )
        .route("/api/workers", get(api::workers::workers))
        .route("/api/worker_groups", get(api::workers::worker_groups))
        .route("/api/workers/events", get(api::live::worker_events))
        .route("/api/alerts", get(api::alerts::alerts))
        .route("/api/alerts/events", get(api::live::alert_events))
        .fallback(assets::serve)
        .layer(axum::middleware::from_fn(read_body))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            check_host,
        ));
    // Outermost, so that requests refused for their Host are counted too.
    let router = if metrics::enabled() {
        router.layer(axum::middleware::from_fn(metrics::track))
    } else {
        router
    };
    router.with_state(app)
}

fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    let fail = |message: String| {
        eprintln!("sched-console: {message}");
        std::process::ExitCode::from(2)
    };
    let base: tokio_postgres::Config = match flags.database_url.parse() {
        Ok(c) => c,
        Err(e) => return fail(format!("--database-url: not a connection string: {e}")),
    };
    if let Err(e) = pg::check_hosts(&base) {
        return fail(format!("--database-url {e}"));
    }
    let token_base: Option<tokio_postgres::Config> =
        match flags.token_database_url.as_deref().map(str::parse) {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                return fail(format!(
                    "--token-database-url: not a connection string: {e}"
                ));
            }
        };
    if let Some(Err(e)) = token_base.as_ref().map(pg::check_hosts) {
        return fail(format!("--token-database-url {e}"));
    }
    let allowed_hosts = if flags.allowed_hosts.is_empty() {
        default_hosts(flags.listen)
    } else {
        match check_allowed_hosts(&flags.allowed_hosts) {
            Ok(h) => h,
            Err(e) => return fail(e),
        }
    };
    // The console keeps signed-in users' passwords in memory (see session.rs): no core
    // dumps, and no ptrace or /proc/<pid>/mem for other processes of its OS user.
    // SAFETY: prctl(PR_SET_DUMPABLE) only changes this process's flag.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) };
    let limits = Limits {
        session_idle: Duration::from_secs(flags.session_idle_minutes * 60),
        connection_idle: Duration::from_secs(flags.connection_idle_seconds),
        max_sessions_per_user: flags.max_sessions_per_user as usize,
        max_streams_per_session: flags.max_streams_per_session as usize,
    };
    let reap_every =
        (limits.connection_idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(10));
    let app = Arc::new(App {
        sessions: Sessions::new(base.clone(), limits),
        tokens: Tokens::new(token_base),
        failures: FailureLimit::new(flags.max_failed_sign_ins as usize),
        allowed_hosts,
        secure_cookies: flags
            .secure_cookies
            .unwrap_or(!flags.listen.ip().is_loopback()),
    });
    // Before the runtime: the exporter then gets a thread of its own (see metrics::install).
    if let Some(listen) = flags.metrics_listen {
        if let Err(e) = metrics::install(listen) {
            return fail(e);
        }
        eprintln!("sched-console: serving metrics at http://{listen}/metrics");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        if let Err(e) = check_passwords_are_verified(&base).await {
            return fail(e);
        }
        let listener = match tokio::net::TcpListener::bind(flags.listen).await {
            Ok(l) => l,
            Err(e) => return fail(format!("cannot listen on {}: {e}", flags.listen)),
        };
        eprintln!(
            "sched-console: listening on http://{}, answering for {}",
            flags.listen,
            app.allowed_hosts.join(", ")
        );
        let reaper = app.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(reap_every);
            loop {
                tick.tick().await;
                reaper.sessions.reap();
                reaper.tokens.reap(&reaper.sessions);
            }
        });
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
        match axum::serve(listener, service)
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
