//! The invoice generator's tests' shared setup: its services and queues on the case's
//! store, sample deals converted and their time delivered as unbilled items, the jobs
//! queue drained through the consumer, the finance API called with API Gateway events,
//! and the records an invoice run leaves (counters, items, journal) read back.
//!
//! Each test binary uses part of it: `#![allow(dead_code)]` in `mod.rs` covers it.

use super::{billing, convert_sample, converter, noon_2026_11_26, seed, Harness};
use handoff_domain::billing::{Signal, SourceRef, TimeEntry};
use handoff_domain::catalog::RoleCode;
use handoff_domain::hours::Hours;
use handoff_domain::invoice::TaxTable;
use handoff_domain::ledger::{ChartOfAccounts, JournalEntry};
use handoff_domain::{ContractId, ExternalId, ProjectId, SourceSystem};
use handoff_ports::store::query_all;
use handoff_ports::{AttributeValue, Item, Key, Query, Queue, ReceivedMessage, Store};
use invoice_generator::consumer;
use invoice_generator::http::{handle, FinanceApi};
use invoice_generator::job::Invoicing;
use invoice_generator::relay::Relay;
use invoice_generator::runs::BillingRuns;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use timesheet_billing_trigger::service::SignalEnvelope;

/// An AWS event fixture of `tests/fixtures/aws/` (or of `shared/fixtures/aws/`).
pub fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/aws/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .or_else(|_| {
        std::fs::read_to_string(format!(
            "{}/../../shared/fixtures/aws/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
    })
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn day(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// The invoice job on the case's store, with the seeded tax rates and chart.
pub fn invoicing(h: &Harness) -> Invoicing {
    invoicing_on(h.store.clone(), &h.table)
}

/// The invoice job on `store` (e.g. a faulty one), with the seeded tax rates and chart.
pub fn invoicing_on(store: Arc<dyn Store>, table: &str) -> Invoicing {
    Invoicing {
        store,
        tax: Arc::new(TaxTable::from_json(&seed("tax_rates.json")).unwrap()),
        chart: Arc::new(ChartOfAccounts::from_json(&seed("chart_of_accounts.json")).unwrap()),
        main_table: table.to_owned(),
        series_prefix: "INV".into(),
        rates: Some(Arc::new(
            closed_won_converter::reference::bundled().unwrap().rates,
        )),
    }
}

/// Converts a sample deal of `infra/seed/deals/`, edited first (a copy gets its own CRM
/// id, customer and domain).
pub async fn convert(
    h: &Harness,
    deal: &str,
    edit: impl FnOnce(&mut Value),
) -> (ProjectId, ContractId) {
    let mut value: Value = serde_json::from_str(&seed(&format!("deals/{deal}.json"))).unwrap();
    edit(&mut value);
    let input: handoff_domain::deal::DealInput = serde_json::from_value(value).unwrap();
    let outcome = converter(h, noon_2026_11_26())
        .convert(&input, None)
        .await
        .unwrap();
    (outcome.project_id, outcome.contract_id)
}

/// A copy of the Globex deal (its own CRM deal, customer and domain) whose invoices wait
/// for finance's approval (`POST /invoices/{id}/issue`).
pub async fn approval_copy(h: &Harness) -> (ProjectId, ContractId) {
    convert(h, "globex-data", |v| {
        v["crm"]["deal_id"] = json!("1187-approved");
        v["customer"]["external_id"] = json!("org-approved");
        v["customer"]["name"] = json!("Approved Globex");
        v["customer"]["domain"] = json!("approved.example");
        v["billing"]["finance_approval"] = json!(true);
    })
    .await
}

/// A billable Jira time entry of kenji-sato, without a note.
pub fn time_entry(id: &str, role: &str, work_date: chrono::NaiveDate, hours: &str) -> TimeEntry {
    TimeEntry {
        source: SourceRef {
            system: SourceSystem::new("jira").unwrap(),
            id: ExternalId::new(id).unwrap(),
            version: 1,
        },
        resource: "kenji-sato".into(),
        role: RoleCode::new(role).unwrap(),
        work_date,
        hours: Hours::new(hours.parse().unwrap()).unwrap(),
        billable: true,
        note: None,
    }
}

/// `count` entries of 2 h engineer time, ids `{prefix}-{i}`, the i-th on `first_day`
/// plus `i % cycle` days.
pub fn engineer_entries(
    prefix: &str,
    count: usize,
    first_day: &str,
    cycle: usize,
) -> Vec<TimeEntry> {
    (0..count)
        .map(|i| {
            let work_date = day(first_day) + chrono::Duration::days((i % cycle) as i64);
            time_entry(&format!("{prefix}-{i}"), "engineer", work_date, "2")
        })
        .collect()
}

/// Rates `entries` on `project` through the billing service: unbilled items.
pub async fn deliver_time(
    h: &Harness,
    project: ProjectId,
    entries: impl IntoIterator<Item = TimeEntry>,
) {
    let billing = billing(h.store.clone(), &h.table);
    for entry in entries {
        billing
            .apply(&SignalEnvelope {
                project_id: project,
                signal: Signal::Time(entry),
            })
            .await
            .unwrap();
    }
}

/// The converted Globex T&M project with `entries` rated, unbilled engineer entries of
/// 2 h in December (ids `w-{i}`, on a 20-day cycle from the 1st).
pub async fn project_with_items(h: &Harness, entries: usize) -> (ProjectId, ContractId) {
    let outcome = convert_sample(h, "globex-data").await;
    let entries = engineer_entries("w", entries, "2026-12-01", 20);
    deliver_time(h, outcome.project_id, entries).await;
    (outcome.project_id, outcome.contract_id)
}

/// The invoice jobs' FIFO queue and its dead-letter queue.
pub async fn job_queues(h: &Harness) -> (Arc<dyn Queue>, Arc<dyn Queue>) {
    let jobs = h.queue("invoice-jobs.fifo").await;
    let dead_letter = h.queue("invoice-jobs-dlq.fifo").await;
    (jobs, dead_letter)
}

/// Billing runs enqueueing on `jobs`, invoicing on the case's store.
pub fn billing_runs(h: &Harness, jobs: Arc<dyn Queue>, relay: Option<Relay>) -> BillingRuns {
    BillingRuns {
        invoicing: invoicing(h),
        jobs,
        relay,
        time_zone: chrono_tz::Tz::UTC,
        clock: h.clock.clone(),
    }
}

/// The finance API: billing runs on `jobs`, the issued invoices' events relayed to `outbox`.
pub fn finance_api(h: &Harness, jobs: Arc<dyn Queue>, outbox: Arc<dyn Queue>) -> FinanceApi {
    let relay = Relay {
        store: h.store.clone(),
        main_table: h.table.clone(),
        queue: outbox,
    };
    FinanceApi {
        runs: billing_runs(h, jobs, Some(relay.clone())),
        relay: Some(relay),
    }
}

/// Receives until at least `expected` messages arrived and the queue has no more.
pub async fn receive(queue: &dyn Queue, expected: usize) -> Vec<ReceivedMessage> {
    let mut received = Vec::new();
    for _ in 0..10 {
        let batch = queue.receive(10, 1).await.unwrap();
        let empty = batch.is_empty();
        received.extend(batch);
        if empty && received.len() >= expected {
            break;
        }
    }
    received
}

/// The Lambda event SQS would deliver for `messages`, shaped like AWS's FIFO fixture.
pub fn sqs_event(messages: &[ReceivedMessage]) -> Value {
    let template = fixture("aws_sqs_event_fifo_docs.json")["Records"][0].clone();
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut record = template.clone();
            record["messageId"] = json!(m.message_id);
            record["receiptHandle"] = json!(m.receipt_handle);
            record["body"] = json!(m.body);
            record["attributes"]["MessageGroupId"] = json!(m.group_id.clone().unwrap());
            record["attributes"]["MessageDeduplicationId"] = json!(m.message_id);
            record["attributes"]["ApproximateReceiveCount"] = json!(m.receive_count.to_string());
            record["eventSourceARN"] =
                json!("arn:aws:sqs:us-east-1:123456789012:handoff-dev-invoice-jobs.fifo");
            record
        })
        .collect();
    json!({ "Records": records })
}

/// Runs the received jobs through the consumer (as Lambda's SQS integration would) and
/// acknowledges what it did not report; answers the consumer's response.
pub async fn drain(
    runs: &BillingRuns,
    jobs: &dyn Queue,
    dead_letter: &dyn Queue,
    messages: &[ReceivedMessage],
) -> Value {
    if messages.is_empty() {
        return json!({"batchItemFailures": []});
    }
    let response = consumer::handle(runs, dead_letter, sqs_event(messages))
        .await
        .unwrap();
    let failed: BTreeSet<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    for m in messages {
        if !failed.contains(m.message_id.as_str()) {
            jobs.delete(&m.receipt_handle).await.unwrap();
        }
    }
    response
}

/// An API Gateway v2 request (AWS's fixture) to the finance API: status and body.
pub async fn call(
    api: &FinanceApi,
    method: &str,
    path_and_query: &str,
    body: Option<Value>,
) -> (u16, String) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut event = fixture("aws_apigw_http_v2_request_post_body.json");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["rawQueryString"] = json!(query);
    let params: serde_json::Map<String, Value> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), json!(v))
        })
        .collect();
    event["queryStringParameters"] = Value::Object(params);
    event["cookies"] = json!([]);
    event["pathParameters"] = json!({});
    event["headers"] = json!({"content-type": "application/json"});
    event["body"] = match body {
        Some(b) => json!(b.to_string()),
        None => Value::Null,
    };
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = handle(api, request).await;
    let text = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8(b.clone()).unwrap(),
        lambda_http::Body::Empty => String::new(),
        _ => String::new(),
    };
    (response.status().as_u16(), text)
}

