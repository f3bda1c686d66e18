//! The invoice job under injected storage faults and races, on both adapter sets.
//!
//! A crash between any two writes (the k-th write failing before or after it is applied,
//! once or with every later write failing too), followed by retries, must end in exactly the invoice a clean run produces: same id,
//! same items each once, same totals, one journal entry, one outbox event, number
//! `INV-2026-000001` and the counter at 1. Racing runs must put each item on exactly one
//! invoice and take the numbers 1..N without a gap.

#[macro_use]
mod harness;

use handoff_domain::invoice::InvoiceDraft;
use handoff_domain::{ContractId, InvoiceId, ProjectId};
use handoff_ports::Store;
use handoff_runtime::Failure;
use harness::faulty::{fresh_like, is_aws, FailMode, FaultyStore};
use harness::invoicing::{invoicing_on, items, journal_records, project_with_items, text};
use harness::Harness;
use invoice_generator::claims::{claimed_by, unbilled, CHUNK_ATTEMPTS_MAX};
use invoice_generator::job::{JobError, JobOutcome};
use invoice_generator::numbering::invoice_key;
use invoice_generator::relay::{outbox_key, INVOICE_ISSUED};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

contract_cases!(
    a_crash_at_any_write_then_a_retry_issues_the_clean_invoice,
    racing_full_runs_bill_each_item_once_with_gapless_numbers,
);

/// Items on the memory adapters: more than two claim transactions of 100.
const MEMORY_ITEMS: usize = 230;
/// Items on DynamoDB: enough for a real invoice, few enough for a quick run per crash point.
const AWS_ITEMS: usize = 12;
const PERIOD: &str = "2026-12";
const PERIOD_START: &str = "2026-12-01";
const CUTOFF: &str = "2026-12-31";
const ISSUE_ON: &str = "2026-12-31";
/// Globex (the sample deal) invoices from `northwind-us`.
const COUNTER_PK: &str = "COUNTER#northwind-us#INV#2026";
/// 2 h x 135.00 USD per entry.
const NET_PER_ITEM: &str = "270.00";

fn items_for(h: &Harness) -> usize {
    if is_aws(h) {
        AWS_ITEMS
    } else {
        MEMORY_ITEMS
    }
}

async fn run(
    store: Arc<dyn Store>,
    table: &str,
    project: ProjectId,
    period: &str,
) -> Result<JobOutcome, JobError> {
    invoicing_on(store, table)
        .run(project, period, PERIOD_START, CUTOFF, ISSUE_ON)
        .await
}

/// Redeliveries of a job that failed with a retryable error (as SQS would redeliver it).
const DELIVERIES_MAX: usize = 20;

