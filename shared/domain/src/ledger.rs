//! The chart of accounts and journal entries (DESIGN §4.5, §4.6).
//!
//! A [`JournalEntry`] is balanced by construction: it is built from (debit account,
//! credit account, amount) pairs, so Σ debits = Σ credits holds for every entry that can
//! exist, and every entry names the trigger it came from.
//!
//! Exports (DESIGN §4.6): JSON is serde of the entries; [`to_csv`] writes one row per
//! posting line; [`to_hledger`] an hledger journal. Entries carry no id of their own, so
//! the CSV's `entry` column is the entry's position in the slice exported (stable for a
//! given export, e.g. after [`filter_period`]), and every row of one entry shares it.

use crate::money::{Money, MoneyError};
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
    /// The source's own reference, e.g. `jira:worklog-88@v2`, or an invoice's legal number.
    pub reference: String,
    /// The canonical id of the invoice or credit note that posted the entry, so an entry
    /// leads to its document without a lookup by number; `None` for delivery accruals,
    /// whose reference is already the source id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
}

/// An invoice or credit note as its journal entry names it: the canonical id (which
/// leads to the document's record) beside the legal number (which a person reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentRef<'a> {
    pub id: &'a str,
    pub number: &'a str,
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
    #[error("{0}")]
    Money(#[from] MoneyError),
}

