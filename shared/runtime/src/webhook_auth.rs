//! Webhook authentication (DESIGN §3), pure: the caller passes the clock's time.
//!
//! - Comparisons of signatures and credentials run in constant time (`subtle`), so a
//!   forger learns nothing from how long a rejection takes.
//! - Signed timestamps must be within a tolerance of now, both ways: a captured delivery
//!   cannot be replayed later, and a clock far ahead is as suspect as one behind.
//! - Several secrets may be valid at once (rotation): a signature made with any of them
//!   passes, and the generic header may carry several `v1` values.
//! - Secrets never reach logs: [`WebhookSecret`] prints `[redacted]`, and errors name the
//!   header and the problem, never a value.

use crate::error::Failure;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// The generic webhook's timestamp tolerance.
pub const HANDOFF_SIGNATURE_TOLERANCE_S: i64 = 300;
/// HubSpot's documented window for `X-HubSpot-Request-Timestamp`.
pub const HUBSPOT_TIMESTAMP_TOLERANCE_MS: i64 = 300_000;
/// Longest signature header read.
pub const SIGNATURE_HEADER_BYTES_MAX: usize = 4096;
/// Most `v1` values read from one `Handoff-Signature` header.
pub const SIGNATURES_PER_HEADER_MAX: usize = 8;

type HmacSha256 = Hmac<Sha256>;

/// A shared secret. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: String) -> Result<Self, AuthError> {
        if secret.is_empty() {
            return Err(AuthError::Malformed("secret"));
        }
        Ok(WebhookSecret(secret))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret itself, for the one place that must send it (an API token header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("stale timestamp: the request was signed too long ago")]
    Stale,
    #[error("timestamp in the future: check the sender's clock")]
    FromTheFuture,
    #[error("credentials do not match")]
    Mismatch,
}

impl Failure for AuthError {
    fn is_retryable(&self) -> bool {
        false
    }
    fn code(&self) -> &'static str {
        "unauthorized"
    }
    fn http_status(&self) -> u16 {
        401
    }
}

fn hmac(secret: &WebhookSecret, parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret.bytes()) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn check_window(signed_at: i64, now: i64, tolerance: i64) -> Result<(), AuthError> {
    if signed_at < now.saturating_sub(tolerance) {
        Err(AuthError::Stale)
    } else if signed_at > now.saturating_add(tolerance) {
        Err(AuthError::FromTheFuture)
    } else {
        Ok(())
    }
}

