//! Tracing: JSON lines in Lambda (CloudWatch parses them; the runtime's span carries the
//! request id), readable text on a laptop.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber once; later calls are no-ops (tests, the local runner).
pub fn init() {
    init_with("info");
}

/// As [`init`], with another level when `RUST_LOG` is unset (the local runner prints its
/// own report and keeps the log to warnings).
pub fn init_with(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let result = if in_lambda {
        fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .without_time() // CloudWatch stamps every line
            .try_init()
    } else {
        fmt()
            .compact()
            .with_env_filter(filter)
            .with_target(false)
            .try_init()
    };
    // Already initialised: keep the first subscriber.
    let _ = result;
}
