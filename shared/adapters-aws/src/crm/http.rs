//! The shared request loop of the CRM clients: bounded attempts with exponential backoff
//! and full jitter on 429, 5xx and transport failures (honouring a `Retry-After` in
//! seconds, capped), a timeout on every attempt, no redirects, and status codes mapped to
//! port errors.
//!
//! Logs carry the CRM, the operation, the deal id, the attempt and the status code only:
//! never a token, a URL, a header or a body (bodies hold names and e-mail addresses).

use handoff_ports::CrmError;
use rand::Rng;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Attempts per request (the first one included) before the CRM counts as unavailable.
pub const CRM_REQUEST_ATTEMPTS_MAX: u32 = 5;
/// Backoff ceiling before the first retry; it doubles on every further retry.
pub const CRM_BACKOFF_BASE_MS: u64 = 200;
/// Largest pause between two attempts, `Retry-After` included.
pub const CRM_BACKOFF_MAX_MS: u64 = 5_000;
/// Longest one attempt may take (connect, send, and read the whole body), so that a
/// Lambda never hangs on a slow CRM.
pub const CRM_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// How hard a CRM client tries. `Default` is the production policy built from the
/// `CRM_*` constants; tests use [`RetryPolicy::fast_for_tests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included (at least 1 is made).
    pub attempts_max: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Per attempt.
    pub timeout_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts_max: CRM_REQUEST_ATTEMPTS_MAX,
            backoff_base_ms: CRM_BACKOFF_BASE_MS,
            backoff_max_ms: CRM_BACKOFF_MAX_MS,
            timeout_ms: CRM_REQUEST_TIMEOUT_MS,
        }
    }
}

impl RetryPolicy {
    /// The production attempt budget with millisecond backoff (a `Retry-After` is capped
    /// at 5 ms too) and a 2 s timeout, for tests against a local server.
    pub fn fast_for_tests() -> Self {
        RetryPolicy {
            backoff_base_ms: 1,
            backoff_max_ms: 5,
            timeout_ms: 2_000,
            ..RetryPolicy::default()
        }
    }

    /// The pause after the failed attempt number `attempt` (0-based): uniform in
    /// `0..=min(max, base × 2^attempt)` ("full jitter"), but never shorter than the
    /// server's `Retry-After` (itself capped at the max).
    pub(crate) fn backoff(&self, attempt: u32, retry_after_s: Option<u64>) -> Duration {
        let ceiling = self
            .backoff_base_ms
            .saturating_mul(1u64 << attempt.min(20))
            .min(self.backoff_max_ms);
        let jittered = rand::rng().random_range(0..=ceiling);
        let floor = retry_after_s.map_or(0, |s| s.saturating_mul(1_000).min(self.backoff_max_ms));
        Duration::from_millis(jittered.max(floor))
    }
}

/// What a request is for, to name it in errors and logs (never anything personal).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    /// `hubspot` or `pipedrive`.
    pub system: &'static str,
    /// The operation: `deal`, `line items`, `company`, …
    pub what: &'static str,
    pub deal_id: &'a str,
}

/// One attempt's failure, before the retry decision.
enum Failure {
    /// Worth another attempt: 429, 5xx, timeouts, connection failures.
    Retry {
        reason: String,
        retry_after_s: Option<u64>,
    },
    Final(CrmError),
}

/// A reqwest client with the policy's timeouts and no redirects, and the retry loop.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    /// `Err` if the TLS backend could not be set up: every call then fails, no panic.
    client: Result<reqwest::Client, String>,
    policy: RetryPolicy,
}

