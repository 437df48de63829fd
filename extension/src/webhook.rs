//! Webhook signatures (`sched_core::webhook`), checked in the database, which alone holds the
//! secrets: sql/7_api/triggers.sql's `_receive_webhook`.

use pgrx::prelude::*;

/// Whether `signature` is `sha256=<hex>` of the request, keyed with `secret`.
#[pg_extern(name = "_webhook_signature_ok", immutable, parallel_safe)]
pub fn signature_ok(
    secret: &str,
    timestamp: &str,
    delivery: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    sched_core::webhook::verify(secret, timestamp, delivery, body, signature)
}
