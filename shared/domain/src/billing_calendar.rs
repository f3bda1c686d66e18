//! When a contract is due for invoicing, and for which billing period (DESIGN §3
//! invoice-generator, §4.6). Pure; the planner asks this for every contract on `as_of`.
//!
//! Decisions:
//! - A period is billed on its last day (the cut-off): monthly on the month's last day,
//!   semi-monthly on the 15th and on the last day, weekly on Sundays (ISO weeks), on
//!   milestone every day (a day without accepted milestones produces no invoice).
//! - A retainer is billed in advance on the first day of each month: the period's block
//!   fee is dated on that day, and the previous month's overage (dated before it) is on
//!   the same invoice.
//! - The invoice id derives from (contract, period key), so a rerun of the same day, or a
//!   redelivered job, resumes the same invoice; a day the schedule missed loses nothing,
//!   since the next period's cut-off takes every earlier unbilled item.
//! - What-if (a dry run with a hypothetical rate-card version, rates per role, or cap)
//!   re-rates the unbilled time items and cuts them at the cap in work-date order; it
//!   never writes. Explicit role rates win over the card version's.

use crate::billing::{BillableItem, Treatment};
use crate::catalog::RoleCode;
use crate::deal::BillingFrequency;
use crate::money::{Money, MoneyError};
use crate::project::ContractTerms;
use crate::rates::RateSource;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How often a contract is invoiced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Weekly,
    SemiMonthly,
    Monthly,
    OnMilestone,
    RetainerPeriodStart,
}

impl Cadence {
    pub const ALL: [Cadence; 5] = [
        Cadence::Weekly,
        Cadence::SemiMonthly,
        Cadence::Monthly,
        Cadence::OnMilestone,
        Cadence::RetainerPeriodStart,
    ];

    /// The name used in storage keys and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Weekly => "weekly",
            Cadence::SemiMonthly => "semi_monthly",
            Cadence::Monthly => "monthly",
            Cadence::OnMilestone => "on_milestone",
            Cadence::RetainerPeriodStart => "retainer_period_start",
        }
    }
}

/// One billing period of one contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingPeriod {
    /// Part of the invoice id: `2026-12`, `2026-12-1`, `2026-W53`, `2026-12-31`.
    pub key: String,
    pub start: NaiveDate,
    /// Items with work dates up to and including this day are billed.
    pub cutoff: NaiveDate,
}

/// The contract's cadence: retainers at the start of each period, otherwise the billing
/// terms' frequency (monthly when the deal said none).
pub fn cadence(contract: &ContractTerms) -> Cadence {
    if contract.retainer.is_some() {
        return Cadence::RetainerPeriodStart;
    }
    match contract.billing.frequency {
        Some(BillingFrequency::Weekly) => Cadence::Weekly,
        Some(BillingFrequency::SemiMonthly) => Cadence::SemiMonthly,
        Some(BillingFrequency::OnMilestone) => Cadence::OnMilestone,
        Some(BillingFrequency::Monthly) | None => Cadence::Monthly,
    }
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn month_end(day: NaiveDate) -> NaiveDate {
    let next = if day.month() == 12 {
        NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)
    };
    next.map(|n| n - Duration::days(1)).unwrap_or(day)
}

