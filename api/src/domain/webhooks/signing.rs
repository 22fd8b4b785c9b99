//! Webhook signatures: `Leadgraph-Signature: t=<unix seconds>,v1=<hex>` where the
//! hex is HMAC-SHA256 keyed with the endpoint's secret (the whole `whsec_…`
//! string, as bytes) over `"<t>.<raw body>"`.
//!
//! Pure functions, no I/O: [`sign`] is what the dispatcher sends, [`verify`] is
//! what a receiver written in Rust runs (re-exported as `leadgraph::webhooks`).
//! The timestamp is inside the signed bytes, so a captured request cannot be
//! replayed with a fresh `t`; receivers refuse old ones (5 minutes is the
//! recommended tolerance, [`DEFAULT_TOLERANCE_SECS`]).
//!
//! HMAC is built here on `sha2` (RFC 2104, checked against the RFC 4231 vectors
//! below) rather than pulling in another crate for twenty lines.

use sha2::{Digest, Sha256};

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "Leadgraph-Signature";
/// The event id header's name (the same id as the body's `id`).
pub const EVENT_ID_HEADER: &str = "Leadgraph-Event-Id";
/// The event type header's name (`lead.created`, ...).
pub const EVENT_TYPE_HEADER: &str = "Leadgraph-Event-Type";
/// How old a signature receivers should accept: 5 minutes.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

const BLOCK: usize = 64;

/// HMAC-SHA256 of the concatenated `parts` under `key`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0_u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The `v1` value: lower-case hex HMAC-SHA256(secret, "<t>.<body>").
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    hex(&hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", body]))
}

/// The whole `Leadgraph-Signature` header value for a body sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The header is not `t=<integer>,v1=<hex>[,...]`.
    #[error("the signature header is malformed")]
    Malformed,
    /// The header carries no `v1` signature.
    #[error("the signature header has no v1 signature")]
    NoSignature,
    /// `t` is further than the tolerance from now (a replay, or a bad clock).
    #[error("the signature timestamp is outside the tolerance")]
    OutsideTolerance,
    /// No `v1` matches the body under this secret.
    #[error("no signature matches the body")]
    Mismatch,
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a `Leadgraph-Signature` header against the raw request body.
///
/// `raw_body` must be the bytes as received, before any JSON parsing. `now_unix`
/// is the receiver's clock; `t` may differ from it by at most `tolerance_secs`
/// either way (use [`DEFAULT_TOLERANCE_SECS`], 5 minutes). Several `v1` entries
/// are allowed (any one matching suffices); unknown entries are ignored.
///
/// ```
/// use leadgraph::webhooks::{VerifyError, sign, verify};
///
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let body = br#"{"id":"evt_1","type":"lead.created"}"#;
/// // What the server sends at t = 1700000000:
/// let header = sign(secret, 1_700_000_000, body);
///
/// // A receiver one minute later accepts it...
/// assert_eq!(verify(secret, &header, body, 1_700_000_060, 300), Ok(()));
/// // ...but not a changed body, nor the same request replayed an hour later.
/// assert_eq!(
///     verify(secret, &header, b"{}", 1_700_000_060, 300),
///     Err(VerifyError::Mismatch)
/// );
/// assert_eq!(
///     verify(secret, &header, body, 1_700_003_600, 300),
///     Err(VerifyError::OutsideTolerance)
/// );
/// ```
pub fn verify(
    secret: &str,
    signature_header: &str,
    raw_body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in signature_header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(VerifyError::Malformed)?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::Malformed);
                }
                timestamp = Some(value.parse::<i64>().map_err(|_| VerifyError::Malformed)?);
            }
            "v1" => candidates.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if candidates.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    if now_unix.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(VerifyError::OutsideTolerance);
    }
    let expected = signature(secret, timestamp, raw_body);
    if candidates
        .iter()
        .any(|c| constant_time_eq(c.as_bytes(), expected.as_bytes()))
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_vectors() {
        // Test case 1: a 20-byte key.
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], &[b"Hi There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2: a key shorter than the output, message in two parts.
        assert_eq!(
            hex(&hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"lead.created"}"#;
    // Computed independently: Python `hmac.new(SECRET, b"1700000000." + BODY, sha256)`.
    const EXPECTED: &str =
        "t=1700000000,v1=f8bdc2199d352d4538046f72bbe84df6f83729fd79fb2aa73e0b5a18861bc895";

    #[test]
    fn sign_produces_the_fixed_vector() {
        assert_eq!(sign(SECRET, 1_700_000_000, BODY), EXPECTED);
    }

    #[test]
    fn verify_accepts_the_vector_within_tolerance_either_side() {
        assert_eq!(verify(SECRET, EXPECTED, BODY, 1_700_000_000, 300), Ok(()));
        assert_eq!(verify(SECRET, EXPECTED, BODY, 1_700_000_300, 300), Ok(()));
        assert_eq!(verify(SECRET, EXPECTED, BODY, 1_699_999_700, 300), Ok(()));
        assert_eq!(
            verify(SECRET, EXPECTED, BODY, 1_700_000_301, 300),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            verify(SECRET, EXPECTED, BODY, 1_699_999_699, 300),
            Err(VerifyError::OutsideTolerance)
        );
    }

    #[test]
    fn verify_refuses_another_body_secret_or_timestamp() {
        let now = 1_700_000_010;
        assert_eq!(
            verify(SECRET, EXPECTED, b"{\"id\":\"evt_2\"}", now, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("whsec_other", EXPECTED, BODY, now, 300),
            Err(VerifyError::Mismatch)
        );
        let moved = EXPECTED.replace("t=1700000000", "t=1700000001");
        assert_eq!(
            verify(SECRET, &moved, BODY, now, 300),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn verify_accepts_any_matching_v1_and_ignores_unknown_entries() {
        let header = format!(
            "t=1700000000, v0=zz, v1=deadbeef, {}",
            &EXPECTED["t=1700000000,".len()..]
        );
        assert_eq!(verify(SECRET, &header, BODY, 1_700_000_000, 300), Ok(()));
    }

    #[test]
    fn verify_refuses_malformed_headers() {
        for (header, err) in [
            ("", VerifyError::Malformed),
            ("v1=abc", VerifyError::Malformed),
            ("t=soon,v1=abc", VerifyError::Malformed),
            ("t=1,t=2,v1=abc", VerifyError::Malformed),
            ("t=1700000000", VerifyError::NoSignature),
            ("garbage", VerifyError::Malformed),
        ] {
            assert_eq!(
                verify(SECRET, header, BODY, 1_700_000_000, 300),
                Err(err),
                "{header}"
            );
        }
    }
}
