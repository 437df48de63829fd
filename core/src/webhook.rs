//! Webhook signatures. A request to `/hooks/<id>` carries a timestamp (Unix seconds), a
//! delivery id and a signature in GitHub's form, `sha256=<hex>`: the HMAC-SHA256, keyed with
//! the webhook's secret, of `<timestamp>.<delivery>.<body>`. Signing the timestamp and the
//! delivery id with the body is what lets the database refuse replays: an old request cannot
//! be given a new time or a new id without the secret.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from the database's clock, in seconds.
pub const TOLERANCE_SECONDS: i64 = 300;
/// Longest delivery id, in characters.
pub const MAX_DELIVERY_CHARS: usize = 200;

fn mac(secret: &str, timestamp: &str, delivery: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(delivery.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header's value for a request: `sha256=<hex>`.
pub fn signature(secret: &str, timestamp: &str, delivery: &str, body: &[u8]) -> String {
    let bytes = mac(secret, timestamp, delivery, body)
        .finalize()
        .into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `given` is the request's signature; compared in constant time.
pub fn verify(secret: &str, timestamp: &str, delivery: &str, body: &[u8], given: &str) -> bool {
    let Some(hex) = given.trim().strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return false;
    }
    let decoded: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    match decoded {
        Some(bytes) => mac(secret, timestamp, delivery, body)
            .verify_slice(&bytes)
            .is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_time_delivery_and_body() {
        let good = signature("s3cret", "1700000000", "d-1", b"{\"a\":1}");
        assert!(good.starts_with("sha256=") && good.len() == 71);
        assert!(verify("s3cret", "1700000000", "d-1", b"{\"a\":1}", &good));
        assert!(!verify("other", "1700000000", "d-1", b"{\"a\":1}", &good));
        assert!(!verify("s3cret", "1700000001", "d-1", b"{\"a\":1}", &good));
        assert!(!verify("s3cret", "1700000000", "d-2", b"{\"a\":1}", &good));
        assert!(!verify("s3cret", "1700000000", "d-1", b"{\"a\":2}", &good));
        assert!(!verify(
            "s3cret",
            "1700000000",
            "d-1",
            b"{\"a\":1}",
            "sha256=zz"
        ));
        assert!(!verify(
            "s3cret",
            "1700000000",
            "d-1",
            b"{\"a\":1}",
            &good[7..]
        ));
    }

    fn hex(mac: Hmac<Sha256>) -> String {
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn it_is_rfc_4231_hmac_sha256_of_the_parts_joined_by_dots() {
        // RFC 4231, test case 2.
        let mut m = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(m),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let mut joined = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        joined.update(b"1700000000.d-1.{}");
        assert_eq!(
            signature("Jefe", "1700000000", "d-1", b"{}"),
            format!("sha256={}", hex(joined))
        );
    }
}
