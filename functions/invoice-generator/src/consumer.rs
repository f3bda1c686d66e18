//! The invoice-generator function's events: the daily schedule (EventBridge Scheduler or
//! an EventBridge rule) plans a billing run; `invoice-jobs.fifo` batches run the jobs.
//!
//! One function takes both, told apart by shape: an SQS event has `Records`; a schedule
//! event has `detail-type` = `Scheduled Event`. The Scheduler's default event carries
//! `detail` as the *string* `"{}"`, an EventBridge rule's as an object: both are accepted,
//! and either may carry `{"as_of": "YYYY-MM-DD"}` (a catch-up run); otherwise the run is
//! for the date of the event's `time` in the firm's billing time zone (the schedule's
//! `ScheduleExpressionTimezone`; `time` itself is always UTC). Anything else is rejected
//! with its reason.

use crate::runs::{BillingRuns, JobMessage, RunError, RunRequest};
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use handoff_ports::Queue;
use handoff_runtime::{process_sqs_batch, MessageMeta};
use serde::Deserialize;

/// What the function was invoked with.
#[derive(Debug)]
pub enum InvoiceEvent {
    Jobs(SqsEvent),
    Schedule(RunRequest),
}

#[derive(Debug, Deserialize)]
struct ScheduleEnvelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    time: DateTime<Utc>,
    #[serde(default)]
    detail: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleDetail {
    #[serde(default)]
    as_of: Option<NaiveDate>,
}

/// Tells the event's kind and parses it; every problem is named. A schedule event without
/// `as_of` bills the date its `time` falls on in `time_zone`.
pub fn parse_event(event: serde_json::Value, time_zone: Tz) -> Result<InvoiceEvent, RunError> {
    if event.get("Records").is_some() {
        return serde_json::from_value(event)
            .map(InvoiceEvent::Jobs)
            .map_err(|e| RunError::Invalid(format!("SQS event: {e}")));
    }
    if event.get("detail-type").is_none() {
        return Err(RunError::Invalid(
            "expected an SQS event (Records) or a schedule event (detail-type: Scheduled Event)"
                .into(),
        ));
    }
    let envelope: ScheduleEnvelope = serde_json::from_value(event)
        .map_err(|e| RunError::Invalid(format!("schedule event: {e}")))?;
    if envelope.detail_type != "Scheduled Event" {
        return Err(RunError::Invalid(format!(
            "detail-type {:?} from {:?} is not a schedule",
            envelope.detail_type, envelope.source
        )));
    }
    let detail: ScheduleDetail = match envelope.detail {
        serde_json::Value::String(text) if text.trim().is_empty() => ScheduleDetail::default(),
        serde_json::Value::String(text) => serde_json::from_str(&text)
            .map_err(|e| RunError::Invalid(format!("schedule detail: {e}")))?,
        serde_json::Value::Null => ScheduleDetail::default(),
        other => serde_json::from_value(other)
            .map_err(|e| RunError::Invalid(format!("schedule detail: {e}")))?,
    };
    Ok(InvoiceEvent::Schedule(RunRequest {
        as_of: detail
            .as_of
            .unwrap_or_else(|| envelope.time.with_timezone(&time_zone).date_naive()),
        ..RunRequest::default()
    }))
}

/// Handles one invocation; answers the SQS batch response or the planned run's report.
pub async fn handle(
    runs: &BillingRuns,
    dead_letter: &dyn Queue,
    event: serde_json::Value,
) -> Result<serde_json::Value, RunError> {
    match parse_event(event, runs.time_zone)? {
        InvoiceEvent::Schedule(request) => {
            // First the events a crash left unsent (at least once, deduplicated downstream).
            // A failing sweep must not cost the day's billing run: its records stay
            // pending for the next sweep.
            if let Some(relay) = &runs.relay {
                match relay.sweep().await {
                    Ok(0) => {}
                    Ok(swept) => {
                        tracing::warn!(swept, "relayed accounting events a crash had left pending")
                    }
                    Err(e) => tracing::error!(
                        code = handoff_runtime::Failure::code(&e),
                        error = %e,
                        "accounting outbox sweep failed; the billing run goes on"
                    ),
                }
            }
            let report = runs.start(&request, "schedule").await?;
            Ok(serde_json::to_value(report).unwrap_or_default())
        }
        InvoiceEvent::Jobs(batch) => {
            let response = process_sqs_batch(
                batch,
                dead_letter,
                |job: JobMessage, meta: MessageMeta| async move {
                    let report = runs.process(&job).await?;
                    tracing::info!(
                        message_id = %meta.message_id,
                        run_id = %job.run_id,
                        contract_id = %job.contract_id,
                        project_id = %job.project_id,
                        status = %report.status,
                        "invoice job done"
                    );
                    Ok::<(), RunError>(())
                },
            )
            .await?;
            Ok(serde_json::to_value(response).unwrap_or_default())
        }
    }
}
