//! HubSpot webhook deliveries → won deals, against the docs example and synthesised
//! `deal.propertyChange` events.

use closed_won_converter::inbound::hubspot::{won_deals, HubSpotWonDeal, HUBSPOT_EVENTS_MAX};
use handoff_domain::Problems;
use serde_json::{json, Value};

const DOCS_BATCH: &[u8] =
    include_bytes!("fixtures/hubspot/hubspot_webhook_docs_example_batch.json");

fn default_stages() -> Vec<String> {
    vec!["closedwon".to_owned()]
}

/// A `deal.propertyChange` of `dealstage`, shaped like the docs example.
fn stage_change(object_id: u64, stage: &str, event_id: u64) -> Value {
    json!({
        "objectId": object_id,
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
        "eventId": event_id,
        "subscriptionId": 77,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": 1_462_216_307_945_i64 + event_id as i64,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0
    })
}

fn run(events: &Value, stages: &[String]) -> Result<Vec<HubSpotWonDeal>, Problems> {
    won_deals(events.to_string().as_bytes(), stages)
}

fn fields(problems: &Problems) -> Vec<&str> {
    problems.0.iter().map(|p| p.field.as_str()).collect()
}

#[test]
fn docs_example_batch_has_no_wins() {
    assert_eq!(won_deals(DOCS_BATCH, &default_stages()), Ok(vec![]));
}

#[test]
fn a_deal_moved_to_closedwon_is_won() {
    let wins = run(
        &json!([stage_change(1_246_965, "closedwon", 3_816_279_340)]),
        &default_stages(),
    )
    .unwrap();
    assert_eq!(
        wins,
        vec![HubSpotWonDeal {
            deal_id: "1246965".into(),
            event_id: "3816279340".into(),
            occurred_at_ms: 1_462_216_307_945 + 3_816_279_340,
            portal_id: Some(33),
        }]
    );
}

#[test]
fn wins_among_other_events_in_the_docs_batch() {
    let mut events: Vec<Value> = serde_json::from_slice(DOCS_BATCH).unwrap();
    events.push(stage_change(42, "closedwon", 9));
    let wins = run(&Value::Array(events), &default_stages()).unwrap();
    assert_eq!(wins.len(), 1);
    assert_eq!(wins[0].deal_id, "42");
}

