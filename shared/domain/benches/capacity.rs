//! `cargo bench -p handoff-domain --bench capacity`: a capacity check of 200 resources,
//! 30 roles and 52 weeks, and an earliest-start search over 26 weeks; prints wall times
//! and the flow graph size. A plain binary (no harness): figures, not assertions.

use chrono::{Duration, NaiveDate};
use handoff_domain::capacity::{check, earliest_feasible_start, CheckOptions, Demand, Resource};
use handoff_domain::catalog::{Catalog, RoleCode};
use rust_decimal::Decimal;
use std::time::Instant;

const RESOURCES: usize = 200;
const ROLES: usize = 30;
const WEEKS: i64 = 52;
const RUNS: u32 = 5;

fn main() {
    let roles: Vec<String> = (0..ROLES)
        .map(|i| {
            format!(r#"{{"code": "role-{i:02}", "name": "Role {i}", "skills": ["skill-{i:02}"]}}"#)
        })
        .collect();
    let catalog = Catalog::from_json(&format!(
        r#"{{"roles": [{}], "offerings": []}}"#,
        roles.join(",")
    ))
    .expect("catalog");
    // Each person holds 2-4 skills, deterministic; a fifth are partners.
    let pool: Vec<Resource> = (0..RESOURCES)
        .map(|i| Resource {
            id: format!("p{i:03}"),
            name: format!("Person {i}"),
            skills: (0..2 + i % 3)
                .map(|k| format!("skill-{:02}", (i * 7 + k * 11) % ROLES))
                .collect(),
            weekly_capacity_hours: Decimal::from(40),
            partner: i % 5 == 0,
            cost_rate: (i % 5 == 0).then(|| Decimal::from(150)),
            cost_currency: None,
            employment_start: None,
            employment_end: None,
            time_off: Vec::new(),
            public_holidays: Vec::new(),
        })
        .collect();
    let start: NaiveDate = "2027-01-04".parse().expect("date");
    // About 85 % of total capacity, unevenly spread over roles and weeks.
    let demand: Vec<Demand> = (0..WEEKS)
        .flat_map(|w| {
            (0..ROLES).map(move |r| Demand {
                role: RoleCode::new(&format!("role-{r:02}")).expect("role"),
                week_start: start + Duration::weeks(w),
                hours: Decimal::from(180 + ((r as i64 * 37 + w * 13) % 120)),
            })
        })
        .collect();
    let total: Decimal = demand.iter().map(|d| d.hours).sum();
    println!(
        "capacity check: {RESOURCES} resources, {ROLES} roles, {WEEKS} weeks, {total} h demanded"
    );
    let options = CheckOptions::default();
    let mut best = f64::MAX;
    let mut report = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        report = Some(check(&demand, &pool, &[], &catalog, &options));
        best = best.min(t.elapsed().as_secs_f64());
    }
    let report = report.expect("ran");
    println!(
        "  check: best of {RUNS} {:.1} ms; verdict {:?}; shortfall {} h; flow graph per week: {} nodes, {} edges",
        best * 1e3,
        report.verdict,
        report.shortfall_hours(),
        report.graph_nodes,
        report.graph_edges
    );
    let t = Instant::now();
    let earliest = earliest_feasible_start(&demand, None, &pool, &[], &catalog, &options);
    println!(
        "  earliest feasible start search (horizon 26 weeks): {:.1} ms -> {earliest:?}",
        t.elapsed().as_secs_f64() * 1e3
    );
}