/// The period due on `as_of`, if the cadence bills that day.
pub fn due_period(cadence: Cadence, as_of: NaiveDate) -> Option<BillingPeriod> {
    let month_key = format!("{:04}-{:02}", as_of.year(), as_of.month());
    match cadence {
        Cadence::Monthly => (as_of == month_end(as_of)).then(|| BillingPeriod {
            key: month_key,
            start: month_start(as_of),
            cutoff: as_of,
        }),
        Cadence::SemiMonthly if as_of.day() == 15 => Some(BillingPeriod {
            key: format!("{month_key}-1"),
            start: month_start(as_of),
            cutoff: as_of,
        }),
        Cadence::SemiMonthly => (as_of == month_end(as_of)).then(|| BillingPeriod {
            key: format!("{month_key}-2"),
            start: as_of.with_day(16).unwrap_or(as_of),
            cutoff: as_of,
        }),
        Cadence::Weekly => (as_of.weekday() == Weekday::Sun).then(|| {
            let week = as_of.iso_week();
            BillingPeriod {
                key: format!("{:04}-W{:02}", week.year(), week.week()),
                start: as_of - Duration::days(6),
                cutoff: as_of,
            }
        }),
        Cadence::OnMilestone => Some(BillingPeriod {
            key: as_of.to_string(),
            start: as_of,
            cutoff: as_of,
        }),
        Cadence::RetainerPeriodStart => (as_of.day() == 1).then_some(BillingPeriod {
            key: month_key,
            start: as_of,
            cutoff: as_of,
        }),
    }
}

/// A hypothetical change to simulate on unbilled work before applying it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatIf {
    /// A new bill rate per role (a rate-card version not yet in effect).
    #[serde(default)]
    pub rates: BTreeMap<RoleCode, Money>,
    /// A new not-to-exceed amount for the contract.
    #[serde(default)]
    pub cap: Option<Money>,
    /// A rate-card version not yet in effect (e.g. next year's standard card): items
    /// rated from that card are re-rated at its rates; items from another card (the
    /// customer's) or from a contract override keep theirs, as precedence says.
    #[serde(default)]
    pub rate_card: Option<RateCardChoice>,
}

/// A version of a rate card, by card id and version number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCardChoice {
    pub card: String,
    pub version: u32,
}

/// A chosen card version's bill rates (resolved from the rate book by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRates {
    pub card: String,
    pub rates: BTreeMap<RoleCode, Money>,
}

impl WhatIf {
    pub fn is_empty(&self) -> bool {
        self.rates.is_empty() && self.cap.is_none() && self.rate_card.is_none()
    }

    /// The currency of its amounts (rates and cap), if it names any.
    pub fn currency(&self) -> Option<crate::Currency> {
        self.rates
            .values()
            .chain(self.cap.iter())
            .map(|m| m.currency())
            .next()
    }

    /// Lists what makes the what-if meaningless, under `field` (e.g. `what_if`): rates
    /// must be more than zero, the cap not negative, and all its amounts in one currency
    /// (a contract bills in one; each job then checks it is the contract's).
    pub fn check(&self, field: &str, p: &mut crate::problems::ProblemList) {
        for (role, rate) in &self.rates {
            if rate.is_negative() || rate.is_zero() {
                p.push(format!("{field}.rates.{role}"), "must be more than zero");
            }
        }
        if self.cap.is_some_and(|c| c.is_negative()) {
            p.push(format!("{field}.cap"), "must not be negative");
        }
        let currency = self.currency();
        if self
            .rates
            .values()
            .chain(self.cap.iter())
            .any(|m| Some(m.currency()) != currency)
        {
            p.push(field, "rates and cap must be in one currency");
        }
    }
}

fn rated_from(item: &BillableItem, card: &str) -> bool {
    matches!(
        &item.rate_source,
        Some(RateSource::StandardCard { card: c, .. } | RateSource::CustomerCard { card: c, .. }) if c == card
    )
}

