//! One error vocabulary for every function: each error says whether a retry can help, and
//! maps to an HTTP response (`{"error": {"code", "message", "details"}}`, DESIGN §3) and to
//! the Lambda runtime's diagnostic.

use handoff_ports::{QueueError, StoreError};
use serde::Serialize;

/// One validation problem, with the path of the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    pub field: String,
    pub problem: String,
}

impl ErrorDetail {
    /// The details of a list of validation problems (every one, with its field path).
    pub fn of(problems: &handoff_domain::Problems) -> Vec<ErrorDetail> {
        problems
            .0
            .iter()
            .map(|p| ErrorDetail {
                field: p.field.clone(),
                problem: p.problem.clone(),
            })
            .collect()
    }
}

/// What handlers need to know about an error to answer or retry correctly.
pub trait Failure: std::error::Error {
    /// Will the same request succeed later (throttling, a conflict, a network fault)?
    fn is_retryable(&self) -> bool;

    /// A stable machine-readable code (`validation_failed`, `idempotency_key_reused`, …).
    fn code(&self) -> &'static str;

    /// The HTTP status for API callers.
    fn http_status(&self) -> u16 {
        if self.is_retryable() {
            503
        } else {
            500
        }
    }

    /// Every validation problem, for 4xx answers.
    fn details(&self) -> Vec<ErrorDetail> {
        Vec::new()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

/// The JSON error body of every HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub error: ErrorPayload,
}

impl ErrorBody {
    pub fn from_failure(failure: &dyn Failure) -> (u16, ErrorBody) {
        // Internal errors do not leak storage details to callers; they are logged instead.
        let message = if failure.http_status() >= 500 {
            "the request could not be completed; it is safe to retry".to_owned()
        } else {
            failure.to_string()
        };
        let body = ErrorBody {
            error: ErrorPayload {
                code: failure.code().to_owned(),
                message,
                details: failure.details(),
            },
        };
        (failure.http_status(), body)
    }
}

/// The Lambda runtime's error report: the code as the type, the message as the text.
pub fn diagnostic(failure: &dyn Failure) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: failure.code().to_owned(),
        error_message: failure.to_string(),
    }
}

impl Failure for StoreError {
    fn is_retryable(&self) -> bool {
        StoreError::is_retryable(self)
    }
    fn code(&self) -> &'static str {
        match self {
            StoreError::ConditionFailed | StoreError::TransactionCanceled { .. } => "conflict",
            StoreError::Invalid(_) => "storage_rejected",
            StoreError::Transient(_) => "storage_unavailable",
            StoreError::Decode(_) => "storage_corrupt",
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            StoreError::ConditionFailed => 409,
            _ if self.is_retryable() => 503,
            StoreError::TransactionCanceled { .. } => 409,
            _ => 500,
        }
    }
}

impl Failure for QueueError {
    fn is_retryable(&self) -> bool {
        QueueError::is_retryable(self)
    }
    fn code(&self) -> &'static str {
        match self {
            QueueError::Invalid(_) => "queue_rejected",
            QueueError::Transient(_) => "queue_unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_storage_errors_are_503_and_hide_details() {
        let (status, body) = ErrorBody::from_failure(&StoreError::Transient(
            "table handoff-prod throttled".into(),
        ));
        assert_eq!(status, 503);
        assert_eq!(body.error.code, "storage_unavailable");
        assert!(!body.error.message.contains("handoff-prod"));
    }

    #[test]
    fn a_failed_condition_is_a_409_conflict() {
        let (status, body) = ErrorBody::from_failure(&StoreError::ConditionFailed);
        assert_eq!(status, 409);
        let json = serde_json::to_value(body).unwrap();
        assert_eq!(json["error"]["code"], "conflict");
        assert!(json["error"]["details"].as_array().unwrap().is_empty());
    }

    #[test]
    fn diagnostics_carry_the_code() {
        let d = diagnostic(&QueueError::Invalid("no group id".into()));
        assert_eq!(d.error_type, "queue_rejected");
        assert!(d.error_message.contains("no group id"));
    }
}
