//! The queue port: what SQS offers handoff, and no more.
//!
//! One `Queue` value is bound to one queue. FIFO queues need a message group id and a
//! deduplication id on every message (handoff's FIFO queues do not use content-based
//! deduplication: the dedup id is always a business key).

use async_trait::async_trait;
use std::collections::BTreeMap;

/// SQS `SendMessageBatch` takes at most 10 entries.
pub const SEND_BATCH_MAX: usize = 10;
/// SQS `ReceiveMessage` returns at most 10 messages.
pub const RECEIVE_BATCH_MAX: usize = 10;
/// SQS long polling waits at most 20 s.
pub const RECEIVE_WAIT_S_MAX: u32 = 20;
/// SQS message attributes per message.
pub const MESSAGE_ATTRIBUTES_MAX: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutgoingMessage {
    pub body: String,
    /// FIFO only: messages of one group are delivered in order, one batch at a time.
    pub group_id: Option<String>,
    /// FIFO only: a second send with the same id within 5 minutes is dropped.
    pub dedup_id: Option<String>,
    /// String message attributes (e.g. the failure reason on a DLQ message).
    pub attributes: BTreeMap<String, String>,
}

impl OutgoingMessage {
    pub fn new(body: impl Into<String>) -> Self {
        OutgoingMessage {
            body: body.into(),
            ..Default::default()
        }
    }

    pub fn in_group(mut self, group_id: impl Into<String>, dedup_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self.dedup_id = Some(dedup_id.into());
        self
    }

    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Pass to [`Queue::delete`] once the message is handled.
    pub receipt_handle: String,
    pub body: String,
    pub group_id: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The request can never succeed as sent (missing group id on a FIFO queue, too many
    /// attributes, an unknown queue): do not retry.
    #[error("queue request rejected: {0}")]
    Invalid(String),
    /// Throttling, a network fault, a 5xx: retrying may succeed.
    #[error("queue temporarily unavailable: {0}")]
    Transient(String),
}

impl QueueError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Transient(_))
    }
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// A name for logs and DLQ attributes (the queue's name, not its URL).
    fn name(&self) -> &str;

    fn is_fifo(&self) -> bool;

    /// Sends every message, in order, in batches of [`SEND_BATCH_MAX`]; returns the
    /// message ids. Either all are sent or an error says none of the failed ones were.
    async fn send(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError>;

    /// Receives up to `max` (≤ [`RECEIVE_BATCH_MAX`]) messages, waiting up to `wait_s`
    /// (≤ [`RECEIVE_WAIT_S_MAX`]) for the first. Received messages stay invisible for the
    /// queue's visibility timeout; a FIFO group with messages in flight delivers nothing
    /// more until they are deleted or visible again.
    async fn receive(&self, max: usize, wait_s: u32) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Deletes a received message (acknowledges it).
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;
}

/// Checks what SQS would reject, so both adapters refuse the same messages.
pub fn validate_outgoing(fifo: bool, message: &OutgoingMessage) -> Result<(), QueueError> {
    if message.body.is_empty() {
        return Err(QueueError::Invalid("message body is empty".into()));
    }
    if message.attributes.len() > MESSAGE_ATTRIBUTES_MAX {
        return Err(QueueError::Invalid(format!(
            "{} message attributes, at most {MESSAGE_ATTRIBUTES_MAX}",
            message.attributes.len()
        )));
    }
    match (fifo, &message.group_id, &message.dedup_id) {
        (true, Some(_), Some(_)) | (false, None, None) => Ok(()),
        (true, _, _) => Err(QueueError::Invalid(
            "a FIFO queue needs a message group id and a deduplication id".into(),
        )),
        (false, _, _) => Err(QueueError::Invalid(
            "a standard queue takes no message group id or deduplication id".into(),
        )),
    }
}

/// Checks receive arguments against SQS's limits, for both adapters.
pub fn validate_receive(max: usize, wait_s: u32) -> Result<(), QueueError> {
    if max == 0 || max > RECEIVE_BATCH_MAX || wait_s > RECEIVE_WAIT_S_MAX {
        return Err(QueueError::Invalid(format!(
            "receive takes 1..={RECEIVE_BATCH_MAX} messages and waits at most {RECEIVE_WAIT_S_MAX} s"
        )));
    }
    Ok(())
}
