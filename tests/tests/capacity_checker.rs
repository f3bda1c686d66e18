//! The capacity checker through its handlers, on both adapter sets: the synchronous check
//! and the `project-events` consumer (staffing recorded once, poison messages parked).

#[macro_use]
mod harness;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use capacity_checker::service::{Capacity, StaffingRecord};
use closed_won_converter::reference;
use closed_won_converter::service::{Converter, ProjectConverted};
use handoff_domain::capacity::ResourcePool;
use handoff_domain::deal::DealInput;
use handoff_ports::store::from_item;
use handoff_ports::Key;
use harness::{converter, noon_2026_11_26, seed, Harness};
use lambda_http::Body;
use serde_json::{json, Value};
use std::sync::Arc;

struct Setup {
    capacity: Capacity,
    converter: Converter,
    h: Harness,
}

fn setup(h: Harness) -> Setup {
    let clock = noon_2026_11_26();
    let reference = Arc::new(reference::bundled().unwrap());
    let pool = ResourcePool::from_json(&seed("resources.json"), &reference.catalog).unwrap();
    let capacity = Capacity {
        store: h.store.clone(),
        clock: clock.clone(),
        reference: reference.clone(),
        pool: Arc::new(pool),
        main_table: h.table.clone(),
    };
    let converter = converter(&h, clock);
    Setup {
        capacity,
        converter,
        h,
    }
}

async fn post(s: &Setup, body: &str) -> (u16, Value) {
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.example.com/capacity/checks")
        .body(Body::Text(body.to_owned()))
        .unwrap();
    let response = capacity_checker::http::handle(&s.capacity, request).await;
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap(),
    )
}

fn sqs_event(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some(body.clone());
            m.event_source_arn =
                Some("arn:aws:sqs:us-east-1:123456789012:handoff-dev-project-events".into());
            m
        })
        .collect();
    event
}

contract_cases!(
    explicit_demand_is_checked_with_partners_and_earliest_start,
    bad_requests_are_400_listing_every_problem,
    a_prospective_deal_is_checked_without_storing_a_project,
    converted_project_is_staffed_once_and_poison_is_parked,
    people_stored_through_the_port_join_the_pool,
);

async fn people_stored_through_the_port_join_the_pool(h: Harness) {
    let s = setup(h);
    let request =
        json!({"demand": [{"role": "data-engineer", "week": "2026-12-07", "hours": "60"}]})
            .to_string();
    assert_eq!(
        post(&s, &request).await.1["report"]["verdict"],
        "feasible_with_partners"
    );
    let mut hire = s
        .capacity
        .pool
        .resources
        .iter()
        .find(|r| r.id == "dara-singh")
        .unwrap()
        .clone();
    hire.id = "new-data-engineer".into();
    hire.name = "New hire".into();
    s.capacity.upsert_resources(&[hire]).await.unwrap();
    let (_, json) = post(&s, &request).await;
    assert_eq!(
        json["report"]["verdict"], "feasible",
        "24 h of Dara + 40 h of the hire: {json}"
    );
}

async fn explicit_demand_is_checked_with_partners_and_earliest_start(h: Harness) {
    let s = setup(h);
    // 70 h of data engineering in one week: Dara has 40 - 16 booked = 24 h, the contractor 40.
    let request =
        json!({"demand": [{"role": "data-engineer", "week": "2026-12-07", "hours": "70"}]});
    let (status, json) = post(&s, &request.to_string()).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        json["report"]["verdict"], "needs_hiring",
        "24 + 40 < 70: {json}"
    );
    assert_eq!(json["report"]["roles"][0]["shortfall"], "6");
    assert_eq!(json["report"]["hiring"][0]["fte"], "0.15");
    // 60 h fits with the contractor's help.
    let request =
        json!({"demand": [{"role": "data-engineer", "week": "2026-12-07", "hours": "60"}]});
    let (_, json) = post(&s, &request.to_string()).await;
    assert_eq!(
        json["report"]["verdict"], "feasible_with_partners",
        "{json}"
    );
    assert_eq!(json["partner_margin"][0]["role"], "data-engineer");
    assert_eq!(json["partner_margin"][0]["hours"], "36");
    // 70 h fits from the week Dara's hard booking ends (32 h with the holiday + 40).
    let request = json!({"demand": [{"role": "data-engineer", "week": "2026-12-07", "hours": "70"}], "horizon_weeks": 4});
    let (_, json) = post(&s, &request.to_string()).await;
    assert_eq!(json["earliest_feasible_start"], "2026-12-21", "{json}");
}