impl Http {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        let timeout = Duration::from_millis(policy.timeout_ms);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect to another host would carry custom auth headers (`x-api-token`)
            // along; the CRM APIs do not redirect, so a 3xx is an unexpected answer.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"));
        Http { client, policy }
    }

    /// Sends the request `build` makes (anew for every attempt) and reads a JSON body.
    ///
    /// 2xx → the body (unreadable JSON → `Invalid`); 401/403 → `Unauthorized`;
    /// 404 → `NotFound(deal id)` (callers asking for something other than the deal
    /// translate it); 429, 5xx, timeouts and connection failures are retried up to the
    /// policy's attempts, then → `Transient`; any other status → `Invalid`.
    pub(crate) async fn json(
        &self,
        call: Call<'_>,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Value, CrmError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| CrmError::Invalid(format!("{} {}: {e}", call.system, call.what)))?;
        let attempts = self.policy.attempts_max.max(1);
        let mut last = String::new();
        for attempt in 0..attempts {
            let request = build(client).timeout(Duration::from_millis(self.policy.timeout_ms));
            match self.attempt(call, request).await {
                Ok(body) => return Ok(body),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Retry {
                    reason,
                    retry_after_s,
                }) => {
                    tracing::warn!(
                        crm = call.system,
                        operation = call.what,
                        deal_id = call.deal_id,
                        attempt = attempt + 1,
                        attempts_max = attempts,
                        reason = %reason,
                        "CRM request failed"
                    );
                    last = reason;
                    if attempt + 1 < attempts {
                        tokio::time::sleep(self.policy.backoff(attempt, retry_after_s)).await;
                    }
                }
            }
        }
        Err(CrmError::Transient(format!(
            "{} {} of deal {}: {last} ({attempts} attempts)",
            call.system, call.what, call.deal_id
        )))
    }

    async fn attempt(&self, call: Call<'_>, request: RequestBuilder) -> Result<Value, Failure> {
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            // Reading the body can still time out or lose the connection: retryable.
            let bytes = response.bytes().await.map_err(transport)?;
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::Final(CrmError::Invalid(format!(
                    "{} {} of deal {}: the body is not the expected JSON ({e})",
                    call.system, call.what, call.deal_id
                )))
            });
        }
        let code = status.as_u16();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(Failure::Final(CrmError::Unauthorized))
            }
            StatusCode::NOT_FOUND => {
                Err(Failure::Final(CrmError::NotFound(call.deal_id.to_owned())))
            }
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => Err(Failure::Retry {
                reason: format!("HTTP {code}"),
                retry_after_s: response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok()),
            }),
            _ => {
                tracing::warn!(
                    crm = call.system,
                    operation = call.what,
                    deal_id = call.deal_id,
                    status = code,
                    "CRM request refused"
                );
                Err(Failure::Final(CrmError::Invalid(format!(
                    "{} {} of deal {}: HTTP {code}",
                    call.system, call.what, call.deal_id
                ))))
            }
        }
    }
}

/// A transport error, by kind only (its text can hold the URL).
fn transport(e: reqwest::Error) -> Failure {
    if e.is_builder() {
        // The request itself is malformed (a bad base URL): no retry can help.
        return Failure::Final(CrmError::Invalid(
            "the CRM request could not be built (check the base URL)".into(),
        ));
    }
    let reason = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the body could not be read"
    } else {
        "request failed"
    };
    Failure::Retry {
        reason: reason.to_owned(),
        retry_after_s: None,
    }
}

/// A JSON number or numeric string as a plain decimal string, digits exactly as sent
/// (`serde_json::Number` keeps an integer's digits and prints a float's shortest
/// round-trip form, i.e. the literal it was parsed from); exponent forms (`1e-7`,
/// `1.5E3`) are expanded, since decimal parsers reject them. Blank → `None`.
pub(crate) fn decimal_text(value: &Value) -> Option<String> {
    let raw = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => return None,
    };
    Some(expand_exponent(&raw).unwrap_or(raw))
}

