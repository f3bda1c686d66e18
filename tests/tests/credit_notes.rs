//! Credit notes on both adapter sets (DESIGN §4.6): their own gapless series, the invoice's
//! status and open amount, the items released to the next period or written off, the
//! journal, and two notes racing for one invoice.

#[macro_use]
mod harness;

use handoff_domain::credit::Disposition;
use handoff_domain::invoice::InvoiceDraft;
use handoff_domain::ledger::JournalEntry;
use handoff_domain::{ContractId, InvoiceId, ProjectId};
use handoff_runtime::Failure;
use harness::invoicing::{
    balance, convert, counter, day, dec, deliver_time, invoicing, items, journal_entries,
    time_entry,
};
use harness::Harness;
use invoice_generator::claims::unbilled;
use invoice_generator::credits::{CreditOutcome, CreditRequest};
use invoice_generator::document::InvoiceRecord;
use invoice_generator::job::{invoice_id_for, Invoicing, JobError, JobOutcome};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

contract_cases!(
    a_full_credit_releases_the_items_to_the_next_period,
    a_partial_write_off_leaves_an_open_amount_and_refuses_the_line_twice,
    a_draft_cannot_be_credited,
    racing_credit_notes_take_consecutive_numbers_and_each_line_once,
);

const ISSUE_ON: &str = "2026-12-31";
const CN_COUNTER: &str = "COUNTER#northwind-us#CN#2026";
/// Line 0: 3 engineer entries x 2 h x 135.00 = 810.00 (tax 58.725 -> 58.73).
const ENGINEER_NET: &str = "810.00";
const ENGINEER_GROSS: &str = "868.73";

struct Issued {
    project: ProjectId,
    contract: ContractId,
    invoice: InvoiceId,
    draft: InvoiceDraft,
    items: usize,
}

/// Globex (edited by `edit`) with December's time: 3 engineer and 2 QA entries, so the
/// invoice has two lines (engineer first). Runs December's job.
async fn december(h: &Harness, edit: impl FnOnce(&mut Value)) -> (Issued, Option<String>) {
    let (project, contract) = convert(h, "globex-data", edit).await;
    let entries = [
        ("engineer", "2"),
        ("engineer", "2"),
        ("engineer", "2"),
        ("qa-engineer", "3"),
        ("qa-engineer", "3"),
    ];
    let time = entries.iter().enumerate().map(|(i, (role, hours))| {
        let work_date = day("2026-12-07") + chrono::Duration::days(i as i64);
        time_entry(&format!("w-{i}"), role, work_date, hours)
    });
    deliver_time(h, project, time).await;
    let job = invoicing(h)
        .run(project, "2026-12", "2026-12-01", "2026-12-31", ISSUE_ON)
        .await
        .unwrap();
    let draft = job.draft.unwrap();
    assert_eq!(draft.lines.len(), 2, "{draft:#?}");
    assert_eq!(draft.lines[0].net.amount(), dec(ENGINEER_NET));
    assert_eq!(job.invoice_id, invoice_id_for(contract, "2026-12"));
    (
        Issued {
            project,
            contract,
            invoice: job.invoice_id,
            draft,
            items: entries.len(),
        },
        job.number,
    )
}

async fn issued_december(h: &Harness) -> Issued {
    let (issued, number) = december(h, |_| {}).await;
    assert_eq!(number.as_deref(), Some("INV-2026-000001"));
    issued
}

fn request(lines: Option<Vec<usize>>, disposition: Disposition) -> CreditRequest {
    CreditRequest {
        lines,
        disposition,
        reason: "disputed hours".into(),
        issue_on: None,
    }
}

async fn credit(
    h: &Harness,
    invoice: InvoiceId,
    request: &CreditRequest,
) -> Result<CreditOutcome, JobError> {
    invoicing(h)
        .credit_note(invoice, request, day(ISSUE_ON))
        .await
}

/// Item id → status, for every billable item of the project.
async fn item_status(h: &Harness, project: ProjectId) -> BTreeMap<String, String> {
    items(h, project)
        .await
        .into_iter()
        .map(|(id, (status, _))| (id, status.unwrap_or_default()))
        .collect()
}

