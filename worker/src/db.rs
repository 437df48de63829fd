//! Every statement the worker sends, in one place, over a small connection pool. The LISTEN
//! connection is separate (`notifier.rs`): a pooled connection may be recycled at any time.
//! Recurring statements are prepared once per connection (`prepare_cached`): an unprepared
//! query costs an extra round trip, parse then execute, on the hot path.

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use sched_core::protocol::{EXTENSION_VERSION, READY_CHANNEL, WORKER_PROTOCOL, check_client};

use crate::protocol::{Claimed, ClaimedAlert, Lease, Outcome};

/// SQLSTATE raised by pg_sched when a worker id is unknown or was declared dead.
pub const WORKER_GONE: &str = "SW001";
/// SQLSTATE raised by pg_sched when it does not serve the worker's protocol version.
const PROTOCOL_REFUSED: &str = "SW002";

const POOL_SIZE: usize = 4;

/// The settings as columns of a query, in the order `Settings::from_row` reads them.
macro_rules! settings_columns {
    () => {
        "extract(epoch FROM current_setting('sched.worker_timeout', true)::interval)::float8, \
         pg_size_bytes(current_setting('sched.max_log_bytes_per_task', true))"
    };
}

/// Bound on every call, so that a database that stopped answering (a dead primary, a
/// network that drops packets) is noticed within sched.worker_timeout, not TCP's minutes.
static CALL_TIMEOUT_MS: AtomicU64 = AtomicU64::new(15_000);
static HEARTBEAT_TIMEOUT_MS: AtomicU64 = AtomicU64::new(3_000);

/// Derives the call bounds from sched.worker_timeout: a heartbeat must fail within one
/// heartbeat period (`heartbeat`), other calls (big batches) get half the timeout, at least 5 s.
pub fn set_call_timeout(worker_timeout: Duration, heartbeat: Duration) {
    HEARTBEAT_TIMEOUT_MS.store(heartbeat.as_millis() as u64, Ordering::Relaxed);
    let call = (worker_timeout / 2).max(Duration::from_secs(5));
    CALL_TIMEOUT_MS.store(call.as_millis() as u64, Ordering::Relaxed);
}

fn call_timeout() -> Duration {
    Duration::from_millis(CALL_TIMEOUT_MS.load(Ordering::Relaxed))
}

fn heartbeat_timeout() -> Duration {
    Duration::from_millis(HEARTBEAT_TIMEOUT_MS.load(Ordering::Relaxed))
}

async fn timed<T>(limit: Duration, call: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!(
            "the database did not answer within {limit:?}"
        )),
    }
}

/// Runs one statement, prepared once per connection, on a pooled connection, within `limit`.
/// A statement that outlives its call is cancelled and its connection never handed out again:
/// it would go on running on the server (behind a lock, say), and the next call to take that
/// connection would wait behind it.
async fn query(
    pool: &Pool,
    limit: Duration,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>> {
    let deadline = tokio::time::Instant::now() + limit;
    let client = timed(limit, async { Ok(pool.get().await?) }).await?;
    let call = async {
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query(&statement, params).await?)
    };
    match tokio::time::timeout_at(deadline, call).await {
        Ok(result) => result,
        Err(_) => {
            let cancel = client.cancel_token();
            tokio::spawn(async move {
                let _ = cancel.cancel_query(NoTls).await;
            });
            drop(deadpool_postgres::Object::take(client));
            Err(anyhow::anyhow!(
                "the database did not answer within {limit:?}"
            ))
        }
    }
}

