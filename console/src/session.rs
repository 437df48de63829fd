//! Signing in: a session is a PostgreSQL role whose password PostgreSQL itself verified (see
//! `pg.rs`), and every call of the console runs on a connection as that role, with exactly
//! its rights and the SQL API's own checks. The browser holds only a random session id in an
//! HttpOnly, SameSite=Strict cookie; writes must also carry the session's CSRF token.
//!
//! What one user can hold is bounded: sessions per role, live streams per session, and a
//! session's connection is closed after it goes unused and opened again (with the password
//! given at sign-in, checked again by PostgreSQL) on its next use, so idle sessions hold no
//! database connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio_postgres::{AsyncMessage, Client, Config};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::metrics;
use crate::pg;

pub const COOKIE: &str = "sched_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub struct Limits {
    pub session_idle: Duration,
    pub connection_idle: Duration,
    pub max_sessions_per_user: usize,
    pub max_streams_per_session: usize,
}

pub struct Session {
    pub user: String,
    /// Kept (and wiped when the session ends) only to open the connection again after it was
    /// released for being idle; PostgreSQL checks it again each time.
    password: Zeroizing<String>,
    pub csrf: String,
    /// Fires on the engine's notifications (tasks ready, kills, alerts) seen on this
    /// session's connection: live views re-read what they show.
    pub changes: broadcast::Sender<()>,
    connection: tokio::sync::Mutex<Option<Arc<Client>>>,
    last_used: Mutex<Instant>,
    streams: AtomicUsize,
    max_streams: usize,
    /// Set when the session ends (sign-out, expiry), so that its live streams end with it.
    ended: watch::Sender<bool>,
}

pub struct Sessions {
    base: Config,
    limits: Limits,
    by_id: Mutex<HashMap<String, Arc<Session>>>,
}

/// A sign-in that did not make a session, and whether it counts as a failed password guess.
pub struct Refused {
    pub error: ApiError,
    pub about_password: bool,
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a connection as a role was not opened.
enum Denied {
    /// PostgreSQL let the role in without asking for a password: nothing was verified.
    NotChecked,
    /// PostgreSQL refused the role or its password.
    Authentication(String),
    /// PostgreSQL could not be reached, or could not take the connection now.
    Unavailable(String),
}

/// A new connection made ready for the console: the engine's notifications on it reach
/// `changes` (live views re-read), and the database has the pg_sched of this console's
/// release.
pub async fn watch_changes(
    client: Client,
    mut connection: pg::PgConnection,
    changes: &broadcast::Sender<()>,
) -> Result<Client, String> {
    let tx = changes.clone();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(_) = message {
                let _ = tx.send(());
            }
        }
    });
    let installed = client
        .query_opt(sched_core::protocol::EXTENSION_VERSION, &[])
        .await
        .map_err(|e| e.to_string())?
        .map(|row| row.get::<_, String>(0));
    sched_core::protocol::check_client(
        "sched-console",
        env!("CARGO_PKG_VERSION"),
        installed.as_deref(),
    )?;
    client
        .batch_execute("LISTEN sched_ready; LISTEN sched_kill; LISTEN sched_alert")
        .await
        .map_err(|e| e.to_string())?;
    Ok(client)
}

impl Session {
    /// The session of an API token (see `tokens.rs`): no password, no CSRF token (a program
    /// sends its token in a header no other site can make a browser send), its connection
    /// already open.
    pub fn for_token(
        user: String,
        client: Arc<Client>,
        changes: broadcast::Sender<()>,
        max_streams: usize,
    ) -> Session {
        Session {
            user,
            password: Zeroizing::new(String::new()),
            csrf: String::new(),
            changes,
            connection: tokio::sync::Mutex::new(Some(client)),
            last_used: Mutex::new(Instant::now()),
            streams: AtomicUsize::new(0),
            max_streams,
            ended: watch::channel(false).0,
        }
    }

    /// A token session's connection, while open; using it is use of the session.
    pub async fn client_for_token(&self) -> Option<Arc<Client>> {
        self.touch();
        self.connection
            .lock()
            .await
            .as_ref()
            .filter(|c| !c.is_closed())
            .cloned()
    }

