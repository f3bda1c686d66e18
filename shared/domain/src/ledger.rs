//! The chart of accounts and journal entries (DESIGN §4.5, §4.6).
//!
//! A [`JournalEntry`] is balanced by construction: it is built from (debit account,
//! credit account, amount) pairs, so Σ debits = Σ credits holds for every entry that can
//! exist, and every entry names the trigger it came from.

use crate::money::Money;
use crate::problems::{Problem, ProblemList, Problems};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Asset,
    Liability,
    Revenue,
    Expense,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub code: String,
    pub name: String,
    pub kind: AccountKind,
}

/// Which account plays each part in handoff's postings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountMapping {
    pub accounts_receivable: String,
    pub unbilled_receivables: String,
    pub tax_payable: String,
    pub deferred_revenue: String,
    pub services_revenue: String,
    pub reimbursable_expense_revenue: String,
    pub revenue_write_down: String,
    pub cost_of_services: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartOfAccounts {
    pub accounts: Vec<Account>,
    pub mapping: AccountMapping,
}

impl ChartOfAccounts {
    /// Parses `chart_of_accounts.json`; every mapped code must exist, codes are unique.
    pub fn from_json(json: &str) -> Result<ChartOfAccounts, Problems> {
        let chart: ChartOfAccounts = serde_json::from_str(json)
            .map_err(|e| Problems(vec![Problem::new("", format!("chart of accounts: {e}"))]))?;
        let mut p = ProblemList::new();
        let mut codes = BTreeSet::new();
        for (i, a) in chart.accounts.iter().enumerate() {
            if a.code.trim().is_empty() || !codes.insert(a.code.as_str()) {
                p.push(
                    format!("accounts[{i}].code"),
                    format!("empty or duplicate code {:?}", a.code),
                );
            }
        }
        let m = &chart.mapping;
        for (field, code) in [
            ("accounts_receivable", &m.accounts_receivable),
            ("unbilled_receivables", &m.unbilled_receivables),
            ("tax_payable", &m.tax_payable),
            ("deferred_revenue", &m.deferred_revenue),
            ("services_revenue", &m.services_revenue),
            (
                "reimbursable_expense_revenue",
                &m.reimbursable_expense_revenue,
            ),
            ("revenue_write_down", &m.revenue_write_down),
            ("cost_of_services", &m.cost_of_services),
        ] {
            if !codes.contains(code.as_str()) {
                p.push(
                    format!("mapping.{field}"),
                    format!("account {code} is not in the chart"),
                );
            }
        }
        p.finish(|| chart.clone())
    }

    pub fn account(&self, code: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.code == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Debit,
    Credit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalLine {
    pub account: String,
    pub side: Side,
    /// Always positive: the side says which way it goes.
    pub amount: Money,
}

/// What caused an entry: the delivery signal, invoice or credit note, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// `timesheet`, `expense`, `milestone`, `change_order`, `retainer_period`, `invoice`, …
    pub kind: String,
    /// The source's own reference, e.g. `jira:worklog-88@v2`.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub date: NaiveDate,
    pub description: String,
    pub trigger: Trigger,
    /// The billable items the entry concerns.
    pub item_ids: Vec<String>,
    lines: Vec<JournalLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("a posting amount must be a positive, rounded amount; got {0}")]
    BadAmount(Money),
    #[error("an entry's postings must share one currency")]
    MixedCurrencies,
    #[error("an entry needs at least one posting")]
    Empty,
}

impl JournalEntry {
    /// An entry of one or more (debit account, credit account, amount) postings: every
    /// amount lands once on each side, so the entry balances by construction.
    pub fn new(
        date: NaiveDate,
        description: impl Into<String>,
        trigger: Trigger,
        item_ids: Vec<String>,
        postings: &[(&str, &str, Money)],
    ) -> Result<JournalEntry, JournalError> {
        let first = postings.first().ok_or(JournalError::Empty)?;
        let mut lines = Vec::with_capacity(postings.len() * 2);
        for (debit, credit, amount) in postings {
            if amount.currency() != first.2.currency() {
                return Err(JournalError::MixedCurrencies);
            }
            if amount.is_negative() || amount.is_zero() || !amount.is_rounded() {
                return Err(JournalError::BadAmount(*amount));
            }
            lines.push(JournalLine {
                account: (*debit).to_owned(),
                side: Side::Debit,
                amount: *amount,
            });
            lines.push(JournalLine {
                account: (*credit).to_owned(),
                side: Side::Credit,
                amount: *amount,
            });
        }
        Ok(JournalEntry {
            date,
            description: description.into(),
            trigger,
            item_ids,
            lines,
        })
    }

    pub fn lines(&self) -> &[JournalLine] {
        &self.lines
    }

    /// Σ of one side (for reports and the balance check of stored entries).
    pub fn total(&self, side: Side) -> Money {
        let currency = self.lines[0].amount.currency();
        let amounts: Vec<&Money> = self
            .lines
            .iter()
            .filter(|l| l.side == side)
            .map(|l| &l.amount)
            .collect();
        Money::sum(currency, amounts).unwrap_or(Money::zero(currency))
    }

