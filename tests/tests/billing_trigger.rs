//! The delivery-signals consumer on both adapter sets: signals rated once, FIFO batches
//! with a poison message parked while later ones proceed, a transient storage failure
//! retried without duplicating anything.

#[macro_use]
mod harness;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use handoff_domain::billing::{Signal, SourceRef, TimeEntry};
use handoff_domain::catalog::RoleCode;
use handoff_domain::hours::Hours;
use handoff_domain::{ExternalId, ProjectId, SourceSystem};
use handoff_ports::{Query, Store};
use harness::faulty::{FailMode, FaultyStore};
use harness::{billing, convert_sample, Harness};
use std::sync::Arc;
use timesheet_billing_trigger::service::SignalEnvelope;

fn time(project: ProjectId, id: &str, version: u32, hours: &str) -> String {
    let signal = Signal::Time(TimeEntry {
        source: SourceRef {
            system: SourceSystem::new("jira").unwrap(),
            id: ExternalId::new(id).unwrap(),
            version,
        },
        resource: "kenji-sato".into(),
        role: RoleCode::new("engineer").unwrap(),
        work_date: "2026-12-02".parse().unwrap(),
        hours: Hours::new(hours.parse().unwrap()).unwrap(),
        billable: true,
        note: None,
    });
    serde_json::to_string(&SignalEnvelope {
        project_id: project,
        signal,
    })
    .unwrap()
}

fn fifo_event(project: ProjectId, bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some(body.clone());
            m.event_source_arn =
                Some("arn:aws:sqs:us-east-1:123456789012:handoff-dev-delivery-signals.fifo".into());
            m.attributes
                .insert("MessageGroupId".into(), project.to_string());
            m
        })
        .collect();
    event
}

async fn items(h: &Harness, project: ProjectId) -> usize {
    let query = Query::partition(&h.table, format!("PROJECT#{project}"))
        .sort_prefix("ITEM#")
        .limit(1000);
    h.store.query(&query).await.unwrap().items.len()
}

contract_cases!(
    signals_are_rated_once_and_poison_does_not_block_the_group,
    a_transient_storage_failure_is_retried_without_duplicates,
    intake_validates_queues_in_order_and_the_consumer_rates,
);

async fn post(
    intake: &timesheet_billing_trigger::intake::Intake,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("https://api.example.com{path}"))
        .body(lambda_http::Body::Text(body.to_string()))
        .unwrap();
    let response = timesheet_billing_trigger::intake::handle(intake, request).await;
    let text = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap(),
    )
}

fn entry(id: &str, date: &str, hours: &str) -> serde_json::Value {
    serde_json::json!({
        "source_system": "jira", "source_id": id, "source_version": 1, "resource": "kenji-sato",
        "role": "engineer", "work_date": date, "hours": hours, "billable": true,
        "approved_at": "2026-12-05T10:00:00Z", "approved_by": "pm@northwind.example"
    })
}

async fn intake_validates_queues_in_order_and_the_consumer_rates(h: Harness) {
    let project = convert_sample(&h, "globex-data").await.project_id;
    let signals = h.queue("delivery-signals.fifo").await;
    let intake = timesheet_billing_trigger::intake::Intake {
        store: h.store.clone(),
        signals: signals.clone(),
        main_table: h.table.clone(),
    };
    let batch = serde_json::json!({"project_id": project.to_string(), "entries": [entry("w-1", "2026-12-02", "8"), entry("w-2", "2026-12-03", "6")]});
    let (status, json) = post(&intake, "/delivery/timesheets", batch.clone()).await;
    assert_eq!(status, 202, "{json}");
    assert_eq!(
        json["accepted"],
        serde_json::json!(["jira:w-1@v1", "jira:w-2@v1"])
    );
    // A resent batch is deduplicated by the FIFO queue.
    assert_eq!(post(&intake, "/delivery/timesheets", batch).await.0, 202);
    let bad = serde_json::json!({"project_id": project.to_string(), "entries": [entry("w-3", "2026-11-01", "8"), entry("w-4", "2026-12-02", "30")]});
    let (status, json) = post(&intake, "/delivery/timesheets", bad).await;
    assert_eq!(status, 400, "{json}");
    let fields: Vec<&str> = json["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"entries[0].work_date") && fields.contains(&"entries[1].hours"),
        "{fields:?}"
    );
    let unknown = serde_json::json!({"project_id": ProjectId::random().to_string(), "entries": [entry("w-5", "2026-12-02", "1")]});
    assert_eq!(post(&intake, "/delivery/timesheets", unknown).await.0, 400);
    let order = serde_json::json!({"project_id": project.to_string(), "source_system": "crm", "source_id": "co-1", "effective_on": "2026-12-04", "new_cap": "120000.00"});
    assert_eq!(post(&intake, "/delivery/change-orders", order).await.0, 202);
    // The queue holds the project's signals in order; the consumer rates them.
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let batch = signals.receive(10, 1).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            assert_eq!(m.group_id.as_deref(), Some(project.to_string().as_str()));
            bodies.push(m.body.clone());
            signals.delete(&m.receipt_handle).await.unwrap();
        }
    }
    assert_eq!(
        bodies.len(),
        3,
        "two entries and one change order, each once"
    );
    let billing = billing(h.store.clone(), &h.table);
    let dlq = h.queue("delivery-signals-dlq.fifo").await;
    let response = timesheet_billing_trigger::consumer::handle(
        &billing,
        dlq.as_ref(),
        fifo_event(project, &bodies),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let (state, _) = billing.state(project).await.unwrap();
    assert_eq!(state.billed_net.to_string(), "1890.00 USD", "14 h x 135.00");
    assert_eq!(
        state.cap.unwrap().to_string(),
        "120000.00 USD",
        "the change order applied"
    );
}

