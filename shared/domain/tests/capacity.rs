//! The capacity check: a staffing whenever one exists, calendars, soft and hard
//! allocations, partners, hiring needs and the earliest feasible start.

use chrono::{Duration, NaiveDate};
use handoff_domain::capacity::model::DateRange;
use handoff_domain::capacity::{
    check, earliest_feasible_start, partner_margin, Allocation, AllocationKind, CheckOptions,
    Demand, Resource, Verdict,
};
use handoff_domain::catalog::{Catalog, RoleCode};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn catalog() -> Catalog {
    Catalog::from_json(
        r#"{"roles": [
            {"code": "architect", "name": "Architect", "skills": ["architecture"]},
            {"code": "engineer", "name": "Engineer", "skills": ["code"]},
            {"code": "tester", "name": "Tester", "skills": ["testing"]}
        ], "offerings": []}"#,
    )
    .unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}
fn monday(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
fn role(s: &str) -> RoleCode {
    RoleCode::new(s).unwrap()
}

fn person(id: &str, skills: &[&str], hours: &str) -> Resource {
    Resource {
        id: id.into(),
        name: id.into(),
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        weekly_capacity_hours: dec(hours),
        partner: false,
        cost_rate: None,
        cost_currency: None,
        employment_start: None,
        employment_end: None,
        time_off: Vec::new(),
        public_holidays: Vec::new(),
    }
}

fn partner(id: &str, skills: &[&str], hours: &str, rate: &str) -> Resource {
    Resource {
        partner: true,
        cost_rate: Some(dec(rate)),
        ..person(id, skills, hours)
    }
}

fn demand(r: &str, week: &str, hours: &str) -> Demand {
    Demand {
        role: role(r),
        week_start: monday(week),
        hours: dec(hours),
    }
}

const W1: &str = "2027-01-04";
const W2: &str = "2027-01-11";
const W3: &str = "2027-01-18";

#[test]
fn finds_the_staffing_a_greedy_pass_misses() {
    // Alice can do both roles, Bob only architecture. A greedy pass taking roles in order
    // (architect first) and people in order gives Alice the architect hours and strands
    // engineering; the flow gives architecture to Bob and engineering to Alice.
    let pool = vec![
        person("alice", &["architecture", "code"], "40"),
        person("bob", &["architecture"], "40"),
    ];
    let want = vec![demand("architect", W1, "40"), demand("engineer", W1, "40")];
    let report = check(&want, &pool, &[], &catalog(), &CheckOptions::default());
    assert_eq!(report.verdict, Verdict::Feasible, "{report:#?}");
    let architect = report
        .roles
        .iter()
        .find(|r| r.role == role("architect"))
        .unwrap();
    assert_eq!(
        architect
            .assigned
            .iter()
            .map(|a| a.resource.as_str())
            .collect::<Vec<_>>(),
        vec!["bob"]
    );
    let engineer = report
        .roles
        .iter()
        .find(|r| r.role == role("engineer"))
        .unwrap();
    assert_eq!(
        engineer
            .assigned
            .iter()
            .map(|a| a.resource.as_str())
            .collect::<Vec<_>>(),
        vec!["alice"]
    );
    assert_eq!(report.shortfall_hours(), Decimal::ZERO);
}

#[test]
fn time_off_and_holidays_reduce_capacity() {
    let mut bob = person("bob", &["code"], "40");
    bob.time_off.push(DateRange {
        from: monday(W1),
        to: monday(W1) + Duration::days(4),
    });
    bob.public_holidays.push(monday(W2) + Duration::days(2)); // a Wednesday
    let want = vec![demand("engineer", W1, "8"), demand("engineer", W2, "40")];
    let report = check(&want, &[bob], &[], &catalog(), &CheckOptions::default());
    assert_eq!(report.verdict, Verdict::NeedsHiring);
    let shortfalls: Vec<String> = report
        .roles
        .iter()
        .map(|r| r.shortfall.to_string())
        .collect();
    assert_eq!(
        shortfalls,
        vec!["8", "8"],
        "the week off, then one holiday of 8 h"
    );
    assert_eq!(report.hiring.len(), 1);
    assert_eq!(report.hiring[0].from_week, "2027-W01");
    assert_eq!(report.hiring[0].to_week, "2027-W02");
    assert_eq!(report.hiring[0].fte, dec("0.2"));
    assert_eq!(report.hiring[0].hours, dec("16"));
}

#[test]
fn hard_allocations_count_fully_soft_ones_by_probability_if_asked() {
    let bob = person("bob", &["code"], "40");
    let booked = |kind| Allocation {
        resource: "bob".into(),
        project: None,
        role: role("engineer"),
        week_start: monday(W1),
        hours: dec("20"),
        kind,
    };
    let want = vec![demand("engineer", W1, "30")];
    let hard = check(
        &want,
        std::slice::from_ref(&bob),
        &[booked(AllocationKind::Hard)],
        &catalog(),
        &CheckOptions::default(),
    );
    assert_eq!(hard.roles[0].shortfall, dec("10"));
    let soft = [booked(AllocationKind::Soft {
        probability: dec("0.5"),
    })];
    let counted = check(
        &want,
        std::slice::from_ref(&bob),
        &soft,
        &catalog(),
        &CheckOptions::default(),
    );
    assert_eq!(
        counted.roles[0].shortfall,
        Decimal::ZERO,
        "40 - 20 x 0.5 = 30 available"
    );
    assert_eq!(counted.roles[0].available, dec("30"));
    let ignored = check(
        &want,
        &[bob],
        &soft,
        &catalog(),
        &CheckOptions {
            count_soft: false,
            ..CheckOptions::default()
        },
    );
    assert_eq!(ignored.roles[0].available, dec("40"));
}

#[test]
fn partners_only_where_internal_people_run_out() {
    let pool = vec![
        person("bob", &["code"], "40"),
        partner("acme-dev", &["code"], "40", "150"),
    ];
    let light = check(
        &[demand("engineer", W1, "40")],
        &pool,
        &[],
        &catalog(),
        &CheckOptions::default(),
    );
    assert_eq!(light.verdict, Verdict::Feasible, "bob suffices");
    let heavy = check(
        &[demand("engineer", W1, "60")],
        &pool,
        &[],
        &catalog(),
        &CheckOptions::default(),
    );
    assert_eq!(heavy.verdict, Verdict::FeasibleWithPartners);
    assert_eq!(heavy.partners.len(), 1);
    assert_eq!(heavy.partners[0].hours, dec("20"));
    let margin = partner_margin(&heavy, &pool, |_| Some((dec("135"), dec("64"))));
    assert_eq!(margin[0].revenue, dec("2700.00"));
    assert_eq!(margin[0].partner_cost, dec("3000.00"));
    assert_eq!(margin[0].internal_cost, dec("1280.00"));
    assert_eq!(
        margin[0].margin_change,
        dec("-1720.00"),
        "partners cost 1720 of margin"
    );
}

#[test]
fn keeps_one_person_on_a_role_when_it_costs_nothing() {
    let pool = vec![
        person("ann", &["code"], "40"),
        person("ben", &["code"], "40"),
    ];
    let want = vec![
        demand("engineer", W1, "20"),
        demand("engineer", W2, "20"),
        demand("engineer", W3, "20"),
    ];
    let report = check(&want, &pool, &[], &catalog(), &CheckOptions::default());
    let people: Vec<&str> = report
        .roles
        .iter()
        .flat_map(|r| r.assigned.iter().map(|a| a.resource.as_str()))
        .collect();
    assert_eq!(people.len(), 3);
    assert!(people.windows(2).all(|w| w[0] == w[1]), "{people:?}");
}

#[test]
fn earliest_start_waits_for_people_and_gives_up_at_the_horizon() {
    let mut bob = person("bob", &["code"], "40");
    bob.time_off.push(DateRange {
        from: monday(W1),
        to: monday(W2) + Duration::days(4),
    });
    let want = vec![demand("engineer", W1, "40")];
    let options = CheckOptions::default();
    let (start, shift) = earliest_feasible_start(
        &want,
        None,
        std::slice::from_ref(&bob),
        &[],
        &catalog(),
        &options,
    )
    .unwrap();
    assert_eq!((start, shift), (monday(W3), 2), "bob is back in week 3");
    let nobody = earliest_feasible_start(
        &[demand("architect", W1, "10")],
        None,
        &[bob],
        &[],
        &catalog(),
        &CheckOptions {
            horizon_weeks: 4,
            ..options
        },
    );
    assert_eq!(nobody, None, "no architect within the horizon");
}

#[test]
fn unknown_or_unskilled_roles_are_all_shortfall() {
    let report = check(
        &[demand("tester", W1, "12.5")],
        &[person("bob", &["code"], "40")],
        &[],
        &catalog(),
        &CheckOptions::default(),
    );
    assert_eq!(report.verdict, Verdict::NeedsHiring);
    assert_eq!(report.roles[0].shortfall, dec("12.5"));
    assert_eq!(report.roles[0].available, Decimal::ZERO);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the pool and demand: nobody works beyond availability, no role gets more
    /// than it asked, shortfall is exactly what is left, and if the total capacity of a
    /// single-role pool covers the demand, the check finds it.
    #[test]
    fn assignments_respect_capacity_and_demand(
        capacities in prop::collection::vec(0u32..45, 1..8),
        skills in prop::collection::vec(0u8..4, 1..8),
        wants in prop::collection::vec((0usize..3, 0u32..80), 1..6),
    ) {
        let roles = ["architect", "engineer", "tester"];
        let tags = [vec!["architecture"], vec!["code"], vec!["testing"], vec!["architecture", "code", "testing"]];
        let pool: Vec<Resource> = capacities.iter().zip(skills.iter().cycle()).enumerate()
            .map(|(i, (c, s))| person(&format!("p{i}"), &tags[*s as usize], &c.to_string()))
            .collect();
        let want: Vec<Demand> = wants.iter().map(|(r, h)| demand(roles[*r], W1, &h.to_string())).collect();
        let report = check(&want, &pool, &[], &catalog(), &CheckOptions::default());
        for r in &report.roles {
            let assigned: Decimal = r.assigned.iter().map(|a| a.hours).sum();
            prop_assert!(assigned <= r.demand);
            prop_assert_eq!(r.shortfall, r.demand - assigned);
        }
        for p in &pool {
            let used: Decimal = report.roles.iter().flat_map(|r| &r.assigned).filter(|a| a.resource == p.id).map(|a| a.hours).sum();
            prop_assert!(used <= p.weekly_capacity_hours);
        }
        // Everyone can do everything: feasible exactly when total capacity suffices.
        let universal: Vec<Resource> = capacities.iter().enumerate().map(|(i, c)| person(&format!("u{i}"), &tags[3], &c.to_string())).collect();
        let all = check(&want, &universal, &[], &catalog(), &CheckOptions::default());
        let total_capacity: u32 = capacities.iter().sum();
        let total_demand: u32 = wants.iter().map(|(_, h)| h).sum();
        prop_assert_eq!(all.verdict == Verdict::Feasible, total_capacity >= total_demand);
    }
}
