//! Credit notes (DESIGN §4.6), pure: which lines of an issued invoice a credit note takes
//! back, its tax, and its journal entry.
//!
//! Decisions:
//! - A credit note credits whole invoice lines, chosen by their index in
//!   `InvoiceDraft::lines` (0-based, as the selection gives them; problems say `line N`
//!   with that index). An index out of range, selected twice, or already credited by an
//!   earlier note is a listed problem, as are a blank reason and a credit of nothing.
//!   [`CreditSelection::All`] means every line of the invoice, so it is refused once any
//!   line was credited; [`remaining_lines`] gives what is left to credit.
//! - Amounts are positive as credited: the lines are copies of the invoice's lines.
//! - Tax per category is computed as `assemble` does it: the credited nets of the category
//!   × the rate, rounded once with [`Money::round_to_minor_units`]. So that partial credits
//!   can never add up to more tax than the invoice charged, a note's tax is the difference
//!   of the cumulative rounded tax: `round(rate × (credited before + this)) −
//!   round(rate × credited before)`, and when a note completes a category the invoice's own
//!   tax for it replaces the first term. The first (or only) credit note is thus exactly the
//!   category-rounded value; the credited tax of all notes together always equals
//!   `round(rate × all credited nets)`, never more than the invoice; a full credit returns
//!   exactly the invoice's totals. Cumulative credited nets above the invoice's (possible
//!   only with negative correction lines) are refused.
//! - Posting ([`credit_entry`]) reverses [`crate::invoice::issue_entry`]: Dr unbilled
//!   receivables (accrued lines' net) / Dr deferred revenue (advance lines' net) / Dr tax
//!   payable / Cr accounts receivable (gross). On [`Disposition::Release`] the items go back
//!   to unbilled and their accrual stays in unbilled receivables, to be billed again. On
//!   [`Disposition::WriteOff`] the accrued net is also written down: Dr revenue write-down /
//!   Cr unbilled receivables. Advance (retainer block) lines restore deferred revenue and
//!   nothing more, whichever the disposition: nothing was delivered or recognised against
//!   them yet, so there is no revenue to write down (hours drawn down later simply find a
//!   smaller block).

use crate::currency::Currency;
use crate::invoice::{InvoiceDraft, InvoiceLine, TaxSubtotal};
use crate::ledger::{
    push_posting, AccountMapping, DocumentRef, JournalEntry, JournalError, Trigger,
};
use crate::money::{Money, MoneyError};
use crate::problems::{ProblemList, Problems};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Which lines of the invoice a credit note takes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditSelection {
    /// The whole invoice.
    All,
    /// These line indices (0-based, into `InvoiceDraft::lines`).
    Lines(Vec<usize>),
}

