//! Signing in: a session is a PostgreSQL connection opened with the user's own role and
//! password, so every call of the console runs with exactly that role's rights and the SQL
//! API's own checks. The browser holds only a random session id in an HttpOnly, SameSite=Strict
//! cookie; writes must also carry the session's CSRF token in a header.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use crate::error::ApiError;

pub const COOKIE: &str = "sched_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub struct Session {
    pub user: String,
    pub client: Client,
    pub csrf: String,
    /// Fires on the engine's notifications (tasks ready, kills, alerts) seen on this
    /// session's own connection: live views re-read what they show.
    pub changes: broadcast::Sender<()>,
    last_used: Mutex<Instant>,
}

pub struct Sessions {
    base: Config,
    idle: Duration,
    by_id: Mutex<HashMap<String, Arc<Session>>>,
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    pub fn new(base: Config, idle: Duration) -> Sessions {
        Sessions {
            base,
            idle,
            by_id: Mutex::new(HashMap::new()),
        }
    }

    /// Connects as `user` with `password`; the server decides whether that is allowed.
    pub async fn sign_in(
        &self,
        user: &str,
        password: &str,
    ) -> Result<(String, Arc<Session>), ApiError> {
        let mut config = self.base.clone();
        config
            .user(user)
            .password(password)
            .application_name("sched-console");
        let (client, mut connection) = config.connect(NoTls).await.map_err(|e| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!(
                    "cannot sign in as {user}: {}",
                    e.as_db_error()
                        .map(|d| d.message().to_owned())
                        .unwrap_or_else(|| e.to_string())
                ),
            )
        })?;
        let (changes, _) = broadcast::channel(16);
        let tx = changes.clone();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(_) = message {
                    let _ = tx.send(());
                }
            }
        });
        client
            .batch_execute("LISTEN sched_ready; LISTEN sched_kill; LISTEN sched_alert")
            .await?;
        let session = Arc::new(Session {
            user: user.to_owned(),
            client,
            csrf: random_token(),
            changes,
            last_used: Mutex::new(Instant::now()),
        });
        let id = random_token();
        let mut all = self.by_id.lock().expect("sessions lock");
        let idle = self.idle;
        all.retain(|_, s| s.last_used.lock().expect("session lock").elapsed() < idle);
        all.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let mut all = self.by_id.lock().expect("sessions lock");
        let session = all.get(id)?.clone();
        let mut last = session.last_used.lock().expect("session lock");
        if last.elapsed() >= self.idle {
            drop(last);
            all.remove(id);
            return None;
        }
        *last = Instant::now();
        drop(last);
        Some(session)
    }

    pub fn sign_out(&self, id: &str) {
        self.by_id.lock().expect("sessions lock").remove(id);
    }
}

/// The signed-in session of a request; a write also needs its CSRF token.
pub struct Authed(pub Arc<Session>);

impl FromRequestParts<Arc<crate::App>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<crate::App>,
    ) -> Result<Self, Self::Rejection> {
        let jar = axum_extra::extract::CookieJar::from_headers(&parts.headers);
        let session = jar
            .get(COOKIE)
            .and_then(|c| app.sessions.get(c.value()))
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not signed in"))?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if given != Some(session.csrf.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "missing or wrong {CSRF_HEADER} header: send the token sign-in returned"
                    ),
                ));
            }
        }
        Ok(Authed(session))
    }
}
