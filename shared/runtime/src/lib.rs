//! Lambda glue shared by every function: configuration read once, tracing, error mapping,
//! idempotency, and SQS partial-batch handling. No business rules live here.

pub mod config;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod sqs_batch;
pub mod telemetry;
pub mod webhook_auth;

pub use config::{CommonConfig, ConfigError, EnvReader};
pub use error::{ErrorBody, ErrorDetail, Failure};
pub use idempotency::{Claim, ClaimToken, Idempotency, IdempotencyError, RunError};
pub use sqs_batch::{process_sqs_batch, BatchError, MessageMeta, FAILURE_REASON_ATTRIBUTE};