/// Adds a posting of `amount` from `debit` to `credit`, the other way round when the
/// amount is negative (a negative correction), nothing when it is zero: what issue and
/// credit entries need, since their lines may net either way.
pub fn push_posting<'a>(
    postings: &mut Vec<(&'a str, &'a str, Money)>,
    debit: &'a str,
    credit: &'a str,
    amount: Money,
) {
    if amount.is_negative() {
        postings.push((credit, debit, amount.negate()));
    } else if !amount.is_zero() {
        postings.push((debit, credit, amount));
    }
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

/// The trial balance: debits − credits per (account, currency) over `entries`. Amounts
/// of different currencies are never added; every balanced journal sums to zero per
/// currency.
pub fn balances(
    entries: &[JournalEntry],
) -> std::collections::BTreeMap<(String, crate::currency::Currency), rust_decimal::Decimal> {
    let mut balances = std::collections::BTreeMap::new();
    for line in entries.iter().flat_map(|e| e.lines()) {
        let signed = match line.side {
            Side::Debit => line.amount.amount(),
            Side::Credit => -line.amount.amount(),
        };
        *balances
            .entry((line.account.clone(), line.amount.currency()))
            .or_default() += signed;
    }
    balances
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
/// description and as tags (`trigger:` and, for invoices and credit notes, `document:`), amounts as `1234.50 USD` (credits negative).
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
        let document = e
            .trigger
            .document_id
            .as_ref()
            .map_or(String::new(), |id| format!(", document:{id}"));
        out.push_str(&format!(
            "{} {} | {}  ; trigger:{}{document}\n",
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

/// The entries dated within `from..=to` (either bound open when `None`), in their order:
/// `GET /ledger/journal?from=&to=`.
pub fn filter_period(
    entries: &[JournalEntry],
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Vec<JournalEntry> {
    entries
        .iter()
        .filter(|e| from.is_none_or(|f| e.date >= f) && to.is_none_or(|t| e.date <= t))
        .cloned()
        .collect()
}

/// The CSV header of [`to_csv`].
pub const CSV_HEADER: [&str; 12] = [
    "date",
    "entry",
    "description",
    "trigger_kind",
    "trigger_reference",
    "document_id",
    "account",
    "account_name",
    "debit",
    "credit",
    "currency",
    "item_ids",
];

/// The journal as CSV (RFC 4180 quoting): a header, then one row per posting line. Amounts
/// are plain decimals with exactly the currency's minor units, in the debit or the credit
/// column (the other one empty); `item_ids` are joined by `;`.
pub fn to_csv(entries: &[JournalEntry], chart: &ChartOfAccounts) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to memory fails only on a record of the wrong length, which cannot happen:
    // every record below has the header's 12 fields.
    let _ = writer.write_record(CSV_HEADER);
    for (index, e) in entries.iter().enumerate() {
        let items = e.item_ids.join(";");
        for line in &e.lines {
            let mut amount = line.amount.amount();
            if line.amount.is_rounded() {
                amount.rescale(line.amount.currency().minor_units());
            }
            let amount = amount.to_string();
            let (debit, credit) = match line.side {
                Side::Debit => (amount.as_str(), ""),
                Side::Credit => ("", amount.as_str()),
            };
            let date = e.date.to_string();
            let index = index.to_string();
            let currency = line.amount.currency().to_string();
            let _ = writer.write_record([
                date.as_str(),
                index.as_str(),
                e.description.as_str(),
                e.trigger.kind.as_str(),
                e.trigger.reference.as_str(),
                e.trigger.document_id.as_deref().unwrap_or(""),
                line.account.as_str(),
                chart.account(&line.account).map_or("", |a| a.name.as_str()),
                debit,
                credit,
                currency.as_str(),
                items.as_str(),
            ]);
        }
    }
    let bytes = writer.into_inner().unwrap_or_default();
    // Every field written is a `&str`, so the bytes are UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
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
            document_id: None,
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

    fn entry(date: &str, description: &str, postings: &[(&str, &str, i64)]) -> JournalEntry {
        let postings: Vec<(&str, &str, Money)> =
            postings.iter().map(|(d, c, a)| (*d, *c, usd(*a))).collect();
        JournalEntry::new(
            date.parse().unwrap(),
            description,
            trigger(),
            vec!["item-1".into(), "item-2".into()],
            &postings,
        )
        .unwrap()
    }

    fn chart() -> ChartOfAccounts {
        ChartOfAccounts::from_json(include_str!("../../../infra/seed/chart_of_accounts.json"))
            .unwrap()
    }

    #[test]
    fn csv_quotes_descriptions_and_reads_back() {
        let tricky = "Credit note CN-2027-000001: \"rework\", per call\nwith Hank";
        let entries = [
            entry(
                "2026-12-02",
                "T&M time delivered",
                &[("1200", "4000", 97875)],
            ),
            entry(
                "2027-01-15",
                tricky,
                &[("1200", "1100", 97875), ("2200", "1100", 7096)],
            ),
        ];
        let csv = to_csv(&entries, &chart());
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(
            reader.headers().unwrap(),
            &csv::StringRecord::from(CSV_HEADER.to_vec())
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 6, "one row per posting line");
        let row: Vec<&str> = rows[2].iter().collect();
        assert_eq!(
            row,
            vec![
                "2027-01-15",
                "1",
                tricky,
                "timesheet",
                "jira:worklog-1@v1",
                "",
                "1200",
                "Unbilled receivables (contract asset)",
                "978.75",
                "",
                "USD",
                "item-1;item-2"
            ]
        );
        assert_eq!(&rows[5][9], "70.96");
        assert_eq!(&rows[5][8], "");
    }

    #[test]
    fn csv_debit_column_equals_credit_column() {
        let entries = [
            entry(
                "2026-12-02",
                "a",
                &[("1200", "4000", 13500), ("1200", "4100", 46255)],
            ),
            entry(
                "2026-12-31",
                "b",
                &[("1100", "1200", 181255), ("1100", "2200", 13141)],
            ),
            entry("2027-01-15", "c", &[("4900", "1200", 1)]),
        ];
        let csv = to_csv(&entries, &chart());
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let (mut debit, mut credit) = (rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ZERO);
        for row in reader.records() {
            let row = row.unwrap();
            let parse = |s: &str| {
                if s.is_empty() {
                    rust_decimal::Decimal::ZERO
                } else {
                    s.parse::<rust_decimal::Decimal>().unwrap()
                }
            };
            debit += parse(&row[8]);
            credit += parse(&row[9]);
        }
        assert_eq!(debit.to_string(), "2541.52");
        assert_eq!(debit, credit);
    }

    #[test]
    fn period_filter_is_inclusive_and_open_ended() {
        let entries = [
            entry("2026-11-30", "a", &[("1200", "4000", 100)]),
            entry("2026-12-01", "b", &[("1200", "4000", 100)]),
            entry("2026-12-31", "c", &[("1200", "4000", 100)]),
            entry("2027-01-01", "d", &[("1200", "4000", 100)]),
        ];
        let names = |from: Option<&str>, to: Option<&str>| -> String {
            filter_period(
                &entries,
                from.map(|d| d.parse().unwrap()),
                to.map(|d| d.parse().unwrap()),
            )
            .iter()
            .map(|e| e.description.as_str())
            .collect()
        };
        assert_eq!(names(Some("2026-12-01"), Some("2026-12-31")), "bc");
        assert_eq!(names(None, Some("2026-12-01")), "ab");
        assert_eq!(names(Some("2026-12-31"), None), "cd");
        assert_eq!(names(None, None), "abcd");
        assert_eq!(names(Some("2027-01-02"), None), "");
    }

    #[test]
    fn json_export_round_trips_balanced() {
        let entries = vec![entry(
            "2027-01-15",
            "x, \"y\"",
            &[("1200", "1100", 97875), ("2200", "1100", 7096)],
        )];
        let json = serde_json::to_string(&entries).unwrap();
        let back: Vec<JournalEntry> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, entries);
        assert!(back[0].is_balanced());
        assert_eq!(back[0].total(Side::Credit).to_string(), "1049.71 USD");
    }

    #[test]
    fn balances_are_debits_minus_credits_per_account() {
        let entries = vec![
            entry(
                "2026-12-31",
                "issue",
                &[("1100", "1200", 97875), ("1100", "2200", 7096)],
            ),
            entry("2027-01-05", "credit", &[("1200", "1100", 97875)]),
        ];
        let usd = crate::currency::Currency::parse("USD").unwrap();
        let b = balances(&entries);
        let at = |account: &str| b[&(account.to_owned(), usd)];
        assert_eq!(at("1100").to_string(), "70.96");
        assert_eq!(at("1200").to_string(), "0.00");
        assert_eq!(at("2200").to_string(), "-70.96");
        assert!(b.values().sum::<rust_decimal::Decimal>().is_zero());
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
