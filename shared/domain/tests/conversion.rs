//! Closed-won → project skeleton against the seed catalog, rate cards and sample deals.

use chrono::NaiveDate;
use handoff_domain::amendment::{change_request, CommercialTerms};
use handoff_domain::catalog::Catalog;
use handoff_domain::deal::{validate, DealInput};
use handoff_domain::project::{convert, ProjectSkeleton};
use handoff_domain::rates::{RateBook, RateSource};
use handoff_domain::{ExternalId, ProjectId, SourceSystem};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn seed(name: &str) -> String {
    let path = format!("{}/../../infra/seed/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn catalog() -> Catalog {
    Catalog::from_json(&seed("catalog.json")).unwrap()
}

fn rates(catalog: &Catalog) -> RateBook {
    RateBook::from_json(&seed("rate_cards.json"), catalog).unwrap()
}

fn input(name: &str) -> DealInput {
    serde_json::from_str(&seed(&format!("deals/{name}.json"))).unwrap()
}

fn today() -> NaiveDate {
    "2026-11-26".parse().unwrap()
}

fn converted(name: &str) -> ProjectSkeleton {
    let catalog = catalog();
    let rates = rates(&catalog);
    let deal = validate(&input(name), &catalog).unwrap();
    convert(&deal, &catalog, &rates, today()).unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn fixed_fee_deal_becomes_a_plan_with_milestones_to_the_cent() {
    let p = converted("acme-website");
    let expected = ProjectId::derive(
        &SourceSystem::new("hubspot").unwrap(),
        &ExternalId::new("33108462948").unwrap(),
    );
    assert_eq!(p.project_id, expected);
    let phases: Vec<&str> = p.phases.iter().map(|ph| ph.name.as_str()).collect();
    assert_eq!(phases, vec!["Discovery", "Design", "Build", "Launch"]);
    let launch: Vec<&str> = p
        .tasks
        .iter()
        .filter(|t| t.phase == "Launch")
        .map(|t| t.role.as_str())
        .collect();
    assert_eq!(
        launch,
        vec!["qa-engineer", "engagement-manager"],
        "estimates go where the offering puts the role"
    );
    let payments: Vec<(String, String)> = p
        .milestones
        .iter()
        .filter_map(|m| m.amount.map(|a| (m.name.clone(), a.to_string())))
        .collect();
    assert_eq!(
        payments,
        vec![
            (
                "Discovery report accepted".to_owned(),
                "9800.00 USD".to_owned()
            ),
            ("Design approved".to_owned(), "30780.00 USD".to_owned()),
            ("Build complete".to_owned(), "51300.00 USD".to_owned()),
            ("Site live".to_owned(), "20520.00 USD".to_owned()),
        ]
    );
    assert_eq!(
        p.contract.fee.unwrap().to_string(),
        "112400.00 USD",
        "9800 + 108000 less 5 %"
    );
    assert_eq!(p.budget.total_hours, dec("480"));
    let by_phase: Decimal = p.budget.by_phase.iter().map(|b| b.amount.amount()).sum();
    assert_eq!(
        by_phase,
        p.budget.total_amount.amount(),
        "both budget views add up"
    );
    let demand: Decimal = p.role_demand.iter().map(|d| d.hours).sum();
    assert_eq!(demand, dec("480"), "every planned hour is in some week");
    assert!(p.start_date >= "2026-12-07".parse().unwrap());
    assert_eq!(
        p.indicators.scope_clarity.score, 100,
        "{:?}",
        p.indicators.scope_clarity
    );
    assert_eq!(p.indicators.proposal_cycle_days, Some(67));
    assert!(
        p.indicators.kickoff_readiness.iter().all(|i| i.passed),
        "{:?}",
        p.indicators.kickoff_readiness
    );
}

#[test]
fn rates_follow_override_then_customer_card_then_standard() {
    let p = converted("globex-data");
    let rate = |role: &str| {
        p.budget
            .by_role
            .iter()
            .find(|r| r.role.as_str() == role)
            .unwrap()
    };
    assert_eq!(
        rate("engagement-manager").bill_rate.to_string(),
        "170.00 USD"
    );
    assert_eq!(
        rate("engagement-manager").rate_source,
        RateSource::ContractOverride
    );
    assert_eq!(rate("data-engineer").bill_rate.to_string(), "155.00 USD");
    assert_eq!(
        rate("data-engineer").rate_source,
        RateSource::CustomerCard {
            card: "globex-usd".into(),
            version: 1
        }
    );
    assert_eq!(
        rate("qa-engineer").rate_source,
        RateSource::StandardCard {
            card: "standard-usd".into(),
            version: 1
        }
    );
    // 2 pipelines × (120 + 16) data-engineer hours.
    assert_eq!(rate("data-engineer").hours, dec("272"));
    assert_eq!(rate("data-engineer").amount.to_string(), "42160.00 USD");
    assert!(
        p.contract.fee.is_none(),
        "time and materials has no fixed fee"
    );
    assert_eq!(p.contract.billing.cap.unwrap().to_string(), "105000.00 USD");
}

#[test]
fn a_deal_with_gaps_converts_with_a_low_score_and_named_gaps() {
    let p = converted("initech-support");
    let clarity = &p.indicators.scope_clarity;
    let failed: Vec<&str> = clarity.failed().map(|c| c.name.as_str()).collect();
    assert_eq!(
        failed,
        vec![
            "deliverables_have_acceptance_criteria",
            "role_estimates_present",
            "assumptions_approved",
            "dates_present_and_ordered",
            "billing_terms_complete",
            "billing_contact_present"
        ]
    );
    assert_eq!(clarity.score, 10);
    assert_eq!(
        p.start_date,
        "2026-12-10".parse().unwrap(),
        "two weeks after the conversion (later than the close)"
    );
    assert_eq!(
        p.contract.billing.model,
        handoff_domain::catalog::BillingModel::Retainer,
        "defaulted from the catalog"
    );
    assert_eq!(p.contract.fee.unwrap().to_string(), "30000.00 USD");
    assert_eq!(
        p.end_date,
        "2027-06-09".parse().unwrap(),
        "six retainer months from the start"
    );
    let unready: Vec<&str> = p
        .indicators
        .kickoff_readiness
        .iter()
        .filter(|i| !i.passed)
        .map(|i| i.item.as_str())
        .collect();
    assert!(unready.contains(&"Billing contact named"));
    assert!(
        unready.contains(&"Deal amount matches the line items"),
        "24000 on the deal vs 30000 in lines"
    );
}

#[test]
fn validation_lists_every_problem_with_its_path() {
    let mut bad = input("acme-website");
    bad.deal.currency = Some("USDX".into());
    bad.customer.external_id = Some("   ".into());
    bad.line_items[0].sku = Some("NOT-SOLD".into());
    bad.line_items[1].quantity = Some("-1".into());
    bad.scope.start_date = Some("2027-04-01".into());
    bad.scope.deliverables[1].role_estimates[0].role = Some("wizard".into());
    bad.billing.model = Some("hourly".into());
    bad.billing.payment_terms_days = Some(400);
    let problems = validate(&bad, &catalog()).unwrap_err().0;
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for expected in [
        "deal.currency",
        "customer.external_id",
        "line_items[0].sku",
        "line_items[1].quantity",
        "scope.target_end_date",
        "scope.deliverables[1].role_estimates[0].role",
        "billing.model",
        "billing.payment_terms_days",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(problems
        .iter()
        .any(|p| p.problem.contains("unknown SKU NOT-SOLD")));
}

#[test]
fn the_legal_entity_names_one_series_whatever_its_case() {
    let mut deal = input("globex-data");
    deal.customer.legal_entity = Some(" Northwind-US ".into());
    let valid = validate(&deal, &catalog()).unwrap();
    assert_eq!(
        valid.customer.legal_entity.as_deref(),
        Some("northwind-us"),
        "the same counter as the seed's deals"
    );
}

#[test]
fn unknown_fields_are_rejected_not_ignored() {
    let mut json: serde_json::Value =
        serde_json::from_str(&seed("deals/acme-website.json")).unwrap();
    json["deal"]["amout"] = "1".into();
    assert!(serde_json::from_value::<DealInput>(json).is_err());
}

#[test]
fn an_amended_deal_raises_one_change_request_listing_each_change() {
    let catalog = catalog();
    let original = validate(&input("globex-data"), &catalog).unwrap();
    let mut amended_input = input("globex-data");
    amended_input.deal.amount = Some("110000.00".into());
    amended_input.line_items[1].quantity = Some("5".into());
    amended_input.billing.cap = Some("120000.00".into());
    let amended = validate(&amended_input, &catalog).unwrap();
    let project = handoff_domain::project::project_id(&original);
    let request = change_request(
        project,
        &CommercialTerms::of(&original),
        &CommercialTerms::of(&amended),
    )
    .unwrap();
    let changes: Vec<(&str, &str, &str)> = request
        .changes
        .iter()
        .map(|c| {
            (
                c.field.as_str(),
                c.old.as_deref().unwrap(),
                c.new.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("billing.cap", "105000.00 USD", "120000.00 USD"),
            ("deal.amount", "98000.00 USD", "110000.00 USD"),
            ("line_items[DEV-SPRINT].quantity", "4", "5"),
        ]
    );
    let again = change_request(
        project,
        &CommercialTerms::of(&original),
        &CommercialTerms::of(&amended),
    )
    .unwrap();
    assert_eq!(
        again.id, request.id,
        "the same amendment is the same change request"
    );
    assert!(change_request(
        project,
        &CommercialTerms::of(&original),
        &CommercialTerms::of(&original)
    )
    .is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the quantities and dates, every planned hour lands in exactly one week and
    /// the two budget views agree to the cent.
    #[test]
    fn plans_conserve_hours_and_money(
        sprints in 1u32..20, pipelines in 1u32..5, lead_days in 0i64..120, weeks in 0i64..40
    ) {
        let catalog = catalog();
        let rates = rates(&catalog);
        let mut deal = input("globex-data");
        deal.line_items[0].quantity = Some(pipelines.to_string());
        deal.line_items[1].quantity = Some(sprints.to_string());
        let start = today() + chrono::Duration::days(lead_days);
        deal.scope.start_date = Some(start.to_string());
        deal.scope.target_end_date = Some((start + chrono::Duration::weeks(weeks)).to_string());
        let deal = validate(&deal, &catalog).unwrap();
        let p = convert(&deal, &catalog, &rates, today()).unwrap();
        let task_hours: Decimal = p.tasks.iter().map(|t| t.hours.value()).sum();
        let demand: Decimal = p.role_demand.iter().map(|d| d.hours).sum();
        prop_assert_eq!(task_hours, demand);
        prop_assert_eq!(p.budget.total_hours, task_hours);
        let by_phase: Decimal = p.budget.by_phase.iter().map(|b| b.amount.amount()).sum();
        prop_assert_eq!(by_phase, p.budget.total_amount.amount());
        prop_assert!(p.phases.windows(2).all(|w| w[0].end < w[1].start));
        prop_assert!(p.phases.iter().all(|ph| ph.start <= ph.end));
    }
}