    pub fn is_balanced(&self) -> bool {
        self.total(Side::Debit) == self.total(Side::Credit)
    }
}

/// The hledger account name of a code: `assets:1200 Unbilled receivables`.
fn hledger_account(chart: &ChartOfAccounts, code: &str) -> String {
    match chart.account(code) {
        Some(a) => {
            let top = match a.kind {
                AccountKind::Asset => "assets",
                AccountKind::Liability => "liabilities",
                AccountKind::Revenue => "revenues",
                AccountKind::Expense => "expenses",
            };
            // hledger reads `(…)` as a virtual posting and two spaces as the end of the
            // name: keep names to single-spaced text without brackets or semicolons.
            let name: String = a
                .name
                .chars()
                .filter(|c| !matches!(c, '(' | ')' | '[' | ']' | ';'))
                .collect();
            format!(
                "{top}:{code} {}",
                name.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        }
        None => format!("unknown:{code}"),
    }
}

/// The journal as an hledger file: one transaction per entry, the trigger in the
/// description and as a tag, amounts as `1234.50 USD` (credits negative).
pub fn to_hledger(entries: &[JournalEntry], chart: &ChartOfAccounts) -> String {
    let mut out = String::new();
    let mut currencies: Vec<String> = entries
        .iter()
        .flat_map(|e| e.lines.iter().map(|l| l.amount.currency().to_string()))
        .collect();
    currencies.sort();
    currencies.dedup();
    for c in &currencies {
        let minor = crate::currency::Currency::parse(c)
            .map(|c| c.minor_units())
            .unwrap_or(2);
        out.push_str(&format!(
            "commodity 1000.{} {c}\n",
            "0".repeat(minor as usize)
        ));
    }
    out.push('\n');
    for e in entries {
        let description: String = e
            .description
            .chars()
            .filter(|c| *c != ';' && *c != '|')
            .collect();
        out.push_str(&format!(
            "{} {} | {}  ; trigger:{}\n",
            e.date, e.trigger.kind, description, e.trigger.reference
        ));
        for line in &e.lines {
            let amount = match line.side {
                Side::Debit => line.amount,
                Side::Credit => line.amount.negate(),
            };
            out.push_str(&format!(
                "    {}  {}\n",
                hledger_account(chart, &line.account),
                amount
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::currency::Currency;
    use proptest::prelude::*;

    fn usd(cents: i64) -> Money {
        Money::new(
            rust_decimal::Decimal::new(cents, 2),
            Currency::parse("USD").unwrap(),
        )
    }

    fn trigger() -> Trigger {
        Trigger {
            kind: "timesheet".into(),
            reference: "jira:worklog-1@v1".into(),
        }
    }

    #[test]
    fn seed_chart_loads_and_rejects_unknown_mappings() {
        let json = include_str!("../../../infra/seed/chart_of_accounts.json");
        let chart = ChartOfAccounts::from_json(json).unwrap();
        assert_eq!(
            chart.account(&chart.mapping.services_revenue).unwrap().kind,
            AccountKind::Revenue
        );
        let broken = json.replace(
            r#""cost_of_services": "5000""#,
            r#""cost_of_services": "9999""#,
        );
        let problems = ChartOfAccounts::from_json(&broken).unwrap_err().0;
        assert_eq!(problems[0].field, "mapping.cost_of_services");
    }

    #[test]
    fn refuses_unrounded_negative_zero_and_mixed_postings() {
        let date = "2026-12-01".parse().unwrap();
        let eur = Money::new(rust_decimal::Decimal::ONE, Currency::parse("EUR").unwrap());
        assert!(
            JournalEntry::new(date, "x", trigger(), vec![], &[("1200", "4000", usd(-100))])
                .is_err()
        );
        assert!(
            JournalEntry::new(date, "x", trigger(), vec![], &[("1200", "4000", usd(0))]).is_err()
        );
        let third = Money::new("0.333".parse().unwrap(), usd(0).currency());
        assert!(
            JournalEntry::new(date, "x", trigger(), vec![], &[("1200", "4000", third)]).is_err()
        );
        assert_eq!(
            JournalEntry::new(
                date,
                "x",
                trigger(),
                vec![],
                &[("1200", "4000", usd(100)), ("1200", "4100", eur)]
            ),
            Err(JournalError::MixedCurrencies)
        );
        assert_eq!(
            JournalEntry::new(date, "x", trigger(), vec![], &[]),
            Err(JournalError::Empty)
        );
    }

    proptest! {
        #[test]
        fn every_entry_balances(amounts in prop::collection::vec(1i64..100_000_000, 1..20)) {
            let postings: Vec<(&str, &str, Money)> = amounts.iter().map(|a| ("1200", "4000", usd(*a))).collect();
            let entry = JournalEntry::new("2026-12-01".parse().unwrap(), "accrual", trigger(), vec![], &postings).unwrap();
            prop_assert!(entry.is_balanced());
            prop_assert_eq!(entry.total(Side::Debit).amount(), rust_decimal::Decimal::new(amounts.iter().sum(), 2));
        }
    }
}
