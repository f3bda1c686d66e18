//! Pipedrive webhook deliveries (v1 and v2) → won or not, against the real and docs
//! fixtures and synthesised variants of them.

use closed_won_converter::inbound::pipedrive::{decide, PipedriveDecision, PipedriveWon};
use handoff_domain::Problems;
use handoff_ports::{CrmAccount, CrmDeal};
use serde_json::{json, Value};

const V1_WON: &[u8] =
    include_bytes!("fixtures/pipedrive/pipedrive_webhook_v1_updated_deal_won.json");
const V2_CHANGE: &[u8] =
    include_bytes!("fixtures/pipedrive/pipedrive_webhook_v2_change_deal_docs_example.json");
const V2_CREATE: &[u8] =
    include_bytes!("fixtures/pipedrive/pipedrive_webhook_v2_create_deal_docs_example.json");

fn fixture(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn decide_value(value: &Value) -> Result<PipedriveDecision, Problems> {
    decide(value.to_string().as_bytes())
}

fn won(decision: Result<PipedriveDecision, Problems>) -> PipedriveWon {
    match decision {
        Ok(PipedriveDecision::Won(won)) => won,
        other => panic!("expected a win, got {other:?}"),
    }
}

fn not_won_reason(decision: Result<PipedriveDecision, Problems>) -> String {
    match decision {
        Ok(PipedriveDecision::NotWon { reason }) => reason,
        other => panic!("expected not won, got {other:?}"),
    }
}

fn fields(problems: &Problems) -> Vec<&str> {
    problems.0.iter().map(|p| p.field.as_str()).collect()
}

// ---- v1 ----

#[test]
fn v1_fixture_open_to_won_is_a_win_of_4000_usd() {
    let won = won(decide(V1_WON));
    assert_eq!(won.deal_id, "49");
    assert_eq!(won.delivery_id, "49@2024-08-16 07:25:31");
    assert_eq!(
        won.deal,
        CrmDeal {
            system: "pipedrive".into(),
            deal_id: "49".into(),
            name: Some("Pearson - Hardman deal".into()),
            amount: Some("4000".into()),
            currency: Some("USD".into()),
            created_at: Some("2024-08-12 10:59:40".into()),
            closed_at: Some("2024-08-16 07:25:31".into()),
            owner_id: Some("21180837".into()),
            pipeline: Some("1".into()),
            stage: Some("2".into()),
            is_won: Some(true),
            account: Some(CrmAccount {
                id: "23".into(),
                name: Some("Pearson - Hardman".into()),
                domain: None,
            }),
            line_items: vec![],
        }
    );
}

#[test]
fn v1_retries_of_the_same_delivery_have_the_same_delivery_id() {
    let first = won(decide(V1_WON));
    let mut retry = fixture(V1_WON);
    retry["retry"] = json!(2);
    retry["meta"]["timestamp"] = json!(1_723_793_281);
    retry["meta"]["timestamp_micro"] = json!(1_723_793_281_000_000_i64);
    assert_eq!(won(decide_value(&retry)).delivery_id, first.delivery_id);

    // meta.id is the deal's id in v1, not a delivery id: a later change of the same deal
    // must not share the delivery id.
    let mut later = fixture(V1_WON);
    later["current"]["update_time"] = json!("2024-09-01 08:00:00");
    later["previous"]["status"] = json!("lost");
    assert_ne!(won(decide_value(&later)).delivery_id, first.delivery_id);
}

#[test]
fn v1_won_to_won_is_not_a_new_win() {
    let mut body = fixture(V1_WON);
    body["previous"]["status"] = json!("won");
    let reason = not_won_reason(decide_value(&body));
    assert!(reason.contains("already won"), "{reason}");
}

#[test]
fn v1_lost_to_won_is_a_win() {
    let mut body = fixture(V1_WON);
    body["previous"]["status"] = json!("lost");
    assert_eq!(won(decide_value(&body)).deal_id, "49");
}

#[test]
fn v1_lost_is_not_won() {
    let mut body = fixture(V1_WON);
    body["current"]["status"] = json!("lost");
    let reason = not_won_reason(decide_value(&body));
    assert!(reason.contains("\"lost\""), "{reason}");
}

#[test]
fn v1_deleted_deal_is_not_won() {
    let mut body = fixture(V1_WON);
    body["event"] = json!("deleted.deal");
    body["meta"]["action"] = json!("deleted");
    body["current"] = Value::Null;
    let reason = not_won_reason(decide_value(&body));
    assert!(reason.contains("deleted"), "{reason}");
}

#[test]
fn v1_other_objects_are_not_won() {
    let person = json!({
        "v": 1,
        "event": "updated.person",
        "meta": {"action": "updated", "object": "person", "id": 26, "v": 1},
        "current": {"id": 26, "name": "Daniel Hardman", "status": "won"},
        "previous": {"id": 26, "name": "Dan Hardman"},
        "retry": 0
    });
    let reason = not_won_reason(decide_value(&person));
    assert!(reason.contains("person"), "{reason}");
}

#[test]
fn v1_event_from_meta_when_event_is_absent() {
    let mut body = fixture(V1_WON);
    body.as_object_mut().unwrap().remove("event");
    assert_eq!(won(decide_value(&body)).deal_id, "49");
    body["meta"]["object"] = json!("organization");
    assert!(not_won_reason(decide_value(&body)).contains("organization"));
}

#[test]
fn v1_added_deal_created_won_is_a_win() {
    let mut body = fixture(V1_WON);
    body["event"] = json!("added.deal");
    body["meta"]["action"] = json!("added");
    body["previous"] = Value::Null;
    body["current"]["update_time"] = Value::Null;
    let won = won(decide_value(&body));
    assert_eq!(won.delivery_id, "49@2024-08-12 10:59:40");

    body["current"]["status"] = json!("open");
    assert!(not_won_reason(decide_value(&body)).contains("open"));
}

#[test]
fn v1_decimal_and_large_values_keep_their_digits() {
    let mut body = fixture(V1_WON);
    body["current"]["value"] = serde_json::from_str("4000.5").unwrap();
    assert_eq!(
        won(decide_value(&body)).deal.amount.as_deref(),
        Some("4000.5")
    );
    let raw = String::from_utf8(V1_WON.to_vec()).unwrap().replacen(
        "\"value\": 4000,",
        "\"value\": 12345678901234567,",
        1,
    );
    assert_eq!(
        won(decide(raw.as_bytes())).deal.amount.as_deref(),
        Some("12345678901234567")
    );
    body["current"]["value"] = Value::Null;
    assert_eq!(won(decide_value(&body)).deal.amount, None);
}

#[test]
fn v1_problems_are_listed_with_their_paths() {
    let mut body = fixture(V1_WON);
    body.as_object_mut().unwrap().remove("previous");
    body["current"]["status"] = json!(1);
    let err = decide_value(&body).unwrap_err();
    assert_eq!(fields(&err), ["current.status", "previous"], "{err}");

    let mut body = fixture(V1_WON);
    body["current"]["id"] = Value::Null;
    body["current"]["value"] = json!({"amount": 4000});
    body["current"]["org_id"] = json!([23]);
    body["current"]["update_time"] = Value::Null;
    body["current"]["add_time"] = Value::Null;
    let err = decide_value(&body).unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "current.id",
            "current.value",
            "current.org_id",
            "current.update_time"
        ],
        "{err}"
    );

    let mut body = fixture(V1_WON);
    body["event"] = json!("updated");
    assert_eq!(fields(&decide_value(&body).unwrap_err()), ["event"]);
}

