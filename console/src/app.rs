//! What every request shares: the console's state (`App`: its sessions, the sign-in failure
//! limit, the host names it answers for), and how a request finds its signed-in session in
//! it (the `Signed` and `Authed` extractors the API's handlers take).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};

use crate::error::ApiError;
use crate::limits::FailureLimit;
use crate::session::{COOKIE, CSRF_HEADER, Conn, Session, Sessions};
use crate::tokens::Tokens;

pub struct App {
    pub sessions: Sessions,
    pub tokens: Tokens,
    pub failures: FailureLimit,
    pub allowed_hosts: Vec<String>,
    pub secure_cookies: bool,
}

/// The signed-in session of a request, without its connection (signing out needs none); a
/// write also needs the session's CSRF token.
pub struct Signed {
    pub id: String,
    pub session: Arc<Session>,
}

impl FromRequestParts<Arc<App>> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let jar = axum_extra::extract::CookieJar::from_headers(&parts.headers);
        let (id, session) = jar
            .get(COOKIE)
            .and_then(|c| Some((c.value().to_owned(), app.sessions.get(c.value())?)))
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
        Ok(Signed { id, session })
    }
}

/// The API token of a request (`Authorization: Bearer <token>`), if it has one.
fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Some(t.trim()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Authorization: only \"Bearer <token>\" is accepted, with a token of sched.create_api_token",
            )
        })
}

/// The session of a request with its connection, opened if it was released: the signed-in
/// session of its cookie, or the token connection of its API token.
pub struct Authed(pub Conn);

impl FromRequestParts<Arc<App>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(parts)? {
            let client = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
            let conn = app
                .tokens
                .conn(token, client, &app.failures, &app.sessions)
                .await?;
            return Ok(Authed(conn));
        }
        let Signed { id, session } = Signed::from_request_parts(parts, app).await?;
        let client = app.sessions.client(&id, &session).await?;
        Ok(Authed(Conn { session, client }))
    }
}
