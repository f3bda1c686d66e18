//! Credit notes under injected storage faults, on both adapter sets.
//!
//! For every write a clean credit note makes, that write fails before or after it is
//! applied (once, or with every later write failing too, as a crash), then finance repeats
//! the request: it must end in exactly the clean outcome — one credit note `CN-2026-000001`
//! (the counter at 1), one credit journal entry, one `CreditNoteIssued` outbox record, the
//! invoice `partly_credited` with the same open amount, and the credited line's items
//! released to unbilled exactly once, the other items still on the invoice.

#[macro_use]
mod harness;

use handoff_domain::credit::Disposition;
use handoff_domain::{InvoiceId, ProjectId};
use handoff_ports::{Key, Store};
use harness::faulty::{fresh_like, is_aws, FailMode, FaultyStore};
use harness::invoicing::{
    counter, day, invoicing_on, items, journal_records, project_with_items, text,
};
use harness::Harness;
use invoice_generator::credits::{CreditOutcome, CreditRequest};
use invoice_generator::job::JobError;
use invoice_generator::relay::{outbox_key, CREDIT_NOTE_ISSUED};
use std::collections::BTreeMap;
use std::sync::Arc;

contract_cases!(a_crash_at_any_write_of_a_credit_note_then_a_repeat_ends_in_one_note,);

const COUNTER_PK: &str = "COUNTER#northwind-us#CN#2026";

fn request() -> CreditRequest {
    CreditRequest {
        lines: Some(vec![0]),
        disposition: Disposition::Release,
        reason: "Rate correction".into(),
        issue_on: Some(day("2026-12-31")),
    }
}

/// An issued December invoice with `entries` items on one engineer line.
async fn issued_invoice(h: &Harness, entries: usize) -> (ProjectId, InvoiceId) {
    let (project, _) = project_with_items(h, entries).await;
    let outcome = invoicing_on(h.store.clone(), &h.table)
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap();
    assert_eq!(outcome.number.as_deref(), Some("INV-2026-000001"));
    (project, outcome.invoice_id)
}

async fn credit(
    store: Arc<dyn Store>,
    table: &str,
    invoice: InvoiceId,
) -> Result<CreditOutcome, JobError> {
    invoicing_on(store, table)
        .credit_note(invoice, &request(), day("2026-12-31"))
        .await
}

/// What a credit note changes, read back.
#[derive(Debug, PartialEq)]
struct Books {
    invoice_status: Option<String>,
    credited_lines: Option<String>,
    credited_gross: Option<String>,
    items: BTreeMap<String, (Option<String>, Option<String>)>,
    credit_entries: usize,
    counter: Option<String>,
    outbox: Option<String>,
}

async fn books(h: &Harness, project: ProjectId, invoice: InvoiceId, note: &CreditOutcome) -> Books {
    let record = h
        .store
        .get(&h.table, &Key::new(format!("INVOICE#{invoice}"), "INVOICE"))
        .await
        .unwrap()
        .unwrap();
    let outbox = h
        .store
        .get(
            &h.table,
            &outbox_key(&note.credit_note_id.to_string(), CREDIT_NOTE_ISSUED),
        )
        .await
        .unwrap()
        .and_then(|o| text(&o, "event"));
    Books {
        invoice_status: text(&record, "status"),
        credited_lines: text(&record, "credited_lines"),
        credited_gross: text(&record, "credited_gross"),
        items: items(h, project).await,
        credit_entries: journal_records(h, project, "2026-12-31#credit#")
            .await
            .len(),
        counter: counter(h, COUNTER_PK).await,
        outbox,
    }
}

async fn a_crash_at_any_write_of_a_credit_note_then_a_repeat_ends_in_one_note(h: Harness) {
    let entries = if is_aws(&h) { 6 } else { 120 };
    let (project, invoice) = issued_invoice(&h, entries).await;
    let counting = Arc::new(FaultyStore::counting(h.store.clone()));
    let clean_note = credit(counting.clone(), &h.table, invoice).await.unwrap();
    let writes = counting.writes();
    eprintln!(
        "clean credit note of {entries} items: {writes} writes\n{}",
        counting.log().join("\n")
    );
    assert_eq!(clean_note.number, "CN-2026-000001");
    assert_eq!(
        clean_note.items_moved, entries,
        "every item of the line released"
    );
    // The draft note, the numbering transaction, the item releases.
    assert!(writes >= 3, "{:#?}", counting.log());
    let clean = books(&h, project, invoice, &clean_note).await;
    assert_eq!(
        clean.invoice_status.as_deref(),
        Some("credited"),
        "one line: the whole invoice"
    );
    assert_eq!(clean.credit_entries, 1);
    assert_eq!(clean.counter.as_deref(), Some("1"));
    assert!(clean.outbox.is_some());
    assert!(clean
        .items
        .values()
        .all(|(status, on)| status.as_deref() == Some("unbilled") && on.is_none()));
    for crash in [false, true] {
        for mode in [FailMode::Before, FailMode::After] {
            for k in 1..=writes {
                let context = format!("write {k} failing {mode:?}, crash {crash}");
                let fresh = fresh_like(&h, &format!("credit-fault-{k}")).await;
                let (project, invoice) = issued_invoice(&fresh, entries).await;
                let mut faulty = FaultyStore::new(fresh.store.clone(), Some(k), mode);
                if crash {
                    faulty = faulty.crashing();
                }
                let faulty = Arc::new(faulty);
                let crashed = credit(faulty.clone(), &fresh.table, invoice).await;
                assert!(faulty.fired(), "write {k} never reached: {context}");
                if let Err(e) = &crashed {
                    assert!(
                        handoff_runtime::Failure::is_retryable(e),
                        "an injected transient fault answered as permanent ({e}): {context}"
                    );
                }
                // Finance repeats the request (twice, for good measure).
                for _ in 0..2 {
                    let note = credit(fresh.store.clone(), &fresh.table, invoice)
                        .await
                        .unwrap_or_else(|e| panic!("repeat failed with {e}: {context}"));
                    assert_eq!(note.number, clean_note.number, "{context}");
                    assert_eq!(note.note, clean_note.note, "{context}");
                }
                let after = books(&fresh, project, invoice, &clean_note).await;
                assert_eq!(
                    after, clean,
                    "differs from the clean credit note: {context}"
                );
                fresh.cleanup().await;
            }
        }
    }
}