/// `1.5e3` → `1500`, `-2E-3` → `-0.002`; `None` if `text` has no exponent or is not a
/// number (then it is kept as sent, for validation to report).
fn expand_exponent(text: &str) -> Option<String> {
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let exponent: i32 = exponent
        .strip_prefix('+')
        .unwrap_or(exponent)
        .parse()
        .ok()?;
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || exponent.unsigned_abs() > 400
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    // The decimal point sits `point` digits into `digits`.
    let point = i64::try_from(int.len()).ok()? + i64::from(exponent);
    let (int, frac) = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).ok()?);
        ("0".to_owned(), format!("{zeros}{digits}"))
    } else {
        let point = usize::try_from(point).ok()?;
        if point >= digits.len() {
            let zeros = "0".repeat(point - digits.len());
            (format!("{digits}{zeros}"), String::new())
        } else {
            (digits[..point].to_owned(), digits[point..].to_owned())
        }
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

/// A JSON string (non-empty) or number as text; anything else → `None`.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An id to put in a URL path: CRM ids are digits (HubSpot, Pipedrive), so anything but
/// ASCII letters, digits, `-` and `_` is refused (a `..` or `/` would change the path
/// even percent-encoded).
pub(crate) fn path_id(id: &str) -> Option<&str> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(id)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass), so that an
/// opaque cursor can never end the parameter or add another.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The base URL without its trailing slashes.
pub(crate) fn base(url: impl Into<String>) -> String {
    url.into().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn production_policy_is_the_constants() {
        assert_eq!(
            RetryPolicy::default(),
            RetryPolicy {
                attempts_max: 5,
                backoff_base_ms: 200,
                backoff_max_ms: 5_000,
                timeout_ms: 10_000,
            }
        );
        assert_eq!(RetryPolicy::fast_for_tests().attempts_max, 5);
    }

    #[test]
    fn backoff_stays_within_the_exponential_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 0..40 {
            let ceiling = (200u64 << attempt.min(20)).min(5_000);
            for _ in 0..50 {
                let pause = policy.backoff(attempt, None);
                assert!(
                    pause <= Duration::from_millis(ceiling),
                    "{attempt}: {pause:?}"
                );
            }
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let policy = RetryPolicy::default();
        let pauses: std::collections::HashSet<_> =
            (0..50).map(|_| policy.backoff(4, None)).collect();
        assert!(pauses.len() > 1, "{pauses:?}");
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_the_max() {
        let policy = RetryPolicy::default();
        for _ in 0..50 {
            // The first ceiling (200 ms) is below the server's 2 s: exactly 2 s.
            assert_eq!(policy.backoff(0, Some(2)), Duration::from_secs(2));
            assert_eq!(policy.backoff(0, Some(3_600)), Duration::from_millis(5_000));
            assert_eq!(
                policy.backoff(0, Some(u64::MAX)),
                Duration::from_millis(5_000)
            );
        }
    }

    #[test]
    fn decimal_text_keeps_the_digits_as_sent() {
        let parsed: Value = serde_json::from_str(
            r#"[200, 0.2, 109.78, 1500.00, "1500.00", " 3 ", "", null, true]"#,
        )
        .expect("JSON");
        let texts: Vec<_> = parsed
            .as_array()
            .expect("array")
            .iter()
            .map(decimal_text)
            .collect();
        assert_eq!(
            texts,
            vec![
                Some("200".into()),
                Some("0.2".into()),
                Some("109.78".into()),
                Some("1500.0".into()),
                Some("1500.00".into()),
                Some("3".into()),
                None,
                None,
                None
            ]
        );
        assert_eq!(
            decimal_text(&json!(12_345_678_901_234_567_u64)).as_deref(),
            Some("12345678901234567")
        );
    }

    #[test]
    fn decimal_text_expands_exponents() {
        for (sent, expected) in [
            ("1e-7", "0.0000001"),
            ("1.5E3", "1500"),
            ("-2.50e-3", "-0.0025"),
            ("1e20", "100000000000000000000"),
            ("12.345e1", "123.45"),
            ("+4e+0", "4"),
        ] {
            assert_eq!(
                decimal_text(&json!(sent)).as_deref(),
                Some(expected),
                "{sent}"
            );
        }
        let number: Value = serde_json::from_str("1e-7").expect("JSON");
        assert_eq!(decimal_text(&number).as_deref(), Some("0.0000001"));
        let number: Value = serde_json::from_str("2.5e25").expect("JSON");
        assert_eq!(
            decimal_text(&number).as_deref(),
            Some("25000000000000000000000000")
        );
        // Not numbers: kept as sent, for validation to report.
        for sent in ["e5", "1e", "abc", "1.2.3e4", "1e99999"] {
            assert_eq!(decimal_text(&json!(sent)).as_deref(), Some(sent), "{sent}");
        }
    }

    #[test]
    fn encode_keeps_a_value_inside_its_parameter() {
        assert_eq!(encode("eyJmaWVsZCI6ImlkIn0"), "eyJmaWVsZCI6ImlkIn0");
        assert_eq!(encode("a+b/c=&limit=1"), "a%2Bb%2Fc%3D%26limit%3D1");
    }

    #[test]
    fn path_ids_are_plain() {
        assert_eq!(path_id("33108462948"), Some("33108462948"));
        for bad in ["", "..", ".", "1/2", "1?x=y", "1%2F", "é", &"9".repeat(65)] {
            assert_eq!(path_id(bad), None, "{bad}");
        }
    }
}
