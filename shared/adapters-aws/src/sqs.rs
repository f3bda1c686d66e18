//! The SQS queue.

use crate::counting::{RequestCounter, RequestCounts, SQS};
use crate::errors::queue_error;
use async_trait::async_trait;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;
use handoff_ports::queue::{validate_outgoing, validate_receive};
use handoff_ports::{OutgoingMessage, Queue, QueueError, ReceivedMessage, SEND_BATCH_MAX};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    name: String,
    fifo: bool,
    counter: RequestCounter,
}

impl SqsQueue {
    /// A queue by URL; its name (and so FIFO-ness) is the URL's last path segment.
    /// Counts its requests in a counter of its own (see [`SqsQueue::requests`]).
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsQueue::with_counter(client, url, RequestCounter::new())
    }

    /// As [`SqsQueue::new`], counting every request it sends (each attempt and retry) in
    /// `counter`, which other adapters may share.
    pub fn with_counter(client: Client, url: impl Into<String>, counter: RequestCounter) -> Self {
        let url = url.into();
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let config = client
            .config()
            .to_builder()
            .interceptor(counter.interceptor(SQS))
            .build();
        SqsQueue {
            client: Client::from_conf(config),
            fifo: name.ends_with(".fifo"),
            url,
            name,
            counter,
        }
    }

    /// The requests sent so far, by operation (service [`SQS`]; all services when the
    /// counter is shared).
    pub fn requests(&self) -> RequestCounts {
        self.counter.snapshot()
    }

    pub fn counter(&self) -> &RequestCounter {
        &self.counter
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

fn entry(
    index: usize,
    message: OutgoingMessage,
) -> Result<SendMessageBatchRequestEntry, QueueError> {
    let mut builder = SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(message.body)
        .set_message_group_id(message.group_id)
        .set_message_deduplication_id(message.dedup_id);
    for (name, value) in message.attributes {
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| QueueError::Invalid(e.to_string()))?;
        builder = builder.message_attributes(name, attribute);
    }
    builder
        .build()
        .map_err(|e| QueueError::Invalid(e.to_string()))
}

fn received(message: aws_sdk_sqs::types::Message) -> Option<ReceivedMessage> {
    let system = message.attributes.unwrap_or_default();
    let attributes: BTreeMap<String, String> = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, value)| value.string_value.map(|v| (name, v)))
        .collect();
    Some(ReceivedMessage {
        message_id: message.message_id?,
        receipt_handle: message.receipt_handle?,
        body: message.body.unwrap_or_default(),
        group_id: system
            .get(&MessageSystemAttributeName::MessageGroupId)
            .cloned(),
        receive_count: system
            .get(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        attributes,
    })
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_fifo(&self) -> bool {
        self.fifo
    }

    async fn send(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        for message in &messages {
            validate_outgoing(self.fifo, message)?;
        }
        let mut ids = Vec::with_capacity(messages.len());
        let mut pending = messages.into_iter().peekable();
        while pending.peek().is_some() {
            let chunk: Vec<OutgoingMessage> = pending.by_ref().take(SEND_BATCH_MAX).collect();
            let entries = chunk
                .into_iter()
                .enumerate()
                .map(|(i, m)| entry(i, m))
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| queue_error("send message batch", err))?;
            if let Some(failed) = output.failed.first() {
                // Stop at the first failed chunk so FIFO order is never broken by a
                // later chunk overtaking it; the caller retries the whole send (dedup ids
                // make the already-sent messages no-ops on FIFO queues).
                let reason = format!(
                    "send message batch: entry {} failed: {} {}",
                    failed.id,
                    failed.code,
                    failed.message.as_deref().unwrap_or_default()
                );
                return Err(if failed.sender_fault {
                    QueueError::Invalid(reason)
                } else {
                    QueueError::Transient(reason)
                });
            }
            let mut successful = output.successful;
            successful.sort_by_key(|s| s.id.parse::<usize>().unwrap_or(usize::MAX));
            ids.extend(successful.into_iter().map(|s| s.message_id));
        }
        Ok(ids)
    }

    async fn receive(&self, max: usize, wait_s: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(max, wait_s)?;
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max as i32)
            .wait_time_seconds(wait_s as i32)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|err| queue_error("receive message", err))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(received)
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|err| queue_error("delete message", err))?;
        Ok(())
    }
}