/// Equal in constant time for equal lengths (lengths are not secret: SHA-256 is 32 bytes).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `t=<unix seconds>,v1=<hex>[,v1=<hex>…]` for `body`, signed with `secret`.
pub fn sign_handoff(secret: &WebhookSecret, t: i64, body: &[u8]) -> String {
    let t_text = t.to_string();
    let mac = hmac(secret, &[t_text.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex::encode(mac))
}

/// Verifies `Handoff-Signature` over `t + "." + body` against any of `secrets`.
pub fn verify_handoff_signature(
    header: Option<&str>,
    body: &[u8],
    secrets: &[WebhookSecret],
    now_s: i64,
) -> Result<(), AuthError> {
    let header = header.ok_or(AuthError::Missing("Handoff-Signature header"))?;
    if header.len() > SIGNATURE_HEADER_BYTES_MAX {
        return Err(AuthError::Malformed("Handoff-Signature header (too long)"));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(AuthError::Malformed("Handoff-Signature header"))?;
        match key.trim() {
            "t" => timestamp = Some(value.trim()),
            "v1" if signatures.len() < SIGNATURES_PER_HEADER_MAX => signatures.push(
                hex::decode(value.trim())
                    .map_err(|_| AuthError::Malformed("Handoff-Signature v1 (not hex)"))?,
            ),
            _ => {} // unknown schemes: ignored, for forward compatibility
        }
    }
    let t_text = timestamp.ok_or(AuthError::Malformed("Handoff-Signature header (no t)"))?;
    let t: i64 = t_text
        .parse()
        .map_err(|_| AuthError::Malformed("Handoff-Signature t (not a number)"))?;
    if signatures.is_empty() {
        return Err(AuthError::Malformed("Handoff-Signature header (no v1)"));
    }
    check_window(t, now_s, HANDOFF_SIGNATURE_TOLERANCE_S)?;
    let mut matched = false;
    for secret in secrets {
        let expected = hmac(secret, &[t_text.as_bytes(), b".", body]);
        for signature in &signatures {
            matched |= same(&expected, signature); // no early exit
        }
    }
    matched.then_some(()).ok_or(AuthError::Mismatch)
}

/// Decodes exactly the escapes HubSpot decodes before signing.
fn hubspot_decode_uri(uri: &str) -> String {
    const DECODED: &[(&str, char)] = &[
        ("%3A", ':'),
        ("%2F", '/'),
        ("%3F", '?'),
        ("%40", '@'),
        ("%21", '!'),
        ("%24", '$'),
        ("%27", '\''),
        ("%28", '('),
        ("%29", ')'),
        ("%2A", '*'),
        ("%2C", ','),
        ("%3B", ';'),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3).map(str::to_ascii_uppercase);
        match escape
            .as_deref()
            .and_then(|e| DECODED.iter().find(|(code, _)| *code == e))
        {
            Some((_, c)) => {
                out.push(*c);
                rest = &rest[i + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// HubSpot's v3 signature: base64 HMAC-SHA256 of method + URI + body + timestamp.
pub fn sign_hubspot_v3(
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_ms: &str,
    secret: &WebhookSecret,
) -> String {
    let uri = hubspot_decode_uri(uri);
    let mac = hmac(
        secret,
        &[
            method.as_bytes(),
            uri.as_bytes(),
            body,
            timestamp_ms.as_bytes(),
        ],
    );
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// Verifies `X-HubSpot-Signature-v3` for a request to the full `uri` as called.
pub fn verify_hubspot_v3(
    method: &str,
    uri: &str,
    body: &[u8],
    signature: Option<&str>,
    timestamp_ms: Option<&str>,
    client_secret: &WebhookSecret,
    now_ms: i64,
) -> Result<(), AuthError> {
    let signature = signature.ok_or(AuthError::Missing("X-HubSpot-Signature-v3 header"))?;
    let timestamp = timestamp_ms.ok_or(AuthError::Missing("X-HubSpot-Request-Timestamp header"))?;
    let signed_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| AuthError::Malformed("X-HubSpot-Request-Timestamp"))?;
    check_window(signed_at, now_ms, HUBSPOT_TIMESTAMP_TOLERANCE_MS)?;
    if signature.len() > SIGNATURE_HEADER_BYTES_MAX {
        return Err(AuthError::Malformed("X-HubSpot-Signature-v3 (too long)"));
    }
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| AuthError::Malformed("X-HubSpot-Signature-v3 (not base64)"))?;
    let uri = hubspot_decode_uri(uri);
    let expected = hmac(
        client_secret,
        &[
            method.as_bytes(),
            uri.as_bytes(),
            body,
            timestamp.as_bytes(),
        ],
    );
    same(&expected, &given)
        .then_some(())
        .ok_or(AuthError::Mismatch)
}

/// Verifies HTTP Basic credentials (Pipedrive's only protection), user and password both
/// compared in constant time, always both.
pub fn verify_basic(
    authorization: Option<&str>,
    expected_user: &str,
    expected_password: &WebhookSecret,
) -> Result<(), AuthError> {
    let header = authorization.ok_or(AuthError::Missing("Authorization header"))?;
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or(AuthError::Malformed("Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Malformed("Authorization header (not Basic)"));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| AuthError::Malformed("Authorization header (not base64)"))?;
    let text =
        String::from_utf8(decoded).map_err(|_| AuthError::Malformed("Authorization header"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or(AuthError::Malformed("Authorization header (no colon)"))?;
    // Compare digests so unequal lengths take the same time too.
    let digest = |bytes: &[u8]| hmac(expected_password, &[b"basic-auth-compare", bytes]);
    let user_ok = same(&digest(user.as_bytes()), &digest(expected_user.as_bytes()));
    let password_ok = same(
        &digest(password.as_bytes()),
        &digest(expected_password.bytes()),
    );
    (user_ok & password_ok)
        .then_some(())
        .ok_or(AuthError::Mismatch)
}

/// Verifies a Salesforce outbound message: its `OrganizationId` (15- or 18-character form:
/// the first 15 characters are case-sensitive, the 3-character suffix is a checksum
/// compared case-insensitively) and the secret token in the URL path.
pub fn verify_salesforce(
    organization_id: &str,
    expected_org_id: &str,
    path_token: Option<&str>,
    expected_token: &WebhookSecret,
) -> Result<(), AuthError> {
    let token = path_token.ok_or(AuthError::Missing("path token"))?;
    let digest = |bytes: &[u8]| hmac(expected_token, &[b"salesforce-token-compare", bytes]);
    let token_ok = same(&digest(token.as_bytes()), &digest(expected_token.bytes()));
    let valid_length = |id: &str| id.len() == 15 || id.len() == 18;
    if !valid_length(organization_id) || !valid_length(expected_org_id) {
        return Err(AuthError::Malformed("OrganizationId"));
    }
    let org_ok = organization_id[..15] == expected_org_id[..15]
        && (organization_id.len() != 18
            || expected_org_id.len() != 18
            || organization_id[15..].eq_ignore_ascii_case(&expected_org_id[15..]));
    (token_ok && org_ok)
        .then_some(())
        .ok_or(AuthError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret(s: &str) -> WebhookSecret {
        WebhookSecret::new(s.to_owned()).unwrap()
    }

    const NOW: i64 = 1_764_158_400;
    const BODY: &[u8] = br#"{"crm":{"system":"hubspot","deal_id":"42"}}"#;

    #[test]
    fn generic_signature_accepts_valid_and_rotated() {
        let (old, new) = (secret("old-secret-0001"), secret("new-secret-0002"));
        let header = sign_handoff(&new, NOW, BODY);
        assert_eq!(
            verify_handoff_signature(Some(&header), BODY, &[old.clone(), new.clone()], NOW),
            Ok(())
        );
        let by_old = sign_handoff(&old, NOW, BODY);
        let both = format!("{header},v1={}", by_old.split("v1=").nth(1).unwrap());
        assert_eq!(
            verify_handoff_signature(Some(&both), BODY, &[old], NOW + 10),
            Ok(())
        );
        let spaced = header.replace(',', " , ");
        assert_eq!(
            verify_handoff_signature(Some(&spaced), BODY, &[new], NOW),
            Ok(()),
            "whitespace tolerated"
        );
    }

    #[test]
    fn generic_signature_rejects_tampering_and_bad_headers() {
        let key = secret("the-secret-0001");
        let header = sign_handoff(&key, NOW, BODY);
        let check = |h: Option<&str>, body: &[u8], now: i64| {
            verify_handoff_signature(h, body, std::slice::from_ref(&key), now)
        };
        assert_eq!(check(Some(&header), b"{}", NOW), Err(AuthError::Mismatch));
        assert_eq!(
            verify_handoff_signature(Some(&header), BODY, &[secret("another-secret")], NOW),
            Err(AuthError::Mismatch)
        );
        assert_eq!(check(Some(&header), BODY, NOW + 301), Err(AuthError::Stale));
        assert_eq!(
            check(Some(&header), BODY, NOW - 301),
            Err(AuthError::FromTheFuture)
        );
        assert_eq!(check(Some(&header), BODY, NOW + 300), Ok(()));
        assert_eq!(
            check(None, BODY, NOW),
            Err(AuthError::Missing("Handoff-Signature header"))
        );
        for bad in ["", "v1=00", "t=now,v1=00", "t=1,v1=zz", "t=1", "garbage"] {
            assert!(
                matches!(check(Some(bad), BODY, NOW), Err(AuthError::Malformed(_))),
                "{bad:?}"
            );
        }
        let long = format!("{header},x={}", "a".repeat(SIGNATURE_HEADER_BYTES_MAX));
        assert!(matches!(
            check(Some(&long), BODY, NOW),
            Err(AuthError::Malformed(_))
        ));
        let moved = header.replacen(&format!("t={NOW}"), &format!("t={}", NOW + 1), 1);
        assert_eq!(
            check(Some(&moved), BODY, NOW),
            Err(AuthError::Mismatch),
            "the timestamp is signed"
        );
    }

    /// Known answer computed independently with Python:
    /// `base64.b64encode(hmac.new(b"hubspot-secret", b"POSThttps://hooks.example.com/webhooks/hubspot?portal=33&x=a:b/c[]1764158400000", hashlib.sha256).digest())`
    #[test]
    fn hubspot_v3_known_answer() {
        let key = secret("hubspot-secret");
        let uri = "https://hooks.example.com/webhooks/hubspot?portal=33&x=a%3Ab%2Fc";
        let signature = sign_hubspot_v3("POST", uri, b"[]", "1764158400000", &key);
        assert_eq!(signature, KNOWN_HUBSPOT_SIGNATURE);
        let now = 1_764_158_400_000;
        assert_eq!(
            verify_hubspot_v3(
                "POST",
                uri,
                b"[]",
                Some(&signature),
                Some("1764158400000"),
                &key,
                now
            ),
            Ok(())
        );
    }

    const KNOWN_HUBSPOT_SIGNATURE: &str =
        include_str!("../tests/fixtures/hubspot_v3_known_answer.txt");

    #[test]
    fn hubspot_v3_rejects_tampering_staleness_and_missing_headers() {
        let key = secret("hubspot-secret");
        let uri = "https://hooks.example.com/webhooks/hubspot";
        let ts = "1764158400000";
        let now = 1_764_158_400_000;
        let sig = sign_hubspot_v3("POST", uri, b"[1]", ts, &key);
        let verify = |m: &str, u: &str, b: &[u8], s: Option<&str>, t: Option<&str>, n: i64| {
            verify_hubspot_v3(m, u, b, s, t, &key, n)
        };
        assert_eq!(
            verify("POST", uri, b"[2]", Some(&sig), Some(ts), now),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify("PUT", uri, b"[1]", Some(&sig), Some(ts), now),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify(
                "POST",
                "https://evil.example.com/webhooks/hubspot",
                b"[1]",
                Some(&sig),
                Some(ts),
                now
            ),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify("POST", uri, b"[1]", Some(&sig), Some(ts), now + 300_001),
            Err(AuthError::Stale)
        );
        assert_eq!(
            verify("POST", uri, b"[1]", Some(&sig), Some(ts), now - 300_001),
            Err(AuthError::FromTheFuture)
        );
        assert_eq!(
            verify("POST", uri, b"[1]", None, Some(ts), now),
            Err(AuthError::Missing("X-HubSpot-Signature-v3 header"))
        );
        assert_eq!(
            verify("POST", uri, b"[1]", Some(&sig), None, now),
            Err(AuthError::Missing("X-HubSpot-Request-Timestamp header"))
        );
        assert!(matches!(
            verify("POST", uri, b"[1]", Some("***"), Some(ts), now),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            verify_hubspot_v3(
                "POST",
                uri,
                b"[1]",
                Some(&sig),
                Some(ts),
                &secret("wrong"),
                now
            ),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn hubspot_decodes_only_the_listed_escapes() {
        assert_eq!(
            hubspot_decode_uri("https://h/p?a=%3a%2F%3F%40%21%24%27%28%29%2A%2C%3B"),
            "https://h/p?a=:/?@!$'()*,;"
        );
        assert_eq!(
            hubspot_decode_uri("https://h/p?q=a%20b%25c%"),
            "https://h/p?q=a%20b%25c%"
        );
    }

    #[test]
    fn basic_auth_checks_user_and_password() {
        let password = secret("s3cret-pass");
        let header = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        assert_eq!(
            verify_basic(
                Some(&header("handoff", "s3cret-pass")),
                "handoff",
                &password
            ),
            Ok(())
        );
        assert_eq!(
            verify_basic(Some(&header("handoff", "wrong")), "handoff", &password),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_basic(
                Some(&header("someone", "s3cret-pass")),
                "handoff",
                &password
            ),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_basic(
                Some(&header("handoff", "s3cret-pass").replace("Basic", "basic")),
                "handoff",
                &password
            ),
            Ok(())
        );
        assert!(matches!(
            verify_basic(Some("Bearer abc"), "handoff", &password),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            verify_basic(Some("Basic !!!"), "handoff", &password),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            verify_basic(None, "handoff", &password),
            Err(AuthError::Missing("Authorization header"))
        );
    }

    #[test]
    fn salesforce_org_forms_and_token() {
        let token = secret("path-token-0123456789");
        let ok = |org: &str, expected: &str| {
            verify_salesforce(org, expected, Some("path-token-0123456789"), &token)
        };
        assert_eq!(ok("00Dd0000000dtDqEAI", "00Dd0000000dtDq"), Ok(()));
        assert_eq!(ok("00Dd0000000dtDq", "00Dd0000000dtDqEAI"), Ok(()));
        assert_eq!(
            ok("00Dd0000000dtDqeai", "00Dd0000000dtDqEAI"),
            Ok(()),
            "suffix case-insensitive"
        );
        assert_eq!(
            ok("00Dd0000000DTDqEAI", "00Dd0000000dtDqEAI"),
            Err(AuthError::Mismatch),
            "first 15 case-sensitive"
        );
        assert_eq!(
            ok("00Dd0000000XXXXEAI", "00Dd0000000dtDqEAI"),
            Err(AuthError::Mismatch)
        );
        assert!(matches!(
            ok("00Dd", "00Dd0000000dtDqEAI"),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            verify_salesforce(
                "00Dd0000000dtDqEAI",
                "00Dd0000000dtDqEAI",
                Some("nope"),
                &token
            ),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_salesforce("00Dd0000000dtDqEAI", "00Dd0000000dtDqEAI", None, &token),
            Err(AuthError::Missing("path token"))
        );
    }

    #[test]
    fn secrets_never_print() {
        let s = secret("super-secret-value");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert!(WebhookSecret::new(String::new()).is_err());
    }

    proptest! {
        #[test]
        fn any_change_to_the_body_fails(body in prop::collection::vec(any::<u8>(), 1..256), index in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let key = secret("prop-secret");
            let header = sign_handoff(&key, NOW, &body);
            let mut tampered = body.clone();
            let i = index.index(tampered.len());
            tampered[i] ^= flip;
            prop_assert_eq!(verify_handoff_signature(Some(&header), &tampered, std::slice::from_ref(&key), NOW), Err(AuthError::Mismatch));
            prop_assert_eq!(verify_handoff_signature(Some(&header), &body, std::slice::from_ref(&key), NOW), Ok(()));
        }
    }
}