fn ids_of(rows: Vec<tokio_postgres::Row>) -> Result<Vec<i64>> {
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// True when a call may well succeed if tried again: the server is down, starting up or out
/// of connections, or did not answer in time.
pub fn is_transient(err: &anyhow::Error) -> bool {
    is_server_down(err)
        || err
            .to_string()
            .starts_with("the database did not answer within")
        || err.chain().any(|e| {
            e.downcast_ref::<tokio_postgres::Error>()
                .is_some_and(|pg| match pg.code() {
                    // too_many_connections, configuration_limit_exceeded (a role's connection limit).
                    Some(code) => matches!(code.code(), "53300" | "53400"),
                    None => io_source(pg).is_some() || pg.is_closed(),
                })
                || e.downcast_ref::<std::io::Error>().is_some()
        })
}

/// A number no other worker process draws: identifies this process's registration.
pub fn registration_token() -> i64 {
    let mut bytes = [0u8; 8];
    // SAFETY: the buffer is valid for 8 bytes; getrandom fills at most that.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if got != bytes.len() as isize {
        // Without the kernel's randomness, the pid and the clock are unique enough here.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        return nanos ^ (i64::from(std::process::id()) << 40);
    }
    i64::from_ne_bytes(bytes)
}

/// True when the server is plainly not running (nothing listens, or it says it is shutting
/// down or starting up), as opposed to not answering: a down server runs no master either.
pub fn is_server_down(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let io_kind = match e.downcast_ref::<tokio_postgres::Error>() {
            Some(pg) => {
                if let Some(code) = pg.code() {
                    // 25006: a server that no longer takes writes (demoted, or a standby).
                    return matches!(code.code(), "57P01" | "57P02" | "57P03" | "25006");
                }
                if read_only(pg) {
                    return true;
                }
                io_source(pg)
            }
            None => e.downcast_ref::<std::io::Error>().map(std::io::Error::kind),
        };
        matches!(
            io_kind,
            Some(std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound)
        )
    })
}

/// With target_session_attrs=read-write, every host answered but none takes writes: a failover
/// is under way and no primary runs, so no master either.
fn read_only(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
            && io.to_string() == "database does not allow writes"
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// The kind of the I/O error behind a driver error, if one is.
fn io_source(err: &tokio_postgres::Error) -> Option<std::io::ErrorKind> {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

/// Session settings the worker needs whatever its role's defaults say: a statement_timeout
/// set on the role would make big reports fail on every try, a lock_timeout would break the
/// completion's own bounded lock wait, an idle_session_timeout would close the pool's idle
/// connections under it, and an asynchronous commit could lose a claim or a completion that
/// the worker already acted on. The statement bound stays, generous, so the server abandons
/// what a vanished worker asked for.
const SESSION_OPTIONS: &str = "-c statement_timeout=300s -c lock_timeout=0 \
     -c idle_in_transaction_session_timeout=0 -c idle_session_timeout=0 -c synchronous_commit=on";

pub fn connect_config(url: &str) -> Result<tokio_postgres::Config> {
    let mut config = tokio_postgres::Config::from_str(url)
        .context("--database-url is not a valid PostgreSQL connection string")?;
    let options = match config.get_options() {
        Some(theirs) => format!("{theirs} {SESSION_OPTIONS}"),
        None => SESSION_OPTIONS.to_owned(),
    };
    config.options(&options);
    if config.get_application_name().is_none() {
        config.application_name("sched-worker");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    // A primary that vanished without closing its connections must show as a failed call,
    // not as a read that waits for TCP's retransmissions to give up (15 minutes).
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(5))
        .keepalives_interval(Duration::from_secs(1))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(10));
    Ok(config)
}

pub fn pool(config: tokio_postgres::Config) -> Result<Pool> {
    pool_of(config, POOL_SIZE)
}

/// The heartbeat's own pool of one connection: it must never wait behind the other calls,
/// whatever they wait for (a lock held by VACUUM FULL, say), or a healthy worker would fence
/// itself.
pub fn heartbeat_pool(config: tokio_postgres::Config) -> Result<Pool> {
    pool_of(config, 1)
}

fn pool_of(config: tokio_postgres::Config, size: usize) -> Result<Pool> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .build()
        .context("building the connection pool")
}

/// True when the database refused a call for the data it was sent (class 22, data exception,
/// e.g. a character the server encoding cannot store; class 54, a program limit): sending
/// the same again fails the same way.
pub fn is_refused_as_data(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<tokio_postgres::Error>())
        .filter_map(|e| e.code())
        .any(|code| code.code().starts_with("22") || code.code().starts_with("54"))
}