/// The job as its queue runs it: redelivered while it fails retryably. Returns the
/// outcome and the retryable errors met on the way.
async fn deliver(
    store: Arc<dyn Store>,
    table: &str,
    project: ProjectId,
    period: &str,
) -> (JobOutcome, Vec<String>) {
    let mut errors = Vec::new();
    for _ in 0..DELIVERIES_MAX {
        match run(store.clone(), table, project, period).await {
            Ok(outcome) => return (outcome, errors),
            Err(e) if e.is_retryable() => errors.push(e.to_string()),
            Err(e) => panic!("{period}: non-retryable {e} after {errors:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{period}: still failing after {DELIVERIES_MAX} deliveries: {errors:?}")
}

/// An issued invoice as stored.
#[derive(Debug, Clone, PartialEq)]
struct StoredInvoice {
    status: Option<String>,
    number: Option<String>,
    draft: InvoiceDraft,
    /// Item ids on the draft's lines, in line order (duplicates kept).
    line_items: Vec<String>,
    outbox: Option<String>,
}

async fn stored_invoice(h: &Harness, invoice: InvoiceId) -> StoredInvoice {
    let record = h
        .store
        .get(&h.table, &invoice_key(&invoice.to_string()))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("invoice {invoice} is not stored"));
    // The document as finance reads it: the stored draft with its annex pages.
    let draft: InvoiceDraft = harness::invoicing::invoicing(h)
        .annexed_record(invoice)
        .await
        .unwrap()
        .and_then(|r| r.draft)
        .unwrap_or_else(|| panic!("invoice {invoice} has no draft"));
    let line_items = draft
        .lines
        .iter()
        .flat_map(|l| l.item_ids.iter().cloned())
        .collect();
    let outbox = h
        .store
        .get(&h.table, &outbox_key(&invoice.to_string(), INVOICE_ISSUED))
        .await
        .unwrap()
        .and_then(|o| text(&o, "event"));
    StoredInvoice {
        status: text(&record, "status"),
        number: text(&record, "number"),
        draft,
        line_items,
        outbox,
    }
}

/// Everything an invoice run changes, read back from the store.
#[derive(Debug, Clone, PartialEq)]
struct Books {
    invoice: StoredInvoice,
    /// Ids claimed by the invoice (`GSI2`), sorted, duplicates kept.
    claimed: Vec<String>,
    /// Every billable item of the project: id → (status, invoice id).
    items: BTreeMap<String, (Option<String>, Option<String>)>,
    unbilled: usize,
    /// The issue's journal entries: sort key → entry.
    journal: BTreeMap<String, Option<String>>,
    counter: Option<String>,
}

async fn journal(h: &Harness, project: ProjectId) -> BTreeMap<String, Option<String>> {
    journal_records(h, project, &format!("{ISSUE_ON}#invoice#"))
        .await
        .into_iter()
        .map(|e| (text(&e, "SK").unwrap(), text(&e, "entry")))
        .collect()
}

async fn counter(h: &Harness) -> Option<String> {
    harness::invoicing::counter(h, COUNTER_PK).await
}

/// Ids of the items claimed by `invoice` (`GSI2`), sorted, duplicates kept.
async fn claimed_ids(h: &Harness, invoice: InvoiceId) -> Vec<String> {
    let mut claimed: Vec<String> = claimed_by(h.store.as_ref(), &h.table, invoice)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id.to_string())
        .collect();
    claimed.sort();
    claimed
}

async fn books(h: &Harness, project: ProjectId, contract: ContractId) -> Books {
    let invoice = InvoiceId::derive_from_parts(&[&contract.to_string(), PERIOD]);
    Books {
        invoice: stored_invoice(h, invoice).await,
        claimed: claimed_ids(h, invoice).await,
        items: items(h, project).await,
        unbilled: unbilled(h.store.as_ref(), &h.table, contract, CUTOFF)
            .await
            .unwrap()
            .len(),
        journal: journal(h, project).await,
        counter: counter(h).await,
    }
}

/// What a correct run leaves behind, checked on its own terms (not only against the
/// clean run): every item on the invoice once, number 1, one entry, counter at 1.
fn assert_sound(books: &Books, invoice: InvoiceId, entries: usize, context: &str) {
    let inv = &books.invoice;
    assert_eq!(inv.status.as_deref(), Some("issued"), "{context}");
    assert_eq!(inv.number.as_deref(), Some("INV-2026-000001"), "{context}");
    assert_eq!(books.counter.as_deref(), Some("1"), "no gap: {context}");
    assert_eq!(books.journal.len(), 1, "one issue entry: {context}");
    assert!(
        books.journal.keys().all(|k| k.ends_with("INV-2026-000001")),
        "{context}"
    );
    assert!(inv.outbox.is_some(), "InvoiceIssued outbox: {context}");
    assert_eq!(books.unbilled, 0, "nothing left unbilled: {context}");
    assert_eq!(books.items.len(), entries, "{context}");
    let on_lines: BTreeSet<&String> = inv.line_items.iter().collect();
    assert_eq!(
        on_lines.len(),
        inv.line_items.len(),
        "an item twice on the invoice: {context}"
    );
    let all: BTreeSet<&String> = books.items.keys().collect();
    assert_eq!(on_lines, all, "every item on the invoice: {context}");
    let claimed: BTreeSet<&String> = books.claimed.iter().collect();
    assert_eq!(claimed.len(), books.claimed.len(), "{context}");
    assert_eq!(claimed, all, "every item claimed by it: {context}");
    let invoice_text = invoice.to_string();
    for (id, (status, by)) in &books.items {
        assert_eq!(
            (status.as_deref(), by.as_deref()),
            (Some("invoiced"), Some(invoice_text.as_str())),
            "item {id}: {context}"
        );
    }
    let net: Decimal = NET_PER_ITEM.parse::<Decimal>().unwrap() * Decimal::from(entries as u64);
    assert_eq!(inv.draft.net_total.amount(), net, "{context}");
}

