//! The closed-won converter through its HTTP handler, on both adapter sets: signatures,
//! validation, the four CRM routes, exactly-once under concurrent re-delivery, amendments.

#[macro_use]
mod harness;

use chrono::{TimeZone, Utc};
use closed_won_converter::config::WebhookConfig;
use closed_won_converter::http::{handle, App};
use closed_won_converter::reference;
use closed_won_converter::service::{Converter, ProjectConverted};
use handoff_adapters_memory::{ManualClock, MemoryCrm};
use handoff_domain::{ExternalId, ProjectId, SourceSystem};
use handoff_ports::{Clock, CrmAccount, CrmDeal, CrmLineItem, Index, Key, Query, Queue};
use handoff_runtime::webhook_auth::{sign_handoff, sign_hubspot_v3, WebhookSecret};
use handoff_runtime::Idempotency;
use harness::Harness;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use std::sync::Arc;

const CRM_SECRET: &str = "whsec_test_0123456789abcdef";
const HUBSPOT_SECRET: &str = "hubspot-client-secret-for-tests";
const PIPEDRIVE_PASSWORD: &str = "pipedrive-basic-password";
const SALESFORCE_ORG: &str = "00Dd0000000dtDqEAI";
const SALESFORCE_TOKEN: &str = "sf-path-token-1234";
const PUBLIC_BASE_URL: &str = "https://hooks.example.com";

struct Setup {
    app: App,
    clock: Arc<ManualClock>,
    events: Arc<dyn Queue>,
    h: Harness,
}

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::new(s.to_owned()).unwrap()
}

