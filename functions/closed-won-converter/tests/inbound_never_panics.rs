//! Property tests: whatever bytes arrive at a CRM webhook, the parsers answer `Ok` or
//! `Err(Problems)` with at least one problem, and never panic.

use closed_won_converter::inbound::{hubspot, pipedrive, salesforce};
use proptest::prelude::*;
use serde_json::{Map, Value};

const HUBSPOT_BATCH: &[u8] =
    include_bytes!("fixtures/hubspot/hubspot_webhook_docs_example_batch.json");
const PIPEDRIVE_V1: &[u8] =
    include_bytes!("fixtures/pipedrive/pipedrive_webhook_v1_updated_deal_won.json");
const PIPEDRIVE_V2_CHANGE: &[u8] =
    include_bytes!("fixtures/pipedrive/pipedrive_webhook_v2_change_deal_docs_example.json");
const PIPEDRIVE_V2_CREATE: &[u8] =
    include_bytes!("fixtures/pipedrive/pipedrive_webhook_v2_create_deal_docs_example.json");
const SALESFORCE: &[u8] =
    include_bytes!("fixtures/salesforce/salesforce_outbound_message_opportunity_closed_won.xml");

fn stages() -> Vec<String> {
    vec!["closedwon".to_owned(), "12345".to_owned()]
}

fn check_all(body: &[u8]) {
    if let Err(problems) = hubspot::won_deals(body, &stages()) {
        assert!(!problems.0.is_empty());
    }
    if let Err(problems) = pipedrive::decide(body) {
        assert!(!problems.0.is_empty());
    }
    if let Err(problems) = salesforce::parse(body) {
        assert!(!problems.0.is_empty());
    }
}

/// Keys and values the parsers look at, so generated JSON reaches their inner paths.
const KEYS: &[&str] = &[
    "objectId",
    "eventId",
    "occurredAt",
    "portalId",
    "propertyName",
    "propertyValue",
    "subscriptionType",
    "eventType",
    "event",
    "meta",
    "current",
    "previous",
    "data",
    "status",
    "id",
    "action",
    "object",
    "entity",
    "entity_id",
    "version",
    "v",
    "value",
    "org_id",
    "org_name",
    "update_time",
    "add_time",
    "title",
    "owner_id",
    "user_id",
    "name",
];
const STRINGS: &[&str] = &[
    "deal.propertyChange",
    "dealstage",
    "closedwon",
    "12345",
    "updated.deal",
    "added.deal",
    "deleted.deal",
    "updated",
    "deal",
    "change",
    "create",
    "delete",
    "2.0",
    "won",
    "open",
    "lost",
    "",
    "2024-08-16 07:25:31",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..10).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<String, Value>>(),
                )
            }),
        ]
    })
}

/// A fixture with a few bytes overwritten, inserted or cut off.
fn mutated(fixture: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(move |(edits, cut, truncate)| {
            let mut bytes = fixture.to_vec();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                if byte % 2 == 0 {
                    bytes[i] = byte;
                } else {
                    bytes.insert(i, byte);
                }
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check_all(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        check_all(value.to_string().as_bytes());
        // Also as a HubSpot batch of such events and as a v2 Pipedrive envelope.
        check_all(Value::Array(vec![value.clone(), value.clone()]).to_string().as_bytes());
        let mut v2: Value = serde_json::from_slice(PIPEDRIVE_V2_CHANGE).unwrap();
        v2["data"] = value.clone();
        check_all(v2.to_string().as_bytes());
        let mut v1: Value = serde_json::from_slice(PIPEDRIVE_V1).unwrap();
        v1["current"] = value;
        check_all(v1.to_string().as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        hubspot_body in mutated(HUBSPOT_BATCH),
        v1 in mutated(PIPEDRIVE_V1),
        v2_change in mutated(PIPEDRIVE_V2_CHANGE),
        v2_create in mutated(PIPEDRIVE_V2_CREATE),
        salesforce_body in mutated(SALESFORCE),
    ) {
        for body in [hubspot_body, v1, v2_change, v2_create, salesforce_body] {
            check_all(&body);
        }
    }

    #[test]
    fn arbitrary_text_in_an_outbound_message_never_panics(text in "\\PC{0,40}", tag in "[A-Za-z:]{1,12}") {
        let body = String::from_utf8(SALESFORCE.to_vec())
            .unwrap()
            .replace("Closed Won", &text)
            .replace("sf:Amount", &tag);
        check_all(body.as_bytes());
    }
}
