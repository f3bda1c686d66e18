//! Accounting events a crash left unsent are relayed by the next schedule, once.

#[macro_use]
mod harness;

use harness::invoicing::{billing_runs, fixture, job_queues, project_with_items, receive};
use harness::Harness;
use invoice_generator::relay::Relay;
use serde_json::Value;

contract_cases!(a_crash_between_issue_and_send_is_healed_by_the_next_schedule,);

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
    invoice_generator::consumer::handle(&runs, dead_letter.as_ref(), event)
        .await
        .unwrap();
    let sent = receive(outbox.as_ref(), 1).await;
    assert_eq!(sent.len(), 1, "exactly one event relayed");
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["type"], "InvoiceIssued");
    assert_eq!(body["invoice"]["number"], Value::from(number));
    assert_eq!(body["event_id"], format!("{}:issued", issued.invoice_id));
    // Sent is sent: the next sweep finds nothing.
    assert_eq!(relay.sweep().await.unwrap(), 0);
}
