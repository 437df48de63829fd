//! Optional deadlines in `select!`.

use tokio::time::Instant;

/// Completes at `at`, or never when there is no deadline.
pub async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
