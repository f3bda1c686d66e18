//! The SQS partial-batch wrapper against AWS's own event fixtures.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use handoff_adapters_memory::MemoryQueue;
use handoff_ports::{OutgoingMessage, Queue, QueueError, ReceivedMessage, StoreError};
use handoff_runtime::sqs_batch::{
    MessageMeta, FAILURE_CODE_ATTRIBUTE, SOURCE_MESSAGE_ID_ATTRIBUTE, SOURCE_QUEUE_ATTRIBUTE,
};
use handoff_runtime::{process_sqs_batch, BatchError, FAILURE_REASON_ATTRIBUTE};
use serde::Deserialize;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Deserialize)]
struct Message {
    a: String,
    b: i64,
}

fn fixture(name: &str) -> SqsEvent {
    let path = format!("{}/tests/fixtures/aws/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A batch of copies of the fixture's first record, with ids `id1..` and the given bodies.
fn batch(name: &str, bodies: &[&str]) -> SqsEvent {
    let mut event = fixture(name);
    let template = event.records[0].clone();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = template.clone();
            record.message_id = Some(format!("id{}", i + 1));
            record.body = Some((*body).to_owned());
            record
        })
        .collect();
    event
}

fn body(a: &str) -> String {
    format!(r#"{{"a":"{a}","b":{}}}"#, a.len())
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

fn dlq(name: &str) -> MemoryQueue {
    MemoryQueue::new(name, Duration::from_secs(30))
}

/// Handles `a` = "ok" | "transient" | "permanent"; records what it saw.
async fn handler(
    seen: &Mutex<Vec<String>>,
    message: Message,
    meta: MessageMeta,
) -> Result<(), StoreError> {
    seen.lock().unwrap().push(meta.message_id);
    match message.a.as_str() {
        "transient" => Err(StoreError::Transient("throttled".into())),
        "permanent" => Err(StoreError::Invalid("validation failed: unknown SKU".into())),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn json_body_fixture_is_handled_and_acknowledged() {
    let seen = Mutex::new(Vec::new());
    let dead = dlq("SQSQueue-dlq");
    let response = process_sqs_batch(
        fixture("aws_sqs_event_json_body.json"),
        &dead,
        |m: Message, raw| {
            assert_eq!((m.a.as_str(), m.b), ("Test", 123));
            handler(&seen, m, raw)
        },
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        serde_json::json!({"batchItemFailures": []})
    );
    assert_eq!(*seen.lock().unwrap(), vec!["MessageID_1"]);
    assert!(dead.is_empty());
}

#[tokio::test]
async fn unparseable_body_goes_to_the_dlq_with_its_reason_and_is_acknowledged() {
    let seen = Mutex::new(Vec::new());
    let dead = dlq("SQSQueue-dlq");
    // The plain fixture's body is "Message Body": not JSON.
    let response = process_sqs_batch(fixture("aws_sqs_event.json"), &dead, |m: Message, raw| {
        handler(&seen, m, raw)
    })
    .await
    .unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "a poison message is not retried"
    );
    assert!(seen.lock().unwrap().is_empty(), "the handler never saw it");
    let parked = dead.receive(10, 0).await.unwrap();
    assert_eq!(parked.len(), 1);
    let m = &parked[0];
    assert_eq!(m.body, "Message Body", "the original body is kept");
    assert!(
        m.attributes[FAILURE_REASON_ATTRIBUTE].contains("not a valid Message"),
        "{:?}",
        m.attributes
    );
    assert_eq!(m.attributes[FAILURE_CODE_ATTRIBUTE], "unparseable_message");
    assert_eq!(m.attributes[SOURCE_QUEUE_ATTRIBUTE], "SQSQueue");
    assert_eq!(m.attributes[SOURCE_MESSAGE_ID_ATTRIBUTE], "MessageID_1");
}

#[tokio::test]
async fn standard_queue_reports_each_transient_failure_and_parks_permanent_ones() {
    let seen = Mutex::new(Vec::new());
    let dead = dlq("SQSQueue-dlq");
    let bodies = [
        body("ok"),
        body("transient"),
        body("permanent"),
        body("ok"),
        body("transient"),
    ];
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let response = process_sqs_batch(
        batch("aws_sqs_event_json_body.json", &bodies),
        &dead,
        |m: Message, raw| handler(&seen, m, raw),
    )
    .await
    .unwrap();
    assert_eq!(failed_ids(&response), vec!["id2", "id5"]);
    assert_eq!(
        seen.lock().unwrap().len(),
        5,
        "a standard queue handles every message"
    );
    let parked = dead.receive(10, 0).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].attributes[SOURCE_MESSAGE_ID_ATTRIBUTE], "id3");
    assert!(parked[0].attributes[FAILURE_REASON_ATTRIBUTE].contains("unknown SKU"));
    assert_eq!(
        parked[0].attributes[FAILURE_CODE_ATTRIBUTE],
        "storage_rejected"
    );
}

#[tokio::test]
async fn fifo_queue_stops_at_the_first_transient_failure() {
    let seen = Mutex::new(Vec::new());
    let dead = dlq("fifo-dlq.fifo");
    let bodies = [
        body("ok"),
        body("permanent"),
        body("transient"),
        body("ok"),
        body("ok"),
    ];
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let event = batch("aws_sqs_event_fifo_docs.json", &bodies);
    let response = process_sqs_batch(event, &dead, |m: Message, meta: MessageMeta| {
        assert_eq!(meta.group_id.as_deref(), Some("1"));
        handler(&seen, m, meta)
    })
    .await
    .unwrap();
    assert_eq!(
        failed_ids(&response),
        vec!["id3", "id4", "id5"],
        "the failure and everything after it"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["id1", "id2", "id3"],
        "nothing after the failure ran"
    );
    // The poison message was parked (in its group, on the FIFO DLQ), not left to block the group.
    let parked = dead.receive(10, 0).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].group_id.as_deref(), Some("1"));
}

