//! SQS partial-batch handling (DESIGN §5).
//!
//! Every message is parsed and handed to a typed handler; the answer lists the messages
//! to retry in `batchItemFailures`:
//! - a body that does not parse, or a permanent (non-retryable) error, moves the message
//!   to the dead-letter queue explicitly, with the reason as a message attribute, and
//!   acknowledges it: retries are spent only on transient errors, and a FIFO group is not
//!   blocked by a poison message;
//! - a transient error is reported as a failure and retried by SQS (after
//!   `maxReceiveCount` receives SQS's own redrive moves it to the same DLQ);
//! - on a FIFO queue the first failure stops the batch: it and every later message are
//!   reported, so a group's order is kept.
//!
//! If the DLQ refuses a message, the message is reported as failed instead: nothing is
//! acknowledged that was not handled or parked.

use crate::error::Failure;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use handoff_ports::{OutgoingMessage, Queue};
use serde::de::DeserializeOwned;
use std::future::Future;

/// Message attribute carrying why a message was dead-lettered.
pub const FAILURE_REASON_ATTRIBUTE: &str = "handoff-failure-reason";
/// Message attribute with the error code of a dead-lettered message.
pub const FAILURE_CODE_ATTRIBUTE: &str = "handoff-failure-code";
/// Message attribute naming the queue a dead-lettered message came from.
pub const SOURCE_QUEUE_ATTRIBUTE: &str = "handoff-source-queue";
/// Message attribute with the original SQS message id.
pub const SOURCE_MESSAGE_ID_ATTRIBUTE: &str = "handoff-source-message-id";
/// Longest failure reason kept on a dead-lettered message.
pub const FAILURE_REASON_CHARS_MAX: usize = 1024;

/// What a handler may want to know about the message besides its body (owned, so the
/// handler's future borrows nothing from the event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub message_id: String,
    /// FIFO queues: the message group (for handoff, the project or contract id).
    pub group_id: Option<String>,
    /// How many times SQS has delivered this message, this time included.
    pub receive_count: u32,
}

impl MessageMeta {
    fn of(message: &SqsMessage) -> MessageMeta {
        MessageMeta {
            message_id: message.message_id.clone().unwrap_or_default(),
            group_id: message.attributes.get("MessageGroupId").cloned(),
            receive_count: message
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// A message without a message id failed: it cannot be reported alone, so the whole
    /// batch is failed and retried (every consumer is idempotent).
    #[error("a message without a messageId failed; the whole batch will be retried")]
    UnidentifiedFailure,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Done,
    DeadLettered,
    Retry,
}

/// Handles one SQS event with `handler`, parking permanent failures in `dead_letter`.
pub async fn process_sqs_batch<T, E, F, Fut>(
    event: SqsEvent,
    dead_letter: &dyn Queue,
    handler: F,
) -> Result<SqsBatchResponse, BatchError>
where
    T: DeserializeOwned,
    E: Failure,
    F: Fn(T, MessageMeta) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let fifo = event.records.first().is_some_and(is_fifo);
    let mut failures = Vec::new();
    let mut stopped = false;
    for message in &event.records {
        let outcome = if stopped {
            Outcome::Retry
        } else {
            handle(message, dead_letter, &handler).await
        };
        if outcome == Outcome::Retry {
            let id = message.message_id.clone().filter(|id| !id.is_empty());
            failures.push(id.ok_or(BatchError::UnidentifiedFailure)?);
            stopped = fifo;
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(response)
}

fn is_fifo(message: &SqsMessage) -> bool {
    message
        .event_source_arn
        .as_deref()
        .is_some_and(|arn| arn.ends_with(".fifo"))
        || message.attributes.contains_key("MessageGroupId")
}

async fn handle<T, E, F, Fut>(message: &SqsMessage, dead_letter: &dyn Queue, handler: &F) -> Outcome
where
    T: DeserializeOwned,
    E: Failure,
    F: Fn(T, MessageMeta) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let body = message.body.as_deref().unwrap_or_default();
    let parsed: T = match serde_json::from_str(body) {
        Ok(parsed) => parsed,
        Err(e) => {
            let reason = format!("body is not a valid {}: {e}", short_type_name::<T>());
            return park(message, dead_letter, "unparseable_message", &reason).await;
        }
    };
    match handler(parsed, MessageMeta::of(message)).await {
        Ok(()) => Outcome::Done,
        Err(e) if e.is_retryable() => {
            tracing::warn!(message_id = ?message.message_id, code = e.code(), "transient failure; SQS will retry");
            Outcome::Retry
        }
        Err(e) => park(message, dead_letter, e.code(), &e.to_string()).await,
    }
}

/// Sends a message to the DLQ with its reason; reports it for retry if that fails.
async fn park(message: &SqsMessage, dead_letter: &dyn Queue, code: &str, reason: &str) -> Outcome {
    let message_id = message.message_id.clone().unwrap_or_default();
    let source_queue = message
        .event_source_arn
        .as_deref()
        .and_then(|arn| arn.rsplit(':').next())
        .unwrap_or("unknown");
    let mut parked = OutgoingMessage::new(message.body.clone().unwrap_or_default())
        .with_attribute(FAILURE_REASON_ATTRIBUTE, truncate(reason))
        .with_attribute(FAILURE_CODE_ATTRIBUTE, code)
        .with_attribute(SOURCE_QUEUE_ATTRIBUTE, source_queue);
    if !message_id.is_empty() {
        parked = parked.with_attribute(SOURCE_MESSAGE_ID_ATTRIBUTE, message_id.clone());
    }
    if dead_letter.is_fifo() {
        let group = message
            .attributes
            .get("MessageGroupId")
            .cloned()
            .unwrap_or_else(|| "dead-letter".into());
        parked = parked.in_group(group, message_id.clone());
    }
    if parked.body.is_empty() {
        parked.body = "(empty body)".into();
    }
    match dead_letter.send(vec![parked]).await {
        Ok(_) => {
            tracing::error!(%message_id, code, dlq = dead_letter.name(), "permanent failure; message moved to the DLQ");
            crate::metrics::emit(
                &[("Queue", dead_letter.name())],
                &[crate::metrics::Metric {
                    name: "DeadLetters",
                    unit: "Count",
                    value: 1,
                }],
            );
            Outcome::DeadLettered
        }
        Err(e) => {
            tracing::error!(%message_id, error = %e, "could not move a failed message to the DLQ; leaving it for retry");
            Outcome::Retry
        }
    }
}

fn truncate(reason: &str) -> String {
    reason.chars().take(FAILURE_REASON_CHARS_MAX).collect()
}

fn short_type_name<T>() -> &'static str {
    std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("message")
}

impl From<BatchError> for lambda_runtime::Diagnostic {
    fn from(e: BatchError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "unidentified_failure".into(),
            error_message: e.to_string(),
        }
    }
}
