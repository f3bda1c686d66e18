//! The local stand-in for Lambda's SQS event source mapping: receive a batch, hand it to
//! the consumer's handler as an SQS event, delete what it did not report as failed.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use handoff_ports::{Queue, RECEIVE_BATCH_MAX};
use std::future::Future;

/// Batches one pump call handles before returning (every loop is bounded).
pub const PUMP_BATCHES_MAX: usize = 1_000;

/// Delivers every receivable message of `queue` to `handler`; returns how many were
/// acknowledged.
pub async fn pump<F, Fut>(queue: &dyn Queue, handler: F) -> anyhow::Result<usize>
where
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = anyhow::Result<SqsBatchResponse>>,
{
    let mut acknowledged = 0;
    for _ in 0..PUMP_BATCHES_MAX {
        let batch = queue.receive(RECEIVE_BATCH_MAX, 0).await?;
        if batch.is_empty() {
            break;
        }
        let mut event = SqsEvent::default();
        event.records = batch
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = Some(m.message_id.clone());
                record.receipt_handle = Some(m.receipt_handle.clone());
                record.body = Some(m.body.clone());
                record.event_source = Some("aws:sqs".into());
                record.event_source_arn =
                    Some(format!("arn:aws:sqs:local:000000000000:{}", queue.name()));
                record.attributes.insert(
                    "ApproximateReceiveCount".into(),
                    m.receive_count.to_string(),
                );
                if let Some(group) = &m.group_id {
                    record
                        .attributes
                        .insert("MessageGroupId".into(), group.clone());
                }
                record
            })
            .collect();
        let response = handler(event).await?;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for message in batch
            .iter()
            .filter(|m| !failed.contains(&m.message_id.as_str()))
        {
            queue.delete(&message.receipt_handle).await?;
            acknowledged += 1;
        }
        if !failed.is_empty() {
            break; // failed messages come back after their visibility timeout
        }
    }
    Ok(acknowledged)
}