    pub fn idle(&self, limit: Duration) -> bool {
        self.idle_longer_than(limit)
    }

    fn touch(&self) {
        *self.last_used.lock().expect("session lock") = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_used.lock().expect("session lock").elapsed()
    }

    /// A live stream is use: a session is never idle while one is open.
    fn idle_longer_than(&self, limit: Duration) -> bool {
        self.streams.load(Ordering::SeqCst) == 0 && self.idle_for() >= limit
    }

    fn end(&self) {
        self.ended.send_replace(true);
        if let Ok(mut connection) = self.connection.try_lock() {
            connection.take();
        }
    }

    pub fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// A place for one more live stream, if the session has room for it.
    pub fn open_stream(self: &Arc<Self>) -> Result<StreamSlot, ApiError> {
        let max = self.max_streams;
        self.streams
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1))
            .map_err(|_| {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "this session already has {max} live views open, the most one session may have \
                         (--max-streams-per-session {max}): close one (a browser tab or page showing \
                         live state), then open this one again"
                    ),
                )
            })?;
        metrics::stream_opened();
        Ok(StreamSlot(self.clone()))
    }
}

/// One open live stream of a session; dropping it (the stream ended or its client left)
/// gives the place back.
pub struct StreamSlot(Arc<Session>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        // Idle time counts from the end of the stream, so touch before the count drops.
        self.0.touch();
        self.0.streams.fetch_sub(1, Ordering::SeqCst);
        metrics::stream_closed();
    }
}

impl Sessions {
    pub fn new(base: Config, limits: Limits) -> Sessions {
        Sessions {
            base,
            limits,
            by_id: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a connection as `user`, accepted only if PostgreSQL asked for the password and the
    /// database has the pg_sched of this console's release.
    async fn connect(
        &self,
        user: &str,
        password: &str,
        changes: &broadcast::Sender<()>,
    ) -> Result<Client, Denied> {
        let mut config = self.base.clone();
        config
            .user(user)
            .password(password)
            .application_name("sched-console");
        let attempt = pg::connect(&config).await;
        let (client, connection) = match attempt.result {
            Ok(_) if !attempt.asked_password => return Err(Denied::NotChecked),
            Ok(pair) => pair,
            Err(f) if f.is_authentication() => return Err(Denied::Authentication(f.message())),
            Err(f) => return Err(Denied::Unavailable(f.message())),
        };
        let client = watch_changes(client, connection, changes)
            .await
            .map_err(|why| {
                eprintln!("sched-console: refused a sign-in as {user}: {why}");
                Denied::Unavailable(why)
            })?;
        Ok(client)
    }

    fn not_checked(&self, user: &str) -> ApiError {
        let error = ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "PostgreSQL let {user} in without asking for a password (pg_hba.conf trusts this \
                 connection: trust, peer or ident), so the console does not sign anyone in as \
                 {user}: it needs PostgreSQL to verify the password"
            ),
        )
        .hint(format!(
            "in pg_hba.conf, put a password line for the console's connections above the one \
             that matches now, e.g. `{}`, then reload PostgreSQL (SELECT pg_reload_conf())",
            pg::hba_line(&self.base, user)
        ));
        eprintln!(
            "sched-console: refused a sign-in as {user}: {} ({})",
            error.message,
            error.hint.as_deref().unwrap_or_default()
        );
        error
    }