/// [`call`] with a JSON answer.
pub async fn call_json(
    api: &FinanceApi,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, text) = call(api, method, path, body).await;
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, value)
}

/// A string or number attribute as text.
pub fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        Some(AttributeValue::N(n)) => Some(n.clone()),
        _ => None,
    }
}

/// The last number a series' counter (`pk`) handed out.
pub async fn counter(h: &Harness, pk: &str) -> Option<String> {
    h.store
        .get(&h.table, &Key::new(pk, "COUNTER"))
        .await
        .unwrap()
        .and_then(|c| text(&c, "last"))
}

/// Every billable item of the project: id → (status, invoice id).
pub async fn items(
    h: &Harness,
    project: ProjectId,
) -> BTreeMap<String, (Option<String>, Option<String>)> {
    let query = Query::partition(&h.table, format!("PROJECT#{project}")).sort_prefix("ITEM#");
    query_all(h.store.as_ref(), query)
        .await
        .unwrap()
        .into_iter()
        .map(|i| {
            let id = text(&i, "SK").unwrap()["ITEM#".len()..].to_owned();
            (id, (text(&i, "status"), text(&i, "invoice_id")))
        })
        .collect()
}

/// The project's journal records whose sort key starts with `prefix`.
pub async fn journal_records(h: &Harness, project: ProjectId, prefix: &str) -> Vec<Item> {
    let query = Query::partition(&h.table, format!("JOURNAL#{project}")).sort_prefix(prefix);
    query_all(h.store.as_ref(), query).await.unwrap()
}

/// Debits − credits of `account` over `entries` (the ledger's trial balance, all
/// currencies of the case being one).
pub fn balance(entries: &[JournalEntry], account: &str) -> Decimal {
    handoff_domain::ledger::balances(entries)
        .iter()
        .filter(|((a, _), _)| a == account)
        .map(|(_, balance)| *balance)
        .sum()
}

/// The project's journal entries whose sort key starts with `prefix`.
pub async fn journal_entries(h: &Harness, project: ProjectId, prefix: &str) -> Vec<JournalEntry> {
    journal_records(h, project, prefix)
        .await
        .into_iter()
        .map(|e| match e.get("entry") {
            Some(AttributeValue::S(json)) => serde_json::from_str(json).unwrap(),
            other => panic!("journal record without an entry: {other:?}"),
        })
        .collect()
}