/// One crash point: a fresh table, the k-th write failing, then retries without faults.
async fn crash_and_retry(
    h: &Harness,
    entries: usize,
    k: usize,
    mode: FailMode,
    crash: bool,
    clean: &Books,
    clean_outcome: &JobOutcome,
) {
    let fresh = fresh_like(h, &format!("fault-{k}")).await;
    let (project, contract) = project_with_items(&fresh, entries).await;
    let mut faulty = FaultyStore::new(fresh.store.clone(), Some(k), mode);
    if crash {
        faulty = faulty.crashing();
    }
    let faulty = Arc::new(faulty);
    let crashed = run(faulty.clone(), &fresh.table, project, PERIOD).await;
    let context = format!(
        "write {k} failing {mode:?}, crash {crash} (the crashed run returned {:?}; its writes: {:#?})",
        crashed.as_ref().map(|o| &o.number),
        faulty.log()
    );
    assert!(faulty.fired(), "write {k} was never reached: {context}");
    eprintln!(
        "write {k} failing {mode:?}, crash {crash}: crashed run -> {:?}",
        crashed
            .as_ref()
            .map(|o| &o.number)
            .map_err(|e| e.to_string())
    );
    // The redelivered job, and once more for good measure.
    let retried = run(fresh.store.clone(), &fresh.table, project, PERIOD)
        .await
        .unwrap_or_else(|e| panic!("retry failed with {e}: {context}"));
    let again = run(fresh.store.clone(), &fresh.table, project, PERIOD)
        .await
        .unwrap_or_else(|e| panic!("second retry failed with {e}: {context}"));
    for outcome in [&retried, &again] {
        assert_eq!(outcome.invoice_id, clean_outcome.invoice_id, "{context}");
        assert_eq!(outcome.number, clean_outcome.number, "{context}");
        assert_eq!(outcome.draft, clean_outcome.draft, "{context}");
    }
    let after = books(&fresh, project, contract).await;
    assert_sound(&after, clean_outcome.invoice_id, entries, &context);
    assert_eq!(&after, clean, "differs from the clean run: {context}");
    fresh.cleanup().await;
}

async fn a_crash_at_any_write_then_a_retry_issues_the_clean_invoice(h: Harness) {
    let entries = items_for(&h);
    // The clean run, counting its writes.
    let (project, contract) = project_with_items(&h, entries).await;
    let counting = Arc::new(FaultyStore::counting(h.store.clone()));
    let clean_outcome = run(counting.clone(), &h.table, project, PERIOD)
        .await
        .unwrap();
    let writes = counting.writes();
    eprintln!(
        "clean run with {entries} items: {writes} writes\n{}",
        counting.log().join("\n")
    );
    // At least a claim, the draft and the issue.
    assert!(writes >= 3, "{:#?}", counting.log());
    let clean = books(&h, project, contract).await;
    assert_sound(&clean, clean_outcome.invoice_id, entries, "clean run");
    assert_eq!(clean_outcome.draft.as_ref(), Some(&clean.invoice.draft));
    // The k-th write fails once (the job may retry it itself), or the process dies there
    // (every later write fails too); either way the redelivered job must finish the same.
    for crash in [false, true] {
        for mode in [FailMode::Before, FailMode::After] {
            for k in 1..=writes {
                crash_and_retry(&h, entries, k, mode, crash, &clean, &clean_outcome).await;
            }
        }
    }
}

