//! The capacity check: demand by role and ISO week against people's availability, solved
//! week by week as a min-cost max-flow (see [`super::flow`]).

use super::flow::FlowGraph;
use super::model::{Allocation, Demand, Resource, FTE_HOURS_PER_WEEK};
use crate::catalog::{Catalog, RoleCode};
use crate::schedule::iso_week_label;
use chrono::{Duration, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Default search horizon for the earliest feasible start.
pub const HORIZON_WEEKS_DEFAULT: u32 = 26;
/// Longest horizon accepted.
pub const HORIZON_WEEKS_MAX: u32 = 104;
/// Flow is computed in hundredths of an hour.
const UNITS_PER_HOUR: i64 = 100;
/// Cost of one unit on a partner: far above any preference cost, so partners are used
/// only where internal people cannot cover the demand.
const PARTNER_COST: i64 = 1_000;
/// Cost of putting a person on a role they did not hold the week before: steers each
/// role towards few distinct people when it changes nothing else.
const NEW_PERSON_COST: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOptions {
    /// Whether soft (tentative) allocations reduce availability, by their probability.
    pub count_soft: bool,
    pub horizon_weeks: u32,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            count_soft: true,
            horizon_weeks: HORIZON_WEEKS_DEFAULT,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Internal people cover all demand.
    Feasible,
    /// Covered, but only with partners.
    FeasibleWithPartners,
    /// Some demand is uncovered even with partners.
    NeedsHiring,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub resource: String,
    pub partner: bool,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleWeek {
    pub role: RoleCode,
    pub week: String,
    pub week_start: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub demand: Decimal,
    /// Hours of the people who could fill the role this week (shared with other roles).
    #[serde(with = "rust_decimal::serde::str")]
    pub available: Decimal,
    pub assigned: Vec<Assignment>,
    #[serde(with = "rust_decimal::serde::str")]
    pub shortfall: Decimal,
}

/// A role to hire for: FTE short over a run of consecutive weeks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiringNeed {
    pub role: RoleCode,
    pub from_week: String,
    pub to_week: String,
    /// The largest weekly shortfall in the run, in full-time equivalents (40 h).
    #[serde(with = "rust_decimal::serde::str")]
    pub fte: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerUse {
    pub role: RoleCode,
    pub resource: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffingReport {
    pub verdict: Verdict,
    pub roles: Vec<RoleWeek>,
    pub hiring: Vec<HiringNeed>,
    pub partners: Vec<PartnerUse>,
    /// Flow graph size of the largest week, for benchmarks.
    pub graph_nodes: usize,
    pub graph_edges: usize,
}

impl StaffingReport {
    pub fn shortfall_hours(&self) -> Decimal {
        self.roles.iter().map(|r| r.shortfall).sum()
    }
}

fn units(hours: Decimal) -> i64 {
    (hours * Decimal::from(UNITS_PER_HOUR))
        .round_dp_with_strategy(0, RoundingStrategy::ToZero)
        .to_i64()
        .unwrap_or(0)
        .max(0)
}

fn hours(units: i64) -> Decimal {
    Decimal::new(units, 2).normalize()
}

/// Availability of each resource in a week, after allocations.
fn availability(
    resource: &Resource,
    week: NaiveDate,
    allocations: &[Allocation],
    count_soft: bool,
) -> Decimal {
    let booked: Decimal = allocations
        .iter()
        .filter(|a| a.resource == resource.id && a.week_start == week)
        .map(|a| a.load(count_soft))
        .sum();
    (resource.capacity_in_week(week) - booked).max(Decimal::ZERO)
}

/// Checks `demand` against the pool. Roles nobody can fill are all shortfall.
pub fn check(
    demand: &[Demand],
    resources: &[Resource],
    allocations: &[Allocation],
    catalog: &Catalog,
    options: &CheckOptions,
) -> StaffingReport {
    let mut by_week: BTreeMap<NaiveDate, BTreeMap<RoleCode, Decimal>> = BTreeMap::new();
    for d in demand.iter().filter(|d| d.hours > Decimal::ZERO) {
        *by_week
            .entry(d.week_start)
            .or_default()
            .entry(d.role.clone())
            .or_default() += d.hours;
    }
    let roles: BTreeSet<&RoleCode> = demand.iter().map(|d| &d.role).collect();
    let covers: BTreeMap<&RoleCode, Vec<usize>> = roles
        .iter()
        .map(|role| {
            (
                *role,
                (0..resources.len())
                    .filter(|&i| resources[i].covers(role, catalog))
                    .collect(),
            )
        })
        .collect();
    let mut previous: BTreeSet<(RoleCode, usize)> = BTreeSet::new();
    let mut report = StaffingReport {
        verdict: Verdict::Feasible,
        roles: Vec::new(),
        hiring: Vec::new(),
        partners: Vec::new(),
        graph_nodes: 0,
        graph_edges: 0,
    };
    for (week, wanted) in &by_week {
        let available: Vec<Decimal> = resources
            .iter()
            .map(|r| availability(r, *week, allocations, options.count_soft))
            .collect();
        let week_roles: Vec<&RoleCode> = wanted.keys().collect();
        // Nodes: 0 source, 1 sink, 2.. roles, then resources.
        let role_node = |i: usize| 2 + i;
        let resource_node = |j: usize| 2 + week_roles.len() + j;
        let mut graph = FlowGraph::new(2 + week_roles.len() + resources.len());
        let mut role_edges = Vec::new();
        for (i, role) in week_roles.iter().enumerate() {
            graph.add_edge(0, role_node(i), units(wanted[*role]), 0);
            for &j in &covers[*role] {
                if available[j] <= Decimal::ZERO {
                    continue;
                }
                let cost = if resources[j].partner {
                    PARTNER_COST
                } else {
                    0
                } + if previous.contains(&((*role).clone(), j)) {
                    0
                } else {
                    NEW_PERSON_COST
                };
                let edge =
                    graph.add_edge(role_node(i), resource_node(j), units(wanted[*role]), cost);
                role_edges.push((i, j, edge));
            }
        }
        for (j, hours_free) in available.iter().enumerate() {
            if *hours_free > Decimal::ZERO {
                graph.add_edge(resource_node(j), 1, units(*hours_free), 0);
            }
        }
        report.graph_nodes = report.graph_nodes.max(graph.node_count());
        report.graph_edges = report.graph_edges.max(graph.edge_count());
        let bound = graph.edge_count() * 4 + 16;
        graph.min_cost_max_flow(0, 1, bound);
        previous.clear();
        for (i, role) in week_roles.iter().enumerate() {
            let mut assigned: Vec<Assignment> = role_edges
                .iter()
                .filter(|(ri, _, e)| *ri == i && graph.flow(*e) > 0)
                .map(|(_, j, e)| Assignment {
                    resource: resources[*j].id.clone(),
                    partner: resources[*j].partner,
                    hours: hours(graph.flow(*e)),
                })
                .collect();
            assigned.sort_by(|a, b| b.hours.cmp(&a.hours).then(a.resource.cmp(&b.resource)));
            for (_, j, _) in role_edges
                .iter()
                .filter(|(ri, _, e)| *ri == i && graph.flow(*e) > 0)
            {
                previous.insert(((*role).clone(), *j));
            }
            let covered: Decimal = assigned.iter().map(|a| a.hours).sum();
            let demand = wanted[*role];
            report.roles.push(RoleWeek {
                role: (*role).clone(),
                week: iso_week_label(*week),
                week_start: *week,
                demand,
                available: covers[*role].iter().map(|&j| available[j]).sum(),
                shortfall: (demand - covered).max(Decimal::ZERO),
                assigned,
            });
        }
    }
    summarize(&mut report);
    report
}

fn summarize(report: &mut StaffingReport) {
    let partner_hours: BTreeMap<(RoleCode, String), Decimal> = report
        .roles
        .iter()
        .flat_map(|r| {
            r.assigned
                .iter()
                .filter(|a| a.partner)
                .map(move |a| ((r.role.clone(), a.resource.clone()), a.hours))
        })
        .fold(BTreeMap::new(), |mut acc, (k, h)| {
            *acc.entry(k).or_default() += h;
            acc
        });
    report.partners = partner_hours
        .into_iter()
        .map(|((role, resource), hours)| PartnerUse {
            role,
            resource,
            hours,
        })
        .collect();
    report.hiring = hiring_needs(&report.roles);
    report.verdict = if report.roles.iter().any(|r| r.shortfall > Decimal::ZERO) {
        Verdict::NeedsHiring
    } else if report.partners.is_empty() {
        Verdict::Feasible
    } else {
        Verdict::FeasibleWithPartners
    };
}

/// Runs of consecutive short weeks per role, as FTE to hire.
fn hiring_needs(roles: &[RoleWeek]) -> Vec<HiringNeed> {
    let mut short: BTreeMap<&RoleCode, Vec<&RoleWeek>> = BTreeMap::new();
    for r in roles.iter().filter(|r| r.shortfall > Decimal::ZERO) {
        short.entry(&r.role).or_default().push(r);
    }
    let mut needs = Vec::new();
    for (role, mut weeks) in short {
        weeks.sort_by_key(|w| w.week_start);
        let mut run: Vec<&RoleWeek> = Vec::new();
        for w in weeks {
            if run
                .last()
                .is_some_and(|last| w.week_start != last.week_start + Duration::weeks(1))
            {
                needs.push(need(role, &run));
                run.clear();
            }
            run.push(w);
        }
        if !run.is_empty() {
            needs.push(need(role, &run));
        }
    }
    needs
}

fn need(role: &RoleCode, run: &[&RoleWeek]) -> HiringNeed {
    let peak = run.iter().map(|w| w.shortfall).max().unwrap_or_default();
    HiringNeed {
        role: role.clone(),
        from_week: run.first().map(|w| w.week.clone()).unwrap_or_default(),
        to_week: run.last().map(|w| w.week.clone()).unwrap_or_default(),
        fte: (peak / FTE_HOURS_PER_WEEK).round_dp_with_strategy(2, RoundingStrategy::AwayFromZero),
        hours: run.iter().map(|w| w.shortfall).sum(),
    }
}

/// The demand profile moved by `weeks` weeks.
pub fn shift(demand: &[Demand], weeks: i64) -> Vec<Demand> {
    demand
        .iter()
        .map(|d| Demand {
            role: d.role.clone(),
            week_start: d.week_start + Duration::weeks(weeks),
            hours: d.hours,
        })
        .collect()
}

/// The first start, from `desired_start` (or the profile's own start) in whole weeks up to
/// the horizon, at which the demand can be staffed (with partners if need be), with the
/// shift in weeks; `None` when no start within the horizon works.
pub fn earliest_feasible_start(
    demand: &[Demand],
    desired_start: Option<NaiveDate>,
    resources: &[Resource],
    allocations: &[Allocation],
    catalog: &Catalog,
    options: &CheckOptions,
) -> Option<(NaiveDate, i64)> {
    let first = demand.iter().map(|d| d.week_start).min()?;
    let start = crate::schedule::iso_week_start(desired_start.unwrap_or(first));
    let base = (start - first).num_weeks();
    for extra in 0..=i64::from(options.horizon_weeks.min(HORIZON_WEEKS_MAX)) {
        let shifted = shift(demand, base + extra);
        let report = check(&shifted, resources, allocations, catalog, options);
        if report.verdict != Verdict::NeedsHiring {
            return Some((start + Duration::weeks(extra), base + extra));
        }
    }
    None
}

/// What partners do to margin, per role: the revenue is the same either way (the
/// contract's bill rate), the cost is the partner's rate instead of the internal cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerMargin {
    pub role: RoleCode,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub revenue: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub partner_cost: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub internal_cost: Decimal,
    /// `internal_cost - partner_cost`: negative when partners cost more.
    #[serde(with = "rust_decimal::serde::str")]
    pub margin_change: Decimal,
}

/// Margin impact of the report's partner hours. `rates(role)` gives the contract's
/// (bill, internal cost) per hour for the role; amounts are in the contract currency and
/// rounded to cents.
pub fn partner_margin(
    report: &StaffingReport,
    resources: &[Resource],
    rates: impl Fn(&RoleCode) -> Option<(Decimal, Decimal)>,
) -> Vec<PartnerMargin> {
    let mut by_role: BTreeMap<RoleCode, PartnerMargin> = BTreeMap::new();
    for usage in &report.partners {
        let Some((bill, internal)) = rates(&usage.role) else {
            continue;
        };
        let partner_rate = resources
            .iter()
            .find(|r| r.id == usage.resource)
            .and_then(|r| r.cost_rate)
            .unwrap_or_default();
        let entry = by_role.entry(usage.role.clone()).or_insert(PartnerMargin {
            role: usage.role.clone(),
            hours: Decimal::ZERO,
            revenue: Decimal::ZERO,
            partner_cost: Decimal::ZERO,
            internal_cost: Decimal::ZERO,
            margin_change: Decimal::ZERO,
        });
        entry.hours += usage.hours;
        entry.revenue += usage.hours * bill;
        entry.partner_cost += usage.hours * partner_rate;
        entry.internal_cost += usage.hours * internal;
    }
    by_role
        .into_values()
        .map(|mut m| {
            let cents =
                |d: Decimal| d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            m.revenue = cents(m.revenue);
            m.partner_cost = cents(m.partner_cost);
            m.internal_cost = cents(m.internal_cost);
            m.margin_change = m.internal_cost - m.partner_cost;
            m
        })
        .collect()
}