/// True when the database refused a call because this worker registration is gone.
pub fn is_worker_gone(err: &anyhow::Error) -> bool {
    has_code(err, &SqlState::from_code(WORKER_GONE))
}

/// A driver error as a task's log shows it: the server's message, detail and hint.
pub fn error_text(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            text
        }
        None => err.to_string(),
    }
}

/// Stores what a sql or procedure task's statement returned, before its completion.
pub async fn store_task_result(
    pool: &Pool,
    lease: Lease,
    result: &serde_json::Value,
) -> Result<()> {
    query(
        pool,
        call_timeout(),
        "SELECT sched.store_task_result($1, $2, $3)",
        &[&lease.worker_id, &lease.task_instance_id, result],
    )
    .await
    .map(|_| ())
}

/// Registers this worker process; `token` is the process's own, so that a call retried after
/// its answer was lost gets the registration the first call made instead of a second one.
pub async fn register(
    pool: &Pool,
    name: &str,
    host: &str,
    groups: &[String],
    slots: i32,
    token: i64,
) -> Result<i64> {
    let answer = query(
        pool,
        call_timeout(),
        "SELECT sched.register_worker($1, $2, $3, $4, $5, $6)",
        &[&name, &host, &groups, &slots, &token, &WORKER_PROTOCOL],
    )
    .await;
    match answer {
        Ok(rows) => Ok(rows[0].get(0)),
        Err(err) if has_code(&err, &SqlState::UNDEFINED_FUNCTION) => {
            // The extension's SQL predates the protocol argument (release 0.2.0), or is absent.
            let installed = query(pool, call_timeout(), EXTENSION_VERSION, &[])
                .await
                .ok()
                .and_then(|rows| rows.first().map(|r| r.get::<_, String>(0)));
            let why = check_client(
                "sched-worker",
                env!("CARGO_PKG_VERSION"),
                installed.as_deref(),
            )
            .err()
            .unwrap_or_else(|| format!("{err:#}"));
            Err(anyhow::Error::new(ProtocolRefused(why)))
        }
        Err(err) if has_code(&err, &SqlState::from_code(PROTOCOL_REFUSED)) => {
            let text = err
                .chain()
                .find_map(|e| e.downcast_ref::<tokio_postgres::Error>())
                .map(error_text)
                .unwrap_or_else(|| format!("{err:#}"));
            Err(anyhow::Error::new(ProtocolRefused(text)))
        }
        Err(err) => Err(err),
    }
}

/// The extension does not serve this worker's protocol: registering again cannot help.
#[derive(Debug)]
pub struct ProtocolRefused(String);

impl std::fmt::Display for ProtocolRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolRefused {}

pub fn is_protocol_refused(err: &anyhow::Error) -> bool {
    err.downcast_ref::<ProtocolRefused>().is_some()
}

fn has_code(err: &anyhow::Error, code: &SqlState) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<tokio_postgres::Error>())
        .any(|e| e.code() == Some(code))
}

/// Whether the registration is still alive, and the server's settings as of now.
pub async fn heartbeat(
    pool: &Pool,
    worker_id: i64,
    running: i32,
    status: Option<&str>,
    leases: &[i64],
    token: i64,
) -> Result<(bool, Settings)> {
    let rows = query(
        pool,
        heartbeat_timeout(),
        concat!(
            "SELECT sched.heartbeat($1, $2, $3, $4, $5), ",
            settings_columns!()
        ),
        &[&worker_id, &running, &status, &leases, &token],
    )
    .await?;
    Ok((rows[0].get(0), Settings::from_row(&rows[0], 1)))
}

/// The columns of a claimed task, as `claimed` reads them, for both claiming functions.
macro_rules! claimed_columns {
    () => {
        "task_instance_id, workflow_instance_id, task_name, task_type, settings, tenant"
    };
}

