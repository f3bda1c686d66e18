//! The `delivery-signals.fifo` consumer: FIFO partial batches (stop at the first
//! transient failure), poison messages parked in the DLQ with their reason.

use crate::service::{Billing, BillingError, SignalEnvelope};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use handoff_ports::Queue;
use handoff_runtime::{process_sqs_batch, BatchError, MessageMeta};

pub async fn handle(
    billing: &Billing,
    dead_letter: &dyn Queue,
    event: SqsEvent,
) -> Result<SqsBatchResponse, BatchError> {
    process_sqs_batch(
        event,
        dead_letter,
        |envelope: SignalEnvelope, meta: MessageMeta| async move {
            let applied = billing.apply(&envelope).await?;
            tracing::info!(
                message_id = %meta.message_id,
                project_id = %envelope.project_id,
                trigger = %envelope.signal.source().reference(),
                duplicate = applied.duplicate,
                items = applied.items,
                "delivery signal applied"
            );
            Ok::<(), BillingError>(())
        },
    )
    .await
}
