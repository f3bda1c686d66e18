//! The demo's billing run: one invoice per project for December, issued at once or left
//! as a draft for finance's approval (then approved), and the trial balance of the whole
//! journal. Returns the journal as hledger text.

use crate::delivery::Delivery;
use handoff_domain::invoice::TaxTable;
use handoff_domain::ledger::{to_hledger, ChartOfAccounts, JournalEntry, Side};
use handoff_domain::project::ProjectSkeleton;
use handoff_ports::{AttributeValue, Query, Store};
use invoice_generator::job::Invoicing;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub async fn bill_the_month(
    delivery: &Delivery,
    seed: &Path,
    projects: &[ProjectSkeleton],
) -> anyhow::Result<String> {
    let tax = TaxTable::from_json(&std::fs::read_to_string(seed.join("tax_rates.json"))?)
        .map_err(|p| anyhow::anyhow!("tax_rates.json: {p}"))?;
    let chart = ChartOfAccounts::from_json(&std::fs::read_to_string(
        seed.join("chart_of_accounts.json"),
    )?)
    .map_err(|p| anyhow::anyhow!("{p}"))?;
    let invoicing = Invoicing {
        store: delivery.store.clone(),
        tax: Arc::new(tax),
        chart: Arc::new(chart.clone()),
        main_table: delivery.table.clone(),
        series_prefix: "INV".into(),
    };
    println!("\n== Billing run for December 2026 (cut-off 2026-12-31)");
    for project in projects {
        let outcome = match invoicing
            .run(
                project.project_id,
                "2026-12",
                "2026-12-01",
                "2026-12-31",
                "2026-12-31",
            )
            .await
        {
            Ok(outcome) => outcome,
            // A readiness gap found at kickoff, now blocking the invoice: said, not hidden.
            Err(invoice_generator::job::JobError::NoTaxJurisdiction) => {
                println!("  {}: cannot invoice: the customer's tax jurisdiction is unknown (kickoff readiness)", project.deal.name);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let Some(draft) = outcome.draft else {
            println!("  {}: nothing to invoice", project.deal.name);
            continue;
        };
        let number = match outcome.number {
            Some(n) => n,
            None => {
                println!(
                    "  {}: draft awaiting finance approval; approved",
                    project.deal.name
                );
                invoicing
                    .issue(project, outcome.invoice_id, &draft, "2026-12-31")
                    .await?
            }
        };
        let due = handoff_domain::invoice::due_date(
            "2026-12-31".parse()?,
            project.contract.billing.payment_terms_days,
        );
        println!("  {number}  {}  due {due}", project.deal.name);
        for line in &draft.lines {
            println!(
                "    {:<60} {:>16}",
                truncate(&line.description, 60),
                line.net.to_string()
            );
        }
        for t in &draft.tax {
            println!(
                "    {:<60} {:>16}",
                format!(
                    "tax {} {}% on {}",
                    t.category,
                    t.rate_percent.normalize(),
                    t.taxable
                ),
                t.tax.to_string()
            );
        }
        println!("    {:<60} {:>16}", "total", draft.gross_total.to_string());
    }
    let mut entries: Vec<JournalEntry> = Vec::new();
    for project in projects {
        let page = delivery
            .store
            .query(
                &Query::partition(&delivery.table, format!("JOURNAL#{}", project.project_id))
                    .limit(1000),
            )
            .await?;
        entries.extend(page.items.into_iter().filter_map(|i| match i.get("entry") {
            Some(AttributeValue::S(json)) => serde_json::from_str(json).ok(),
            _ => None,
        }));
    }
    let mut balances: BTreeMap<String, Decimal> = BTreeMap::new();
    for e in &entries {
        for l in e.lines() {
            let signed = if l.side == Side::Debit {
                l.amount.amount()
            } else {
                -l.amount.amount()
            };
            *balances.entry(l.account.clone()).or_default() += signed;
        }
    }
    println!(
        "\n== Trial balance ({} journal entries, USD; debits positive)",
        entries.len()
    );
    for (account, balance) in &balances {
        let name = chart
            .account(account)
            .map(|a| a.name.as_str())
            .unwrap_or("?");
        println!(
            "    {account} {name:<42} {:>14}",
            balance.round_dp(2).to_string()
        );
    }
    let total: Decimal = balances.values().sum();
    println!("    {:<47} {:>14}", "total", total.round_dp(2).to_string());
    anyhow::ensure!(total.is_zero(), "the trial balance does not balance");
    Ok(to_hledger(&entries, &chart))
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}