static CLAIM_TOKENS: AtomicI64 = AtomicI64::new(1);

/// A token for one claiming call, repeated when that call is retried (see sched.claim_tasks).
pub fn claim_token() -> i64 {
    CLAIM_TOKENS.fetch_add(1, Ordering::Relaxed)
}

/// The server's settings that concern workers.
#[derive(Debug, Default)]
pub struct Settings {
    /// sched.worker_timeout: heartbeats must come well within it.
    pub worker_timeout: Option<Duration>,
    /// sched.max_log_bytes_per_task.
    pub max_log_bytes: Option<u64>,
}

impl Settings {
    fn from_row(row: &tokio_postgres::Row, first: usize) -> Settings {
        Settings {
            worker_timeout: row
                .get::<_, Option<f64>>(first)
                .map(Duration::from_secs_f64),
            max_log_bytes: row
                .get::<_, Option<i64>>(first + 1)
                .map(|b| b.max(0) as u64),
        }
    }
}

pub async fn settings(pool: &Pool) -> Result<Settings> {
    let rows = query(
        pool,
        call_timeout(),
        concat!("SELECT ", settings_columns!()),
        &[],
    )
    .await?;
    Ok(Settings::from_row(&rows[0], 0))
}

pub async fn claim(pool: &Pool, worker_id: i64, max: i32, token: i64) -> Result<Vec<Claimed>> {
    let rows = query(
        pool,
        call_timeout(),
        concat!(
            "SELECT ",
            claimed_columns!(),
            " FROM sched.claim_tasks($1, $2, $3)"
        ),
        &[&worker_id, &max, &token],
    )
    .await?;
    Ok(claimed(worker_id, &rows))
}

/// Wakes every worker of `groups`: this one was woken by name but cannot claim now (no slot
/// free, or backing off), and the tasks must not wait for its next claim.
pub async fn wake_groups(pool: &Pool, groups: &[String]) -> Result<()> {
    query(
        pool,
        call_timeout(),
        "SELECT pg_catalog.pg_notify($2, g) FROM unnest($1::text[]) AS g",
        &[&groups, &READY_CHANNEL],
    )
    .await?;
    Ok(())
}

/// What a completing call did besides recording outcomes.
#[derive(Debug, Default)]
pub struct Completed {
    /// Claimed in the same transaction.
    pub claimed: Vec<Claimed>,
    /// Reports to repeat later: their workflow instance is locked by an open transaction.
    pub deferred: Vec<i64>,
}

/// Reports finished tasks (all under `worker_id`) and, in the same transaction, claims up to
/// `claim_max` more.
pub async fn complete_and_claim(
    pool: &Pool,
    worker_id: i64,
    outcomes: &[Outcome],
    claim_max: i32,
    token: i64,
) -> Result<Completed> {
    let ids: Vec<i64> = outcomes.iter().map(|o| o.lease.task_instance_id).collect();
    let codes: Vec<i32> = outcomes.iter().map(|o| o.exit_code).collect();
    let kinds: Vec<&str> = outcomes.iter().map(|o| o.kind.as_str()).collect();
    let started: Vec<SystemTime> = outcomes.iter().map(|o| o.started).collect();
    let ended: Vec<SystemTime> = outcomes.iter().map(|o| o.ended).collect();
    // NULL unless some task of the batch declares OUT params: the common case sends nothing.
    let outs: Option<Vec<Option<&serde_json::Value>>> = outcomes
        .iter()
        .any(|o| o.out_params.is_some())
        .then(|| outcomes.iter().map(|o| o.out_params.as_ref()).collect());
    let rows = query(
        pool,
        call_timeout(),
        concat!(
            "SELECT ",
            claimed_columns!(),
            ", deferred FROM sched.complete_tasks($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ),
        &[
            &worker_id, &ids, &codes, &started, &ended, &claim_max, &token, &outs, &kinds,
        ],
    )
    .await?;
    let (deferred, claimed_rows): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| r.get::<_, bool>(6));
    Ok(Completed {
        claimed: claimed(worker_id, &claimed_rows),
        deferred: deferred.iter().map(|r| r.get(0)).collect(),
    })
}