async fn racing_full_runs_bill_each_item_once_with_gapless_numbers(h: Harness) {
    let (entries, rounds) = if is_aws(&h) {
        (150, 3)
    } else {
        (MEMORY_ITEMS, 8)
    };
    for round in 0..rounds {
        let fresh = fresh_like(&h, &format!("race-{round}")).await;
        let (project, contract) = project_with_items(&fresh, entries).await;
        // Two deliveries of December's job and a job for another period, all at once.
        let periods = [PERIOD, PERIOD, "2026-12-semi"];
        let runs: Vec<_> = periods
            .iter()
            .map(|period| {
                let (store, table) = (fresh.store.clone(), fresh.table.clone());
                let period = period.to_string();
                tokio::spawn(async move { deliver(store, &table, project, &period).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        let mut redeliveries = Vec::new();
        for r in runs {
            let (outcome, errors) = r.await.unwrap();
            outcomes.push(outcome);
            redeliveries.push(errors);
        }
        let context = format!("round {round}: {outcomes:#?}");
        assert_eq!(
            (outcomes[0].invoice_id, &outcomes[0].number),
            (outcomes[1].invoice_id, &outcomes[1].number),
            "both December runs report the same invoice and number: {context}"
        );
        let issued: BTreeSet<InvoiceId> = outcomes
            .iter()
            .filter(|o| o.number.is_some())
            .map(|o| o.invoice_id)
            .collect();
        let mut numbers = Vec::new();
        let mut on_invoices: BTreeMap<String, Vec<InvoiceId>> = BTreeMap::new();
        let mut net = Decimal::ZERO;
        for invoice in &issued {
            let stored = stored_invoice(&fresh, *invoice).await;
            assert_eq!(stored.status.as_deref(), Some("issued"), "{context}");
            assert!(stored.outbox.is_some(), "{context}");
            numbers.push(stored.number.clone().unwrap());
            net += stored.draft.net_total.amount();
            for id in &stored.line_items {
                on_invoices.entry(id.clone()).or_default().push(*invoice);
            }
            // What the invoice claimed is exactly what it bills.
            let claimed = claimed_ids(&fresh, *invoice).await;
            let mut lines = stored.line_items.clone();
            lines.sort();
            assert_eq!(claimed, lines, "invoice {invoice}: {context}");
        }
        numbers.sort();
        eprintln!("round {round}: numbers {numbers:?}; retryable errors per run: {redeliveries:?}");
        let expected: Vec<String> = (1..=issued.len())
            .map(|n| format!("INV-2026-{n:06}"))
            .collect();
        assert_eq!(numbers, expected, "numbers 1..N without a gap: {context}");
        assert_eq!(
            counter(&fresh).await,
            Some(issued.len().to_string()),
            "{context}"
        );
        assert_eq!(
            journal(&fresh, project).await.len(),
            issued.len(),
            "one entry per issued invoice: {context}"
        );
        let stored_items = items(&fresh, project).await;
        assert_eq!(stored_items.len(), entries, "{context}");
        for (id, (status, by)) in &stored_items {
            let on = on_invoices.get(id).cloned().unwrap_or_default();
            assert_eq!(on.len(), 1, "item {id} on invoices {on:?}: {context}");
            assert_eq!(status.as_deref(), Some("invoiced"), "{context}");
            assert_eq!(by.clone(), Some(on[0].to_string()), "{context}");
        }
        assert_eq!(on_invoices.len(), entries, "{context}");
        assert_eq!(
            net,
            NET_PER_ITEM.parse::<Decimal>().unwrap() * Decimal::from(entries as u64),
            "{context}"
        );
        assert_eq!(
            unbilled(fresh.store.as_ref(), &fresh.table, contract, CUTOFF)
                .await
                .unwrap()
                .len(),
            0,
            "{context}"
        );
        fresh.cleanup().await;
    }
}

/// A claim transaction that fails retryably on every attempt (a throttling burst of
/// `CHUNK_ATTEMPTS_MAX` writes) must fail the job, which is then redelivered, rather than
/// issue the invoice without that chunk's items. Memory adapters only: the fault is in the
/// job's logic, not in an adapter.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_chunk_failing_every_attempt_does_not_issue_a_partial_invoice() {
    let h = Harness::memory("throttled_claim");
    let (project, contract) = project_with_items(&h, MEMORY_ITEMS).await;
    let faulty = Arc::new(
        FaultyStore::new(h.store.clone(), Some(1), FailMode::Before)
            .failing_writes(CHUNK_ATTEMPTS_MAX),
    );
    let first = run(faulty.clone(), &h.table, project, PERIOD).await;
    let context = format!(
        "the throttled run returned {:?}; its writes: {:#?}",
        first.as_ref().map(|o| &o.number).map_err(|e| e.to_string()),
        faulty.log()
    );
    if let Err(e) = &first {
        assert!(e.is_retryable(), "{context}");
    }
    // Redelivered (or delivered again although it reported success).
    let (outcome, _) = deliver(h.store.clone(), &h.table, project, PERIOD).await;
    let after = books(&h, project, contract).await;
    assert_sound(&after, outcome.invoice_id, MEMORY_ITEMS, &context);
}