/// January's job for the project (issued on the 31st).
async fn january_job(h: &Harness, project: ProjectId) -> JobOutcome {
    invoicing(h)
        .run(project, "2027-01", "2027-01-01", "2027-01-31", "2027-01-31")
        .await
        .unwrap()
}

/// The invoice as stored.
async fn stored(h: &Harness, invoice: InvoiceId) -> InvoiceRecord {
    invoicing(h).record(invoice).await.unwrap().unwrap()
}

async fn a_full_credit_releases_the_items_to_the_next_period(h: Harness) {
    let dec_invoice = issued_december(&h).await;
    let full = request(None, Disposition::Release);
    let note = credit(&h, dec_invoice.invoice, &full).await.unwrap();
    assert_eq!(note.number, "CN-2026-000001");
    assert_eq!(note.invoice_number, "INV-2026-000001");
    assert_eq!(note.note.net_total, dec_invoice.draft.net_total);
    assert_eq!(note.note.tax_total, dec_invoice.draft.tax_total);
    assert_eq!(note.note.gross_total, dec_invoice.draft.gross_total);
    assert_eq!(note.note.credited_lines, vec![0, 1]);
    assert_eq!(note.items_moved, dec_invoice.items);
    let record = stored(&h, dec_invoice.invoice).await;
    assert_eq!(record.status, "credited");
    assert_eq!(
        record.credited_gross,
        dec_invoice.draft.gross_total.amount()
    );
    assert_eq!(
        record.open_amount().unwrap().amount(),
        Decimal::ZERO,
        "nothing left to pay"
    );
    let statuses = item_status(&h, dec_invoice.project).await;
    assert_eq!(statuses.len(), dec_invoice.items);
    assert!(statuses.values().all(|s| s == "unbilled"), "{statuses:?}");
    assert_eq!(
        unbilled(
            h.store.as_ref(),
            &h.table,
            dec_invoice.contract,
            "2027-01-31"
        )
        .await
        .unwrap()
        .len(),
        dec_invoice.items,
        "the released items are unbilled again"
    );

    // The same request again: the same note, no second number.
    let again = credit(&h, dec_invoice.invoice, &full).await.unwrap();
    assert_eq!(again.number, "CN-2026-000001");
    assert_eq!(again.credit_note_id, note.credit_note_id);
    assert_eq!(again.items_moved, 0);
    assert_eq!(counter(&h, CN_COUNTER).await.as_deref(), Some("1"));

    // Issue and credit net accounts receivable to zero; the accrual stays in 1200.
    let invoice_entries = journal_entries(&h, dec_invoice.project, "2026-12-31#invoice#").await;
    let credit_entries = journal_entries(&h, dec_invoice.project, "2026-12-31#credit#").await;
    assert_eq!((invoice_entries.len(), credit_entries.len()), (1, 1));
    assert!(credit_entries[0].is_balanced());
    // Each entry names its document by id as well as by number.
    let (issued, credited) = (&invoice_entries[0].trigger, &credit_entries[0].trigger);
    assert_eq!(
        issued.document_id,
        Some(dec_invoice.invoice.to_string()),
        "{issued:?}"
    );
    assert_eq!(
        credited.document_id,
        Some(note.credit_note_id.to_string()),
        "{credited:?}"
    );
    assert_eq!(credited.reference, "CN-2026-000001 credits INV-2026-000001");
    assert_eq!(
        balance(&invoice_entries, "1100"),
        dec_invoice.draft.gross_total.amount()
    );
    assert_eq!(
        balance(&credit_entries, "1100"),
        -dec_invoice.draft.gross_total.amount()
    );
    let both: Vec<JournalEntry> = invoice_entries.into_iter().chain(credit_entries).collect();
    assert_eq!(balance(&both, "1100"), Decimal::ZERO);
    assert_eq!(
        balance(&both, "2200"),
        Decimal::ZERO,
        "tax payable reversed"
    );
    assert_eq!(
        balance(&both, "4900"),
        Decimal::ZERO,
        "a release writes nothing down"
    );

    // January's job bills the released items again, with the same net.
    let january = january_job(&h, dec_invoice.project).await;
    assert_ne!(january.invoice_id, dec_invoice.invoice);
    assert_eq!(
        january.number.as_deref(),
        Some("INV-2027-000001"),
        "the next number of the issue year's series"
    );
    let draft = january.draft.unwrap();
    assert_eq!(draft.net_total, dec_invoice.draft.net_total);
    let rebilled: BTreeSet<String> = draft
        .lines
        .iter()
        .flat_map(|l| l.item_ids.iter().cloned())
        .collect();
    assert_eq!(
        rebilled,
        statuses.keys().cloned().collect::<BTreeSet<_>>(),
        "every released item, once"
    );
    assert_eq!(
        counter(&h, "COUNTER#northwind-us#INV#2026")
            .await
            .as_deref(),
        Some("1")
    );
    // Repeating the credit after the items were rebilled moves nothing off January's invoice.
    let late = credit(&h, dec_invoice.invoice, &full).await.unwrap();
    assert_eq!(
        (late.number.as_str(), late.items_moved),
        ("CN-2026-000001", 0)
    );
    assert!(item_status(&h, dec_invoice.project)
        .await
        .values()
        .all(|s| s == "invoiced"));
}

