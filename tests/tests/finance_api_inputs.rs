//! Property test: whatever request reaches finance's HTTP API — any method, a known or
//! made-up path, any query, any JSON body shaped like the routes' own — the answer is a
//! status below 500 with a JSON body, and a 4xx names its problem (`error.code`,
//! `error.message`). Run on the memory adapters, with one invoice issued and one draft
//! awaiting approval, so the paths that take an invoice id reach real records.

#[allow(unused_macros)]
mod harness;

use harness::invoicing::{
    approval_copy, call, convert, deliver_time, drain, engineer_entries, finance_api,
};
use harness::invoicing::{job_queues, receive};
use harness::Harness;
use invoice_generator::http::FinanceApi;
use invoice_generator::job::invoice_id_for;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Cases per run: each is one in-memory request, so a few hundred take well under a second.
const CASES: u32 = 384;

/// Keys the routes read, so generated bodies reach their inner checks.
const KEYS: &[&str] = &[
    "as_of",
    "dry_run",
    "contracts",
    "what_if",
    "cap",
    "amount",
    "currency",
    "rate_card",
    "card",
    "version",
    "rates",
    "lines",
    "disposition",
    "reason",
    "issue_on",
    "x",
];

/// Values that are nearly right: real dates, edge dates, big and negative numbers.
const TEXTS: &[&str] = &[
    "2026-12-31",
    "2027-01-01",
    "0000-01-01",
    "9999-12-31",
    "+275760-09-13",
    "2026-02-30",
    "release",
    "write_off",
    "USD",
    "JPY",
    "usd",
    "1e400",
    "-1.00",
    "0.001",
    "79228162514264337593543950336",
    "standard-usd",
    "",
    "INV-2026-000001",
    "💸",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(TEXTS).prop_map(|t| json!(t)),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn body() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// Bodies shaped like the routes' own, with any leaf in any field, so generated requests
/// get past the shape checks into the rules (dates, currencies, line indices, versions).
fn shaped_body() -> impl Strategy<Value = Value> {
    let line = prop_oneof![(0usize..4).prop_map(|n| json!(n)), leaf(),];
    prop_oneof![
        (leaf(), leaf(), leaf(), leaf(), leaf()).prop_map(|(as_of, dry, amount, currency, version)| {
            json!({
                "as_of": as_of,
                "dry_run": dry,
                "what_if": {
                    "cap": {"amount": amount, "currency": currency},
                    "rate_card": {"card": "standard-usd", "version": version},
                },
            })
        }),
        (prop::sample::select(TEXTS), any::<bool>(), leaf(), leaf()).prop_map(|(as_of, dry, rate, role)| {
            json!({"as_of": as_of, "dry_run": dry, "what_if": {"rates": {"engineer": rate}}, "contracts": [role]})
        }),
        (prop::collection::vec(line, 0..4), leaf(), leaf(), leaf()).prop_map(
            |(lines, disposition, reason, issue_on)| {
                json!({"lines": lines, "disposition": disposition, "reason": reason, "issue_on": issue_on})
            }
        ),
        (prop::sample::select(TEXTS), prop::sample::select(TEXTS)).prop_map(|(disposition, issue_on)| {
            json!({"disposition": disposition, "reason": "rate correction", "issue_on": issue_on})
        }),
        leaf().prop_map(|issue_on| json!({"issue_on": issue_on})),
    ]
}

/// A path segment standing for an id: the real invoices, a stranger, or junk.
fn id(issued: String, draft: String) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(issued),
        Just(draft),
        Just(uuid::Uuid::nil().to_string()),
        "[a-zA-Z0-9%._~-]{0,40}",
    ]
}

fn path(issued: String, draft: String) -> impl Strategy<Value = String> {
    let routes = [
        "/billing-runs",
        "/billing-runs/{}",
        "/invoices",
        "/invoices/{}",
        "/invoices/{}/issue",
        "/invoices/{}/credit-notes",
        "/invoices/{}/{}",
        "/ledger/journal",
        "/ledger/{}",
        "/{}",
    ];
    (prop::sample::select(routes.to_vec()), id(issued, draft))
        .prop_map(|(route, id)| route.replace("{}", &id))
}

fn query() -> impl Strategy<Value = String> {
    let keys = ["from", "to", "format", "status", "project_id", "limit", "x"];
    let values = prop_oneof![
        prop::sample::select(TEXTS).prop_map(str::to_owned),
        prop::sample::select(vec!["json", "csv", "hledger", "xml", "issued", "draft"])
            .prop_map(str::to_owned),
        "[a-zA-Z0-9%._-]{0,16}",
    ];
    prop::collection::vec((prop::sample::select(keys.to_vec()), values), 0..4).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// Globex's December invoiced and a copy that waits for finance's approval.
async fn setup(h: &Harness) -> (FinanceApi, String, String) {
    let globex = convert(h, "globex-data", |_| {}).await;
    let approved = approval_copy(h).await;
    for (project, prefix) in [(globex.0, "g"), (approved.0, "a")] {
        deliver_time(h, project, engineer_entries(prefix, 3, "2026-12-07", 3)).await;
    }
    let (jobs, dead_letter) = job_queues(h).await;
    let outbox = h.queue("accounting-outbox").await;
    let api = finance_api(h, jobs.clone(), outbox);
    let (status, planned) = call(
        &api,
        "POST",
        "/billing-runs",
        Some(json!({"as_of": "2026-12-31"})),
    )
    .await;
    assert_eq!(status, 202, "{planned}");
    let messages = receive(jobs.as_ref(), 0).await;
    drain(&api.runs, jobs.as_ref(), dead_letter.as_ref(), &messages).await;
    let issued = invoice_id_for(globex.1, "2026-12").to_string();
    let draft = invoice_id_for(approved.1, "2026-12").to_string();
    (api, issued, draft)
}

#[test]
fn every_request_gets_a_json_answer_below_500() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = Harness::memory("finance-api-inputs");
    let (api, issued, draft) = runtime.block_on(setup(&h));
    let methods = vec!["GET", "POST", "PUT", "DELETE"];
    let request = (
        prop::sample::select(methods),
        path(issued, draft),
        query(),
        prop::option::of(prop_oneof![body(), shaped_body()]),
    );
    let config = ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((method, path, query, body) in request)| {
        let target = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let (status, text) = runtime.block_on(call(&api, method, &target, body.clone()));
        prop_assert!(status < 500, "{method} {target} {body:?} → {status}: {text}");
        if text.is_empty() {
            prop_assert!(status == 204, "{method} {target} → {status} without a body");
        }
        if status >= 400 {
            let answer: Value = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{method} {target} → {status}: not JSON ({e}): {text}")))?;
            prop_assert!(answer["error"]["code"].is_string(), "{method} {target} → {status}: {text}");
            prop_assert!(answer["error"]["message"].is_string(), "{method} {target} → {status}: {text}");
        }
    });
}
