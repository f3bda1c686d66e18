//! Items are claimed by at most one invoice, ever: racing runs and a rerun after a crash,
//! on both adapter sets.

#[macro_use]
mod harness;

use handoff_domain::{ContractId, InvoiceId, ProjectId};
use harness::invoicing::invoicing;
use harness::Harness;
use invoice_generator::claims::{claim, claimed_by, unbilled};
use std::collections::BTreeSet;
use std::sync::Arc;

const ENTRIES: usize = 30;

/// A converted T&M project with `ENTRIES` rated, unbilled time entries.
async fn project_with_items(h: &Harness) -> (ProjectId, ContractId) {
    harness::invoicing::project_with_items(h, ENTRIES).await
}

fn invoice_for(contract: ContractId, period: &str) -> InvoiceId {
    InvoiceId::derive_from_parts(&[&contract.to_string(), period])
}

async fn an_invoice_job_issues_once_with_tax_and_journal(h: Harness) {
    let (project, _) = project_with_items(&h).await;
    let invoicing = invoicing(&h);
    let first = invoicing
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap();
    let draft = first.draft.clone().unwrap();
    // 30 entries x 2 h x 135.00 = 8100.00; Globex is in US-CA: 7.25 % = 587.25.
    assert_eq!(draft.net_total.to_string(), "8100.00 USD");
    assert_eq!(draft.tax_total.to_string(), "587.25 USD");
    assert_eq!(draft.gross_total.to_string(), "8687.25 USD");
    assert_eq!(
        first.number.as_deref(),
        Some("INV-2026-000001"),
        "no finance approval: issued at once"
    );
    // The job redelivered: same invoice, same number, no second journal entry.
    let again = invoicing
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap();
    assert_eq!(
        (again.invoice_id, again.number.as_deref()),
        (first.invoice_id, Some("INV-2026-000001"))
    );
    let journal = h
        .store
        .query(
            &handoff_ports::Query::partition(&h.table, format!("JOURNAL#{project}"))
                .sort_prefix("2026-12-31#invoice#"),
        )
        .await
        .unwrap();
    assert_eq!(journal.items.len(), 1, "one issue entry");
}

contract_cases!(
    racing_runs_never_put_an_item_on_two_invoices,
    a_rerun_after_a_crash_resumes_the_same_invoice,
    an_invoice_job_issues_once_with_tax_and_journal,
);

async fn racing_runs_never_put_an_item_on_two_invoices(h: Harness) {
    let (_, contract) = project_with_items(&h).await;
    let december = invoice_for(contract, "2026-12");
    let other = invoice_for(contract, "2026-12-semi");
    let runs: Vec<_> = [december, december, other]
        .into_iter()
        .map(|invoice| {
            let (store, table) = (Arc::clone(&h.store), h.table.clone());
            tokio::spawn(async move {
                let items = unbilled(store.as_ref(), &table, contract, "2026-12-31")
                    .await
                    .unwrap();
                claim(store.as_ref(), &table, invoice, &items)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for run in runs {
        run.await.unwrap();
    }
    let a: BTreeSet<String> = claimed_by(h.store.as_ref(), &h.table, december)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id.to_string())
        .collect();
    let b: BTreeSet<String> = claimed_by(h.store.as_ref(), &h.table, other)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id.to_string())
        .collect();
    assert!(a.is_disjoint(&b), "an item on two invoices");
    assert_eq!(
        a.len() + b.len(),
        ENTRIES,
        "every item on exactly one invoice"
    );
    assert!(unbilled(h.store.as_ref(), &h.table, contract, "2026-12-31")
        .await
        .unwrap()
        .is_empty());
}

async fn a_rerun_after_a_crash_resumes_the_same_invoice(h: Harness) {
    let (_, contract) = project_with_items(&h).await;
    let invoice = invoice_for(contract, "2026-12");
    // A cut-off mid-month leaves the later items for the next invoice.
    let early = unbilled(h.store.as_ref(), &h.table, contract, "2026-12-10")
        .await
        .unwrap();
    assert_eq!(early.len(), 20, "days 1-10 of the 20-day cycle, twice");
    assert!(early
        .iter()
        .all(|(_, i)| i.work_date <= "2026-12-10".parse().unwrap()));
    let items = unbilled(h.store.as_ref(), &h.table, contract, "2026-12-31")
        .await
        .unwrap();
    assert_eq!(items.len(), ENTRIES);
    // The first run dies after claiming a third of the items.
    claim(h.store.as_ref(), &h.table, invoice, &items[..10])
        .await
        .unwrap();
    // The rerun (same contract and period, so the same invoice id) finishes the job, and
    // re-claiming what it already holds is harmless.
    let again = unbilled(h.store.as_ref(), &h.table, contract, "2026-12-31")
        .await
        .unwrap();
    assert_eq!(again.len(), ENTRIES - 10);
    claim(h.store.as_ref(), &h.table, invoice, &items)
        .await
        .unwrap();
    let claimed = claimed_by(h.store.as_ref(), &h.table, invoice)
        .await
        .unwrap();
    let ids: BTreeSet<String> = claimed.iter().map(|i| i.id.to_string()).collect();
    assert_eq!(
        (claimed.len(), ids.len()),
        (ENTRIES, ENTRIES),
        "each item once"
    );
    assert!(unbilled(h.store.as_ref(), &h.table, contract, "2026-12-31")
        .await
        .unwrap()
        .is_empty());
}
