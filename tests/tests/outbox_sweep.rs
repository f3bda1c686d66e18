//! Accounting events a crash left unsent are relayed by the next schedule, once.

#[macro_use]
mod harness;

use handoff_ports::AttributeValue;
use handoff_ports::{Index, OutgoingMessage, Query, Queue, QueueError, ReceivedMessage};
use harness::invoicing::{billing_runs, fixture, job_queues, project_with_items, receive};
use harness::Harness;
use invoice_generator::relay::{pending_record, Relay, PENDING_PARTITION};
use invoice_generator::runs::RunReport;
use serde_json::Value;
use std::sync::Arc;

contract_cases!(
    a_crash_between_issue_and_send_is_healed_by_the_next_schedule,
    a_sweep_that_cannot_send_does_not_stop_the_days_billing_run,
    a_sweep_takes_sent_records_off_the_index_and_skips_what_can_never_be_sent,
);

/// The records on the pending index (what a sweep reads).
async fn pending(h: &Harness) -> usize {
    let query = Query::partition(&h.table, PENDING_PARTITION).on_index(Index::Gsi1);
    h.store.query(&query).await.unwrap().items.len()
}

/// An `accounting-outbox` that refuses one event for good (as SQS refuses an oversized
/// message) and takes the others.
struct Refusing {
    inner: Arc<dyn Queue>,
    refused: &'static str,
}

#[async_trait::async_trait]
impl Queue for Refusing {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn is_fifo(&self) -> bool {
        false
    }
    async fn send(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        if messages.iter().any(|m| m.body.contains(self.refused)) {
            return Err(QueueError::Invalid("message too long".into()));
        }
        self.inner.send(messages).await
    }
    async fn receive(&self, max: usize, wait_s: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.receive(max, wait_s).await
    }
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt_handle).await
    }
}

/// An `accounting-outbox` that is down.
struct DownQueue;

#[async_trait::async_trait]
impl Queue for DownQueue {
    fn name(&self) -> &str {
        "accounting-outbox"
    }
    fn is_fifo(&self) -> bool {
        false
    }
    async fn send(&self, _: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        Err(QueueError::Transient("503 Service Unavailable".into()))
    }
    async fn receive(&self, _: usize, _: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        Ok(Vec::new())
    }
    async fn delete(&self, _: &str) -> Result<(), QueueError> {
        Ok(())
    }
}

async fn a_crash_between_issue_and_send_is_healed_by_the_next_schedule(h: Harness) {
    let (project, _) = project_with_items(&h, 4).await;
    let (jobs, dead_letter) = job_queues(&h).await;
    let outbox = h.queue("accounting-outbox").await;
    // The job commits the issue (number, journal, pending event) and dies before relaying.
    let issued = billing_runs(&h, jobs.clone(), None)
        .invoicing
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap();
    let number = issued.number.clone().unwrap();
    assert!(
        outbox.receive(10, 0).await.unwrap().is_empty(),
        "nothing sent yet"
    );
    // The next day's schedule sweeps the pending events before planning.
    let relay = Relay {
        store: h.store.clone(),
        main_table: h.table.clone(),
        queue: outbox.clone(),
    };
    let runs = billing_runs(&h, jobs, Some(relay.clone()));
    let mut event = fixture("aws_eventbridge_scheduler_default_event.json");
    event["time"] = Value::from("2027-01-01T23:30:00Z");
    h.set_time("2027-01-01T23:30:00Z");
    invoice_generator::consumer::handle(&runs, dead_letter.as_ref(), event)
        .await
        .unwrap();
    let sent = receive(outbox.as_ref(), 1).await;
    assert_eq!(sent.len(), 1, "exactly one event relayed");
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["type"], "InvoiceIssued");
    assert_eq!(body["invoice"]["number"], Value::from(number));
    assert_eq!(body["event_id"], format!("{}:issued", issued.invoice_id));
    // Sent is sent: off the pending index, and the next sweep finds nothing.
    assert_eq!(pending(&h).await, 0);
    assert_eq!(relay.sweep().await.unwrap(), 0);
}

async fn a_sweep_that_cannot_send_does_not_stop_the_days_billing_run(h: Harness) {
    let (project, contract) = project_with_items(&h, 4).await;
    let (jobs, dead_letter) = job_queues(&h).await;
    billing_runs(&h, jobs.clone(), None)
        .invoicing
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap();
    assert_eq!(pending(&h).await, 1, "issued, not yet relayed");
    let relay = Relay {
        store: h.store.clone(),
        main_table: h.table.clone(),
        queue: Arc::new(DownQueue),
    };
    let runs = billing_runs(&h, jobs.clone(), Some(relay));
    let mut event = fixture("aws_eventbridge_scheduler_default_event.json");
    event["time"] = Value::from("2027-01-31T23:30:00Z");
    h.set_time("2027-01-31T23:30:00Z");
    let report: RunReport = serde_json::from_value(
        invoice_generator::consumer::handle(&runs, dead_letter.as_ref(), event)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        report
            .jobs
            .iter()
            .any(|j| j.contract_id == contract.to_string()),
        "January's run is planned: {report:#?}"
    );
    assert_eq!(
        receive(jobs.as_ref(), 1).await.len(),
        1,
        "its job is queued"
    );
    assert_eq!(pending(&h).await, 1, "the event waits for the next sweep");
}

async fn a_sweep_takes_sent_records_off_the_index_and_skips_what_can_never_be_sent(h: Harness) {
    // A record sent before sent records left the index, one that can never be sent, and
    // a real pending event behind them (oldest first).
    let mut legacy = pending_record("legacy-doc", "InvoiceIssued", "{}".into(), "2026-01-01");
    legacy.insert("status".into(), AttributeValue::S("sent".into()));
    h.store.put(&h.table, legacy, None).await.unwrap();
    let poison = pending_record(
        "poison-doc",
        "InvoiceIssued",
        r#"{"type":"InvoiceIssued","poison":true}"#.into(),
        "2026-01-02",
    );
    h.store.put(&h.table, poison, None).await.unwrap();
    let (project, _) = project_with_items(&h, 2).await;
    let (jobs, _) = job_queues(&h).await;
    billing_runs(&h, jobs, None)
        .invoicing
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap();
    assert_eq!(pending(&h).await, 3);
    let outbox = h.queue("accounting-outbox").await;
    let relay = Relay {
        store: h.store.clone(),
        main_table: h.table.clone(),
        queue: Arc::new(Refusing {
            inner: outbox.clone(),
            refused: "poison",
        }),
    };
    assert_eq!(
        relay.sweep().await.unwrap(),
        1,
        "the invoice's event is sent"
    );
    assert_eq!(receive(outbox.as_ref(), 1).await.len(), 1);
    assert_eq!(
        pending(&h).await,
        1,
        "only the unsendable event stays on the index"
    );
}