#[tokio::test]
async fn response_has_the_shape_lambda_expects() {
    let seen = Mutex::new(Vec::new());
    let dead = dlq("SQSQueue-dlq");
    let bodies = [body("ok"), body("transient"), body("ok"), body("transient")];
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let response = process_sqs_batch(
        batch("aws_sqs_event_json_body.json", &bodies),
        &dead,
        |m: Message, raw| handler(&seen, m, raw),
    )
    .await
    .unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/aws/aws_sqs_batch_response.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(serde_json::to_value(&response).unwrap(), expected);
}

/// A DLQ that refuses everything.
struct BrokenQueue;

#[async_trait]
impl Queue for BrokenQueue {
    fn name(&self) -> &str {
        "broken-dlq"
    }
    fn is_fifo(&self) -> bool {
        false
    }
    async fn send(&self, _: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        Err(QueueError::Transient("SQS unavailable".into()))
    }
    async fn receive(&self, _: usize, _: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        Ok(Vec::new())
    }
    async fn delete(&self, _: &str) -> Result<(), QueueError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_permanent_failure_is_retried_when_the_dlq_refuses_it() {
    let seen = Mutex::new(Vec::new());
    let bodies = [body("permanent"), "not json".to_owned()];
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let response = process_sqs_batch(
        batch("aws_sqs_event_json_body.json", &bodies),
        &BrokenQueue,
        |m: Message, raw| handler(&seen, m, raw),
    )
    .await
    .unwrap();
    assert_eq!(
        failed_ids(&response),
        vec!["id1", "id2"],
        "nothing is acknowledged unless parked"
    );
}

#[tokio::test]
async fn a_failure_without_message_id_fails_the_whole_batch() {
    let seen = Mutex::new(Vec::new());
    let mut event = batch("aws_sqs_event_json_body.json", &[&body("transient")]);
    event.records[0].message_id = None;
    let result =
        process_sqs_batch(event, &dlq("d"), |m: Message, raw| handler(&seen, m, raw)).await;
    assert_eq!(result.unwrap_err(), BatchError::UnidentifiedFailure);
}
