//! SDK errors → port errors, by error code, deciding what is worth a retry.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use handoff_ports::{QueueError, StoreError};
use std::error::Error;

/// DynamoDB codes that a retry may get past.
const DYNAMODB_RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// SQS codes that a retry may get past.
const SQS_RETRYABLE_CODES: &[&str] = &[
    "RequestThrottled",
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalError",
    "KmsThrottled",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// The error's code (for service errors), or `None` for transport failures.
fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    match err {
        SdkError::ServiceError(_) => err.code().map(str::to_owned),
        _ => None,
    }
}

/// A readable one-line description including the whole source chain.
pub fn describe(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub fn store_error<E, R>(context: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + Error + 'static,
    R: std::fmt::Debug,
{
    let message = format!("{context}: {}", describe(&err));
    match code(&err).as_deref() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some(c) if DYNAMODB_RETRYABLE_CODES.contains(&c) => StoreError::Transient(message),
        Some(_) => StoreError::Invalid(message),
        // Dispatch failures, timeouts, unparseable responses: the request may not have
        // been applied, and a retry is the right answer for an idempotent caller.
        None => StoreError::Transient(message),
    }
}

pub fn queue_error<E, R>(context: &str, err: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + Error + 'static,
    R: std::fmt::Debug,
{
    let message = format!("{context}: {}", describe(&err));
    match code(&err).as_deref() {
        Some(c) if SQS_RETRYABLE_CODES.contains(&c) => QueueError::Transient(message),
        Some(_) => QueueError::Invalid(message),
        None => QueueError::Transient(message),
    }
}