#[test]
fn v1_api_style_org_object_is_read() {
    let mut body = fixture(V1_WON);
    body["current"]["org_id"] = json!({"name": "Pearson", "value": 23});
    body["current"].as_object_mut().unwrap().remove("org_name");
    let account = won(decide_value(&body)).deal.account.unwrap();
    assert_eq!(
        (account.id.as_str(), account.name.as_deref()),
        ("23", Some("Pearson"))
    );
}

// ---- v2 ----

#[test]
fn v2_change_docs_example_stays_open() {
    let reason = not_won_reason(decide(V2_CHANGE));
    assert!(reason.contains("\"open\""), "{reason}");
}

#[test]
fn v2_create_docs_example_is_open_so_not_won() {
    let reason = not_won_reason(decide(V2_CREATE));
    assert!(reason.contains("\"open\""), "{reason}");
}

#[test]
fn v2_create_with_status_won_is_a_win() {
    let mut body = fixture(V2_CREATE);
    body["data"]["status"] = json!("won");
    body["data"]["won_time"] = json!("2022-11-24T13:18:55Z");
    let won = won(decide_value(&body));
    assert_eq!(won.deal_id, "8");
    assert_eq!(won.delivery_id, "71825ee0-0054-4267-b5fd-d28b7a414212");
    assert_eq!(won.deal.closed_at.as_deref(), Some("2022-11-24T13:18:55Z"));
}

