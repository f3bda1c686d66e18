//! The CRM HTTP clients (HubSpot CRM v3, Pipedrive API v2) against a scripted fake
//! HTTP/1.1 server on loopback, fed the real API payloads in `tests/fixtures/` (copied
//! byte for byte from the shared fixtures). Payloads built in this file are marked as
//! synthesised.
//!
//! The fake server binds `127.0.0.1:0`, records every request (method, path and query,
//! headers, body) and answers from a list of replies per route, one connection per
//! request (`Connection: close`). It is bounded: reads time out, a hanging reply gives
//! up after `HANG_MAX`, and the accept loop and its connections are aborted when the
//! server value is dropped at the end of the test.

use handoff_adapters_aws::crm::hubspot::{HUBSPOT_BATCH_READ_MAX, HUBSPOT_LINE_ITEM_PROPERTIES};
use handoff_adapters_aws::crm::pipedrive::PIPEDRIVE_PAGES_MAX;
use handoff_adapters_aws::crm::{
    HubSpotClient, PipedriveClient, RetryPolicy, CRM_REQUEST_ATTEMPTS_MAX,
};
use handoff_ports::{CrmAccount, CrmClient, CrmDeal, CrmError, CrmLineItem};
use serde_json::{json, Value};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

const HUBSPOT_DEAL: &str =
    include_str!("fixtures/hubspot/hubspot_crm_v3_deal_with_line_item_associations.json");
/// A bare JSON array of line items (not the batch-read envelope).
const HUBSPOT_LINE_ITEMS: &str =
    include_str!("fixtures/hubspot/hubspot_crm_v3_line_items_for_deal.json");
const PIPEDRIVE_DEAL: &str =
    include_str!("fixtures/pipedrive/pipedrive_api_v2_deal_get_response.json");
const PIPEDRIVE_DEAL_PRODUCTS: &str =
    include_str!("fixtures/pipedrive/pipedrive_api_v2_deal_products_response.json");
/// The OpenAPI example of one line item (`price` "6000.00", `quantity` "2").
const HUBSPOT_LINE_ITEM_EXAMPLE: &str =
    include_str!("fixtures/hubspot/hubspot_crm_v3_line_item_openapi_example.json");
/// A deal moved to `closedwon`: `hs_is_closed_won` "true", no amount, no associations.
const HUBSPOT_DEAL_CLOSED_WON: &str =
    include_str!("fixtures/hubspot/hubspot_crm_v3_deal_patch_closedwon_response.json");
/// API v1 deal products: rows embed their `product` (with `code`); discount 0.2 %.
const PIPEDRIVE_V1_DEAL_PRODUCTS: &str =
    include_str!("fixtures/pipedrive/pipedrive_api_v1_deal_products_response.json");

const HUBSPOT_TOKEN: &str = "pat-na1-test-token";
const HUBSPOT_DEAL_ID: &str = "33108462948";
const HUBSPOT_DEAL_PATH: &str = "/crm/v3/objects/deals/33108462948";
const HUBSPOT_BATCH_PATH: &str = "/crm/v3/objects/line_items/batch/read";
const HUBSPOT_LINE_ITEM_ID: &str = "28902434115";
const HUBSPOT_CONTACT_ID: &str = "97132179531";
const PIPEDRIVE_TOKEN: &str = "pipedrive-test-token";

/// Longest wait for a request's head and body from the client.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a `Reply::Hang` keeps the connection open without answering.
const HANG_MAX: Duration = Duration::from_secs(30);
const HEADER_LINES_MAX: usize = 100;
const BODY_BYTES_MAX: usize = 1 << 20;

// ---------------------------------------------------------------------------------------
// The fake server
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Request {
    method: String,
    /// Path and query, as sent on the request line.
    target: String,
    /// Names lower-cased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    fn query_param(&self, name: &str) -> Option<&str> {
        self.query()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find_map(|(k, v)| (k == name).then_some(v))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find_map(|(k, v)| k.eq_ignore_ascii_case(name).then_some(v.as_str()))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

#[derive(Debug, Clone)]
enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Reads the request, then never answers (until `HANG_MAX`).
    Hang,
}

impl Reply {
    fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::Respond {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn ok(body: impl Into<String>) -> Reply {
        Reply::json(200, body)
    }

    fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}

/// Requests whose path equals `path` (and whose query contains `query_contains`, if set)
/// get `replies` in order; once they run out, the last one repeats.
#[derive(Debug, Clone)]
struct Route {
    path: String,
    query_contains: Option<String>,
    replies: Vec<Reply>,
    served: usize,
}

impl Route {
    fn new(path: &str, replies: Vec<Reply>) -> Route {
        assert!(!replies.is_empty(), "a route needs at least one reply");
        Route {
            path: path.to_owned(),
            query_contains: None,
            replies,
            served: 0,
        }
    }

    fn query_contains(mut self, needle: &str) -> Route {
        self.query_contains = Some(needle.to_owned());
        self
    }

    fn matches(&self, request: &Request) -> bool {
        request.path() == self.path
            && self
                .query_contains
                .as_deref()
                .is_none_or(|needle| request.query().contains(needle))
    }
}

struct FakeServer {
    base_url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    accept_loop: JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts every connection.
        self.accept_loop.abort();
    }
}

impl FakeServer {
    /// Routes are tried in order: put the more specific ones first.
    async fn start(routes: Vec<Route>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let routes = Arc::new(Mutex::new(routes));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let accept_loop = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { break };
                        connections.spawn(serve(stream, Arc::clone(&routes), Arc::clone(&recorded)));
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        FakeServer {
            base_url: format!("http://{addr}"),
            requests,
            accept_loop,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests lock").clone()
    }

    fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }
}

