//! The console's Prometheus metrics, served at `--metrics-listen`. Every name is declared
//! here. Without `--metrics-listen` nothing is registered, requests are not measured, and
//! each function returns after one load.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use ::metrics::{
    Counter, Gauge, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::error::ApiError;

pub const HTTP_REQUESTS: &str = "sched_console_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "sched_console_http_request_duration_seconds";
pub const SESSIONS: &str = "sched_console_sessions";
pub const SIGN_INS: &str = "sched_console_sign_ins_total";
pub const STREAMS: &str = "sched_console_streams";

/// The `route` of requests no route matched: the web front end's files and its own routes.
pub const FALLBACK_ROUTE: &str = "fallback";

/// Upper bounds (seconds) of the request duration buckets. A live view's request ends when
/// its stream starts, so no request lasts as long as the stream it opens.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `result` labels of `sched_console_sign_ins_total`: a session was made; PostgreSQL
/// refused the role or its password (401); or the attempt was turned away for another reason
/// (a limit, a malformed request, a server that let the role in without checking its
/// password, PostgreSQL unavailable).
const SIGN_IN_RESULTS: [&str; 3] = ["ok", "failed", "refused"];

struct Handles {
    sessions: Gauge,
    streams: Gauge,
    sign_ins: [Counter; 3],
}

static HANDLES: OnceLock<Handles> = OnceLock::new();

impl Handles {
    fn register() -> Handles {
        describe_counter!(
            HTTP_REQUESTS,
            "HTTP requests answered, by method, route template and status"
        );
        describe_histogram!(
            HTTP_REQUEST_DURATION,
            Unit::Seconds,
            "Time to answer HTTP requests (to the start of the body), by method and route template"
        );
        describe_gauge!(SESSIONS, "Signed-in sessions");
        describe_counter!(SIGN_INS, "Sign-in attempts, by result");
        describe_gauge!(STREAMS, "Live views (Server-Sent Events streams) open");
        Handles {
            sessions: gauge!(SESSIONS),
            streams: gauge!(STREAMS),
            sign_ins: SIGN_IN_RESULTS.map(|result| counter!(SIGN_INS, "result" => result)),
        }
    }
}

fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .expect("the bucket list is not empty")
}

/// Serves the metrics at `listen` (any path; /metrics by convention) from a thread of its
/// own. Call it outside the console's runtime: inside one, the exporter would run on it.
pub fn install(listen: SocketAddr) -> Result<(), String> {
    builder()
        .with_http_listener(listen)
        .install()
        .map_err(|e| format!("--metrics-listen {listen}: cannot serve metrics there: {e}"))?;
    let _ = HANDLES.set(Handles::register());
    Ok(())
}

pub fn enabled() -> bool {
    HANDLES.get().is_some()
}

/// Middleware counting and timing every request by its route template (never the path
/// itself, whose ids would make a series per instance). Methods outside the standard ones
/// count as "other", so that no client can make series at will.
pub async fn track(request: Request, next: Next) -> Response {
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(FALLBACK_ROUTE.to_owned(), |p| p.as_str().to_owned());
    let at = Instant::now();
    let response = next.run(request).await;
    histogram!(HTTP_REQUEST_DURATION, "method" => method, "route" => route.clone())
        .record(at.elapsed());
    counter!(
        HTTP_REQUESTS,
        "method" => method,
        "route" => route,
        "status" => response.status().as_str().to_owned()
    )
    .increment(1);
    response
}

pub fn sessions(count: usize) {
    if let Some(h) = HANDLES.get() {
        h.sessions.set(count as f64);
    }
}

pub fn sign_in(result: &Result<Response, ApiError>) {
    if let Some(h) = HANDLES.get() {
        h.sign_ins[sign_in_result(result)].increment(1);
    }
}

/// An index into `SIGN_IN_RESULTS`.
fn sign_in_result(result: &Result<Response, ApiError>) -> usize {
    match result {
        Ok(_) => 0,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => 1,
        Err(_) => 2,
    }
}

pub fn stream_opened() {
    if let Some(h) = HANDLES.get() {
        h.streams.increment(1.0);
    }
}

pub fn stream_closed() {
    if let Some(h) = HANDLES.get() {
        h.streams.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn requests_are_counted_by_route_template_and_sign_ins_by_result() {
        let recorder = builder().build_recorder();
        let text = {
            let _local = ::metrics::set_default_local_recorder(&recorder);
            let h = Handles::register();
            h.sign_ins[1].increment(1);
            let app = Router::new()
                .route("/api/instances/{id}", get(|| async { "{}" }))
                .layer(axum::middleware::from_fn(track));
            for uri in ["/api/instances/41", "/api/instances/42", "/index.html"] {
                let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
                app.clone().oneshot(request).await.unwrap();
            }
            recorder.handle().render()
        };
        let refused = Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "limited"));
        assert_eq!(SIGN_IN_RESULTS[sign_in_result(&refused)], "refused");
        let failed = Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong password"));
        assert_eq!(SIGN_IN_RESULTS[sign_in_result(&failed)], "failed");
        for line in [
            "sched_console_http_requests_total{method=\"GET\",route=\"/api/instances/{id}\",status=\"200\"} 2",
            "sched_console_http_requests_total{method=\"GET\",route=\"fallback\",status=\"404\"} 1",
            "sched_console_http_request_duration_seconds_count{method=\"GET\",route=\"/api/instances/{id}\"} 2",
            "sched_console_sign_ins_total{result=\"failed\"} 1",
            "sched_console_sign_ins_total{result=\"ok\"} 0",
            "sched_console_sessions 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in:\n{text}"
            );
        }
    }
}