async fn signals_are_rated_once_and_poison_does_not_block_the_group(h: Harness) {
    let project = convert_sample(&h, "globex-data").await.project_id;
    let billing = billing(h.store.clone(), &h.table);
    let dlq = h.queue("delivery-signals-dlq.fifo").await;
    let batch = vec![
        time(project, "w-1", 1, "8"),
        r#"{"project_id": 42}"#.to_owned(),
        time(project, "w-2", 1, "4"),
    ];
    let response = timesheet_billing_trigger::consumer::handle(
        &billing,
        dlq.as_ref(),
        fifo_event(project, &batch),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        items(&h, project).await,
        2,
        "both valid signals rated; the poison did not block them"
    );
    let parked = dlq.receive(10, 1).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(
        parked[0].group_id.as_deref(),
        Some(project.to_string().as_str())
    );
    assert!(parked[0].attributes["handoff-failure-reason"].contains("not a valid SignalEnvelope"));
    // Redelivery of the same signals changes nothing.
    timesheet_billing_trigger::consumer::handle(
        &billing,
        dlq.as_ref(),
        fifo_event(project, &batch[..1]),
    )
    .await
    .unwrap();
    assert_eq!(items(&h, project).await, 2);
    let (state, version) = billing.state(project).await.unwrap();
    assert_eq!(version, Some(2));
    assert_eq!(
        state.billed_net.to_string(),
        "1620.00 USD",
        "(8 + 4) h x 135.00"
    );
    let journal = h
        .store
        .query(&Query::partition(&h.table, format!("JOURNAL#{project}")))
        .await
        .unwrap();
    assert_eq!(journal.items.len(), 2);
}

async fn a_transient_storage_failure_is_retried_without_duplicates(h: Harness) {
    let project = convert_sample(&h, "globex-data").await.project_id;
    // The first write (the first signal's transaction) fails as throttled, unapplied.
    let store: Arc<dyn Store> =
        Arc::new(FaultyStore::new(h.store.clone(), Some(1), FailMode::Before));
    let billing = billing(store, &h.table);
    let dlq = h.queue("delivery-signals-dlq.fifo").await;
    let batch = vec![time(project, "w-1", 1, "8"), time(project, "w-2", 1, "4")];
    let response = timesheet_billing_trigger::consumer::handle(
        &billing,
        dlq.as_ref(),
        fifo_event(project, &batch),
    )
    .await
    .unwrap();
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        vec!["m0", "m1"],
        "FIFO: the failure and everything after it is retried"
    );
    assert_eq!(items(&h, project).await, 0, "nothing half-written");
    // SQS redelivers both: now they land, once.
    let response = timesheet_billing_trigger::consumer::handle(
        &billing,
        dlq.as_ref(),
        fifo_event(project, &batch),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(items(&h, project).await, 2);
    assert!(
        dlq.receive(10, 0).await.unwrap().is_empty(),
        "transient failures are not dead-lettered"
    );
}