/// Re-rates `items` under `what_if`. `accrued_net` is the contract's net accrued towards
/// its cap so far (these items included), so the headroom under a hypothetical cap is
/// `cap − (accrued_net − Σ these time items)`. Time items are cut at the cap in work-date
/// order: the part over it is dropped (it would be an over-cap remainder).
pub fn simulate(
    items: &[BillableItem],
    what_if: &WhatIf,
    card: Option<&CardRates>,
    accrued_net: Money,
) -> Result<Vec<BillableItem>, MoneyError> {
    let mut simulated: Vec<BillableItem> = items.to_vec();
    simulated.sort_by_key(|i| (i.work_date, i.id.to_string()));
    let is_time = |i: &BillableItem| i.treatment == Treatment::TimeAndMaterials;
    let time_now = Money::sum(
        accrued_net.currency(),
        simulated.iter().filter(|i| is_time(i)).map(|i| &i.amount),
    )?;
    for item in simulated.iter_mut().filter(|i| is_time(i)) {
        let from_card = card
            .filter(|c| rated_from(item, &c.card))
            .and_then(|c| item.role.as_ref().and_then(|r| c.rates.get(r)));
        let explicit = item.role.as_ref().and_then(|r| what_if.rates.get(r));
        if let Some(rate) = explicit.or(from_card) {
            item.rate = *rate;
            item.amount = rate.checked_mul(item.quantity)?.round_to_minor_units();
        }
    }
    let Some(cap) = what_if.cap else {
        return Ok(simulated);
    };
    let before = accrued_net.checked_sub(&time_now)?;
    let mut headroom = cap.checked_sub(&before)?.amount().max(Decimal::ZERO);
    for item in simulated.iter_mut().filter(|i| is_time(i)) {
        let amount = item.amount.amount();
        if amount <= headroom {
            headroom -= amount;
            continue;
        }
        let share = if amount.is_zero() {
            Decimal::ZERO
        } else {
            headroom / amount
        };
        item.quantity = (item.quantity * share).round_dp(2);
        item.amount = Money::new(headroom, item.amount.currency()).round_to_minor_units();
        headroom = Decimal::ZERO;
    }
    simulated.retain(|i| !(is_time(i) && i.amount.is_zero()));
    Ok(simulated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn cadence_names_match_their_json() {
        for c in Cadence::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn monthly_is_due_on_the_last_day_only() {
        assert_eq!(due_period(Cadence::Monthly, day("2026-12-30")), None);
        let p = due_period(Cadence::Monthly, day("2026-12-31")).unwrap();
        assert_eq!(
            (p.key.as_str(), p.start, p.cutoff),
            ("2026-12", day("2026-12-01"), day("2026-12-31"))
        );
        let feb = due_period(Cadence::Monthly, day("2028-02-29")).unwrap();
        assert_eq!(feb.start, day("2028-02-01"));
        assert_eq!(
            due_period(Cadence::Monthly, day("2027-02-28")).unwrap().key,
            "2027-02"
        );
    }

    #[test]
    fn semi_monthly_halves() {
        let first = due_period(Cadence::SemiMonthly, day("2026-11-15")).unwrap();
        assert_eq!(
            (first.key.as_str(), first.start),
            ("2026-11-1", day("2026-11-01"))
        );
        let second = due_period(Cadence::SemiMonthly, day("2026-11-30")).unwrap();
        assert_eq!(
            (second.key.as_str(), second.start),
            ("2026-11-2", day("2026-11-16"))
        );
        assert_eq!(due_period(Cadence::SemiMonthly, day("2026-11-16")), None);
    }

    #[test]
    fn weekly_on_sundays_with_iso_week_keys() {
        assert_eq!(due_period(Cadence::Weekly, day("2026-11-26")), None);
        let p = due_period(Cadence::Weekly, day("2027-01-03")).unwrap();
        assert_eq!((p.key.as_str(), p.start), ("2026-W53", day("2026-12-28")));
    }

    #[test]
    fn retainers_at_period_start_and_milestones_daily() {
        let r = due_period(Cadence::RetainerPeriodStart, day("2027-01-01")).unwrap();
        assert_eq!(
            (r.key.as_str(), r.start, r.cutoff),
            ("2027-01", day("2027-01-01"), day("2027-01-01"))
        );
        assert_eq!(
            due_period(Cadence::RetainerPeriodStart, day("2026-12-31")),
            None
        );
        assert_eq!(
            due_period(Cadence::OnMilestone, day("2026-12-09"))
                .unwrap()
                .key,
            "2026-12-09"
        );
    }
}