async fn a_partial_write_off_leaves_an_open_amount_and_refuses_the_line_twice(h: Harness) {
    let dec_invoice = issued_december(&h).await;
    // Dated the day before the invoice: refused, naming the field; no number used.
    let early = invoicing(&h)
        .credit_note(
            dec_invoice.invoice,
            &request(Some(vec![0]), Disposition::WriteOff),
            day("2026-12-30"),
        )
        .await
        .unwrap_err();
    assert!(matches!(early, JobError::Invalid(_)), "{early:?}");
    assert!(early.to_string().contains("issue_on"), "{early}");
    assert_eq!(counter(&h, CN_COUNTER).await, None);
    let note = credit(
        &h,
        dec_invoice.invoice,
        &request(Some(vec![0]), Disposition::WriteOff),
    )
    .await
    .unwrap();
    assert_eq!(note.number, "CN-2026-000001");
    assert_eq!(note.note.net_total.amount(), dec(ENGINEER_NET));
    assert_eq!(note.note.gross_total.amount(), dec(ENGINEER_GROSS));
    assert_eq!(note.items_moved, 3);
    let record = stored(&h, dec_invoice.invoice).await;
    assert_eq!(record.status, "partly_credited");
    assert_eq!(
        record.credited_lines,
        BTreeMap::from([(0, "CN-2026-000001".to_owned())])
    );
    let open = dec_invoice.draft.gross_total.amount() - dec(ENGINEER_GROSS);
    assert_eq!(record.open_amount().unwrap().amount(), open);

    // The write-down: Dr 4900 / Cr 1200 by the line's net, besides the reversal.
    let entries = journal_entries(&h, dec_invoice.project, "2026-12-31#credit#").await;
    assert_eq!(entries.len(), 1);
    assert!(entries[0].is_balanced());
    assert_eq!(balance(&entries, "4900"), dec(ENGINEER_NET));
    assert_eq!(balance(&entries, "1100"), -dec(ENGINEER_GROSS));
    assert_eq!(
        balance(&entries, "1200"),
        Decimal::ZERO,
        "the accrual is reversed into AR and written down again"
    );

    let line0: BTreeSet<&String> = dec_invoice.draft.lines[0].item_ids.iter().collect();
    let statuses = item_status(&h, dec_invoice.project).await;
    for (id, status) in &statuses {
        let expected = if line0.contains(id) {
            "written_off"
        } else {
            "invoiced"
        };
        assert_eq!(status, expected, "item {id}");
    }
    // Written-off items are not billed again.
    assert!(unbilled(
        h.store.as_ref(),
        &h.table,
        dec_invoice.contract,
        "2027-01-31"
    )
    .await
    .unwrap()
    .is_empty());
    let january = january_job(&h, dec_invoice.project).await;
    assert_eq!((january.number, january.draft), (None, None));

    // Line 0 again (with line 1): refused, naming the line and the note that took it.
    let err = credit(
        &h,
        dec_invoice.invoice,
        &request(Some(vec![1, 0]), Disposition::WriteOff),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, JobError::Invalid(_)), "{err:?}");
    assert_eq!((err.http_status(), err.code()), (400, "validation_failed"));
    let details = err.details();
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0].field, "lines[1]");
    assert!(
        details[0]
            .problem
            .contains("line 0 was already credited by CN-2026-000001"),
        "{details:?}"
    );
    assert_eq!(counter(&h, CN_COUNTER).await.as_deref(), Some("1"));
    let record = stored(&h, dec_invoice.invoice).await;
    assert_eq!(record.open_amount().unwrap().amount(), open);
}

