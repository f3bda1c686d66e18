//! The shared request loop: bounded retries with exponential backoff and full jitter on
//! 429, 5xx and transport failures (honouring `Retry-After`), a timeout per request, and
//! status codes mapped to port errors. Logs name the operation and status only: never a
//! token, never personal data.

use handoff_ports::CrmError;
use rand::Rng;
use reqwest::{RequestBuilder, StatusCode};
use std::time::Duration;

/// Attempts per request before the CRM counts as unavailable.
pub const CRM_REQUEST_ATTEMPTS_MAX: u32 = 5;
pub const CRM_BACKOFF_BASE_MS: u64 = 200;
pub const CRM_BACKOFF_MAX_MS: u64 = 5_000;
/// A Lambda answering a webhook must not hang on a slow CRM.
pub const CRM_REQUEST_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts_max: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
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
    /// The same attempts with millisecond backoff, for tests against a local server.
    pub fn fast_for_tests() -> Self {
        RetryPolicy {
            backoff_base_ms: 1,
            backoff_max_ms: 5,
            timeout_ms: 2_000,
            ..RetryPolicy::default()
        }
    }

    fn backoff(&self, attempt: u32, retry_after_s: Option<u64>) -> Duration {
        let ceiling = self
            .backoff_base_ms
            .saturating_mul(1 << attempt.min(16))
            .min(self.backoff_max_ms);
        let jittered = rand::rng().random_range(0..=ceiling);
        let floor = retry_after_s.map_or(0, |s| s.saturating_mul(1000).min(self.backoff_max_ms));
        Duration::from_millis(jittered.max(floor))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    policy: RetryPolicy,
}

impl Http {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(policy.timeout_ms))
            .build()
            .unwrap_or_default();
        Http { client, policy }
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request `build` makes (again on each attempt) and reads a JSON body.
    pub(crate) async fn json(
        &self,
        what: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<serde_json::Value, CrmError> {
        let mut last = String::new();
        for attempt in 0..self.policy.attempts_max {
            let mut retry_after = None;
            match build().send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        return response
                            .json()
                            .await
                            .map_err(|e| CrmError::Invalid(format!("{what}: {e}")));
                    }
                    match status {
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                            return Err(CrmError::Unauthorized)
                        }
                        StatusCode::NOT_FOUND => return Err(CrmError::NotFound(what.to_owned())),
                        s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                            retry_after = response
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.trim().parse().ok());
                            last = format!("{what}: HTTP {}", s.as_u16());
                        }
                        s => return Err(CrmError::Invalid(format!("{what}: HTTP {}", s.as_u16()))),
                    }
                }
                Err(e) => {
                    last = format!(
                        "{what}: {}",
                        if e.is_timeout() {
                            "timed out"
                        } else {
                            "connection failed"
                        }
                    )
                }
            }
            tracing::warn!(attempt, error = %last, "CRM request failed; retrying");
            if attempt + 1 < self.policy.attempts_max {
                tokio::time::sleep(self.policy.backoff(attempt, retry_after)).await;
            }
        }
        Err(CrmError::Transient(last))
    }
}

/// A JSON value as the decimal string it spells (numbers keep their exact digits).
pub(crate) fn decimal_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

pub(crate) fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