#[test]
fn custom_pipeline_stage_ids_are_won_only_when_configured() {
    let events = json!([
        stage_change(1, "12345678", 1),
        stage_change(2, "5b9c1a3e-6a0f-4c4e-9d7e-0d6f1b2a3c4d", 2),
        stage_change(3, "closedwon", 3),
    ]);
    let default = run(&events, &default_stages()).unwrap();
    assert_eq!(
        default
            .iter()
            .map(|w| w.deal_id.as_str())
            .collect::<Vec<_>>(),
        ["3"]
    );

    let configured = vec![
        "closedwon".to_owned(),
        "12345678".to_owned(),
        "5b9c1a3e-6a0f-4c4e-9d7e-0d6f1b2a3c4d".to_owned(),
    ];
    let all = run(&events, &configured).unwrap();
    assert_eq!(
        all.iter().map(|w| w.deal_id.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );

    // Only the custom stage configured: the default one is no longer a win.
    let custom_only = run(&events, &["12345678".to_owned()]).unwrap();
    assert_eq!(
        custom_only
            .iter()
            .map(|w| w.deal_id.as_str())
            .collect::<Vec<_>>(),
        ["1"]
    );
}

#[test]
fn other_stages_and_properties_are_skipped() {
    let mut amount_change = stage_change(5, "closedwon", 5);
    amount_change["propertyName"] = json!("amount");
    amount_change["propertyValue"] = json!("1000");
    let mut contact_change = stage_change(6, "closedwon", 6);
    contact_change["subscriptionType"] = json!("contact.propertyChange");
    let events = json!([
        stage_change(4, "appointmentscheduled", 4),
        stage_change(7, "closedlost", 7),
        amount_change,
        contact_change,
        {"objectId": 8, "eventId": 8, "occurredAt": 1, "subscriptionType": "deal.creation"},
        {"objectId": 9, "eventId": 9, "occurredAt": 1, "subscriptionType": "deal.deletion"},
    ]);
    assert_eq!(run(&events, &default_stages()), Ok(vec![]));
}

#[test]
fn event_type_and_subscription_type_are_both_accepted() {
    let mut old_style = stage_change(10, "closedwon", 10);
    let object = old_style.as_object_mut().unwrap();
    object.remove("subscriptionType");
    object.insert("eventType".into(), json!("deal.propertyChange"));
    let mut both = stage_change(11, "closedwon", 11);
    both["eventType"] = json!("deal.propertyChange");
    let wins = run(
        &json!([old_style, stage_change(12, "closedwon", 12), both]),
        &default_stages(),
    )
    .unwrap();
    assert_eq!(
        wins.iter().map(|w| w.deal_id.as_str()).collect::<Vec<_>>(),
        ["10", "12", "11"]
    );
}

#[test]
fn disagreeing_type_keys_are_a_problem() {
    let mut event = stage_change(13, "closedwon", 13);
    event["eventType"] = json!("contact.propertyChange");
    let err = run(&json!([event]), &default_stages()).unwrap_err();
    assert_eq!(fields(&err), ["[0].eventType"]);
}

#[test]
fn an_event_without_a_type_is_a_problem() {
    let mut event = stage_change(14, "closedwon", 14);
    event.as_object_mut().unwrap().remove("subscriptionType");
    let err = run(&json!([event]), &default_stages()).unwrap_err();
    assert_eq!(fields(&err), ["[0].subscriptionType"]);
}

#[test]
fn the_same_deal_twice_is_one_win_keeping_the_first() {
    let events = json!([
        stage_change(20, "closedwon", 100),
        stage_change(21, "closedwon", 101),
        stage_change(20, "closedwon", 102),
    ]);
    let wins = run(&events, &default_stages()).unwrap();
    assert_eq!(wins.len(), 2);
    assert_eq!(
        (wins[0].deal_id.as_str(), wins[0].event_id.as_str()),
        ("20", "100")
    );
    assert_eq!(wins[1].deal_id, "21");
}

#[test]
fn at_most_a_hundred_events_per_delivery() {
    let events: Vec<Value> = (0..HUBSPOT_EVENTS_MAX as u64)
        .map(|i| stage_change(i + 1, "closedwon", i))
        .collect();
    assert_eq!(
        run(&Value::Array(events.clone()), &default_stages())
            .unwrap()
            .len(),
        100
    );

    let mut too_many = events;
    too_many.push(stage_change(1000, "closedwon", 1000));
    let err = run(&Value::Array(too_many), &default_stages()).unwrap_err();
    assert_eq!(fields(&err), [""]);
    assert!(err.0[0].problem.contains("101 events"), "{err}");
}

#[test]
fn a_body_that_is_not_an_array_is_refused() {
    for body in [
        &b"{\"objectId\": 1}"[..],
        b"\"closedwon\"",
        b"null",
        b"",
        b"[",
        b"\xff\xfe",
    ] {
        let err = won_deals(body, &default_stages()).unwrap_err();
        assert_eq!(fields(&err), [""], "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn an_empty_array_has_no_wins() {
    assert_eq!(won_deals(b"[]", &default_stages()), Ok(vec![]));
}

#[test]
fn a_missing_object_id_is_a_problem_with_its_path() {
    let mut broken = stage_change(30, "closedwon", 30);
    broken.as_object_mut().unwrap().remove("objectId");
    let events = json!([
        stage_change(31, "closedwon", 31),
        stage_change(32, "closedwon", 32),
        stage_change(33, "closedwon", 33),
        broken,
    ]);
    let err = run(&events, &default_stages()).unwrap_err();
    assert_eq!(fields(&err), ["[3].objectId"]);
    assert_eq!(err.0[0].problem, "is required");
}

#[test]
fn every_problem_of_a_stage_change_is_listed() {
    let mut string_id = stage_change(40, "appointmentscheduled", 40);
    string_id["objectId"] = json!("40");
    let mut no_time = stage_change(41, "closedwon", 41);
    no_time.as_object_mut().unwrap().remove("occurredAt");
    no_time["eventId"] = json!(-1);
    let mut no_value = stage_change(42, "closedwon", 42);
    no_value["propertyValue"] = Value::Null;
    no_value["portalId"] = json!("33");
    let mut no_property = stage_change(43, "closedwon", 43);
    no_property.as_object_mut().unwrap().remove("propertyName");
    let events = json!([string_id, no_time, no_value, 7, no_property]);
    let err = run(&events, &default_stages()).unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "[0].objectId",
            "[1].eventId",
            "[1].occurredAt",
            "[2].propertyValue",
            "[2].portalId",
            "[3]",
            "[4].propertyName",
        ],
        "{err}"
    );
}

#[test]
fn a_missing_portal_id_is_none_and_large_ids_stay_exact() {
    let mut event = stage_change(u64::MAX, "closedwon", 50);
    event.as_object_mut().unwrap().remove("portalId");
    let wins = run(&json!([event]), &default_stages()).unwrap();
    assert_eq!(wins[0].deal_id, u64::MAX.to_string());
    assert_eq!(wins[0].portal_id, None);
}