async fn a_draft_cannot_be_credited(h: Harness) {
    let (draft, number) = december(&h, |deal| {
        deal["billing"]["finance_approval"] = json!(true);
    })
    .await;
    assert_eq!(number, None, "awaiting finance's approval");
    let err = credit(&h, draft.invoice, &request(None, Disposition::Release))
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::Conflict(..)), "{err:?}");
    assert_eq!((err.http_status(), err.code()), (409, "invoice_conflict"));
    assert_eq!(counter(&h, CN_COUNTER).await, None);
    let record = stored(&h, draft.invoice).await;
    assert_eq!(record.status, "draft");
    assert!(item_status(&h, draft.project)
        .await
        .values()
        .all(|s| s == "invoiced" || s == "claimed"));
}

/// Retries a credit that failed retryably, as the API's caller would.
async fn credit_with_retries(
    invoicing: Invoicing,
    invoice: InvoiceId,
    request: CreditRequest,
) -> (CreditOutcome, Vec<String>) {
    let mut errors = Vec::new();
    for _ in 0..5 {
        match invoicing
            .credit_note(invoice, &request, day(ISSUE_ON))
            .await
        {
            Ok(outcome) => return (outcome, errors),
            Err(e) if e.is_retryable() => errors.push(e.to_string()),
            Err(e) => panic!("{request:?}: non-retryable {e} after {errors:?}"),
        }
    }
    panic!("{request:?}: still failing: {errors:?}")
}

async fn racing_credit_notes_take_consecutive_numbers_and_each_line_once(h: Harness) {
    let dec_invoice = issued_december(&h).await;
    let tasks: Vec<_> = [0usize, 1]
        .into_iter()
        .map(|line| {
            let invoicing = invoicing(&h);
            let invoice = dec_invoice.invoice;
            tokio::spawn(async move {
                credit_with_retries(
                    invoicing,
                    invoice,
                    request(Some(vec![line]), Disposition::Release),
                )
                .await
            })
        })
        .collect();
    let mut notes = Vec::new();
    for task in tasks {
        let (note, errors) = task.await.unwrap();
        eprintln!("{}: retryable errors {errors:?}", note.number);
        notes.push(note);
    }
    let numbers: BTreeSet<&str> = notes.iter().map(|n| n.number.as_str()).collect();
    assert_eq!(
        numbers,
        BTreeSet::from(["CN-2026-000001", "CN-2026-000002"]),
        "{notes:#?}"
    );
    assert_eq!(counter(&h, CN_COUNTER).await.as_deref(), Some("2"));
    let record = stored(&h, dec_invoice.invoice).await;
    let expected: BTreeMap<usize, String> = notes
        .iter()
        .map(|n| (n.note.credited_lines[0], n.number.clone()))
        .collect();
    assert_eq!(expected.len(), 2, "each note took its own line: {notes:#?}");
    assert_eq!(record.credited_lines, expected);
    assert_eq!(record.status, "credited");
    let credited: Decimal = notes.iter().map(|n| n.note.gross_total.amount()).sum();
    assert_eq!(
        credited,
        dec_invoice.draft.gross_total.amount(),
        "to the cent"
    );
    assert_eq!(record.credited_gross, credited);
    assert_eq!(
        notes.iter().map(|n| n.items_moved).sum::<usize>(),
        dec_invoice.items,
        "every item released exactly once"
    );
    let entries = journal_entries(&h, dec_invoice.project, "2026-12-31#credit#").await;
    assert_eq!(entries.len(), 2);
    assert_eq!(
        balance(&entries, "1100"),
        -dec_invoice.draft.gross_total.amount()
    );
    assert!(item_status(&h, dec_invoice.project)
        .await
        .values()
        .all(|s| s == "unbilled"));
}
