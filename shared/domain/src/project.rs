//! Closed-won → project skeleton (DESIGN §4.3).
//!
//! Pure: a validated [`Deal`], the catalog and the rate cards in, a [`ProjectSkeleton`] out
//! (or every problem, e.g. a role without a rate). Decisions this module makes where the
//! design is silent:
//! - Tasks come from each line's offering effort model × quantity, unless a deliverable
//!   names that line's SKU and carries role estimates: then the estimates replace the
//!   effort model for that SKU, each in the phase where the offering puts that role's work.
//!   Deliverables with estimates and no SKU add tasks in a `Delivery` phase.
//! - Without a scoped start, the plan starts on the first working day two weeks after the
//!   close date, or after the conversion date when that is later; without a target end, it lasts as many weeks as the total
//!   hours need at [`PLANNING_HOURS_PER_ROLE_WEEK`] per distinct role (at least one).
//! - Phases run one after another over the plan's working days, in proportion to hours.
//! - Role demand spreads each task's hours evenly over its phase's working days (to the
//!   hundredth, the last day taking the remainder), summed per ISO week: totals are exact.
//! - Budget amounts are hours × bill rate on the start date, rounded per (phase, role);
//!   the by-role and by-phase views add up to the same total.

use crate::catalog::{BillingModel, Catalog, RoleCode, Sku};
use crate::currency::Currency;
use crate::deal::{BillingTerms, Deal, Scope};
use crate::hours::Hours;
use crate::id::{ContractId, CustomerId, ExternalId, MilestoneId, ProjectId, SourceSystem};
use crate::indicators::{self, Indicators};
use crate::money::Money;
use crate::problems::{ProblemList, Problems};
use crate::rates::{RateBook, RateSource};
use crate::schedule::{
    add_working_days, iso_week_label, iso_week_start, next_working_day, split_exact, working_days,
};
use chrono::{Duration, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Planning assumption when a deal has no target end date.
pub const PLANNING_HOURS_PER_ROLE_WEEK: Decimal = Decimal::from_parts(32, 0, 0, false, 0);
/// Lead time from close to a default start.
pub const DEFAULT_START_LEAD_DAYS: i64 = 14;
/// Phase of tasks from deliverables that name no SKU.
pub const DELIVERY_PHASE: &str = "Delivery";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealLink {
    pub system: SourceSystem,
    pub deal_id: ExternalId,
    pub name: String,
    pub owner: Option<String>,
    pub amount: Option<Money>,
    pub closed_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub hours: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskSource {
    EffortModel { sku: String, line: usize },
    Deliverable { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub phase: String,
    pub name: String,
    pub role: RoleCode,
    pub hours: Hours,
    pub source: TaskSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    pub id: MilestoneId,
    pub name: String,
    pub phase: Option<String>,
    /// The line item's SKU the milestone belongs to, if any.
    pub sku: Option<Sku>,
    pub due_date: NaiveDate,
    /// Fixed fee: the amount billed on acceptance.
    pub amount: Option<Money>,
    pub acceptance_criteria: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleWeekDemand {
    pub role: RoleCode,
    /// `2026-W49`.
    pub week: String,
    pub week_start: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleBudget {
    pub role: RoleCode,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
    pub bill_rate: Money,
    pub rate_source: RateSource,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseBudget {
    pub phase: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
    pub amount: Money,
}

/// The baseline budget, frozen at conversion: later changes are change requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub by_role: Vec<RoleBudget>,
    pub by_phase: Vec<PhaseBudget>,
    #[serde(with = "rust_decimal::serde::str")]
    pub total_hours: Decimal,
    pub total_amount: Money,
    pub frozen_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractTerms {
    pub contract_id: ContractId,
    pub version: u32,
    pub currency: Currency,
    pub billing: BillingTerms,
    /// Fixed fee and retainer: the sum of the line nets.
    pub fee: Option<Money>,
    /// Retainer: the block bought per period.
    #[serde(default)]
    pub retainer: Option<RetainerTerms>,
}

/// A retainer's prepaid block: hours and fee per period (from its catalog offering's
/// effort per unit and the line's discounted unit price).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainerTerms {
    #[serde(with = "rust_decimal::serde::str")]
    pub hours_per_period: Decimal,
    pub fee_per_period: Money,
    #[serde(with = "rust_decimal::serde::str")]
    pub rollover_hours_max: Decimal,
}

fn retainer_terms(deal: &Deal, catalog: &Catalog) -> Option<RetainerTerms> {
    if deal.billing.model != BillingModel::Retainer {
        return None;
    }
    let line = deal.line_items.iter().find(|l| {
        catalog
            .offering(&l.sku)
            .is_some_and(|o| o.billing_model_default == BillingModel::Retainer)
    })?;
    let offering = catalog.offering(&line.sku)?;
    let keep = (Decimal::ONE_HUNDRED - line.discount_percent) / Decimal::ONE_HUNDRED;
    Some(RetainerTerms {
        hours_per_period: offering.effort_model.iter().map(|e| e.hours_per_unit).sum(),
        fee_per_period: line
            .unit_price
            .checked_mul(keep)
            .ok()?
            .round_to_minor_units(),
        rollover_hours_max: deal.billing.retainer_rollover_hours_max.unwrap_or_default(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSkeleton {
    pub project_id: ProjectId,
    pub customer_id: CustomerId,
    pub customer_name: String,
    /// Who is invoiced: billing contact, tax jurisdiction, legal entity.
    #[serde(default)]
    pub customer: Option<crate::deal::Customer>,
    pub deal: DealLink,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub phases: Vec<Phase>,
    pub tasks: Vec<Task>,
    pub milestones: Vec<Milestone>,
    pub role_demand: Vec<RoleWeekDemand>,
    pub budget: Budget,
    pub contract: ContractTerms,
    pub scope: Scope,
    pub narrative: Option<String>,
    pub indicators: Indicators,
}

/// The canonical ids a deal maps to (DESIGN §4.1).
pub fn project_id(deal: &Deal) -> ProjectId {
    ProjectId::derive(&deal.system, &deal.deal_id)
}

pub fn customer_id(deal: &Deal) -> CustomerId {
    CustomerId::derive(&deal.system, &deal.customer.external_id)
}

pub fn contract_id(project: ProjectId) -> ContractId {
    ContractId::derive_from_parts(&[&project.to_string(), "primary"])
}

/// Converts a validated deal into its project skeleton.
pub fn convert(
    deal: &Deal,
    catalog: &Catalog,
    rates: &RateBook,
    converted_on: NaiveDate,
) -> Result<ProjectSkeleton, Problems> {
    let project_id = project_id(deal);
    let customer_id = customer_id(deal);
    let tasks = tasks(deal, catalog);
    let total_hours: Decimal = tasks.iter().map(|t| t.hours.value()).sum();
    let (start_date, end_date) = plan_dates(deal, catalog, &tasks, total_hours, converted_on);
    let phases = phases(&tasks, start_date, end_date);
    let end_date = phases.last().map_or(end_date, |p| p.end.max(end_date));
    let role_demand = role_demand(&tasks, &phases);
    let mut problems = ProblemList::new();
    let budget = budget(
        deal,
        &tasks,
        rates,
        customer_id,
        start_date,
        converted_on,
        &mut problems,
    );
    let milestones = milestones(deal, catalog, project_id, &phases, end_date);
    let fee = match deal.billing.model {
        BillingModel::TimeAndMaterials => None,
        _ => Money::sum(deal.currency, deal.line_items.iter().map(|l| &l.net)).ok(),
    };
    let indicators = indicators::evaluate(deal);
    let contract = ContractTerms {
        contract_id: contract_id(project_id),
        version: 1,
        currency: deal.currency,
        billing: deal.billing.clone(),
        fee,
        retainer: retainer_terms(deal, catalog),
    };
    match budget {
        Some(budget) if problems.is_empty() => Ok(ProjectSkeleton {
            project_id,
            customer_id,
            customer_name: deal.customer.name.clone(),
            customer: Some(deal.customer.clone()),
            deal: DealLink {
                system: deal.system.clone(),
                deal_id: deal.deal_id.clone(),
                name: deal.name.clone(),
                owner: deal.owner.clone(),
                amount: deal.amount,
                closed_on: deal.closed_on,
            },
            start_date,
            end_date,
            phases,
            tasks,
            milestones,
            role_demand,
            budget,
            contract,
            scope: deal.scope.clone(),
            narrative: deal.narrative.clone(),
            indicators,
        }),
        _ => Err(problems.into_problems()),
    }
}

fn task_hours(per_unit: Decimal, quantity: Decimal) -> Hours {
    let hours = (per_unit * quantity).round_dp(2).max(Decimal::ZERO);
    Hours::new(hours).unwrap_or(Hours::ZERO)
}

fn tasks(deal: &Deal, catalog: &Catalog) -> Vec<Task> {
    let mut tasks = Vec::new();
    for (line, item) in deal.line_items.iter().enumerate() {
        let Some(offering) = catalog.offering(&item.sku) else {
            continue;
        };
        let detailed: Vec<_> = deal
            .scope
            .deliverables
            .iter()
            .filter(|d| d.sku.as_ref() == Some(&item.sku) && !d.role_estimates.is_empty())
            .collect();
        if detailed.is_empty() {
            for effort in &offering.effort_model {
                tasks.push(Task {
                    phase: effort.phase.clone(),
                    name: effort.task.clone(),
                    role: effort.role.clone(),
                    hours: task_hours(effort.hours_per_unit, item.quantity),
                    source: TaskSource::EffortModel {
                        sku: item.sku.to_string(),
                        line,
                    },
                });
            }
        } else {
            // Each estimate goes to the phase where the offering puts that role's work.
            let phase_of = |role: &RoleCode| {
                let effort = offering.effort_model.iter().find(|e| &e.role == role);
                effort
                    .or(offering.effort_model.first())
                    .map_or(DELIVERY_PHASE.to_owned(), |e| e.phase.clone())
            };
            tasks.extend(
                detailed
                    .iter()
                    .flat_map(|d| deliverable_tasks(d, &phase_of)),
            );
        }
    }
    for deliverable in deal.scope.deliverables.iter().filter(|d| d.sku.is_none()) {
        tasks.extend(deliverable_tasks(deliverable, &|_: &RoleCode| {
            DELIVERY_PHASE.to_owned()
        }));
    }
    tasks
}

fn deliverable_tasks(
    deliverable: &crate::deal::Deliverable,
    phase_of: &dyn Fn(&RoleCode) -> String,
) -> Vec<Task> {
    deliverable
        .role_estimates
        .iter()
        .map(|e| Task {
            phase: phase_of(&e.role),
            name: format!("{} ({})", deliverable.name, e.role),
            role: e.role.clone(),
            hours: e.hours,
            source: TaskSource::Deliverable {
                name: deliverable.name.clone(),
            },
        })
        .collect()
}

fn plan_dates(
    deal: &Deal,
    catalog: &Catalog,
    tasks: &[Task],
    total_hours: Decimal,
    converted_on: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    // A deal converted long after it closed (a late or replayed webhook) starts from the
    // conversion, not in the past.
    let anchor = deal.closed_on.unwrap_or(converted_on).max(converted_on);
    let start = next_working_day(
        deal.scope
            .start_date
            .unwrap_or(anchor + Duration::days(DEFAULT_START_LEAD_DAYS)),
    );
    let end = deal.scope.target_end_date.unwrap_or_else(|| {
        let mut roles: Vec<&RoleCode> = tasks.iter().map(|t| &t.role).collect();
        roles.sort();
        roles.dedup();
        let capacity = PLANNING_HOURS_PER_ROLE_WEEK * Decimal::from(roles.len().max(1));
        let weeks = (total_hours / capacity).ceil().max(Decimal::ONE);
        let weeks = weeks.to_i64().unwrap_or(52).min(260);
        let by_effort = start + Duration::days(weeks * 7 - 3); // the Friday of the last week
        deal.line_items
            .iter()
            .filter_map(|line| unit_end(start, catalog.offering(&line.sku)?, line.quantity))
            .fold(by_effort, NaiveDate::max)
    });
    (start, end.max(start))
}

/// When `quantity` units of a time-boxed offering (sprints, retainer months) end.
fn unit_end(
    start: NaiveDate,
    offering: &crate::catalog::Offering,
    quantity: Decimal,
) -> Option<NaiveDate> {
    let units = quantity.ceil().to_u32()?.min(120);
    if let Some(weeks) = offering.weeks_per_unit {
        return Some(start + Duration::weeks(i64::from(units * weeks)) - Duration::days(3));
    }
    let months = offering.months_per_unit? * units;
    start
        .checked_add_months(chrono::Months::new(months))
        .map(|d| d - Duration::days(1))
}

/// Phases in order of first appearance, over the plan's working days by share of hours.
fn phases(tasks: &[Task], start: NaiveDate, end: NaiveDate) -> Vec<Phase> {
    let mut order: Vec<(String, Decimal)> = Vec::new();
    for task in tasks {
        match order.iter_mut().find(|(name, _)| *name == task.phase) {
            Some((_, hours)) => *hours += task.hours.value(),
            None => order.push((task.phase.clone(), task.hours.value())),
        }
    }
    let days = working_days(start, end).len().max(order.len()).max(1);
    let total: Decimal = order.iter().map(|(_, h)| *h).sum();
    let mut phases = Vec::new();
    let mut first_day = 0usize;
    for (i, (name, hours)) in order.iter().enumerate() {
        let remaining_phases = order.len() - i - 1;
        let share = if total.is_zero() {
            Decimal::from(days) / Decimal::from(order.len())
        } else {
            Decimal::from(days) * *hours / total
        };
        let wanted = share.round().to_usize().unwrap_or(1).max(1);
        let available = days - first_day - remaining_phases;
        let length = if remaining_phases == 0 {
            available
        } else {
            wanted.min(available).max(1)
        };
        phases.push(Phase {
            name: name.clone(),
            start: add_working_days(start, first_day),
            end: add_working_days(start, first_day + length - 1),
            hours: *hours,
        });
        first_day += length;
    }
    phases
}

fn role_demand(tasks: &[Task], phases: &[Phase]) -> Vec<RoleWeekDemand> {
    let mut by_week: BTreeMap<(RoleCode, NaiveDate), Decimal> = BTreeMap::new();
    for task in tasks {
        let Some(phase) = phases.iter().find(|p| p.name == task.phase) else {
            continue;
        };
        let days = working_days(phase.start, phase.end);
        for (day, hours) in days.iter().zip(split_exact(task.hours.value(), days.len())) {
            *by_week
                .entry((task.role.clone(), iso_week_start(*day)))
                .or_default() += hours;
        }
    }
    by_week
        .into_iter()
        .filter(|(_, hours)| !hours.is_zero())
        .map(|((role, week_start), hours)| RoleWeekDemand {
            role,
            week: iso_week_label(week_start),
            week_start,
            hours: hours.normalize(),
        })
        .collect()
}

fn budget(
    deal: &Deal,
    tasks: &[Task],
    rates: &RateBook,
    customer: CustomerId,
    start: NaiveDate,
    frozen_on: NaiveDate,
    problems: &mut ProblemList,
) -> Option<Budget> {
    let mut cells: BTreeMap<(String, RoleCode), Decimal> = BTreeMap::new();
    for task in tasks {
        *cells
            .entry((task.phase.clone(), task.role.clone()))
            .or_default() += task.hours.value();
    }
    let mut quotes = BTreeMap::new();
    for role in cells.keys().map(|(_, r)| r.clone()) {
        if quotes.contains_key(&role) {
            continue;
        }
        match rates.quote(
            &role,
            start,
            deal.currency,
            Some(customer),
            &deal.billing.rate_overrides,
        ) {
            Ok(q) => {
                quotes.insert(role, q);
            }
            Err(e) => problems.push(format!("budget.{role}"), e.to_string()),
        }
    }
    if !problems.is_empty() {
        return None;
    }
    let zero = Money::zero(deal.currency);
    let mut by_role: BTreeMap<RoleCode, (Decimal, Money)> = BTreeMap::new();
    let mut by_phase: Vec<PhaseBudget> = Vec::new();
    for ((phase, role), hours) in &cells {
        let rate = quotes.get(role)?.bill;
        let amount = rate.checked_mul(*hours).ok()?.round_to_minor_units();
        let entry = by_role.entry(role.clone()).or_insert((Decimal::ZERO, zero));
        entry.0 += *hours;
        entry.1 = entry.1.checked_add(&amount).ok()?;
        match by_phase.iter_mut().find(|p| &p.phase == phase) {
            Some(p) => {
                p.hours += *hours;
                p.amount = p.amount.checked_add(&amount).ok()?;
            }
            None => by_phase.push(PhaseBudget {
                phase: phase.clone(),
                hours: *hours,
                amount,
            }),
        }
    }
    let by_role: Vec<RoleBudget> = by_role
        .into_iter()
        .filter_map(|(role, (hours, amount))| {
            let quote = quotes.get(&role)?;
            Some(RoleBudget {
                hours,
                bill_rate: quote.bill,
                rate_source: quote.source.clone(),
                amount,
                role,
            })
        })
        .collect();
    let total_amount = Money::sum(deal.currency, by_role.iter().map(|r| &r.amount)).ok()?;
    Some(Budget {
        total_hours: by_role.iter().map(|r| r.hours).sum(),
        by_role,
        by_phase,
        total_amount,
        frozen_on,
    })
}

fn milestones(
    deal: &Deal,
    catalog: &Catalog,
    project: ProjectId,
    phases: &[Phase],
    end: NaiveDate,
) -> Vec<Milestone> {
    let phase_end = |name: &str| {
        phases
            .iter()
            .find(|p| p.name == name)
            .map_or(end, |p| p.end)
    };
    let id = |parts: &[&str]| {
        let mut all = vec![project.to_string()];
        all.extend(parts.iter().map(|p| (*p).to_owned()));
        MilestoneId::derive_from_parts(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let mut milestones = Vec::new();
    if deal.billing.model == BillingModel::FixedFee {
        for (line, item) in deal.line_items.iter().enumerate() {
            let Some(offering) = catalog.offering(&item.sku) else {
                continue;
            };
            let templates: Vec<(String, Option<String>, Decimal)> =
                if offering.default_milestones.is_empty() {
                    vec![(
                        format!("{} accepted", offering.name),
                        None,
                        Decimal::ONE_HUNDRED,
                    )]
                } else {
                    offering
                        .default_milestones
                        .iter()
                        .map(|m| (m.name.clone(), Some(m.phase.clone()), m.percent_of_fee))
                        .collect()
                };
            let amounts =
                split_by_percent(item.net, &templates.iter().map(|t| t.2).collect::<Vec<_>>());
            for (j, ((name, phase, _), amount)) in templates.into_iter().zip(amounts).enumerate() {
                milestones.push(Milestone {
                    id: id(&["payment", &line.to_string(), &j.to_string()]),
                    due_date: phase.as_deref().map_or(end, phase_end),
                    name,
                    phase,
                    sku: Some(item.sku.clone()),
                    amount: Some(amount),
                    acceptance_criteria: Vec::new(),
                });
            }
        }
    }
    for (i, d) in deal.scope.deliverables.iter().enumerate() {
        // A fixed-fee deliverable is accepted with its line's final payment milestone.
        let payment = milestones.iter_mut().rev().find(|m| {
            m.amount.is_some()
                && d.sku
                    .as_ref()
                    .is_some_and(|sku| m.sku.as_ref() == Some(sku))
        });
        if let Some(payment) = payment {
            payment
                .acceptance_criteria
                .extend(d.acceptance_criteria.iter().cloned());
            continue;
        }
        let phase = d
            .sku
            .as_ref()
            .and_then(|sku| catalog.offering(sku))
            .and_then(|o| o.effort_model.last().map(|e| e.phase.clone()));
        milestones.push(Milestone {
            id: id(&["deliverable", &i.to_string()]),
            name: format!("{} accepted", d.name),
            due_date: d
                .due_date
                .unwrap_or_else(|| phase.as_deref().map_or(end, phase_end)),
            phase,
            sku: d.sku.clone(),
            amount: None,
            acceptance_criteria: d.acceptance_criteria.clone(),
        });
    }
    milestones.sort_by_key(|m| m.due_date);
    milestones
}

/// Splits a rounded amount by percentages; the last share takes the remainder, so the
/// shares add up to `total` exactly.
pub fn split_by_percent(total: Money, percents: &[Decimal]) -> Vec<Money> {
    let mut shares = Vec::with_capacity(percents.len());
    let mut assigned = Money::zero(total.currency());
    for (i, percent) in percents.iter().enumerate() {
        let share = if i + 1 == percents.len() {
            total.checked_sub(&assigned).unwrap_or(total)
        } else {
            total
                .checked_mul(*percent / Decimal::ONE_HUNDRED)
                .unwrap_or(total)
                .round_to_minor_units()
        };
        assigned = assigned.checked_add(&share).unwrap_or(assigned);
        shares.push(share);
    }
    shares
}