fn seed(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../infra/seed/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn fixture(path: &str) -> String {
    let local = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let converter = format!(
        "{}/../functions/closed-won-converter/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&local)
        .or_else(|_| std::fs::read_to_string(&converter))
        .unwrap()
}

fn hubspot_deal() -> CrmDeal {
    CrmDeal {
        system: "hubspot".into(),
        deal_id: "33108462948".into(),
        name: Some("Deal".into()),
        amount: Some("12400".into()),
        currency: Some("USD".into()),
        created_at: Some("2025-02-05T16:35:33.362Z".into()),
        closed_at: Some("2025-02-28T16:35:02.296Z".into()),
        account: Some(CrmAccount {
            id: "company-77".into(),
            name: Some("Hooli".into()),
            domain: Some("hooli.example".into()),
        }),
        line_items: vec![CrmLineItem {
            id: "28902434115".into(),
            sku: Some("DISCOVERY-WORKSHOP".into()),
            quantity: Some("1".into()),
            unit_price: Some("12400".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn pipedrive_products() -> CrmDeal {
    CrmDeal {
        system: "pipedrive".into(),
        deal_id: "49".into(),
        line_items: vec![CrmLineItem {
            id: "1".into(),
            sku: Some("DEV-SPRINT".into()),
            quantity: Some("1".into()),
            unit_price: Some("4000".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn setup(h: Harness) -> Setup {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
    ));
    let events = h.queue("project-events").await;
    // One table holds both the records and the idempotency keys here; Lambda uses two.
    let idempotency = Idempotency::new(
        h.store.clone(),
        clock.clone(),
        &h.table,
        "closed-won-converter",
        86_400,
    );
    let converter = Converter {
        store: h.store.clone(),
        events: events.clone(),
        clock: clock.clone(),
        idempotency,
        reference: Arc::new(reference::bundled().unwrap()),
        main_table: h.table.clone(),
    };
    let webhooks = WebhookConfig {
        crm_secrets: vec![
            secret("an-older-secret-being-rotated-out"),
            secret(CRM_SECRET),
        ],
        hubspot_client_secret: Some(secret(HUBSPOT_SECRET)),
        hubspot_closed_won_stages: vec!["closedwon".into()],
        public_base_url: Some(PUBLIC_BASE_URL.into()),
        pipedrive_user: "handoff".into(),
        pipedrive_password: Some(secret(PIPEDRIVE_PASSWORD)),
        salesforce_organization_id: Some(SALESFORCE_ORG.into()),
        salesforce_path_token: Some(secret(SALESFORCE_TOKEN)),
    };
    let app = App {
        converter,
        webhooks: Arc::new(webhooks),
        hubspot: Some(Arc::new(MemoryCrm::with_deals([hubspot_deal()]))),
        pipedrive: Some(Arc::new(MemoryCrm::with_deals([pipedrive_products()]))),
        clock: clock.clone(),
    };
    Setup {
        app,
        clock,
        events,
        h,
    }
}

/// An API Gateway HTTP API (payload 2.0) request, from AWS's own fixture shape.
fn request(path: &str, query: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut event: Value =
        serde_json::from_str(&fixture("aws/aws_apigw_http_v2_request_post_body.json")).unwrap();
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["queryStringParameters"] = json!({});
    event["requestContext"]["domainName"] = json!("hooks.example.com");
    event["cookies"] = json!([]);
    event["pathParameters"] = json!({});
    let mut h = serde_json::Map::new();
    for (k, v) in headers {
        h.insert((*k).to_owned(), json!(v));
    }
    event["headers"] = Value::Object(h);
    event["body"] = json!(body);
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn signed_crm(s: &Setup, body: &str) -> Request {
    let header = sign_handoff(&secret(CRM_SECRET), s.clock.now_epoch_s(), body.as_bytes());
    request(
        "/webhooks/crm",
        "",
        &[
            ("handoff-signature", &header),
            ("content-type", "application/json"),
        ],
        body,
    )
}

fn status_and_json(response: &Response<Body>) -> (u16, Value) {
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        Body::Empty => String::new(),
        _ => String::new(),
    };
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn project_of(system: &str, deal: &str) -> ProjectId {
    ProjectId::derive(
        &SourceSystem::new(system).unwrap(),
        &ExternalId::new(deal).unwrap(),
    )
}

/// Every event on the queue (deleting them), bounded.
async fn drain(events: &Arc<dyn Queue>) -> Vec<ProjectConverted> {
    let mut all = Vec::new();
    for _ in 0..20 {
        let batch = events.receive(10, 0).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            all.push(serde_json::from_str(&m.body).unwrap());
            events.delete(&m.receipt_handle).await.unwrap();
        }
    }
    all
}

async fn projects_of_customer(s: &Setup, customer_id: &str) -> usize {
    let query = Query::partition(&s.h.table, format!("CUSTOMER#{customer_id}"))
        .on_index(Index::Gsi1)
        .sort_prefix("PROJECT#");
    s.h.store.query(&query).await.unwrap().items.len()
}

contract_cases!(
    ten_concurrent_deliveries_make_one_project_and_one_event,
    bad_signatures_are_401_and_store_nothing,
    invalid_deal_is_400_listing_every_problem,
    amended_deal_raises_a_change_request_not_a_second_project,
    hubspot_win_is_fetched_and_converted,
    pipedrive_v1_win_with_basic_auth,
    salesforce_acknowledges_and_converts_only_wins,
    near_duplicate_customers_are_flagged_not_merged,
    a_crash_before_the_event_is_sent_is_healed_by_the_retry,
);

async fn ten_concurrent_deliveries_make_one_project_and_one_event(h: Harness) {
    let s = Arc::new(setup(h).await);
    let body = seed("deals/acme-website.json");
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (s, body) = (Arc::clone(&s), body.clone());
            tokio::spawn(
                async move { status_and_json(&handle(&s.app, signed_crm(&s, &body)).await) },
            )
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        let (status, json) = task.await.unwrap();
        match status {
            202 => accepted += 1,
            409 => assert_eq!(json["error"]["code"], "request_in_progress", "{json}"),
            other => panic!("unexpected {other}: {json}"),
        }
    }
    assert!(accepted >= 1);
    // A retry after the race gets the same answer.
    let (status, json) = status_and_json(&handle(&s.app, signed_crm(&s, &body)).await);
    assert_eq!(status, 202, "{json}");
    let project = project_of("hubspot", "33108462948");
    assert_eq!(json["results"][0]["project_id"], project.to_string());
    assert_eq!(json["results"][0]["status"], "converted");
    let customer = json["results"][0]["customer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        projects_of_customer(&s, &customer).await,
        1,
        "exactly one project"
    );
    let events = drain(&s.events).await;
    assert_eq!(events.len(), 1, "exactly one ProjectConverted: {events:?}");
    assert_eq!(events[0].project_id, project);
    assert_eq!(events[0].kind, "ProjectConverted");
}

async fn bad_signatures_are_401_and_store_nothing(h: Harness) {
    let s = setup(h).await;
    let body = seed("deals/acme-website.json");
    let now = s.clock.now_epoch_s();
    let good = sign_handoff(&secret(CRM_SECRET), now, body.as_bytes());
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, String);
    let cases: Vec<Case> = vec![
        ("missing header", vec![], body.clone()),
        (
            "tampered body",
            vec![("handoff-signature", good.clone())],
            body.replace("112400.00", "1.00"),
        ),
        (
            "wrong secret",
            vec![(
                "handoff-signature",
                sign_handoff(&secret("not-our-secret-at-all"), now, body.as_bytes()),
            )],
            body.clone(),
        ),
        (
            "stale",
            vec![(
                "handoff-signature",
                sign_handoff(&secret(CRM_SECRET), now - 301, body.as_bytes()),
            )],
            body.clone(),
        ),
        (
            "future",
            vec![(
                "handoff-signature",
                sign_handoff(&secret(CRM_SECRET), now + 301, body.as_bytes()),
            )],
            body.clone(),
        ),
        (
            "garbage",
            vec![("handoff-signature", "t=abc,v1=zz".into())],
            body.clone(),
        ),
    ];
    for (case, headers, body) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, json) =
            status_and_json(&handle(&s.app, request("/webhooks/crm", "", &headers, &body)).await);
        assert_eq!(status, 401, "{case}: {json}");
        assert_eq!(json["error"]["code"], "unauthorized", "{case}");
        assert!(
            !json.to_string().contains(CRM_SECRET),
            "{case}: the secret leaked"
        );
    }
    let project =
        s.h.store
            .get(
                &s.h.table,
                &Key::new(
                    format!("PROJECT#{}", project_of("hubspot", "33108462948")),
                    "PROJECT",
                ),
            )
            .await;
    assert_eq!(project.unwrap(), None, "nothing stored");
    assert!(drain(&s.events).await.is_empty(), "nothing emitted");
}

async fn invalid_deal_is_400_listing_every_problem(h: Harness) {
    let s = setup(h).await;
    let mut deal: Value = serde_json::from_str(&seed("deals/acme-website.json")).unwrap();
    deal["deal"]["currency"] = json!("DOLLARS");
    deal["line_items"][0]["sku"] = json!("UNKNOWN-SKU");
    deal["scope"]["deliverables"][0]["role_estimates"][0]["role"] = json!("astronaut");
    deal["customer"]["external_id"] = json!("");
    let (status, json) = status_and_json(&handle(&s.app, signed_crm(&s, &deal.to_string())).await);
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["error"]["code"], "validation_failed");
    let fields: Vec<&str> = json["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for expected in [
        "deal.currency",
        "line_items[0].sku",
        "scope.deliverables[0].role_estimates[0].role",
        "customer.external_id",
    ] {
        assert!(fields.contains(&expected), "{expected} not in {fields:?}");
    }
    let (status, json) = status_and_json(&handle(&s.app, signed_crm(&s, "{not json")).await);
    assert_eq!(status, 400, "{json}");
    assert!(drain(&s.events).await.is_empty());
}

async fn amended_deal_raises_a_change_request_not_a_second_project(h: Harness) {
    let s = setup(h).await;
    let original = seed("deals/globex-data.json");
    let (status, first) = status_and_json(&handle(&s.app, signed_crm(&s, &original)).await);
    assert_eq!(status, 202, "{first}");
    let mut amended: Value = serde_json::from_str(&original).unwrap();
    amended["deal"]["amount"] = json!("110000.00");
    amended["billing"]["cap"] = json!("120000.00");
    let (status, json) =
        status_and_json(&handle(&s.app, signed_crm(&s, &amended.to_string())).await);
    assert_eq!(status, 202, "{json}");
    let result = &json["results"][0];
    assert_eq!(result["status"], "change_requested");
    assert_eq!(
        result["project_id"], first["results"][0]["project_id"],
        "same project"
    );
    let project = first["results"][0]["project_id"].as_str().unwrap();
    let change = result["change_request_id"].as_str().unwrap();
    let stored =
        s.h.store
            .get(
                &s.h.table,
                &Key::new(format!("PROJECT#{project}"), format!("CHANGE#{change}")),
            )
            .await
            .unwrap()
            .unwrap();
    let request: Value = match stored.get("change_request") {
        Some(handoff_ports::AttributeValue::S(j)) => serde_json::from_str(j).unwrap(),
        other => panic!("{other:?}"),
    };
    let fields: Vec<&str> = request["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["billing.cap", "deal.amount"]);
    assert_eq!(request["changes"][1]["old"], "98000.00 USD");
    assert_eq!(request["changes"][1]["new"], "110000.00 USD");
    // The project itself keeps its converted terms.
    let record =
        s.h.store
            .get(
                &s.h.table,
                &Key::new(format!("PROJECT#{project}"), "PROJECT"),
            )
            .await
            .unwrap()
            .unwrap();
    assert!(
        matches!(record.get("commercial_terms"), Some(handoff_ports::AttributeValue::S(t)) if t.contains("98000.00 USD"))
    );
    assert_eq!(drain(&s.events).await.len(), 1, "one event: the conversion");
}

async fn hubspot_win_is_fetched_and_converted(h: Harness) {
    let s = setup(h).await;
    let events = json!([
        {"objectId": 33108462948u64, "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM_UI",
         "eventId": 3816279341u64, "subscriptionId": 25, "portalId": 33, "appId": 1160452, "occurredAt": 1764158400000u64,
         "subscriptionType": "deal.propertyChange", "attemptNumber": 0}
    ])
    .to_string();
    let not_won = fixture("hubspot/hubspot_webhook_docs_example_batch.json");
    let ts = s.clock.now_epoch_ms().to_string();
    let uri = format!("{PUBLIC_BASE_URL}/webhooks/hubspot");
    for (body, expected) in [(not_won.as_str(), 204), (events.as_str(), 202)] {
        let signature =
            sign_hubspot_v3("POST", &uri, body.as_bytes(), &ts, &secret(HUBSPOT_SECRET));
        let headers = [
            ("x-hubspot-signature-v3", signature.as_str()),
            ("x-hubspot-request-timestamp", ts.as_str()),
        ];
        let (status, json) = status_and_json(
            &handle(&s.app, request("/webhooks/hubspot", "", &headers, body)).await,
        );
        assert_eq!(status, expected, "{json}");
    }
    let tampered = sign_hubspot_v3("POST", &uri, b"[]", &ts, &secret(HUBSPOT_SECRET));
    let headers = [
        ("x-hubspot-signature-v3", tampered.as_str()),
        ("x-hubspot-request-timestamp", ts.as_str()),
    ];
    let (status, _) =
        status_and_json(&handle(&s.app, request("/webhooks/hubspot", "", &headers, &events)).await);
    assert_eq!(status, 401);
    let converted = drain(&s.events).await;
    assert_eq!(converted.len(), 1);
    assert_eq!(
        converted[0].project_id,
        project_of("hubspot", "33108462948")
    );
}

async fn pipedrive_v1_win_with_basic_auth(h: Harness) {
    let s = setup(h).await;
    let body = fixture("pipedrive/pipedrive_webhook_v1_updated_deal_won.json");
    let good = format!(
        "Basic {}",
        base64_encode(&format!("handoff:{PIPEDRIVE_PASSWORD}"))
    );
    let bad = format!("Basic {}", base64_encode("handoff:guess"));
    let (status, _) = status_and_json(
        &handle(
            &s.app,
            request("/webhooks/pipedrive", "", &[("authorization", &bad)], &body),
        )
        .await,
    );
    assert_eq!(status, 401);
    let (status, json) = status_and_json(
        &handle(
            &s.app,
            request(
                "/webhooks/pipedrive",
                "",
                &[("authorization", &good)],
                &body,
            ),
        )
        .await,
    );
    assert_eq!(status, 202, "{json}");
    assert_eq!(
        json["results"][0]["project_id"],
        project_of("pipedrive", "49").to_string()
    );
    let not_won = fixture("pipedrive/pipedrive_webhook_v2_change_deal_docs_example.json");
    let (status, _) = status_and_json(
        &handle(
            &s.app,
            request(
                "/webhooks/pipedrive",
                "",
                &[("authorization", &good)],
                &not_won,
            ),
        )
        .await,
    );
    assert_eq!(status, 204);
    assert_eq!(drain(&s.events).await.len(), 1);
}

async fn salesforce_acknowledges_and_converts_only_wins(h: Harness) {
    let s = setup(h).await;
    let path = format!("/webhooks/salesforce/{SALESFORCE_TOKEN}");
    let fixture_body = fixture("salesforce/salesforce_outbound_message_opportunity_closed_won.xml");
    // The public fixture's opportunity has no IsWon field: acknowledged, not converted.
    let response = handle(
        &s.app,
        request(&path, "", &[("content-type", "text/xml")], &fixture_body),
    )
    .await;
    let (status, body) = status_and_json(&response);
    assert_eq!(status, 200);
    assert!(body.as_str().unwrap().contains("<Ack>true</Ack>"), "{body}");
    assert!(drain(&s.events).await.is_empty());
    let won = fixture_body.replace(
        "<sf:StageName>Closed Won</sf:StageName>",
        "<sf:StageName>Closed Won</sf:StageName>\n       <sf:IsWon>true</sf:IsWon>\n       <sf:AccountId>001w000001DvAjNAAV</sf:AccountId>\n       <sf:CurrencyIsoCode>USD</sf:CurrencyIsoCode>",
    );
    let (status, body) = status_and_json(&handle(&s.app, request(&path, "", &[], &won)).await);
    assert_eq!(status, 200, "{body}");
    let events = drain(&s.events).await;
    assert_eq!(events.len(), 1, "the won opportunity was converted");
    assert_eq!(
        events[0].project_id,
        project_of("salesforce", "006w000000f7O5ZAAU")
    );
    let (status, _) = status_and_json(
        &handle(
            &s.app,
            request("/webhooks/salesforce/wrong-token", "", &[], &won),
        )
        .await,
    );
    assert_eq!(status, 401);
    let other_org = won.replace(SALESFORCE_ORG, "00Dd0000000XXXXEAI");
    let (status, _) = status_and_json(&handle(&s.app, request(&path, "", &[], &other_org)).await);
    assert_eq!(status, 401);
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn near_duplicate_customers_are_flagged_not_merged(h: Harness) {
    let s = setup(h).await;
    let (status, first) =
        status_and_json(&handle(&s.app, signed_crm(&s, &seed("deals/globex-data.json"))).await);
    assert_eq!(status, 202, "{first}");
    // The same company arrives from another CRM as "Globex LLC": another canonical customer,
    // flagged with the first one's id for a data steward.
    let mut other: Value = serde_json::from_str(&seed("deals/globex-data.json")).unwrap();
    other["crm"] = json!({"system": "hubspot", "deal_id": "5550001"});
    other["customer"]["external_id"] = json!("company-123");
    other["customer"]["name"] = json!("GLOBEX LLC");
    other["customer"]["domain"] = json!("www.globex.example");
    let (status, second) =
        status_and_json(&handle(&s.app, signed_crm(&s, &other.to_string())).await);
    assert_eq!(status, 202, "{second}");
    let first_customer = first["results"][0]["customer_id"].as_str().unwrap();
    let second_customer = second["results"][0]["customer_id"].as_str().unwrap();
    assert_ne!(first_customer, second_customer, "never merged");
    let candidates = second["results"][0]["duplicate_candidates"]
        .as_array()
        .unwrap();
    assert_eq!(candidates.len(), 1, "{second}");
    assert_eq!(candidates[0]["customer_id"], first_customer);
    let flag = Key::new(
        format!("CUSTOMER#{second_customer}"),
        format!("DUPLICATE#{first_customer}"),
    );
    assert!(
        s.h.store.get(&s.h.table, &flag).await.unwrap().is_some(),
        "a steward can find the flag"
    );
    // A third deal of the first customer adds no flag and no duplicate candidates.
    let mut third: Value = serde_json::from_str(&seed("deals/globex-data.json")).unwrap();
    third["crm"]["deal_id"] = json!("1188");
    let (_, third) = status_and_json(&handle(&s.app, signed_crm(&s, &third.to_string())).await);
    assert!(
        third["results"][0].get("duplicate_candidates").is_none(),
        "{third}"
    );
}

/// A queue whose first `failures` sends fail: the crash between the transaction and the
/// event.
struct FlakyQueue {
    inner: Arc<dyn Queue>,
    failures: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Queue for FlakyQueue {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn is_fifo(&self) -> bool {
        self.inner.is_fifo()
    }
    async fn send(
        &self,
        messages: Vec<handoff_ports::OutgoingMessage>,
    ) -> Result<Vec<String>, handoff_ports::QueueError> {
        let left = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.failures
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err(handoff_ports::QueueError::Transient(
                "connection reset".into(),
            ));
        }
        self.inner.send(messages).await
    }
    async fn receive(
        &self,
        max: usize,
        wait_s: u32,
    ) -> Result<Vec<handoff_ports::ReceivedMessage>, handoff_ports::QueueError> {
        self.inner.receive(max, wait_s).await
    }
    async fn delete(&self, receipt: &str) -> Result<(), handoff_ports::QueueError> {
        self.inner.delete(receipt).await
    }
}

async fn a_crash_before_the_event_is_sent_is_healed_by_the_retry(h: Harness) {
    let mut s = setup(h).await;
    let flaky: Arc<dyn Queue> = Arc::new(FlakyQueue {
        inner: s.events.clone(),
        failures: 1.into(),
    });
    s.app.converter.events = flaky;
    let body = seed("deals/acme-website.json");
    let (status, json) = status_and_json(&handle(&s.app, signed_crm(&s, &body)).await);
    assert_eq!(status, 503, "the CRM is told to retry: {json}");
    assert_eq!(json["error"]["code"], "queue_unavailable");
    let project = project_of("hubspot", "33108462948");
    let stored =
        s.h.store
            .get(
                &s.h.table,
                &Key::new(format!("PROJECT#{project}"), "PROJECT"),
            )
            .await
            .unwrap();
    assert!(
        stored.is_some(),
        "the project was committed before the send failed"
    );
    assert!(
        drain(&s.events).await.is_empty(),
        "no event yet: it waits in the outbox"
    );
    // The CRM retries the same delivery: no second project, the pending event goes out.
    let (status, json) = status_and_json(&handle(&s.app, signed_crm(&s, &body)).await);
    assert_eq!(status, 202, "{json}");
    assert_eq!(json["results"][0]["status"], "already_converted");
    let events = drain(&s.events).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].project_id, project);
    // And once more: nothing new is sent.
    handle(&s.app, signed_crm(&s, &body)).await;
    assert!(drain(&s.events).await.is_empty());
}
