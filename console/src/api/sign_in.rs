//! Signing in and out (`/api/login`, `/api/logout`) and who is signed in (`/api/me`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde_json::{Value, json};

use super::{Api, text};
use crate::app::{App, Authed, Signed};
use crate::error::ApiError;
use crate::limits;
use crate::metrics;
use crate::session::COOKIE;

pub async fn sign_in(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let result = try_sign_in(&app, client, jar, body).await;
    metrics::sign_in(&result);
    result
}

/// Signs in, counting each attempt against the role and the client address until it
/// succeeds (see `limits.rs`).
async fn try_sign_in(
    app: &App,
    client: SocketAddr,
    jar: CookieJar,
    body: Value,
) -> Result<Response, ApiError> {
    let user = text(&body, "user")?;
    // PostgreSQL cuts longer names to 63 bytes: names differing past that would be one role
    // but different keys for the failure limit.
    if user.is_empty() || user.len() > 63 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "user: a role name of 1 to 63 bytes",
        ));
    }
    let password = body
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let attempt = app
        .failures
        .begin(vec![
            limits::role_key(&user),
            limits::client_key(client.ip()),
        ])
        .map_err(|limited| {
            let error =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "").retry_after(limited.retry_after);
            ApiError {
                message: format!(
                    "too many failed sign-ins for {} ({} in the last minute, the most \
                     --max-failed-sign-ins allows); try again in {} s",
                    limited.key,
                    app.failures.max(),
                    error.retry_after.unwrap_or(1)
                ),
                ..error
            }
        })?;
    let (id, session) = match app.sessions.sign_in(&user, password).await {
        Ok(signed) => {
            attempt.forgive();
            signed
        }
        Err(refused) => {
            if !refused.about_password {
                attempt.forgive();
            }
            return Err(refused.error);
        }
    };
    let cookie = Cookie::build((COOKIE, id))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.secure_cookies)
        .path("/")
        .build();
    Ok((
        jar.add(cookie),
        Json(json!({"user": session.user, "csrf": session.csrf})),
    )
        .into_response())
}

pub async fn sign_out(State(app): State<Arc<App>>, jar: CookieJar, s: Signed) -> Response {
    app.sessions.sign_out(&s.id);
    (jar.remove(Cookie::from(COOKIE)), StatusCode::NO_CONTENT).into_response()
}

/// Who the request acts as: the signed-in role (and the session's CSRF token), or the role
/// of its API token.
pub async fn me(Authed(s): Authed) -> Api {
    Ok(Json(
        json!({"user": s.session.user, "csrf": s.session.csrf}),
    ))
}