    /// Signs `user` in: a connection PostgreSQL checked the password of, and a session for
    /// it if the role has room for one more.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub async fn sign_in(
        &self,
        user: &str,
        password: &str,
    ) -> Result<(String, Arc<Session>), Refused> {
        let (changes, _) = broadcast::channel(16);
        let refused = |status, message: String, about_password| Refused {
            error: ApiError::new(status, format!("cannot sign in as {user}: {message}")),
            about_password,
        };
        let client = match self.connect(user, password, &changes).await {
            Ok(c) => c,
            Err(Denied::NotChecked) => {
                return Err(Refused {
                    error: self.not_checked(user),
                    about_password: true,
                });
            }
            Err(Denied::Authentication(m)) => {
                return Err(refused(StatusCode::UNAUTHORIZED, m, true));
            }
            Err(Denied::Unavailable(m)) => {
                return Err(refused(StatusCode::SERVICE_UNAVAILABLE, m, false));
            }
        };
        let session = Arc::new(Session {
            user: user.to_owned(),
            password: Zeroizing::new(password.to_owned()),
            csrf: random_token(),
            changes,
            connection: tokio::sync::Mutex::new(Some(Arc::new(client))),
            last_used: Mutex::new(Instant::now()),
            streams: AtomicUsize::new(0),
            max_streams: self.limits.max_streams_per_session,
            ended: watch::channel(false).0,
        });
        let id = random_token();
        let mut all = self.by_id.lock().expect("sessions lock");
        self.drop_expired(&mut all);
        let max = self.limits.max_sessions_per_user;
        if all.values().filter(|s| s.user == user).count() >= max {
            return Err(Refused {
                error: ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "cannot sign in as {user}: {user} already has {max} sessions, the most one \
                         role may have (--max-sessions-per-user {max}); sign out of one, or wait \
                         until one has gone unused for {} minutes",
                        self.limits.session_idle.as_secs().div_ceil(60)
                    ),
                ),
                about_password: false,
            });
        }
        all.insert(id.clone(), session.clone());
        metrics::sessions(all.len());
        Ok((id, session))
    }

    fn drop_expired(&self, all: &mut HashMap<String, Arc<Session>>) {
        all.retain(|_, s| {
            let keep = !s.idle_longer_than(self.limits.session_idle);
            if !keep {
                s.end();
            }
            keep
        });
        metrics::sessions(all.len());
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let mut all = self.by_id.lock().expect("sessions lock");
        let session = all.get(id)?.clone();
        if session.idle_longer_than(self.limits.session_idle) {
            all.remove(id);
            metrics::sessions(all.len());
            session.end();
            return None;
        }
        session.touch();
        Some(session)
    }

    pub fn sign_out(&self, id: &str) {
        let mut all = self.by_id.lock().expect("sessions lock");
        if let Some(s) = all.remove(id) {
            metrics::sessions(all.len());
            s.end();
        }
    }

    /// The session's connection, opened again if it was released (or broke). If PostgreSQL
    /// no longer takes the password given at sign-in (changed, role gone, pg_hba.conf no
    /// longer asks for one), the session ends.
    pub async fn client(&self, id: &str, session: &Arc<Session>) -> Result<Arc<Client>, ApiError> {
        let mut connection = session.connection.lock().await;
        if let Some(c) = connection.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        if *session.ended.borrow() {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "not signed in"));
        }
        let user = &session.user;
        match self
            .connect(user, &session.password, &session.changes)
            .await
        {
            Ok(c) => {
                let c = Arc::new(c);
                *connection = Some(c.clone());
                Ok(c)
            }
            Err(Denied::Unavailable(m)) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot reconnect to PostgreSQL as {user}: {m}"),
            )),
            Err(denied) => {
                drop(connection);
                self.sign_out(id);
                let why = match denied {
                    Denied::Authentication(m) => m,
                    _ => self.not_checked(user).message,
                };
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "signed out: reconnecting as {user} with the password given at sign-in \
                         failed ({why}); sign in again"
                    ),
                ))
            }
        }
    }

    /// Ends sessions unused for `--session-idle-minutes` and closes the connections of those
    /// unused for `--connection-idle-seconds`. Run periodically.
    pub fn reap(&self) {
        let mut all = self.by_id.lock().expect("sessions lock");
        self.drop_expired(&mut all);
        for s in all.values() {
            if s.idle_longer_than(self.limits.connection_idle)
                // A request holding the lock is using the connection right now.
                && let Ok(mut connection) = s.connection.try_lock()
            {
                connection.take();
            }
        }
    }
}

/// A session and its open connection.
pub struct Conn {
    pub session: Arc<Session>,
    pub client: Arc<Client>,
}

impl std::ops::Deref for Conn {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}