#[test]
fn v2_change_to_won_is_a_win() {
    let mut body = fixture(V2_CHANGE);
    body["data"]["status"] = json!("won");
    body["data"]["won_time"] = json!("2022-11-24T15:11:55Z");
    body["previous"] = json!({"status": "open", "won_time": null});
    let won = won(decide_value(&body));
    assert_eq!(won.delivery_id, "df47d877-b58c-4886-91cd-1aa83e1d7366");
    assert_eq!(
        won.deal,
        CrmDeal {
            system: "pipedrive".into(),
            deal_id: "8".into(),
            name: Some("Sample Org deal".into()),
            amount: Some("100".into()),
            currency: Some("EUR".into()),
            created_at: Some("2022-11-24T13:18:55Z".into()),
            closed_at: Some("2022-11-24T15:11:55Z".into()),
            owner_id: Some("12415231".into()),
            pipeline: Some("1".into()),
            stage: Some("2".into()),
            is_won: Some(true),
            account: Some(CrmAccount {
                id: "1".into(),
                name: None,
                domain: None,
            }),
            line_items: vec![],
        }
    );

    // A retry only bumps meta.attempt: same delivery id.
    body["meta"]["attempt"] = json!(3);
    assert_eq!(won_delivery(&body), "df47d877-b58c-4886-91cd-1aa83e1d7366");
}

fn won_delivery(body: &Value) -> String {
    won(decide_value(body)).delivery_id
}

#[test]
fn v2_change_of_an_already_won_deal_is_not_a_new_win() {
    // The fixture's partial previous has no status: the status did not change.
    let mut body = fixture(V2_CHANGE);
    body["data"]["status"] = json!("won");
    assert!(not_won_reason(decide_value(&body)).contains("did not change"));
    body["previous"] = Value::Null;
    assert!(not_won_reason(decide_value(&body)).contains("did not change"));
    body["previous"] = json!({"status": "won"});
    assert!(not_won_reason(decide_value(&body)).contains("already won"));
}

#[test]
fn v2_lost_delete_and_other_entities_are_not_won() {
    let mut lost = fixture(V2_CHANGE);
    lost["data"]["status"] = json!("lost");
    lost["previous"] = json!({"status": "open"});
    assert!(not_won_reason(decide_value(&lost)).contains("lost"));

    let mut deleted = fixture(V2_CHANGE);
    deleted["meta"]["action"] = json!("delete");
    deleted["data"] = Value::Null;
    assert!(not_won_reason(decide_value(&deleted)).contains("deleted"));

    let mut person = fixture(V2_CHANGE);
    person["meta"]["entity"] = json!("person");
    person["data"] = json!({"id": 8, "name": "Sample person"});
    assert!(not_won_reason(decide_value(&person)).contains("person"));
}

#[test]
fn v2_problems_are_listed_with_their_paths() {
    let mut body = fixture(V2_CHANGE);
    body["data"]["status"] = json!("won");
    body["previous"] = json!({"status": "open"});
    body["meta"].as_object_mut().unwrap().remove("id");
    body["meta"]["entity_id"] = json!("9");
    body["data"]["title"] = json!(["Sample Org deal"]);
    let err = decide_value(&body).unwrap_err();
    assert_eq!(
        fields(&err),
        ["data.title", "meta.id", "meta.entity_id"],
        "{err}"
    );

    let mut body = fixture(V2_CHANGE);
    body["meta"].as_object_mut().unwrap().remove("entity");
    body["meta"]["action"] = json!(5);
    assert_eq!(
        fields(&decide_value(&body).unwrap_err()),
        ["meta.entity", "meta.action"]
    );

    let mut body = fixture(V2_CHANGE);
    body["data"].as_object_mut().unwrap().remove("status");
    body["previous"] = json!("open");
    assert_eq!(
        fields(&decide_value(&body).unwrap_err()),
        ["data.status", "previous"]
    );
}

// ---- not a webhook at all ----

#[test]
fn malformed_bodies_are_refused() {
    for body in [
        &b"{"[..],
        b"",
        b"[]",
        b"\"won\"",
        b"{}",
        b"{\"v\": 2}",
        b"\xff",
    ] {
        let err = decide(body).unwrap_err();
        assert_eq!(fields(&err), [""], "{}", String::from_utf8_lossy(body));
    }
}