async fn serve(
    stream: TcpStream,
    routes: Arc<Mutex<Vec<Route>>>,
    requests: Arc<Mutex<Vec<Request>>>,
) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let Ok(Ok(request)) = tokio::time::timeout(READ_TIMEOUT, read_request(&mut reader)).await
    else {
        return;
    };
    let reply = {
        let mut routes = routes.lock().expect("routes lock");
        match routes.iter_mut().find(|r| r.matches(&request)) {
            Some(route) => {
                let reply = route.replies[route.served.min(route.replies.len() - 1)].clone();
                route.served += 1;
                reply
            }
            None => Reply::json(
                404,
                format!(
                    r#"{{"message":"fake server: no route for {}"}}"#,
                    request.target
                ),
            ),
        }
    };
    // Recorded before answering, so a finished client call has all its requests counted.
    requests.lock().expect("requests lock").push(request);
    match reply {
        Reply::Hang => tokio::time::sleep(HANG_MAX).await,
        Reply::Respond {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                reason(status),
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(body.as_bytes()).await;
            let _ = write.shutdown().await;
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().ok_or_else(|| invalid("no method"))?.to_owned();
    let target = parts.next().ok_or_else(|| invalid("no target"))?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid("bad header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        if headers.len() > HEADER_LINES_MAX {
            return Err(invalid("too many headers"));
        }
    }
    if headers.iter().any(|(k, _)| k == "transfer-encoding") {
        return Err(invalid(
            "chunked bodies are not supported by the fake server",
        ));
    }
    let length = match headers.iter().find(|(k, _)| k == "content-length") {
        Some((_, v)) => v.parse().map_err(|_| invalid("bad content-length"))?,
        None => 0,
    };
    if length > BODY_BYTES_MAX {
        return Err(invalid("body too large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Request {
        method,
        target,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        207 => "Multi-Status",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

// ---------------------------------------------------------------------------------------
// HubSpot
// ---------------------------------------------------------------------------------------

fn hubspot(server: &FakeServer) -> HubSpotClient {
    HubSpotClient::new(
        &server.base_url,
        HUBSPOT_TOKEN,
        RetryPolicy::fast_for_tests(),
        "hs_sku",
    )
}

/// Synthesised: the batch-read envelope `{"results": [...]}` around the real line items,
/// each given an `hs_sku` property (the fixture has none).
fn hubspot_line_items_batch() -> String {
    let mut items: Value = serde_json::from_str(HUBSPOT_LINE_ITEMS).expect("fixture JSON");
    for item in items.as_array_mut().expect("fixture is an array") {
        item["properties"]["hs_sku"] = json!("DEV-SPRINT");
    }
    json!({ "results": items }).to_string()
}

/// The expected mapping of the real deal fixture (without a company: the contact is the
/// account) and its line item.
fn hubspot_expected_deal(account: CrmAccount) -> CrmDeal {
    CrmDeal {
        system: "hubspot".into(),
        deal_id: HUBSPOT_DEAL_ID.into(),
        name: Some("Deal".into()),
        amount: Some("1231".into()),
        currency: None,
        created_at: Some("2025-02-05T16:35:33.362Z".into()),
        closed_at: Some("2025-02-28T16:35:02.296Z".into()),
        owner_id: Some("69864216".into()),
        pipeline: Some("default".into()),
        stage: Some("contractsent".into()),
        is_won: None,
        account: Some(account),
        line_items: vec![CrmLineItem {
            id: HUBSPOT_LINE_ITEM_ID.into(),
            name: Some("kjsdb".into()),
            sku: Some("DEV-SPRINT".into()),
            quantity: Some("1".into()),
            unit_price: Some("1231".into()),
            discount_percent: None,
            discount_amount: None,
        }],
    }
}

#[tokio::test]
async fn hubspot_fetches_the_real_deal_with_its_line_items_and_contact_as_account() {
    let server = FakeServer::start(vec![
        Route::new(HUBSPOT_DEAL_PATH, vec![Reply::ok(HUBSPOT_DEAL)]),
        Route::new(
            HUBSPOT_BATCH_PATH,
            vec![Reply::ok(hubspot_line_items_batch())],
        ),
    ])
    .await;
    // A trailing slash on the configured base URL must not double the path's slash.
    let client = HubSpotClient::new(
        format!("{}/", server.base_url),
        HUBSPOT_TOKEN,
        RetryPolicy::fast_for_tests(),
        "hs_sku",
    );

    let deal = client.fetch_deal(HUBSPOT_DEAL_ID).await.expect("deal");

    // Field by field.
    let expected = hubspot_expected_deal(CrmAccount {
        id: HUBSPOT_CONTACT_ID.into(),
        name: None,
        domain: None,
    });
    assert_eq!(deal.system, "hubspot");
    assert_eq!(deal.deal_id, HUBSPOT_DEAL_ID);
    assert_eq!(deal.name.as_deref(), Some("Deal"));
    assert_eq!(deal.amount.as_deref(), Some("1231"));
    assert_eq!(deal.currency, None);
    assert_eq!(deal.created_at.as_deref(), Some("2025-02-05T16:35:33.362Z"));
    assert_eq!(deal.closed_at.as_deref(), Some("2025-02-28T16:35:02.296Z"));
    assert_eq!(deal.stage.as_deref(), Some("contractsent"));
    assert_eq!(deal.pipeline.as_deref(), Some("default"));
    assert_eq!(deal.owner_id.as_deref(), Some("69864216"));
    assert_eq!(deal.is_won, None);
    assert_eq!(
        deal.account, expected.account,
        "no company: the contact is the account"
    );
    assert_eq!(deal.line_items.len(), 1);
    let item = &deal.line_items[0];
    assert_eq!(item.id, HUBSPOT_LINE_ITEM_ID);
    assert_eq!(item.name.as_deref(), Some("kjsdb"));
    assert_eq!(item.quantity.as_deref(), Some("1"));
    assert_eq!(item.unit_price.as_deref(), Some("1231"));
    assert_eq!(item.sku.as_deref(), Some("DEV-SPRINT"));
    assert_eq!(item.discount_percent, None);
    assert_eq!(item.discount_amount, None);
    assert_eq!(deal, expected);

    let requests = server.requests();
    assert_eq!(
        requests.len(),
        2,
        "deal + one batch read, no company: {requests:?}"
    );
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {HUBSPOT_TOKEN}").as_str()),
            "{} {}",
            request.method,
            request.target
        );
        assert!(
            !request.target.contains(HUBSPOT_TOKEN),
            "token leaked into the URL"
        );
    }

    let get = &requests[0];
    assert_eq!(get.method, "GET");
    assert_eq!(get.path(), HUBSPOT_DEAL_PATH);
    // Exactly the documented request (contacts added for deals without a company).
    assert_eq!(
        get.target,
        "/crm/v3/objects/deals/33108462948?properties=dealname,amount,deal_currency_code,dealstage,pipeline,hs_is_closed_won,closedate,createdate,hubspot_owner_id&associations=line_items,companies,contacts"
    );
    assert!(
        get.query().contains("associations=line_items"),
        "{}",
        get.target
    );
    let associations: Vec<&str> = get
        .query_param("associations")
        .expect("associations")
        .split(',')
        .collect();
    for wanted in ["line_items", "companies", "contacts"] {
        assert!(
            associations.contains(&wanted),
            "{wanted} in {associations:?}"
        );
    }
    let properties: Vec<&str> = get
        .query_param("properties")
        .expect("properties")
        .split(',')
        .collect();
    for wanted in [
        "dealname",
        "amount",
        "deal_currency_code",
        "dealstage",
        "pipeline",
        "hs_is_closed_won",
        "closedate",
        "createdate",
        "hubspot_owner_id",
    ] {
        assert!(properties.contains(&wanted), "{wanted} in {properties:?}");
    }

    let batch = &requests[1];
    assert_eq!(batch.method, "POST");
    assert_eq!(batch.path(), HUBSPOT_BATCH_PATH);
    assert!(batch
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/json")));
    let body = batch.json();
    assert_eq!(body["inputs"], json!([{ "id": HUBSPOT_LINE_ITEM_ID }]));
    let properties: Vec<&str> = body["properties"]
        .as_array()
        .expect("properties array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        properties, HUBSPOT_LINE_ITEM_PROPERTIES,
        "the documented properties, hs_sku once"
    );
}

#[tokio::test]
async fn hubspot_uses_the_associated_company_as_account() {
    // Synthesised: the real deal plus a company association.
    let mut deal: Value = serde_json::from_str(HUBSPOT_DEAL).expect("fixture JSON");
    deal["associations"]["companies"] =
        json!({ "results": [{ "id": "901", "type": "deal_to_company" }] });
    let server = FakeServer::start(vec![
        Route::new(HUBSPOT_DEAL_PATH, vec![Reply::ok(deal.to_string())]),
        Route::new(
            "/crm/v3/objects/companies/901",
            // Synthesised company.
            vec![Reply::ok(
                r#"{"id":"901","properties":{"name":"Acme","domain":"acme.example"}}"#,
            )],
        )
        .query_contains("properties=name,domain"),
        Route::new(
            HUBSPOT_BATCH_PATH,
            vec![Reply::ok(hubspot_line_items_batch())],
        ),
    ])
    .await;

    let deal = hubspot(&server)
        .fetch_deal(HUBSPOT_DEAL_ID)
        .await
        .expect("deal");

    let account = CrmAccount {
        id: "901".into(),
        name: Some("Acme".into()),
        domain: Some("acme.example".into()),
    };
    assert_eq!(deal, hubspot_expected_deal(account));
    let company = server.requests_to("/crm/v3/objects/companies/901");
    assert_eq!(company.len(), 1);
    assert_eq!(company[0].method, "GET");
    assert_eq!(company[0].query(), "properties=name,domain");
    assert_eq!(
        company[0].header("authorization"),
        Some(format!("Bearer {HUBSPOT_TOKEN}").as_str())
    );
}

/// Synthesised HubSpot error body (the shape of its rate-limit answer).
const HUBSPOT_RATE_LIMIT_BODY: &str = r#"{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","category":"RATE_LIMITS"}"#;
const HUBSPOT_ERROR_BODY: &str =
    r#"{"status":"error","message":"synthesised error","category":"SOME_CATEGORY"}"#;

/// Fetches the real deal with `deal_replies` scripted on the deal path; returns the
/// outcome and how many requests reached the deal path.
async fn hubspot_deal_with(deal_replies: Vec<Reply>) -> (Result<CrmDeal, CrmError>, usize) {
    let server = FakeServer::start(vec![
        Route::new(HUBSPOT_DEAL_PATH, deal_replies),
        Route::new(
            HUBSPOT_BATCH_PATH,
            vec![Reply::ok(hubspot_line_items_batch())],
        ),
    ])
    .await;
    let result = hubspot(&server).fetch_deal(HUBSPOT_DEAL_ID).await;
    (result, server.requests_to(HUBSPOT_DEAL_PATH).len())
}

#[tokio::test]
async fn hubspot_retries_a_429_with_retry_after_then_succeeds() {
    let (result, attempts) = hubspot_deal_with(vec![
        Reply::json(429, HUBSPOT_RATE_LIMIT_BODY).with_header("Retry-After", "0"),
        Reply::ok(HUBSPOT_DEAL),
    ])
    .await;
    let deal = result.expect("deal after one retry");
    assert_eq!(deal.deal_id, HUBSPOT_DEAL_ID);
    assert_eq!(deal.line_items.len(), 1);
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn hubspot_retries_a_503_then_succeeds() {
    let (result, attempts) = hubspot_deal_with(vec![
        Reply::json(503, HUBSPOT_ERROR_BODY),
        Reply::ok(HUBSPOT_DEAL),
    ])
    .await;
    assert_eq!(
        result.expect("deal after one retry").deal_id,
        HUBSPOT_DEAL_ID
    );
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn hubspot_gives_up_as_transient_after_the_attempt_budget() {
    assert_eq!(
        RetryPolicy::fast_for_tests().attempts_max,
        CRM_REQUEST_ATTEMPTS_MAX
    );
    let (result, attempts) = hubspot_deal_with(vec![Reply::json(500, HUBSPOT_ERROR_BODY)]).await;
    match result {
        Err(CrmError::Transient(message)) => {
            assert!(message.contains("500"), "{message}");
            assert!(CrmError::Transient(message).is_retryable());
        }
        other => panic!("expected Transient, got {other:?}"),
    }
    assert_eq!(attempts, CRM_REQUEST_ATTEMPTS_MAX as usize);
}

#[tokio::test]
async fn hubspot_404_is_not_found_without_retry() {
    let (result, attempts) = hubspot_deal_with(vec![Reply::json(404, HUBSPOT_ERROR_BODY)]).await;
    assert!(matches!(result, Err(CrmError::NotFound(_))), "{result:?}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn hubspot_401_and_403_are_unauthorized_without_retry() {
    for status in [401, 403] {
        let (result, attempts) =
            hubspot_deal_with(vec![Reply::json(status, HUBSPOT_ERROR_BODY)]).await;
        assert_eq!(result, Err(CrmError::Unauthorized), "HTTP {status}");
        assert_eq!(attempts, 1, "HTTP {status}");
    }
}

#[tokio::test]
async fn hubspot_400_is_invalid_without_retry() {
    let (result, attempts) = hubspot_deal_with(vec![Reply::json(400, HUBSPOT_ERROR_BODY)]).await;
    match &result {
        Err(CrmError::Invalid(message)) => assert!(message.contains("400"), "{message}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(!result.unwrap_err().is_retryable());
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    let server = FakeServer::start(vec![Route::new(HUBSPOT_DEAL_PATH, vec![Reply::Hang])]).await;
    let policy = RetryPolicy {
        timeout_ms: 200,
        attempts_max: 2,
        ..RetryPolicy::fast_for_tests()
    };
    let client = HubSpotClient::new(&server.base_url, HUBSPOT_TOKEN, policy, "hs_sku");

    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), client.fetch_deal(HUBSPOT_DEAL_ID))
        .await
        .expect("the client's own timeout fires well before 10 s");
    let elapsed = started.elapsed();

    match result {
        Err(CrmError::Transient(message)) => assert!(message.contains("timed out"), "{message}"),
        other => panic!("expected Transient, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(server.requests_to(HUBSPOT_DEAL_PATH).len(), 2);
}

// ---------------------------------------------------------------------------------------
// Pipedrive
// ---------------------------------------------------------------------------------------

const PIPEDRIVE_PRODUCTS_PATH: &str = "/api/v2/deals/1/products";

#[tokio::test]
async fn pipedrive_fetches_the_deal_follows_product_pages_and_caches_product_codes() {
    let first_page: Value = serde_json::from_str(PIPEDRIVE_DEAL_PRODUCTS).expect("fixture JSON");
    let cursor = first_page["additional_data"]["next_cursor"]
        .as_str()
        .expect("the fixture has a next_cursor")
        .to_owned();
    // Synthesised second (last) page: one more row of the same product (id 1), with an
    // absolute discount.
    let mut second_row = first_page["data"][0].clone();
    second_row["id"] = json!(4);
    second_row["name"] = json!("Mechanical Pencil (spare)");
    second_row["quantity"] = json!(2);
    second_row["item_price"] = json!(45);
    second_row["discount"] = json!(5);
    second_row["discount_type"] = json!("amount");
    second_row["sum"] = json!(85);
    let second_page = json!({
        "success": true,
        "data": [second_row],
        "additional_data": { "next_cursor": null },
    });

    let server = FakeServer::start(vec![
        Route::new(
            PIPEDRIVE_PRODUCTS_PATH,
            vec![Reply::ok(second_page.to_string())],
        )
        .query_contains(&format!("cursor={cursor}")),
        Route::new(
            PIPEDRIVE_PRODUCTS_PATH,
            vec![Reply::ok(PIPEDRIVE_DEAL_PRODUCTS)],
        ),
        Route::new("/api/v2/deals/1", vec![Reply::ok(PIPEDRIVE_DEAL)]),
        // Synthesised product and organisation.
        Route::new(
            "/api/v2/products/1",
            vec![Reply::ok(
                r#"{"success":true,"data":{"id":1,"code":"DEV-SPRINT"}}"#,
            )],
        ),
        Route::new(
            "/api/v2/organizations/1",
            vec![Reply::ok(
                r#"{"success":true,"data":{"id":1,"name":"Org"}}"#,
            )],
        ),
    ])
    .await;
    let client = PipedriveClient::new(
        &server.base_url,
        PIPEDRIVE_TOKEN,
        RetryPolicy::fast_for_tests(),
    );

    let deal = client.fetch_deal("1").await.expect("deal");

    assert_eq!(deal.system, "pipedrive");
    assert_eq!(deal.deal_id, "1");
    assert_eq!(deal.name.as_deref(), Some("Deal Title"));
    assert_eq!(deal.amount.as_deref(), Some("200"));
    assert_eq!(deal.currency.as_deref(), Some("USD"));
    assert_eq!(deal.created_at.as_deref(), Some("2021-01-01T00:00:00Z"));
    assert_eq!(deal.closed_at.as_deref(), Some("2021-01-01T00:00:00Z"));
    assert_eq!(deal.owner_id.as_deref(), Some("1"));
    assert_eq!(deal.pipeline.as_deref(), Some("1"));
    assert_eq!(deal.stage.as_deref(), Some("1"));
    assert_eq!(deal.is_won, Some(false), "status open");
    assert_eq!(
        deal.account,
        Some(CrmAccount {
            id: "1".into(),
            name: Some("Org".into()),
            domain: None,
        })
    );
    assert_eq!(
        deal.line_items,
        vec![
            CrmLineItem {
                id: "3".into(),
                name: Some("Mechanical Pencil".into()),
                sku: Some("DEV-SPRINT".into()),
                quantity: Some("1".into()),
                unit_price: Some("90".into()),
                discount_percent: Some("0".into()),
                discount_amount: None,
            },
            CrmLineItem {
                id: "4".into(),
                name: Some("Mechanical Pencil (spare)".into()),
                sku: Some("DEV-SPRINT".into()),
                quantity: Some("2".into()),
                unit_price: Some("45".into()),
                discount_percent: None,
                discount_amount: Some("5".into()),
            },
        ]
    );

    let requests = server.requests();
    for request in &requests {
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.header("x-api-token"),
            Some(PIPEDRIVE_TOKEN),
            "{}",
            request.target
        );
        assert!(
            !request.target.contains(PIPEDRIVE_TOKEN),
            "token leaked into the URL"
        );
    }
    let pages = server.requests_to(PIPEDRIVE_PRODUCTS_PATH);
    assert_eq!(pages.len(), 2, "both product pages followed");
    assert_eq!(pages[0].query_param("limit"), Some("100"));
    assert_eq!(pages[0].query_param("cursor"), None);
    assert_eq!(pages[1].query_param("limit"), Some("100"));
    assert_eq!(pages[1].query_param("cursor"), Some(cursor.as_str()));
    assert_eq!(
        server.requests_to("/api/v2/products/1").len(),
        1,
        "a product used on two rows is looked up once"
    );
    assert_eq!(server.requests_to("/api/v2/organizations/1").len(), 1);
    assert_eq!(server.requests_to("/api/v2/deals/1").len(), 1);
    assert_eq!(requests.len(), 5, "{requests:?}");
}

// ---------------------------------------------------------------------------------------
// HubSpot: more shapes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn hubspot_closed_won_deal_without_associations_reads_nothing_more() {
    const DEAL_ID: &str = "10123889765";
    let path = format!("/crm/v3/objects/deals/{DEAL_ID}");
    let server = FakeServer::start(vec![Route::new(
        &path,
        vec![Reply::ok(HUBSPOT_DEAL_CLOSED_WON)],
    )])
    .await;

    let deal = hubspot(&server).fetch_deal(DEAL_ID).await.expect("deal");

    assert_eq!(
        deal,
        CrmDeal {
            system: "hubspot".into(),
            deal_id: DEAL_ID.into(),
            name: Some("Adidas Deal".into()),
            amount: None,
            currency: None,
            created_at: Some("2022-09-09T06:45:26.228Z".into()),
            closed_at: None,
            owner_id: None,
            pipeline: Some("default".into()),
            stage: Some("closedwon".into()),
            is_won: Some(true),
            account: None,
            line_items: Vec::new(),
        }
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "no batch read, no company: {requests:?}");
}

/// The OpenAPI line-item example with synthesised extras: a custom SKU property, a unit
/// discount, and a new id.
fn hubspot_example_line_item(id: &str, sku: &str, unit_discount: Option<&str>) -> Value {
    let mut item: Value = serde_json::from_str(HUBSPOT_LINE_ITEM_EXAMPLE).expect("fixture JSON");
    item["id"] = json!(id);
    item["properties"]["catalog_sku"] = json!(sku);
    if let Some(discount) = unit_discount {
        item["properties"]["discount"] = json!(discount);
    }
    item
}

#[tokio::test]
async fn hubspot_reads_a_custom_sku_property_keeps_association_order_and_multiplies_unit_discounts()
{
    // Synthesised: the real deal with two line items, one listed twice (HubSpot lists an
    // object once per association type), a primary and an unlabeled company.
    let mut deal: Value = serde_json::from_str(HUBSPOT_DEAL).expect("fixture JSON");
    deal["associations"]["line items"]["results"] = json!([
        { "id": "512", "type": "deal_to_line_item" },
        { "id": "513", "type": "deal_to_line_item" },
        { "id": "512", "type": "deal_to_line_item_unlabeled" },
    ]);
    deal["associations"]["companies"] = json!({ "results": [
        { "id": "77", "type": "deal_to_company_unlabeled" },
        { "id": "78", "type": "deal_to_company" },
        { "id": "78", "type": "deal_to_company_unlabeled" },
    ]});
    // Answered in the other order, with a 207 as HubSpot's batch endpoints may.
    let batch = json!({
        "status": "COMPLETE",
        "results": [
            hubspot_example_line_item("513", "QA-DAY", Some("250.50")),
            hubspot_example_line_item("512", " DEV-SPRINT ", None),
        ],
    });
    let server = FakeServer::start(vec![
        Route::new(HUBSPOT_DEAL_PATH, vec![Reply::ok(deal.to_string())]),
        Route::new(
            HUBSPOT_BATCH_PATH,
            vec![Reply::json(207, batch.to_string())],
        ),
        // Synthesised company.
        Route::new(
            "/crm/v3/objects/companies/78",
            vec![Reply::ok(
                r#"{"id":"78","properties":{"name":"Primary Co","domain":"primary.example"}}"#,
            )],
        ),
    ])
    .await;
    let client = HubSpotClient::new(
        server.base_url.clone(),
        // A newline from a secret store is not part of the token.
        format!("{HUBSPOT_TOKEN}\n"),
        RetryPolicy::fast_for_tests(),
        String::from("catalog_sku"),
    );

    let deal = client.fetch_deal(HUBSPOT_DEAL_ID).await.expect("deal");

    assert_eq!(
        deal.account,
        Some(CrmAccount {
            id: "78".into(),
            name: Some("Primary Co".into()),
            domain: Some("primary.example".into()),
        }),
        "the primary company"
    );
    assert_eq!(
        deal.line_items,
        vec![
            CrmLineItem {
                id: "512".into(),
                name: Some("1 year implementation consultation".into()),
                sku: Some("DEV-SPRINT".into()),
                quantity: Some("2".into()),
                unit_price: Some("6000.00".into()),
                discount_percent: None,
                discount_amount: None,
            },
            CrmLineItem {
                id: "513".into(),
                name: Some("1 year implementation consultation".into()),
                sku: Some("QA-DAY".into()),
                quantity: Some("2".into()),
                unit_price: Some("6000.00".into()),
                discount_percent: None,
                // 250.50 per unit × 2.
                discount_amount: Some("501.00".into()),
            },
        ]
    );
    let batches = server.requests_to(HUBSPOT_BATCH_PATH);
    assert_eq!(batches.len(), 1);
    let body = batches[0].json();
    assert_eq!(body["inputs"], json!([{ "id": "512" }, { "id": "513" }]));
    let mut expected: Vec<&str> = HUBSPOT_LINE_ITEM_PROPERTIES.to_vec();
    expected.push("catalog_sku");
    assert_eq!(body["properties"], json!(expected));
    for request in server.requests() {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {HUBSPOT_TOKEN}").as_str())
        );
    }
    assert!(server
        .requests_to("/crm/v3/objects/companies/77")
        .is_empty());
}

#[tokio::test]
async fn hubspot_reads_more_than_100_line_items_in_chunks() {
    let ids: Vec<String> = (0..150).map(|i| (9_000 + i).to_string()).collect();
    // Synthesised: the real deal with 150 line items, and the two batch answers.
    let mut deal: Value = serde_json::from_str(HUBSPOT_DEAL).expect("fixture JSON");
    deal["associations"]["line items"]["results"] = ids
        .iter()
        .map(|id| json!({ "id": id, "type": "deal_to_line_item" }))
        .collect();
    let answer = |chunk: &[String]| {
        json!({ "results": chunk
            .iter()
            .map(|id| hubspot_example_line_item(id, "DEV-SPRINT", None))
            .collect::<Vec<_>>() })
        .to_string()
    };
    let server = FakeServer::start(vec![
        Route::new(HUBSPOT_DEAL_PATH, vec![Reply::ok(deal.to_string())]),
        Route::new(
            HUBSPOT_BATCH_PATH,
            vec![
                Reply::ok(answer(&ids[..100])),
                Reply::ok(answer(&ids[100..])),
            ],
        ),
    ])
    .await;

    let deal = hubspot(&server)
        .fetch_deal(HUBSPOT_DEAL_ID)
        .await
        .expect("deal");

    let got: Vec<&str> = deal.line_items.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let batches = server.requests_to(HUBSPOT_BATCH_PATH);
    let sizes: Vec<usize> = batches
        .iter()
        .map(|b| b.json()["inputs"].as_array().expect("inputs").len())
        .collect();
    assert_eq!(sizes, vec![HUBSPOT_BATCH_READ_MAX, 50]);
}

#[tokio::test]
async fn hubspot_follows_paged_line_item_associations() {
    // Synthesised: the first association page says there is more.
    let mut deal: Value = serde_json::from_str(HUBSPOT_DEAL).expect("fixture JSON");
    deal["associations"]["line items"]["paging"] =
        json!({ "next": { "after": "MTAw+/=", "link": "ignored" } });
    let rest = json!({
        "results": [{ "id": "28902434116", "type": "deal_to_line_item" }],
        "paging": null,
    });
    let batch = json!({ "results": [
        hubspot_example_line_item(HUBSPOT_LINE_ITEM_ID, "DEV-SPRINT", None),
        hubspot_example_line_item("28902434116", "QA-DAY", None),
    ]});
    let associations_path = format!("{HUBSPOT_DEAL_PATH}/associations/line_items");
    let server = FakeServer::start(vec![
        Route::new(&associations_path, vec![Reply::ok(rest.to_string())]),
        Route::new(HUBSPOT_DEAL_PATH, vec![Reply::ok(deal.to_string())]),
        Route::new(HUBSPOT_BATCH_PATH, vec![Reply::ok(batch.to_string())]),
    ])
    .await;

    let deal = hubspot(&server)
        .fetch_deal(HUBSPOT_DEAL_ID)
        .await
        .expect("deal");

    assert_eq!(deal.line_items.len(), 2);
    assert_eq!(
        deal.line_items[1].sku.as_deref(),
        None,
        "hs_sku is read, not catalog_sku"
    );
    let pages = server.requests_to(&associations_path);
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].query(), "limit=500&after=MTAw%2B%2F%3D");
    assert_eq!(
        server.requests_to(HUBSPOT_BATCH_PATH)[0].json()["inputs"],
        json!([{ "id": HUBSPOT_LINE_ITEM_ID }, { "id": "28902434116" }])
    );
}

#[tokio::test]
async fn hubspot_line_items_missing_from_the_batch_are_transient() {
    let server = FakeServer::start(vec![
        Route::new(HUBSPOT_DEAL_PATH, vec![Reply::ok(HUBSPOT_DEAL)]),
        // Synthesised 207 with the id in `errors`.
        Route::new(
            HUBSPOT_BATCH_PATH,
            vec![Reply::json(
                207,
                r#"{"status":"COMPLETE","results":[],"numErrors":1,"errors":[{"status":"error","category":"OBJECT_NOT_FOUND","message":"Could not get some LINE_ITEM objects, they may be deleted or not exist."}]}"#,
            )],
        ),
    ])
    .await;

    let result = hubspot(&server).fetch_deal(HUBSPOT_DEAL_ID).await;

    match result {
        Err(CrmError::Transient(message)) => {
            assert!(message.contains(HUBSPOT_LINE_ITEM_ID), "{message}")
        }
        other => panic!("expected Transient, got {other:?}"),
    }
}

#[tokio::test]
async fn hubspot_honours_retry_after_capped_at_the_backoff_maximum() {
    let server = FakeServer::start(vec![
        Route::new(
            HUBSPOT_DEAL_PATH,
            vec![
                Reply::json(429, HUBSPOT_RATE_LIMIT_BODY).with_header("Retry-After", "3600"),
                Reply::ok(HUBSPOT_DEAL),
            ],
        ),
        Route::new(
            HUBSPOT_BATCH_PATH,
            vec![Reply::ok(hubspot_line_items_batch())],
        ),
    ])
    .await;
    let policy = RetryPolicy {
        backoff_base_ms: 1,
        backoff_max_ms: 300,
        ..RetryPolicy::fast_for_tests()
    };
    let client = HubSpotClient::new(&server.base_url, HUBSPOT_TOKEN, policy, "hs_sku");

    let started = Instant::now();
    let deal = client.fetch_deal(HUBSPOT_DEAL_ID).await.expect("deal");
    let elapsed = started.elapsed();

    assert_eq!(deal.deal_id, HUBSPOT_DEAL_ID);
    // Without Retry-After the pause would be at most 1 ms; with it, the 300 ms cap.
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert_eq!(server.requests_to(HUBSPOT_DEAL_PATH).len(), 2);
}

#[tokio::test]
async fn hubspot_429_every_time_is_transient_after_the_attempt_budget() {
    let (result, attempts) = hubspot_deal_with(vec![
        Reply::json(429, HUBSPOT_RATE_LIMIT_BODY).with_header("Retry-After", "1")
    ])
    .await;
    assert!(
        matches!(result, Err(CrmError::Transient(ref m)) if m.contains("429")),
        "{result:?}"
    );
    assert_eq!(attempts, CRM_REQUEST_ATTEMPTS_MAX as usize);
}

#[tokio::test]
async fn redirects_are_not_followed_so_the_token_stays_home() {
    let elsewhere = FakeServer::start(vec![Route::new(
        HUBSPOT_DEAL_PATH,
        vec![Reply::ok(HUBSPOT_DEAL)],
    )])
    .await;
    let location = format!("{}{HUBSPOT_DEAL_PATH}", elsewhere.base_url);
    let (result, attempts) = hubspot_deal_with(vec![
        Reply::json(302, "{}").with_header("Location", &location)
    ])
    .await;
    assert!(
        matches!(result, Err(CrmError::Invalid(ref m)) if m.contains("302")),
        "{result:?}"
    );
    assert_eq!(attempts, 1);
    assert!(elsewhere.requests().is_empty());
}

#[tokio::test]
async fn a_deal_id_that_is_not_an_id_is_not_found_without_a_request() {
    let server = FakeServer::start(vec![]).await;
    for bad in ["", "..", "1/../../companies/2", "1?archived=true"] {
        let result = hubspot(&server).fetch_deal(bad).await;
        assert_eq!(result, Err(CrmError::NotFound(bad.to_owned())), "{bad:?}");
        let result = pipedrive(&server).fetch_deal(bad).await;
        assert_eq!(result, Err(CrmError::NotFound(bad.to_owned())), "{bad:?}");
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_success_that_is_not_json_is_invalid_without_retry() {
    let (result, attempts) = hubspot_deal_with(vec![Reply::ok("<html>maintenance</html>")]).await;
    assert!(matches!(result, Err(CrmError::Invalid(_))), "{result:?}");
    assert_eq!(attempts, 1);
}

// ---------------------------------------------------------------------------------------
// Pipedrive: more shapes and failures
// ---------------------------------------------------------------------------------------

const PIPEDRIVE_DEAL_PATH: &str = "/api/v2/deals/1";

fn pipedrive(server: &FakeServer) -> PipedriveClient {
    PipedriveClient::new(
        &server.base_url,
        PIPEDRIVE_TOKEN,
        RetryPolicy::fast_for_tests(),
    )
}

/// Fetches deal 1 with `deal_replies` on the deal path and the real products page (no
/// further pages: synthesised `next_cursor: null`), product and organisation; returns the
/// outcome and the server.
async fn pipedrive_deal_with(deal_replies: Vec<Reply>) -> (Result<CrmDeal, CrmError>, FakeServer) {
    let mut page: Value = serde_json::from_str(PIPEDRIVE_DEAL_PRODUCTS).expect("fixture JSON");
    page["additional_data"]["next_cursor"] = Value::Null;
    let server = FakeServer::start(vec![
        Route::new(PIPEDRIVE_PRODUCTS_PATH, vec![Reply::ok(page.to_string())]),
        Route::new(PIPEDRIVE_DEAL_PATH, deal_replies),
        Route::new(
            "/api/v2/products/1",
            vec![Reply::ok(
                r#"{"success":true,"data":{"id":1,"code":"DEV-SPRINT"}}"#,
            )],
        ),
        Route::new(
            "/api/v2/organizations/1",
            vec![Reply::ok(
                r#"{"success":true,"data":{"id":1,"name":"Org"}}"#,
            )],
        ),
    ])
    .await;
    let result = pipedrive(&server).fetch_deal("1").await;
    (result, server)
}

/// A synthesised Pipedrive error body.
const PIPEDRIVE_ERROR_BODY: &str = r#"{"success":false,"error":"synthesised error"}"#;

#[tokio::test]
async fn pipedrive_404_is_not_found_and_401_unauthorized_without_retry() {
    let (result, server) = pipedrive_deal_with(vec![Reply::json(404, PIPEDRIVE_ERROR_BODY)]).await;
    assert_eq!(result, Err(CrmError::NotFound("1".into())));
    assert_eq!(server.requests().len(), 1);

    let (result, server) = pipedrive_deal_with(vec![Reply::json(401, PIPEDRIVE_ERROR_BODY)]).await;
    assert_eq!(result, Err(CrmError::Unauthorized));
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        server.requests()[0].header("x-api-token"),
        Some(PIPEDRIVE_TOKEN)
    );
}

#[tokio::test]
async fn pipedrive_5xx_every_time_is_transient_after_the_attempt_budget() {
    let (result, server) = pipedrive_deal_with(vec![Reply::json(502, PIPEDRIVE_ERROR_BODY)]).await;
    match result {
        Err(CrmError::Transient(message)) => assert!(message.contains("502"), "{message}"),
        other => panic!("expected Transient, got {other:?}"),
    }
    assert_eq!(
        server.requests_to(PIPEDRIVE_DEAL_PATH).len(),
        CRM_REQUEST_ATTEMPTS_MAX as usize
    );
    assert_eq!(
        server.requests().len(),
        CRM_REQUEST_ATTEMPTS_MAX as usize,
        "nothing after"
    );
}

#[tokio::test]
async fn pipedrive_retries_a_429_and_a_503_then_succeeds() {
    let (result, server) = pipedrive_deal_with(vec![
        Reply::json(429, PIPEDRIVE_ERROR_BODY).with_header("Retry-After", "0"),
        Reply::json(503, PIPEDRIVE_ERROR_BODY),
        Reply::ok(PIPEDRIVE_DEAL),
    ])
    .await;
    let deal = result.expect("deal after two retries");
    assert_eq!(deal.amount.as_deref(), Some("200"));
    assert_eq!(deal.line_items.len(), 1);
    assert_eq!(deal.line_items[0].sku.as_deref(), Some("DEV-SPRINT"));
    assert_eq!(server.requests_to(PIPEDRIVE_DEAL_PATH).len(), 3);
}

#[tokio::test]
async fn pipedrive_rows_that_carry_their_product_code_need_no_lookup() {
    // The v1 deal-products body (rows embed `product` with `code`), served on the v2
    // path: it has no `next_cursor`, so it is the only page.
    let server = FakeServer::start(vec![
        Route::new(
            PIPEDRIVE_PRODUCTS_PATH,
            vec![Reply::ok(PIPEDRIVE_V1_DEAL_PRODUCTS)],
        ),
        Route::new(PIPEDRIVE_DEAL_PATH, vec![Reply::ok(PIPEDRIVE_DEAL)]),
        // The organisation is gone: the account keeps its id.
        Route::new(
            "/api/v2/organizations/1",
            vec![Reply::json(404, PIPEDRIVE_ERROR_BODY)],
        ),
    ])
    .await;

    let deal = pipedrive(&server).fetch_deal("1").await.expect("deal");

    assert_eq!(
        deal.line_items,
        vec![CrmLineItem {
            id: "7".into(),
            name: Some("1234".into()),
            sku: Some("MPENCIL".into()),
            quantity: Some("5".into()),
            unit_price: Some("22".into()),
            discount_percent: Some("0.2".into()),
            discount_amount: None,
        }]
    );
    assert_eq!(
        deal.account,
        Some(CrmAccount {
            id: "1".into(),
            name: None,
            domain: None,
        })
    );
    assert!(server
        .requests()
        .iter()
        .all(|r| !r.path().starts_with("/api/v2/products")));
}

#[tokio::test]
async fn pipedrive_won_deal_with_sku_field_fallback_and_a_disabled_row() {
    // Synthesised: the deal won, one page of three rows built from the real row.
    let mut deal: Value = serde_json::from_str(PIPEDRIVE_DEAL).expect("fixture JSON");
    deal["data"]["status"] = json!("won");
    deal["data"]["value"] = serde_json::from_str("1234.56").expect("number");
    deal["data"]["won_time"] = json!("2021-01-02T10:00:00Z");
    let page: Value = serde_json::from_str(PIPEDRIVE_DEAL_PRODUCTS).expect("fixture JSON");
    let row = page["data"][0].clone();
    let mut coded = row.clone(); // product 1: no code, SKU in a custom field
    coded["quantity"] = serde_json::from_str("1.5").expect("number");
    coded["item_price"] = serde_json::from_str("1e3").expect("number");
    coded["discount"] = json!(10);
    coded["discount_type"] = Value::Null;
    let mut disabled = row.clone();
    disabled["id"] = json!(5);
    disabled["is_enabled"] = json!(false);
    disabled["product_id"] = json!(99);
    let mut field_on_row = row.clone(); // product 2: no code; the row has the field
    field_on_row["id"] = json!(6);
    field_on_row["product_id"] = json!(2);
    field_on_row["custom_fields"] = json!({ "a1b2c3": "ROW-SKU" });
    let products = json!({
        "success": true,
        "data": [coded, disabled, field_on_row],
        "additional_data": { "next_cursor": null },
    });
    let server = FakeServer::start(vec![
        Route::new(PIPEDRIVE_PRODUCTS_PATH, vec![Reply::ok(products.to_string())]),
        Route::new(PIPEDRIVE_DEAL_PATH, vec![Reply::ok(deal.to_string())]),
        Route::new(
            "/api/v2/products/1",
            vec![Reply::ok(
                r#"{"success":true,"data":{"id":1,"code":null,"custom_fields":{"a1b2c3":"FIELD-SKU"}}}"#,
            )],
        ),
        Route::new(
            "/api/v2/products/2",
            vec![Reply::ok(r#"{"success":true,"data":{"id":2,"code":""}}"#)],
        ),
        Route::new(
            "/api/v2/organizations/1",
            vec![Reply::ok(r#"{"success":true,"data":{"id":1,"name":"Org"}}"#)],
        ),
    ])
    .await;
    let client = PipedriveClient::new(
        format!("{}/", server.base_url),
        PIPEDRIVE_TOKEN,
        RetryPolicy::fast_for_tests(),
    )
    .with_sku_field(Some("a1b2c3".into()));

    let deal = client.fetch_deal("1").await.expect("deal");

    assert_eq!(deal.is_won, Some(true));
    assert_eq!(deal.amount.as_deref(), Some("1234.56"));
    assert_eq!(
        deal.closed_at.as_deref(),
        Some("2021-01-02T10:00:00Z"),
        "won_time"
    );
    assert_eq!(
        deal.line_items,
        vec![
            CrmLineItem {
                id: "3".into(),
                name: Some("Mechanical Pencil".into()),
                sku: Some("FIELD-SKU".into()),
                quantity: Some("1.5".into()),
                // JSON `1e3` is a float: serde_json prints it `1000.0` (a decimal still).
                unit_price: Some("1000.0".into()),
                discount_percent: Some("10".into()),
                discount_amount: None,
            },
            CrmLineItem {
                id: "6".into(),
                name: Some("Mechanical Pencil".into()),
                sku: Some("ROW-SKU".into()),
                quantity: Some("1".into()),
                unit_price: Some("90".into()),
                discount_percent: Some("0".into()),
                discount_amount: None,
            },
        ]
    );
    assert!(
        server.requests_to("/api/v2/products/99").is_empty(),
        "disabled row skipped"
    );
    assert_eq!(server.requests_to("/api/v2/products/1").len(), 1);
}

#[tokio::test]
async fn pipedrive_an_unknown_discount_type_is_invalid() {
    let mut page: Value = serde_json::from_str(PIPEDRIVE_DEAL_PRODUCTS).expect("fixture JSON");
    page["additional_data"]["next_cursor"] = Value::Null;
    page["data"][0]["discount_type"] = json!("per_unit"); // synthesised
    let server = FakeServer::start(vec![
        Route::new(PIPEDRIVE_PRODUCTS_PATH, vec![Reply::ok(page.to_string())]),
        Route::new(PIPEDRIVE_DEAL_PATH, vec![Reply::ok(PIPEDRIVE_DEAL)]),
        Route::new(
            "/api/v2/products/1",
            vec![Reply::ok(
                r#"{"success":true,"data":{"id":1,"code":"DEV-SPRINT"}}"#,
            )],
        ),
    ])
    .await;
    let result = pipedrive(&server).fetch_deal("1").await;
    assert!(
        matches!(result, Err(CrmError::Invalid(ref m)) if m.contains("per_unit")),
        "{result:?}"
    );
}

#[tokio::test]
async fn pipedrive_product_pages_are_bounded() {
    // Synthesised: a server whose every page says there is another.
    let page = json!({
        "success": true,
        "data": [],
        "additional_data": { "next_cursor": "again" },
    });
    let server = FakeServer::start(vec![
        Route::new(PIPEDRIVE_PRODUCTS_PATH, vec![Reply::ok(page.to_string())]),
        Route::new(PIPEDRIVE_DEAL_PATH, vec![Reply::ok(PIPEDRIVE_DEAL)]),
    ])
    .await;
    let result = pipedrive(&server).fetch_deal("1").await;
    assert!(matches!(result, Err(CrmError::Invalid(_))), "{result:?}");
    assert_eq!(
        server.requests_to(PIPEDRIVE_PRODUCTS_PATH).len(),
        PIPEDRIVE_PAGES_MAX
    );
}
