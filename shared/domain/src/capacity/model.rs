//! Resources, calendars, allocations and demand (DESIGN §4.4).

use crate::catalog::{Catalog, RoleCode};
use crate::currency::Currency;
use crate::id::ProjectId;
use crate::problems::{Problem, ProblemList, Problems};
use crate::schedule::{is_working_day, iso_week_start};
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A standard full-time week, for expressing shortfalls as FTE.
pub const FTE_HOURS_PER_WEEK: Decimal = Decimal::from_parts(40, 0, 0, false, 0);
/// Most resources one check considers.
pub const RESOURCES_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub name: String,
    /// Skill tags; the resource can fill every catalog role whose skills it all has.
    pub skills: Vec<String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub weekly_capacity_hours: Decimal,
    #[serde(default)]
    pub partner: bool,
    /// Hourly cost (partners: their rate; internal people: loaded cost), for margin.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub cost_rate: Option<Decimal>,
    #[serde(default)]
    pub cost_currency: Option<Currency>,
    #[serde(default)]
    pub employment_start: Option<NaiveDate>,
    #[serde(default)]
    pub employment_end: Option<NaiveDate>,
    #[serde(default)]
    pub time_off: Vec<DateRange>,
    #[serde(default)]
    pub public_holidays: Vec<NaiveDate>,
}

impl Resource {
    pub fn covers(&self, role: &RoleCode, catalog: &Catalog) -> bool {
        catalog.role(role).is_some_and(|r| {
            !r.skills.is_empty() && r.skills.iter().all(|s| self.skills.contains(s))
        })
    }

    fn works_on(&self, date: NaiveDate) -> bool {
        is_working_day(date)
            && self.employment_start.is_none_or(|s| date >= s)
            && self.employment_end.is_none_or(|e| date <= e)
            && !self.public_holidays.contains(&date)
            && !self.time_off.iter().any(|r| r.contains(date))
    }

    /// Capacity in the ISO week starting `week_start`, less days off, holidays and days
    /// outside employment (a 5-day week: each day is a fifth).
    pub fn capacity_in_week(&self, week_start: NaiveDate) -> Decimal {
        let days = (0..5)
            .filter(|d| self.works_on(week_start + Duration::days(*d)))
            .count();
        self.weekly_capacity_hours * Decimal::from(days) / Decimal::from(5)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AllocationKind {
    /// Booked.
    Hard,
    /// Tentative or pipeline, with the probability it happens (0–1).
    Soft {
        #[serde(with = "rust_decimal::serde::str")]
        probability: Decimal,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub resource: String,
    #[serde(default)]
    pub project: Option<ProjectId>,
    pub role: RoleCode,
    pub week_start: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
    pub kind: AllocationKind,
}

impl Allocation {
    /// Hours this allocation takes from availability.
    pub fn load(&self, count_soft: bool) -> Decimal {
        match self.kind {
            AllocationKind::Hard => self.hours,
            AllocationKind::Soft { probability } if count_soft => self.hours * probability,
            AllocationKind::Soft { .. } => Decimal::ZERO,
        }
    }
}

/// Hours of a role in one ISO week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    pub role: RoleCode,
    pub week_start: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
}

/// The seeded people: `infra/seed/resources.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcePool {
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub allocations: Vec<Allocation>,
}

impl ResourcePool {
    /// Parses and validates, listing every problem.
    pub fn from_json(json: &str, catalog: &Catalog) -> Result<ResourcePool, Problems> {
        let pool: ResourcePool = serde_json::from_str(json)
            .map_err(|e| Problems(vec![Problem::new("", format!("resources: {e}"))]))?;
        let mut p = ProblemList::new();
        let mut ids = BTreeSet::new();
        if pool.resources.len() > RESOURCES_MAX {
            p.push("resources", format!("more than {RESOURCES_MAX} resources"));
        }
        for (i, r) in pool.resources.iter().enumerate() {
            if !ids.insert(r.id.clone()) {
                p.push(
                    format!("resources[{i}].id"),
                    format!("duplicate id {}", r.id),
                );
            }
            if r.weekly_capacity_hours < Decimal::ZERO
                || r.weekly_capacity_hours > Decimal::from(80)
            {
                p.push(
                    format!("resources[{i}].weekly_capacity_hours"),
                    "must be between 0 and 80",
                );
            }
            if !catalog
                .roles()
                .iter()
                .any(|role| r.covers(&role.code, catalog))
            {
                p.push(format!("resources[{i}].skills"), "cover no catalog role");
            }
            if r.partner && r.cost_rate.is_none() {
                p.push(
                    format!("resources[{i}].cost_rate"),
                    "a partner needs a cost rate",
                );
            }
        }
        for (i, a) in pool.allocations.iter().enumerate() {
            if !ids.contains(&a.resource) {
                p.push(
                    format!("allocations[{i}].resource"),
                    format!("unknown resource {}", a.resource),
                );
            }
            if iso_week_start(a.week_start) != a.week_start {
                p.push(format!("allocations[{i}].week_start"), "must be a Monday");
            }
            if let AllocationKind::Soft { probability } = a.kind {
                if probability < Decimal::ZERO || probability > Decimal::ONE {
                    p.push(
                        format!("allocations[{i}].kind.probability"),
                        "must be between 0 and 1",
                    );
                }
            }
        }
        p.finish(|| pool)
    }
}
