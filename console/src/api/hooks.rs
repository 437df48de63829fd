//! Webhooks (`POST /hooks/{hook}`, made by `sched.create_webhook`): a program that knows a
//! webhook's secret starts its workflow. The request is handed whole to the database
//! (`sched._receive_webhook`), which holds the secret, checks the signature, the timestamp, the
//! delivery id and the rate limit, and starts the workflow as the webhook's creator. Requests
//! with a bad signature count against the client's address like failed sign-ins.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;
use crate::error::ApiError;
use crate::limits;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

pub async fn receive(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let keys = [limits::client_key(client.ip())];
    app.failures.check(&keys).map_err(|limited| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many refused webhook signatures from {} in the last minute; try again later",
                limited.key
            ),
        )
        .retry_after(limited.retry_after)
    })?;
    let received = app
        .tokens
        .receive_webhook(
            &hook,
            &body,
            header(&headers, "x-sched-timestamp"),
            header(&headers, "x-sched-delivery"),
            header(&headers, "x-hub-signature-256"),
        )
        .await?;
    let status = StatusCode::from_u16(received.status).unwrap_or(StatusCode::BAD_REQUEST);
    if status == StatusCode::UNAUTHORIZED {
        app.failures.record(&keys);
    }
    if status.is_success() {
        return Ok((
            status,
            Json(json!({"workflow_instance_id": received.instance, "message": received.message})),
        )
            .into_response());
    }
    Err(ApiError::new(status, received.message))
}
