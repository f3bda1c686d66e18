//! Intake validation of delivery signals (`POST /delivery/timesheets`, `/expenses`):
//! every problem of a batch listed with its index, before anything is queued.

use super::signal::{ExpenseEntry, Signal, SourceRef, TimeEntry};
use crate::catalog::RoleCode;
use crate::currency::Currency;
use crate::deal::parse_date;
use crate::hours::Hours;
use crate::id::{ExternalId, SourceSystem};
use crate::money::Money;
use crate::problems::{ProblemList, Problems};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// Most entries in one intake batch.
pub const INTAKE_BATCH_MAX: usize = 500;
/// Most hours one person may log on one day.
pub const DAY_HOURS_MAX: Decimal = Decimal::from_parts(24, 0, 0, false, 0);

/// What intake checks signals against: the contract's roles, dates and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractView {
    pub roles: BTreeSet<RoleCode>,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub currency: Currency,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeEntryInput {
    pub source_system: Option<String>,
    pub source_id: Option<String>,
    pub source_version: Option<u32>,
    pub resource: Option<String>,
    pub role: Option<String>,
    pub work_date: Option<String>,
    pub hours: Option<String>,
    pub billable: Option<bool>,
    pub approved_at: Option<String>,
    pub approved_by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpenseInput {
    pub source_system: Option<String>,
    pub source_id: Option<String>,
    pub source_version: Option<u32>,
    pub incurred_on: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub billable: Option<bool>,
    pub category: Option<String>,
    pub approved_at: Option<String>,
    pub note: Option<String>,
}

fn source(
    p: &mut ProblemList,
    at: &str,
    system: &Option<String>,
    id: &Option<String>,
    version: Option<u32>,
) -> Option<SourceRef> {
    let system = p
        .require(format!("{at}.source_system"), system.as_deref())
        .and_then(|s| p.check(format!("{at}.source_system"), SourceSystem::new(s)));
    let id = p
        .require(format!("{at}.source_id"), id.as_deref())
        .and_then(|s| p.check(format!("{at}.source_id"), ExternalId::new(s)));
    let version = version.unwrap_or(1);
    if version == 0 {
        p.push(format!("{at}.source_version"), "versions start at 1");
    }
    Some(SourceRef {
        system: system?,
        id: id?,
        version,
    })
}

/// A note travels onto the invoice's annex (one entry per item): long enough for what
/// was done and why, short enough that an annex page holds hundreds of entries.
pub const NOTE_CHARS_MAX: usize = 2000;

fn check_note(p: &mut ProblemList, at: &str, note: Option<&str>) {
    if note.is_some_and(|n| n.chars().count() > NOTE_CHARS_MAX) {
        p.push(
            format!("{at}.note"),
            format!("at most {NOTE_CHARS_MAX} characters"),
        );
    }
}

fn within(p: &mut ProblemList, field: String, date: Option<NaiveDate>, contract: &ContractView) {
    if let Some(d) = date {
        if d < contract.start || d > contract.end {
            p.push(
                field,
                format!(
                    "{d} is outside the contract ({} to {})",
                    contract.start, contract.end
                ),
            );
        }
    }
}

/// Validates a batch of approved time entries.
pub fn timesheets(
    batch: &[TimeEntryInput],
    contract: &ContractView,
) -> Result<Vec<Signal>, Problems> {
    let mut p = ProblemList::new();
    if batch.is_empty() || batch.len() > INTAKE_BATCH_MAX {
        p.push("entries", format!("give 1 to {INTAKE_BATCH_MAX} entries"));
    }
    let mut per_day: BTreeMap<(String, NaiveDate), Decimal> = BTreeMap::new();
    let mut signals = Vec::new();
    for (i, e) in batch.iter().enumerate().take(INTAKE_BATCH_MAX) {
        let at = format!("entries[{i}]");
        check_note(&mut p, &at, e.note.as_deref());
        let src = source(
            &mut p,
            &at,
            &e.source_system,
            &e.source_id,
            e.source_version,
        );
        let resource = p.require(
            format!("{at}.resource"),
            e.resource.clone().filter(|r| !r.trim().is_empty()),
        );
        let role = p
            .require(format!("{at}.role"), e.role.as_deref())
            .and_then(|r| p.check(format!("{at}.role"), RoleCode::new(r)));
        if role.as_ref().is_some_and(|r| !contract.roles.contains(r)) {
            p.push(format!("{at}.role"), "this role is not on the contract");
        }
        let date = p
            .require(format!("{at}.work_date"), e.work_date.as_deref())
            .and_then(|d| p.check(format!("{at}.work_date"), parse_date(d)));
        within(&mut p, format!("{at}.work_date"), date, contract);
        let raw = p
            .require(format!("{at}.hours"), e.hours.as_deref())
            .and_then(|h| {
                p.check(
                    format!("{at}.hours"),
                    Decimal::from_str(h.trim()).map_err(|_| "is not a number"),
                )
            });
        if raw.is_some_and(|h| h > DAY_HOURS_MAX) {
            p.push(format!("{at}.hours"), "more than 24 hours in one entry");
        }
        let hours = raw.and_then(|h| p.check(format!("{at}.hours"), Hours::new(h)));
        if e.approved_at.as_deref().is_none_or(|a| a.trim().is_empty())
            || e.approved_by.as_deref().is_none_or(|a| a.trim().is_empty())
        {
            p.push(
                format!("{at}.approved_at"),
                "only approved entries are billed: approved_at and approved_by are required",
            );
        }
        if let (Some(resource), Some(date), Some(hours)) = (&resource, date, hours) {
            let day = per_day.entry((resource.clone(), date)).or_default();
            *day += hours.value();
            if *day > DAY_HOURS_MAX {
                p.push(
                    format!("{at}.hours"),
                    format!("{resource} has more than 24 hours on {date} in this batch"),
                );
            }
        }
        if let (Some(source), Some(resource), Some(role), Some(work_date), Some(hours)) =
            (src, resource, role, date, hours)
        {
            signals.push(Signal::Time(TimeEntry {
                source,
                resource,
                role,
                work_date,
                hours,
                billable: e.billable.unwrap_or(true),
                note: e.note.clone(),
            }));
        }
    }
    p.finish(|| signals)
}

/// Validates a batch of approved expenses.
pub fn expenses(batch: &[ExpenseInput], contract: &ContractView) -> Result<Vec<Signal>, Problems> {
    let mut p = ProblemList::new();
    if batch.is_empty() || batch.len() > INTAKE_BATCH_MAX {
        p.push("expenses", format!("give 1 to {INTAKE_BATCH_MAX} expenses"));
    }
    let mut signals = Vec::new();
    for (i, e) in batch.iter().enumerate().take(INTAKE_BATCH_MAX) {
        let at = format!("expenses[{i}]");
        check_note(&mut p, &at, e.note.as_deref());
        let src = source(
            &mut p,
            &at,
            &e.source_system,
            &e.source_id,
            e.source_version,
        );
        let date = p
            .require(format!("{at}.incurred_on"), e.incurred_on.as_deref())
            .and_then(|d| p.check(format!("{at}.incurred_on"), parse_date(d)));
        within(&mut p, format!("{at}.incurred_on"), date, contract);
        let currency = p
            .require(format!("{at}.currency"), e.currency.as_deref())
            .and_then(|c| p.check(format!("{at}.currency"), Currency::parse(c)));
        if currency.is_some_and(|c| c != contract.currency) {
            p.push(
                format!("{at}.currency"),
                format!("the contract is in {}", contract.currency),
            );
        }
        let amount = p
            .require(format!("{at}.amount"), e.amount.as_deref())
            .and_then(|a| {
                p.check(
                    format!("{at}.amount"),
                    Decimal::from_str(a.trim()).map_err(|_| "is not a number"),
                )
            });
        let money = amount
            .zip(currency)
            .and_then(|(a, c)| p.check(format!("{at}.amount"), Money::exact(a, c)));
        if amount.is_some_and(|a| a <= Decimal::ZERO) {
            p.push(format!("{at}.amount"), "must be above 0");
        }
        if e.approved_at.as_deref().is_none_or(|a| a.trim().is_empty()) {
            p.push(
                format!("{at}.approved_at"),
                "only approved expenses are billed",
            );
        }
        if let (Some(source), Some(incurred_on), Some(amount)) = (src, date, money) {
            signals.push(Signal::Expense(ExpenseEntry {
                source,
                incurred_on,
                amount,
                billable: e.billable.unwrap_or(true),
                category: e.category.clone().unwrap_or_else(|| "other".into()),
                note: e.note.clone(),
            }));
        }
    }
    p.finish(|| signals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> ContractView {
        ContractView {
            roles: [RoleCode::new("engineer").unwrap()].into_iter().collect(),
            start: "2026-12-01".parse().unwrap(),
            end: "2027-02-26".parse().unwrap(),
            currency: Currency::parse("USD").unwrap(),
        }
    }

    fn entry(hours: &str, date: &str) -> TimeEntryInput {
        TimeEntryInput {
            source_system: Some("jira".into()),
            source_id: Some(format!("w-{hours}-{date}")),
            source_version: Some(1),
            resource: Some("kenji-sato".into()),
            role: Some("engineer".into()),
            work_date: Some(date.into()),
            hours: Some(hours.into()),
            billable: Some(true),
            approved_at: Some("2026-12-05T10:00:00Z".into()),
            approved_by: Some("pm@northwind.example".into()),
            note: None,
        }
    }

    #[test]
    fn a_clean_batch_becomes_signals() {
        let signals = timesheets(
            &[entry("8", "2026-12-02"), entry("7.5", "2026-12-03")],
            &contract(),
        )
        .unwrap();
        assert_eq!(signals.len(), 2);
    }

    #[test]
    fn a_note_longer_than_an_annex_allows_is_refused() {
        let mut long = entry("8", "2026-12-02");
        long.note = Some("x".repeat(NOTE_CHARS_MAX + 1));
        let mut fine = entry("7", "2026-12-03");
        fine.note = Some("é".repeat(NOTE_CHARS_MAX));
        let problems = timesheets(&[fine, long], &contract())
            .unwrap_err()
            .to_string();
        assert!(problems.contains("entries[1].note"), "{problems}");
        assert!(!problems.contains("entries[0]"), "{problems}");
    }

    #[test]
    fn every_problem_is_listed_with_its_index() {
        let mut unapproved = entry("4", "2026-12-02");
        unapproved.approved_by = None;
        let mut wrong_role = entry("4", "2026-12-02");
        wrong_role.role = Some("designer".into());
        let batch = vec![
            entry("-1", "2026-12-02"),
            entry("25", "2026-12-02"),
            entry("4", "2027-03-01"),
            unapproved,
            wrong_role,
        ];
        let fields: Vec<String> = timesheets(&batch, &contract())
            .unwrap_err()
            .0
            .into_iter()
            .map(|p| p.field)
            .collect();
        for expected in [
            "entries[0].hours",
            "entries[1].hours",
            "entries[2].work_date",
            "entries[3].approved_at",
            "entries[4].role",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn more_than_a_day_per_person_across_entries_is_refused() {
        let batch = vec![entry("16", "2026-12-02"), entry("9", "2026-12-02")];
        let problems = timesheets(&batch, &contract()).unwrap_err().0;
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "entries[1].hours");
    }

    #[test]
    fn expenses_check_currency_precision_and_approval() {
        let ok = ExpenseInput {
            source_system: Some("expensify".into()),
            source_id: Some("e-1".into()),
            incurred_on: Some("2026-12-03".into()),
            amount: Some("199.99".into()),
            currency: Some("USD".into()),
            approved_at: Some("2026-12-04".into()),
            ..Default::default()
        };
        assert_eq!(
            expenses(std::slice::from_ref(&ok), &contract())
                .unwrap()
                .len(),
            1
        );
        let eur = ExpenseInput {
            currency: Some("EUR".into()),
            ..ok.clone()
        };
        let fraction = ExpenseInput {
            amount: Some("1.005".into()),
            ..ok.clone()
        };
        let unapproved = ExpenseInput {
            approved_at: None,
            ..ok
        };
        let fields: Vec<String> = expenses(&[eur, fraction, unapproved], &contract())
            .unwrap_err()
            .0
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "expenses[0].currency",
                "expenses[1].amount",
                "expenses[2].approved_at"
            ]
        );
    }
}
