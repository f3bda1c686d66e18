//! Invoice content (DESIGN §4.2, §4.6), pure: lines from billable items, tax per
//! category rounded once, totals, due date, legal numbers.
//!
//! Decisions:
//! - Lines group items by kind: T&M and overage by (role, rate), one line per milestone,
//!   per retainer block and per expense. A line's net is the sum of its items' amounts
//!   (each already rounded once when rated), so an invoice bills exactly what was accrued.
//! - Tax: the customer's jurisdiction gives one category for the invoice's lines
//!   (`tax_rates.json`); tax = Σ line nets of the category × rate, rounded once (EN 16931);
//!   exempt and reverse-charge categories carry their reason.
//! - Annex: every line lists the items it covers ([`AnnexEntry`]: date, person, quantity
//!   and unit, raw hours, amount, note, source reference, item id), in the order the items
//!   were claimed, so a line's annex amounts add up to its net exactly.
//! - Discount: DESIGN §4.2 takes a line's discount before rounding; billable items carry
//!   no discount today (rate cards and contract overrides give the rate itself), so
//!   [`InvoiceLine::discount`] is always `None`. It exists so a discount, once rated,
//!   shows as its own amount beside the net instead of hiding in the rate.

use crate::billing::{BillableItem, Treatment};
use crate::catalog::RoleCode;
use crate::currency::Currency;
use crate::money::{Money, MoneyError};
use crate::problems::{Problem, ProblemList, Problems};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A tax category per jurisdiction (UNCL 5305 codes: S standard, Z zero, E exempt, AE
/// reverse charge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRate {
    pub code: String,
    pub category: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub rate_percent: Decimal,
    #[serde(default)]
    pub exemption_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxTable {
    pub jurisdictions: Vec<TaxRate>,
}

impl TaxTable {
    pub fn from_json(json: &str) -> Result<TaxTable, Problems> {
        let table: TaxTable = serde_json::from_str(json)
            .map_err(|e| Problems(vec![Problem::new("", format!("tax rates: {e}"))]))?;
        let mut p = ProblemList::new();
        for (i, r) in table.jurisdictions.iter().enumerate() {
            if r.rate_percent < Decimal::ZERO || r.rate_percent > Decimal::ONE_HUNDRED {
                p.push(
                    format!("jurisdictions[{i}].rate_percent"),
                    "must be between 0 and 100",
                );
            }
            if r.rate_percent.is_zero() && r.exemption_reason.is_none() {
                p.push(
                    format!("jurisdictions[{i}].exemption_reason"),
                    "a zero rate needs its reason on the invoice",
                );
            }
        }
        p.finish(|| table)
    }

    pub fn for_jurisdiction(&self, code: &str) -> Option<&TaxRate> {
        self.jurisdictions.iter().find(|r| r.code == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub description: String,
    /// Billed ahead of delivery (a retainer block): issuing credits deferred revenue.
    #[serde(default)]
    pub advance: bool,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    pub unit: String,
    pub unit_rate: Money,
    pub net: Money,
    pub tax_category: String,
    pub item_ids: Vec<String>,
    /// The time entries and expenses (and fees) the line covers, one per item.
    #[serde(default)]
    pub annex: Vec<AnnexEntry>,
    /// The discount taken from the line before its net, as a positive amount; `None`
    /// when there is none (always, today: items carry no discount, see the module doc).
    #[serde(default)]
    pub discount: Option<Money>,
}

/// One item behind an invoice line, as the invoice annex shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnexEntry {
    pub item_id: String,
    pub treatment: Treatment,
    /// The work date (time), the date incurred (expense), accepted (milestone) or the
    /// period start (retainer block).
    pub work_date: NaiveDate,
    /// Who did the work (time entries only).
    pub person: Option<String>,
    pub role: Option<RoleCode>,
    /// Billed quantity in `unit` (`h` for time: hours after the contract's increment).
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    pub unit: String,
    /// Hours as entered, before the contract's rounding increment (time only).
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub raw_hours: Option<Decimal>,
    pub amount: Money,
    pub note: Option<String>,
    /// The source record and version: `jira:worklog-88@v2`.
    pub source: String,
}

impl AnnexEntry {
    pub fn of(item: &BillableItem) -> AnnexEntry {
        AnnexEntry {
            item_id: item.id.to_string(),
            treatment: item.treatment,
            work_date: item.work_date,
            person: item.resource.clone(),
            role: item.role.clone(),
            quantity: item.quantity.normalize(),
            unit: item.unit.clone(),
            raw_hours: item.raw_quantity.map(|q| q.normalize()),
            amount: item.amount,
            note: item.note.clone(),
            source: item.trigger.reference(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxSubtotal {
    pub category: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub rate_percent: Decimal,
    pub taxable: Money,
    pub tax: Money,
    pub exemption_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDraft {
    pub currency: Currency,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub lines: Vec<InvoiceLine>,
    pub tax: Vec<TaxSubtotal>,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error("no tax rate for jurisdiction {0:?}")]
    NoTaxRate(String),
    #[error("nothing to invoice")]
    Empty,
}

fn key(item: &BillableItem) -> (u8, String, String) {
    match item.treatment {
        Treatment::TimeAndMaterials | Treatment::RetainerOverage => (
            0,
            item.role
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_default(),
            item.rate.amount().normalize().to_string(),
        ),
        Treatment::MilestoneFee => (1, item.id.to_string(), String::new()),
        Treatment::RetainerFee => (2, item.id.to_string(), String::new()),
        Treatment::Expense => (3, item.id.to_string(), String::new()),
        Treatment::OverCap => (9, String::new(), String::new()),
    }
}

/// Assembles a draft from the claimed items (over-cap items are never invoiced).
pub fn assemble(
    items: &[BillableItem],
    currency: Currency,
    tax: &TaxRate,
    period_start: NaiveDate,
    period_end: NaiveDate,
) -> Result<InvoiceDraft, InvoiceError> {
    let mut groups: BTreeMap<(u8, String, String), Vec<&BillableItem>> = BTreeMap::new();
    for item in items.iter().filter(|i| i.treatment != Treatment::OverCap) {
        groups.entry(key(item)).or_default().push(item);
    }
    if groups.is_empty() {
        return Err(InvoiceError::Empty);
    }
    let mut lines = Vec::new();
    for ((kind, _, _), group) in groups {
        let first = group[0];
        let net = Money::sum(currency, group.iter().map(|i| &i.amount))?;
        let quantity: Decimal = group.iter().map(|i| i.quantity).sum();
        let description = match kind {
            0 => format!(
                "{} ({}h at {})",
                first
                    .role
                    .as_ref()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
                quantity.normalize(),
                first.rate
            ),
            _ => first.rule.clone(),
        };
        lines.push(InvoiceLine {
            advance: first.treatment == Treatment::RetainerFee,
            description,
            quantity: quantity.normalize(),
            unit: first.unit.clone(),
            unit_rate: first.rate,
            net,
            tax_category: tax.category.clone(),
            item_ids: group.iter().map(|i| i.id.to_string()).collect(),
            annex: group.iter().map(|i| AnnexEntry::of(i)).collect(),
            discount: None,
        });
    }
    let net_total = Money::sum(currency, lines.iter().map(|l| &l.net))?;
    let tax_amount = net_total
        .checked_mul(tax.rate_percent / Decimal::ONE_HUNDRED)?
        .round_to_minor_units();
    let subtotal = TaxSubtotal {
        category: tax.category.clone(),
        rate_percent: tax.rate_percent,
        taxable: net_total,
        tax: tax_amount,
        exemption_reason: tax.exemption_reason.clone(),
    };
    Ok(InvoiceDraft {
        currency,
        period_start,
        period_end,
        lines,
        gross_total: net_total.checked_add(&tax_amount)?,
        tax_total: tax_amount,
        tax: vec![subtotal],
        net_total,
    })
}

/// An invoice, credit note or billing run is dated today or earlier: a document dated
/// ahead would move its series' last date forward and refuse every document issued
/// before that date (numbers follow dates). Previews (dry runs) may look ahead.
pub fn check_not_future(
    field: &str,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<(), crate::problems::Problems> {
    let mut p = crate::problems::ProblemList::new();
    if date > today {
        p.push(
            field,
            format!("{date} is after today ({today}); documents are dated when issued"),
        );
    }
    p.finish(|| ())
}

/// Why the draft of a period is not invoiced, if it is not: its items net to zero or less
/// (a correction that reduced invoiced hours, with no new work to net it against). Those
/// items stay unbilled and are netted against the next period's work, so no invoice is
/// ever negative; to refund sooner, finance credits the earlier invoice.
pub fn deferral(draft: &InvoiceDraft) -> Option<String> {
    (draft.net_total.is_negative() || draft.net_total.is_zero()).then(|| {
        format!(
            "the period's items net to {}; they wait for the next period's work",
            draft.net_total
        )
    })
}

/// The journal entry of issuing an invoice: Dr accounts receivable (gross) / Cr unbilled
/// receivables (the net of accrued lines) / Cr deferred revenue (the net of lines billed in
/// advance) / Cr tax payable. Balanced by construction; the trigger names the invoice.
pub fn issue_entry(
    draft: &InvoiceDraft,
    invoice: crate::ledger::DocumentRef<'_>,
    issued_on: NaiveDate,
    accounts: &crate::ledger::AccountMapping,
) -> Result<crate::ledger::JournalEntry, crate::ledger::JournalError> {
    let sum = |advance: bool| {
        Money::sum(
            draft.currency,
            draft
                .lines
                .iter()
                .filter(|l| l.advance == advance)
                .map(|l| &l.net),
        )
    };
    let accrued = sum(false).unwrap_or(Money::zero(draft.currency));
    let advance = sum(true).unwrap_or(Money::zero(draft.currency));
    let mut postings: Vec<(&str, &str, Money)> = Vec::new();
    for (credit, amount) in [
        (accounts.unbilled_receivables.as_str(), accrued),
        (accounts.deferred_revenue.as_str(), advance),
        (accounts.tax_payable.as_str(), draft.tax_total),
    ] {
        // A part may be negative (a correction of invoiced hours netted against an
        // advance block): it posts the other way round.
        crate::ledger::push_posting(
            &mut postings,
            accounts.accounts_receivable.as_str(),
            credit,
            amount,
        );
    }
    let items = draft
        .lines
        .iter()
        .flat_map(|l| l.item_ids.iter().cloned())
        .collect();
    let trigger = crate::ledger::Trigger {
        kind: "invoice".into(),
        reference: invoice.number.to_owned(),
        document_id: Some(invoice.id.to_owned()),
    };
    crate::ledger::JournalEntry::new(
        issued_on,
        format!("Invoice {} issued", invoice.number),
        trigger,
        items,
        &postings,
    )
}

/// The legal number of the `n`th invoice of a series in a fiscal year: `INV-2026-000042`.
pub fn legal_number(series: &str, fiscal_year: i32, n: u64) -> String {
    format!("{series}-{fiscal_year}-{n:06}")
}

/// The payment due date from the issue date and the contract's terms (30 days default).
pub fn due_date(issued_on: NaiveDate, payment_terms_days: Option<u32>) -> NaiveDate {
    let days = payment_terms_days
        .unwrap_or(30)
        .min(crate::deal::PAYMENT_TERMS_DAYS_MAX);
    issued_on
        .checked_add_days(chrono::Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_due_dates() {
        assert_eq!(legal_number("INV", 2026, 42), "INV-2026-000042");
        assert_eq!(legal_number("CN", 2027, 1), "CN-2027-000001");
        assert_eq!(
            due_date("2026-12-31".parse().unwrap(), Some(45)),
            "2027-02-14".parse::<NaiveDate>().unwrap()
        );
        // Terms beyond a year are refused at conversion; here they never panic.
        assert_eq!(
            due_date("2026-12-31".parse().unwrap(), Some(u32::MAX)),
            "2027-12-31".parse::<NaiveDate>().unwrap()
        );
    }

    #[test]
    fn seed_tax_table_needs_reasons_for_zero_rates() {
        let json = include_str!("../../../infra/seed/tax_rates.json");
        let table = TaxTable::from_json(json).unwrap();
        assert_eq!(
            table.for_jurisdiction("US-NY").unwrap().rate_percent,
            "8.875".parse::<Decimal>().unwrap()
        );
        let broken = json.replace(
            r#", "exemption_reason": "Services supplied outside the scope of tax""#,
            "",
        );
        assert_eq!(
            TaxTable::from_json(&broken).unwrap_err().0[0].field,
            "jurisdictions[5].exemption_reason"
        );
    }
}
