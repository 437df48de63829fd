//! API tokens (`Authorization: Bearer`, DolphinScheduler's Open API tokens): a program acts as
//! the role that created its token (`sched.create_api_token`), with exactly that role's
//! rights, as a signed-in user would.
//!
//! The console has no password of that role. It opens its token connection as the role
//! `--token-database-url` names (a member of `sched_api`, which may do nothing but this), and
//! before every request it serves for a token it calls `sched.assume_api_token(token)`, which
//! checks the token in the database (unknown, revoked, expired, its role no longer allowed to
//! log in: refused) and makes its creator the current role. A connection serves one token
//! only, so nothing of one token's requests is seen by another's; it is closed after
//! `--connection-idle-seconds` without use. Failed tokens count against the client's address
//! like failed sign-ins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use tokio::sync::broadcast;
use tokio_postgres::Config;

use crate::error::ApiError;
use crate::limits::{self, FailureLimit};
use crate::pg;
use crate::session::{self, Conn, Session};

const ASSUME: &str = "SELECT sched.assume_api_token($1)";

pub struct Tokens {
    base: Option<Config>,
    /// Open token connections, by token.
    by_token: Mutex<HashMap<String, Arc<Session>>>,
    /// The connection webhook requests are checked on, as the token connection's role
    /// (`sched._receive_webhook`, granted to sched_api): opened at the first request, again
    /// after it closed. One at a time: a webhook's start is one short transaction.
    hooks: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
}

/// What `sched._receive_webhook` answered: the HTTP status, the instance started, why.
pub struct Received {
    pub status: u16,
    pub instance: Option<i64>,
    pub message: String,
}

impl Tokens {
    pub fn new(base: Option<Config>) -> Tokens {
        Tokens {
            base,
            by_token: Mutex::new(HashMap::new()),
            hooks: tokio::sync::Mutex::new(None),
        }
    }

    /// Hands a webhook request to the database, which holds the hook's secret and checks it.
    pub async fn receive_webhook(
        &self,
        hook: &str,
        body: &[u8],
        timestamp: &str,
        delivery: &str,
        signature: &str,
    ) -> Result<Received, ApiError> {
        let Some(base) = &self.base else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this console takes no webhooks: it was started without --token-database-url",
            ));
        };
        let mut hooks = self.hooks.lock().await;
        if hooks.as_ref().is_none_or(|c| c.is_closed()) {
            let mut config = base.clone();
            config.application_name("sched-console (webhooks)");
            let (client, connection) = pg::connect(&config).await.result.map_err(|f| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "cannot open the webhook connection ({}): {}",
                        pg::describe(base),
                        f.message()
                    ),
                )
            })?;
            tokio::spawn(connection);
            *hooks = Some(client);
        }
        let client = hooks.as_ref().expect("opened above");
        let row = client
            .query_one(
                "SELECT status, workflow_instance_id, message FROM sched._receive_webhook($1, $2, $3, $4, $5)",
                &[&hook, &body, &timestamp, &delivery, &signature],
            )
            .await
            .map_err(ApiError::from)?;
        Ok(Received {
            status: row.get::<_, i32>(0) as u16,
            instance: row.get(1),
            message: row.get(2),
        })
    }

    /// A connection acting as the token's role, or why not.
    pub async fn conn(
        &self,
        token: &str,
        client: IpAddr,
        failures: &FailureLimit,
        sessions: &session::Sessions,
    ) -> Result<Conn, ApiError> {
        let Some(base) = &self.base else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this console takes no API tokens: it was started without --token-database-url",
            ));
        };
        let keys = [limits::client_key(client)];
        failures.check(&keys).map_err(|limited| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many refused API tokens from {} in the last minute; try again later",
                    limited.key
                ),
            )
            .retry_after(limited.retry_after)
        })?;
        let cached = self
            .by_token
            .lock()
            .expect("tokens lock")
            .get(token)
            .cloned();
        let checked = match cached {
            // A connection opened now checked the token as it opened.
            None => self.open(base, token, sessions).await,
            Some(session) => match session.client_for_token().await {
                None => Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the token connection closed; try again",
                )),
                Some(client) => match client.query_one(ASSUME, &[&token]).await {
                    Ok(_) => Ok(Conn { session, client }),
                    Err(e) => Err(refusal(e)),
                },
            },
        };
        if checked.is_err() {
            self.by_token.lock().expect("tokens lock").remove(token);
        }
        if checked
            .as_ref()
            .is_err_and(|e| e.status == StatusCode::UNAUTHORIZED)
        {
            failures.record(&keys);
        }
        checked
    }

    async fn open(
        &self,
        base: &Config,
        token: &str,
        sessions: &session::Sessions,
    ) -> Result<Conn, ApiError> {
        let unavailable = |why: String| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "cannot open the token connection ({}): {why}",
                    pg::describe(base)
                ),
            )
        };
        let mut config = base.clone();
        config.application_name("sched-console (API token)");
        let (client, connection) = pg::connect(&config)
            .await
            .result
            .map_err(|f| unavailable(f.message()))?;
        let (changes, _) = broadcast::channel(16);
        let client = session::watch_changes(client, connection, &changes)
            .await
            .map_err(unavailable)?;
        let user: String = client
            .query_one(ASSUME, &[&token])
            .await
            .map_err(refusal)?
            .get(0);
        let client = Arc::new(client);
        let session = Arc::new(Session::for_token(
            user,
            client.clone(),
            changes,
            sessions.limits().max_streams_per_session,
        ));
        self.by_token
            .lock()
            .expect("tokens lock")
            .insert(token.to_owned(), session.clone());
        Ok(Conn { session, client })
    }

    /// Closes the token connections unused for `--connection-idle-seconds`. Run periodically.
    pub fn reap(&self, sessions: &session::Sessions) {
        let idle = sessions.limits().connection_idle;
        self.by_token
            .lock()
            .expect("tokens lock")
            .retain(|_, s| !s.idle(idle));
    }
}

/// A refused token (SQLSTATE class 28, from sched.assume_api_token) is 401; anything else
/// says the database could not check it now.
fn refusal(e: tokio_postgres::Error) -> ApiError {
    let error = ApiError::from(e);
    if error.status == StatusCode::UNAUTHORIZED {
        error
    } else {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..error
        }
    }
}