fn claimed(worker_id: i64, rows: &[tokio_postgres::Row]) -> Vec<Claimed> {
    rows.iter()
        .map(|r| Claimed {
            task_instance_id: r.get(0),
            workflow_instance_id: r.get(1),
            task_name: r.get(2),
            task_type: r.get(3),
            settings: r.get(4),
            tenant: r.get(5),
            worker_id,
        })
        .collect()
}

pub async fn append_log(
    pool: &Pool,
    worker_id: i64,
    ids: &[i64],
    line_nos: &[i32],
    lines: &[&str],
    streams: Option<&[&str]>,
) -> Result<()> {
    query(
        pool,
        call_timeout(),
        "SELECT sched.append_log($1, $2, $3, $4, $5)",
        &[&worker_id, &ids, &line_nos, &lines, &streams],
    )
    .await?;
    Ok(())
}

/// Hands back tasks that could not be started; returns those to report as killed instead.
pub async fn release(pool: &Pool, worker_id: i64, ids: &[i64]) -> Result<Vec<i64>> {
    ids_of(
        query(
            pool,
            call_timeout(),
            "SELECT sched.release_tasks($1, $2)",
            &[&worker_id, &ids],
        )
        .await?,
    )
}

pub async fn kill_requests(pool: &Pool, worker_id: i64) -> Result<Vec<i64>> {
    ids_of(
        query(
            pool,
            call_timeout(),
            "SELECT sched.kill_requests($1)",
            &[&worker_id],
        )
        .await?,
    )
}

/// Tells the database that this worker does not run these attempts (it was asked to kill
/// them): it takes them back once past the grace for claims in flight.
pub async fn unknown_tasks(pool: &Pool, worker_id: i64, ids: &[i64]) -> Result<i32> {
    let rows = query(
        pool,
        call_timeout(),
        "SELECT sched.unknown_tasks($1, $2)",
        &[&worker_id, &ids],
    )
    .await?;
    Ok(rows[0].get(0))
}

pub async fn deregister(pool: &Pool, worker_id: i64, fenced: bool) -> Result<()> {
    query(
        pool,
        call_timeout(),
        "SELECT sched.deregister_worker($1, $2)",
        &[&worker_id, &fenced],
    )
    .await?;
    Ok(())
}

pub async fn claim_alerts(pool: &Pool, worker_id: i64, max: i32) -> Result<Vec<ClaimedAlert>> {
    let rows = query(
        pool,
        call_timeout(),
        "SELECT alert_id, channel_no, channel, attempt, event, workflow_instance_id, task_instance_id, \
         title, message, details, created_at FROM sched.claim_alerts($1, $2)",
        &[&worker_id, &max],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| ClaimedAlert {
            alert_id: r.get(0),
            channel_no: r.get(1),
            channel: r.get(2),
            attempt: r.get(3),
            event: r.get(4),
            workflow_instance_id: r.get(5),
            task_instance_id: r.get(6),
            title: r.get(7),
            message: r.get(8),
            details: r.get(9),
            created_at: r.get(10),
        })
        .collect())
}

/// Reports deliveries sent (`None`) or failed (the error); returns when the next pending
/// one is due.
pub async fn report_alerts(
    pool: &Pool,
    worker_id: i64,
    outcomes: &[(i64, i32, Option<String>)],
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let ids: Vec<i64> = outcomes.iter().map(|o| o.0).collect();
    let channels: Vec<i32> = outcomes.iter().map(|o| o.1).collect();
    let errors: Vec<Option<String>> = outcomes.iter().map(|o| o.2.clone()).collect();
    let rows = query(
        pool,
        call_timeout(),
        "SELECT sched.report_alerts($1, $2, $3, $4)",
        &[&worker_id, &ids, &channels, &errors],
    )
    .await?;
    Ok(rows[0].get(0))
}