/// What happens to the credited lines' items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// The items go back to unbilled, to be billed again.
    Release,
    /// The items are written off: their accrued revenue is written down.
    WriteOff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditNoteDraft {
    pub currency: Currency,
    pub credited_invoice_number: String,
    /// The invoice line indices credited, ascending (record them: they are `already` for
    /// the next credit note of the same invoice).
    pub credited_lines: Vec<usize>,
    /// Copies of the credited invoice lines, amounts positive as credited.
    pub lines: Vec<InvoiceLine>,
    pub tax: Vec<TaxSubtotal>,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
    /// Every item of the credited lines (to release or write off).
    pub item_ids: Vec<String>,
    pub disposition: Disposition,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    #[error("{0}")]
    Invalid(#[from] Problems),
    #[error("{0}")]
    Money(#[from] MoneyError),
}

/// The line indices of `invoice` not yet credited (`already`: line index → credit note
/// number), ascending.
pub fn remaining_lines(invoice: &InvoiceDraft, already: &BTreeMap<usize, String>) -> Vec<usize> {
    (0..invoice.lines.len())
        .filter(|i| !already.contains_key(i))
        .collect()
}

/// A credit note corrects an issued invoice, so it cannot be dated before it (the
/// ledger would reverse revenue before recognising it, and the document would
/// predate the one it cites).
pub fn check_credit_date(
    invoice_issued_on: NaiveDate,
    credit_on: NaiveDate,
) -> Result<(), Problems> {
    let mut p = ProblemList::default();
    if credit_on < invoice_issued_on {
        p.push(
            "issue_on",
            format!("a credit note cannot be dated before its invoice ({invoice_issued_on})"),
        );
    }
    p.finish(|| ())
}

/// The credit note of `selection` of the issued invoice `invoice_number`. `already` maps
/// the invoice's line indices credited by earlier notes to those notes' numbers.
pub fn credit(
    invoice: &InvoiceDraft,
    invoice_number: &str,
    selection: &CreditSelection,
    already: &BTreeMap<usize, String>,
    disposition: Disposition,
    reason: &str,
) -> Result<CreditNoteDraft, CreditError> {
    let count = invoice.lines.len();
    let mut p = ProblemList::new();
    if reason.trim().is_empty() {
        p.push("reason", "a credit note needs its reason");
    }
    for (index, number) in already {
        if *index >= count {
            p.push(
                "already",
                format!("line {index} (credited by {number}) is not on invoice {invoice_number}"),
            );
        }
    }
    let chosen: Vec<usize> = match selection {
        CreditSelection::All => (0..count).collect(),
        CreditSelection::Lines(lines) => lines.clone(),
    };
    if chosen.is_empty() {
        p.push("lines", "select at least one line to credit");
    }
    let mut selected = BTreeSet::new();
    for (position, index) in chosen.iter().enumerate() {
        let field = match selection {
            CreditSelection::All => "lines".to_owned(),
            CreditSelection::Lines(_) => format!("lines[{position}]"),
        };
        if *index >= count {
            p.push(
                field,
                format!("line {index} is not on invoice {invoice_number} ({count} lines)"),
            );
        } else if !selected.insert(*index) {
            p.push(field, format!("line {index} is selected twice"));
        } else if let Some(number) = already.get(index) {
            p.push(
                field,
                format!("line {index} was already credited by {number}"),
            );
        }
    }
    if !p.is_empty() {
        return Err(p.into_problems().into());
    }

    let currency = invoice.currency;
    let lines: Vec<InvoiceLine> = selected.iter().map(|i| invoice.lines[*i].clone()).collect();
    let net_total = Money::sum(currency, lines.iter().map(|l| &l.net))?;
    let invoice_lines: Vec<usize> = (0..count).collect();
    let mut tax = Vec::new();
    for subtotal in &invoice.tax {
        let in_category = |i: &usize| invoice.lines[*i].tax_category == subtotal.category;
        let nets = |set: &mut dyn Iterator<Item = &usize>| {
            Money::sum(
                currency,
                set.filter(|i| in_category(i))
                    .map(|i| &invoice.lines[*i].net),
            )
        };
        let this = nets(&mut selected.iter())?;
        if !selected.iter().any(in_category) {
            continue;
        }
        let before = nets(&mut already.keys())?;
        let after = before.checked_add(&this)?;
        let category_total = nets(&mut invoice_lines.iter())?;
        if after.amount() > category_total.amount() {
            p.push(
                "lines",
                format!(
                    "credits of tax category {} would reach {after}, more than the invoice's {category_total}",
                    subtotal.category
                ),
            );
            continue;
        }
        let rate = subtotal.rate_percent / Decimal::ONE_HUNDRED;
        let complete = (0..count)
            .filter(in_category)
            .all(|i| selected.contains(&i) || already.contains_key(&i));
        let tax_after = if complete {
            subtotal.tax
        } else {
            after.checked_mul(rate)?.round_to_minor_units()
        };
        let tax_before = before.checked_mul(rate)?.round_to_minor_units();
        tax.push(TaxSubtotal {
            category: subtotal.category.clone(),
            rate_percent: subtotal.rate_percent,
            taxable: this,
            tax: tax_after.checked_sub(&tax_before)?,
            exemption_reason: subtotal.exemption_reason.clone(),
        });
    }
    for i in &selected {
        let category = &invoice.lines[*i].tax_category;
        if !invoice.tax.iter().any(|t| &t.category == category) {
            p.push(
                "lines",
                format!("line {i}'s tax category {category} has no subtotal on the invoice"),
            );
        }
    }
    if net_total.is_zero() || net_total.is_negative() {
        p.push(
            "lines",
            format!("a credit note must credit a positive amount, got {net_total}"),
        );
    }
    if !p.is_empty() {
        return Err(p.into_problems().into());
    }
    let tax_total = Money::sum(currency, tax.iter().map(|t| &t.tax))?;
    Ok(CreditNoteDraft {
        currency,
        credited_invoice_number: invoice_number.to_owned(),
        credited_lines: selected.into_iter().collect(),
        item_ids: lines
            .iter()
            .flat_map(|l| l.item_ids.iter().cloned())
            .collect(),
        lines,
        tax,
        gross_total: net_total.checked_add(&tax_total)?,
        net_total,
        tax_total,
        disposition,
        reason: reason.to_owned(),
    })
}

/// The journal entry of issuing credit note `credit_number` (see the module doc): the
/// reverse of the invoice's issue entry, plus the write-down of the accrued net on
/// [`Disposition::WriteOff`]. Balanced by construction; the trigger names both numbers.
pub fn credit_entry(
    note: &CreditNoteDraft,
    credit_note: DocumentRef<'_>,
    issued_on: NaiveDate,
    accounts: &AccountMapping,
) -> Result<JournalEntry, JournalError> {
    let sum = |advance: bool| {
        Money::sum(
            note.currency,
            note.lines
                .iter()
                .filter(|l| l.advance == advance)
                .map(|l| &l.net),
        )
    };
    let accrued = sum(false)?;
    let advance = sum(true)?;
    let receivable = accounts.accounts_receivable.as_str();
    let unbilled = accounts.unbilled_receivables.as_str();
    let mut postings: Vec<(&str, &str, Money)> = Vec::new();
    for (debit, credit, amount) in [
        (unbilled, receivable, accrued),
        (accounts.deferred_revenue.as_str(), receivable, advance),
        (accounts.tax_payable.as_str(), receivable, note.tax_total),
    ] {
        push_posting(&mut postings, debit, credit, amount);
    }
    if note.disposition == Disposition::WriteOff {
        push_posting(
            &mut postings,
            accounts.revenue_write_down.as_str(),
            unbilled,
            accrued,
        );
    }
    let trigger = Trigger {
        kind: "credit_note".into(),
        reference: format!(
            "{} credits {}",
            credit_note.number, note.credited_invoice_number
        ),
        document_id: Some(credit_note.id.to_owned()),
    };
    let what = match note.disposition {
        Disposition::Release => "items released",
        Disposition::WriteOff => "items written off",
    };
    JournalEntry::new(
        issued_on,
        format!(
            "Credit note {} credits invoice {} ({what}): {}",
            credit_note.number, note.credited_invoice_number, note.reason
        ),
        trigger,
        note.item_ids.clone(),
        &postings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::{issue_entry, legal_number};
    use crate::ledger::{ChartOfAccounts, Side};

    fn usd(amount: &str) -> Money {
        Money::new(amount.parse().unwrap(), Currency::parse("USD").unwrap())
    }

    const INVOICE_ID: &str = "5f0c7c1e-2d55-5c4e-9b7e-1b1f4c0d9a01";
    const CREDIT_NOTE_ID: &str = "9a3d2b10-6f1e-5a8c-8d2f-7c4b0e1a2b03";

    fn invoice_ref(number: &str) -> DocumentRef<'_> {
        DocumentRef {
            id: INVOICE_ID,
            number,
        }
    }

    fn credit_ref(number: &str) -> DocumentRef<'_> {
        DocumentRef {
            id: CREDIT_NOTE_ID,
            number,
        }
    }

    fn line(net: &str, advance: bool, item: &str) -> InvoiceLine {
        InvoiceLine {
            description: format!("line of {item}"),
            advance,
            quantity: Decimal::ONE,
            unit: "each".into(),
            unit_rate: usd(net),
            net: usd(net),
            tax_category: "S".into(),
            item_ids: vec![item.into()],
            annex: Vec::new(),
            discount: None,
        }
    }

    /// An invoice of `lines` with one standard category at `rate` %, rounded once.
    fn invoice(lines: Vec<InvoiceLine>, rate: &str) -> InvoiceDraft {
        let currency = Currency::parse("USD").unwrap();
        let net_total = Money::sum(currency, lines.iter().map(|l| &l.net)).unwrap();
        let rate_percent: Decimal = rate.parse().unwrap();
        let tax = net_total
            .checked_mul(rate_percent / Decimal::ONE_HUNDRED)
            .unwrap()
            .round_to_minor_units();
        InvoiceDraft {
            currency,
            period_start: "2026-12-01".parse().unwrap(),
            period_end: "2026-12-31".parse().unwrap(),
            lines,
            tax: vec![TaxSubtotal {
                category: "S".into(),
                rate_percent,
                taxable: net_total,
                tax,
                exemption_reason: None,
            }],
            net_total,
            tax_total: tax,
            gross_total: net_total.checked_add(&tax).unwrap(),
        }
    }

    fn chart() -> ChartOfAccounts {
        ChartOfAccounts::from_json(include_str!("../../../infra/seed/chart_of_accounts.json"))
            .unwrap()
    }

    /// Signed balance per account (debit positive) over `entries`.
    fn balances(entries: &[&JournalEntry]) -> BTreeMap<String, Decimal> {
        let mut out = BTreeMap::new();
        for e in entries {
            for l in e.lines() {
                let signed = match l.side {
                    Side::Debit => l.amount.amount(),
                    Side::Credit => -l.amount.amount(),
                };
                *out.entry(l.account.clone()).or_insert(Decimal::ZERO) += signed;
            }
        }
        out
    }

    fn postings(entry: &JournalEntry) -> Vec<(Side, String, String)> {
        entry
            .lines()
            .iter()
            .map(|l| (l.side, l.account.clone(), l.amount.to_string()))
            .collect()
    }

    const INV: &str = "INV-2026-000042";

    #[test]
    fn a_deduction_netted_against_an_advance_posts_the_other_way_and_a_net_deduction_waits() {
        let accounts = chart().mapping;
        // A 5000.00 retainer block in advance and a -135.00 correction of invoiced hours:
        // the accrued part is negative, so unbilled receivables are debited, not credited.
        let draft = invoice(
            vec![line("-135.00", false, "d1"), line("5000.00", true, "r1")],
            "8.875",
        );
        assert_eq!(crate::invoice::deferral(&draft), None);
        let entry = issue_entry(
            &draft,
            invoice_ref(INV),
            "2027-01-01".parse().unwrap(),
            &accounts,
        )
        .unwrap();
        assert!(entry.is_balanced());
        assert_eq!(
            postings(&entry),
            vec![
                (Side::Debit, "1200".into(), "135.00 USD".into()),
                (Side::Credit, "1100".into(), "135.00 USD".into()),
                (Side::Debit, "1100".into(), "5000.00 USD".into()),
                (Side::Credit, "2400".into(), "5000.00 USD".into()),
                (Side::Debit, "1100".into(), "431.77 USD".into()),
                (Side::Credit, "2200".into(), "431.77 USD".into()),
            ]
        );
        // Only the deduction, or a deduction that cancels the work: nothing is invoiced.
        for lines in [
            vec![line("-135.00", false, "d1")],
            vec![line("-135.00", false, "d1"), line("135.00", false, "t1")],
        ] {
            let reason = crate::invoice::deferral(&invoice(lines, "8.875")).unwrap();
            assert!(reason.contains("wait for the next period"), "{reason}");
        }
    }

    /// Two 102.50 lines at 19 %: 19.475 each rounds to 19.48 per line (38.96 together), but
    /// the category's 205.00 x 19 % = 38.95 exactly; the invoice's 505.00 x 19 % = 95.95.
    fn de_invoice() -> InvoiceDraft {
        invoice(
            vec![
                line("102.50", false, "a"),
                line("102.50", false, "b"),
                line("300.00", false, "c"),
            ],
            "19",
        )
    }

    #[test]
    fn full_credit_equals_the_invoice_and_its_entry_mirrors_the_issue_entry() {
        let accounts = chart().mapping;
        // 1890.00 + 660.00 accrued, 5000.00 retainer block in advance; 7550.00 x 8.875 %
        // = 670.0625 -> 670.06.
        let draft = invoice(
            vec![
                line("1890.00", false, "t1"),
                line("660.00", false, "t2"),
                line("5000.00", true, "r1"),
            ],
            "8.875",
        );
        assert_eq!(draft.tax_total.to_string(), "670.06 USD");
        let note = credit(
            &draft,
            INV,
            &CreditSelection::All,
            &BTreeMap::new(),
            Disposition::Release,
            "Billed to the wrong customer entity",
        )
        .unwrap();
        assert_eq!(note.net_total, draft.net_total);
        assert_eq!(note.tax_total, draft.tax_total);
        assert_eq!(note.gross_total, draft.gross_total);
        assert_eq!(note.gross_total.to_string(), "8220.06 USD");
        assert_eq!(note.tax[0].taxable.to_string(), "7550.00 USD");
        assert_eq!(note.credited_lines, vec![0, 1, 2]);
        assert_eq!(note.item_ids, vec!["t1", "t2", "r1"]);

        let day = "2027-01-15".parse().unwrap();
        let cn = legal_number("CN", 2027, 1);
        let issued = issue_entry(
            &draft,
            invoice_ref(INV),
            "2026-12-31".parse().unwrap(),
            &accounts,
        )
        .unwrap();
        let credited = credit_entry(&note, credit_ref(&cn), day, &accounts).unwrap();
        assert!(credited.is_balanced());
        assert_eq!(
            postings(&credited),
            vec![
                (Side::Debit, "1200".into(), "2550.00 USD".into()),
                (Side::Credit, "1100".into(), "2550.00 USD".into()),
                (Side::Debit, "2400".into(), "5000.00 USD".into()),
                (Side::Credit, "1100".into(), "5000.00 USD".into()),
                (Side::Debit, "2200".into(), "670.06 USD".into()),
                (Side::Credit, "1100".into(), "670.06 USD".into()),
            ]
        );
        // Issue + credit: every account back to zero.
        let net = balances(&[&issued, &credited]);
        assert_eq!(net.len(), 4);
        assert!(net.values().all(|v| v.is_zero()), "{net:?}");
        assert_eq!(credited.trigger.kind, "credit_note");
        assert_eq!(
            credited.trigger.reference,
            "CN-2027-000001 credits INV-2026-000042"
        );
        assert_eq!(
            credited.trigger.document_id.as_deref(),
            Some(CREDIT_NOTE_ID)
        );
        assert_eq!(issued.trigger.reference, INV);
        assert_eq!(issued.trigger.document_id.as_deref(), Some(INVOICE_ID));
        assert_eq!(credited.item_ids, vec!["t1", "t2", "r1"]);
    }

    #[test]
    fn a_partial_credit_rounds_tax_once_for_the_category() {
        let draft = de_invoice();
        assert_eq!(draft.tax_total.to_string(), "95.95 USD");
        let note = credit(
            &draft,
            INV,
            &CreditSelection::Lines(vec![1, 0]),
            &BTreeMap::new(),
            Disposition::Release,
            "Hours disputed",
        )
        .unwrap();
        assert_eq!(note.credited_lines, vec![0, 1]);
        assert_eq!(note.net_total.to_string(), "205.00 USD");
        // Not 19.48 + 19.48 = 38.96.
        assert_eq!(note.tax_total.to_string(), "38.95 USD");
        assert_eq!(note.gross_total.to_string(), "243.95 USD");
    }

    #[test]
    fn successive_partial_credits_never_exceed_the_invoice_tax() {
        let draft = de_invoice();
        let mut already = BTreeMap::new();
        let mut taxes = Vec::new();
        for (n, index) in [0usize, 1, 2].into_iter().enumerate() {
            let note = credit(
                &draft,
                INV,
                &CreditSelection::Lines(vec![index]),
                &already,
                Disposition::Release,
                "one line at a time",
            )
            .unwrap();
            taxes.push(note.tax_total.to_string());
            already.insert(index, legal_number("CN", 2027, n as u64 + 1));
        }
        // 19.48, then round(205.00 x 19 %) - 19.48 = 19.47 (a per-line 19.48 would credit
        // 95.96 in all), then the invoice's 95.95 - 38.95 = 57.00.
        assert_eq!(taxes, vec!["19.48 USD", "19.47 USD", "57.00 USD"]);
        assert!(remaining_lines(&draft, &already).is_empty());
    }

    #[test]
    fn a_write_off_writes_down_the_accrued_net_but_not_an_advance() {
        let accounts = chart().mapping;
        let draft = invoice(
            vec![line("978.75", false, "t1"), line("5000.00", true, "r1")],
            "7.25",
        );
        // 5978.75 x 7.25 % = 433.459375 -> 433.46.
        assert_eq!(draft.tax_total.to_string(), "433.46 USD");
        let note = credit(
            &draft,
            INV,
            &CreditSelection::All,
            &BTreeMap::new(),
            Disposition::WriteOff,
            "Goodwill: rework on the ERP load",
        )
        .unwrap();
        let entry = credit_entry(
            &note,
            credit_ref("CN-2027-000002"),
            "2027-01-20".parse().unwrap(),
            &accounts,
        )
        .unwrap();
        assert!(entry.is_balanced());
        assert_eq!(
            postings(&entry),
            vec![
                (Side::Debit, "1200".into(), "978.75 USD".into()),
                (Side::Credit, "1100".into(), "978.75 USD".into()),
                (Side::Debit, "2400".into(), "5000.00 USD".into()),
                (Side::Credit, "1100".into(), "5000.00 USD".into()),
                (Side::Debit, "2200".into(), "433.46 USD".into()),
                (Side::Credit, "1100".into(), "433.46 USD".into()),
                (Side::Debit, "4900".into(), "978.75 USD".into()),
                (Side::Credit, "1200".into(), "978.75 USD".into()),
            ]
        );
        // The accrual (Dr 1200 / Cr 4000), the issue and the write-off: the receivable and
        // the unbilled asset are cleared and the revenue is offset by the write-down.
        let accrual = JournalEntry::new(
            "2026-12-02".parse().unwrap(),
            "T&M time delivered",
            Trigger {
                kind: "timesheet".into(),
                reference: "jira:w-1@v1".into(),
                document_id: None,
            },
            vec!["t1".into()],
            &[("1200", "4000", usd("978.75"))],
        )
        .unwrap();
        let issued = issue_entry(
            &draft,
            invoice_ref(INV),
            "2026-12-31".parse().unwrap(),
            &accounts,
        )
        .unwrap();
        let net = balances(&[&accrual, &issued, &entry]);
        assert!(net["1100"].is_zero() && net["1200"].is_zero() && net["2200"].is_zero());
        assert_eq!(net["4000"].to_string(), "-978.75");
        assert_eq!(net["4900"].to_string(), "978.75");
        assert!(net["2400"].is_zero(), "the advance is only reversed");
    }

    #[test]
    fn invalid_selections_list_every_problem() {
        let draft = de_invoice();
        let already = BTreeMap::from([(2, "CN-2027-000001".to_owned())]);
        let err = credit(
            &draft,
            INV,
            &CreditSelection::Lines(vec![0, 3, 0, 2]),
            &already,
            Disposition::Release,
            "  ",
        )
        .unwrap_err();
        let CreditError::Invalid(problems) = err else {
            panic!("{err:?}")
        };
        let listed: Vec<String> = problems.0.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            listed,
            vec![
                "reason: a credit note needs its reason",
                "lines[1]: line 3 is not on invoice INV-2026-000042 (3 lines)",
                "lines[2]: line 0 is selected twice",
                "lines[3]: line 2 was already credited by CN-2027-000001",
            ]
        );
        let empty = credit(
            &draft,
            INV,
            &CreditSelection::Lines(Vec::new()),
            &BTreeMap::new(),
            Disposition::Release,
            "x",
        );
        assert!(
            matches!(empty, Err(CreditError::Invalid(p)) if p.0[0].problem == "select at least one line to credit")
        );
    }

    #[test]
    fn a_line_credited_twice_is_refused() {
        let draft = de_invoice();
        let first = credit(
            &draft,
            INV,
            &CreditSelection::Lines(vec![1]),
            &BTreeMap::new(),
            Disposition::WriteOff,
            "duplicate entry",
        )
        .unwrap();
        let already: BTreeMap<usize, String> = first
            .credited_lines
            .iter()
            .map(|i| (*i, "CN-2027-000001".to_owned()))
            .collect();
        assert_eq!(remaining_lines(&draft, &already), vec![0, 2]);
        for (selection, field) in [
            (CreditSelection::Lines(vec![1]), "lines[0]"),
            (CreditSelection::All, "lines"),
        ] {
            let err = credit(
                &draft,
                INV,
                &selection,
                &already,
                Disposition::Release,
                "again",
            );
            let Err(CreditError::Invalid(problems)) = err else {
                panic!("{err:?}")
            };
            assert_eq!(problems.0.len(), 1);
            assert_eq!(problems.0[0].field, field);
            assert_eq!(
                problems.0[0].problem,
                "line 1 was already credited by CN-2027-000001"
            );
        }
    }

    #[test]
    fn credits_beyond_the_invoice_or_of_nothing_are_refused() {
        // A negative correction line: crediting only the positive line would take back
        // more than the invoice charged, crediting only the correction nothing at all.
        let draft = invoice(
            vec![line("100.00", false, "a"), line("-40.00", false, "delta")],
            "19",
        );
        for (lines, problem) in [
            (
                vec![0],
                "credits of tax category S would reach 100.00 USD, more than the invoice's 60.00 USD",
            ),
            (vec![1], "a credit note must credit a positive amount, got -40.00 USD"),
        ] {
            let err = credit(
                &draft,
                INV,
                &CreditSelection::Lines(lines),
                &BTreeMap::new(),
                Disposition::Release,
                "x",
            );
            let Err(CreditError::Invalid(problems)) = err else {
                panic!("{err:?}")
            };
            assert_eq!(problems.0[0].problem, problem);
        }
    }
}
