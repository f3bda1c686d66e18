//! The `project-events` consumer: each `ProjectConverted` gets its staffing report and
//! tentative allocations, once. Other event types are acknowledged and ignored.

use crate::service::{Capacity, CapacityError};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use closed_won_converter::service::{ProjectConverted, PROJECT_CONVERTED};
use handoff_ports::Queue;
use handoff_runtime::{process_sqs_batch, BatchError, MessageMeta};

pub async fn handle(
    capacity: &Capacity,
    dead_letter: &dyn Queue,
    event: SqsEvent,
) -> Result<SqsBatchResponse, BatchError> {
    process_sqs_batch(event, dead_letter, |message: ProjectConverted, meta: MessageMeta| async move {
        if message.kind != PROJECT_CONVERTED {
            tracing::info!(message_id = %meta.message_id, kind = %message.kind, "not a ProjectConverted event; ignored");
            return Ok::<(), CapacityError>(());
        }
        let record = capacity.staff_project(message.project_id).await?;
        tracing::info!(
            project_id = %message.project_id,
            verdict = ?record.response.report.verdict,
            allocations = record.allocations,
            "project staffed"
        );
        Ok(())
    })
    .await
}