async fn bad_requests_are_400_listing_every_problem(h: Harness) {
    let s = setup(h);
    let request = json!({"demand": [
        {"role": "wizard", "week": "2026-12-07", "hours": "10"},
        {"role": "engineer", "week": "next week", "hours": "-3"}
    ], "horizon_weeks": 500});
    let (status, json) = post(&s, &request.to_string()).await;
    assert_eq!(status, 400, "{json}");
    let fields: Vec<&str> = json["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec!["demand[0].role", "demand[1].week", "demand[1].hours"],
        "{json}"
    );
    let (status, json) = post(&s, "{}").await;
    assert_eq!(status, 400, "{json}");
    let (status, _) = post(&s, "not json").await;
    assert_eq!(status, 400);
}

async fn a_prospective_deal_is_checked_without_storing_a_project(h: Harness) {
    let s = setup(h);
    let deal: Value = serde_json::from_str(&seed("deals/acme-website.json")).unwrap();
    let (status, json) = post(
        &s,
        &json!({"deal": deal, "desired_start": "2027-01-04"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["report"]["verdict"], "feasible", "{json}");
    assert_eq!(
        json["report"]["roles"][0]["week_start"], "2027-01-04",
        "moved to the desired start"
    );
    let project =
        s.h.store
            .get(
                &s.h.table,
                &Key::new(format!("PROJECT#{}", first_project(&deal)), "PROJECT"),
            )
            .await
            .unwrap();
    assert!(project.is_none(), "a check stores nothing");
}

fn first_project(deal: &Value) -> handoff_domain::ProjectId {
    let system =
        handoff_domain::SourceSystem::new(deal["crm"]["system"].as_str().unwrap()).unwrap();
    let id = handoff_domain::ExternalId::new(deal["crm"]["deal_id"].as_str().unwrap()).unwrap();
    handoff_domain::ProjectId::derive(&system, &id)
}

async fn converted_project_is_staffed_once_and_poison_is_parked(h: Harness) {
    let s = setup(h);
    let deal: DealInput = serde_json::from_str(&seed("deals/globex-data.json")).unwrap();
    let outcome = s.converter.convert(&deal, None).await.unwrap();
    let event = ProjectConverted {
        kind: "ProjectConverted".into(),
        event_id: format!("ProjectConverted:{}", outcome.project_id),
        project_id: outcome.project_id,
        customer_id: outcome.customer_id,
        contract_id: outcome.contract_id,
        deal_system: "pipedrive".into(),
        deal_id: "1187".into(),
        occurred_at: "2026-11-26T12:00:00Z".into(),
    };
    let body = serde_json::to_string(&event).unwrap();
    let dlq = s.h.queue("project-events-dlq").await;
    let response = capacity_checker::consumer::handle(
        &s.capacity,
        dlq.as_ref(),
        sqs_event(&[body.clone(), "{not json".into()]),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let key = Key::new(format!("PROJECT#{}", outcome.project_id), "STAFFING");
    let first: StaffingRecord =
        from_item(s.h.store.get(&s.h.table, &key).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        format!("{:?}", first.response.report.verdict),
        "FeasibleWithPartners"
    );
    assert!(first.allocations > 0);
    // Soft allocations are recorded for the proposed people.
    let week = first.response.report.roles[0].week_start;
    let allocated =
        s.h.store
            .query(&handoff_ports::Query::partition(
                &s.h.table,
                format!("ALLOCWEEK#{week}"),
            ))
            .await
            .unwrap();
    assert!(!allocated.items.is_empty());
    // A redelivery changes nothing.
    capacity_checker::consumer::handle(&s.capacity, dlq.as_ref(), sqs_event(&[body]))
        .await
        .unwrap();
    let again: StaffingRecord =
        from_item(s.h.store.get(&s.h.table, &key).await.unwrap().unwrap()).unwrap();
    assert_eq!(again, first);
    let allocated_again =
        s.h.store
            .query(&handoff_ports::Query::partition(
                &s.h.table,
                format!("ALLOCWEEK#{week}"),
            ))
            .await
            .unwrap();
    assert_eq!(allocated_again.items.len(), allocated.items.len());
    // The unparseable message went to the DLQ with its reason.
    let parked = dlq.receive(10, 1).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].body, "{not json");
    assert!(parked[0].attributes["handoff-failure-reason"].contains("not a valid ProjectConverted"));
}
