//! A timesheet corrected after it was invoiced, on both adapter sets: the invoiced item is
//! billed history and stays as it is; the correction becomes a delta item that the next
//! invoice carries (more hours: an extra charge; fewer: a deduction netted against new
//! work, never a negative invoice). Unbilled receivables always equal what is unbilled.

#[macro_use]
mod harness;

use handoff_domain::billing::{BillableItem, Signal, TimeEntry};
use handoff_domain::{ContractId, ProjectId};
use handoff_ports::store::query_all;
use handoff_ports::Query;
use harness::invoicing::{
    balance, convert, day, dec, deliver_time, invoicing, items, journal_entries, text, time_entry,
};
use harness::{billing, Harness};
use invoice_generator::job::JobOutcome;
use rust_decimal::Decimal;
use timesheet_billing_trigger::service::SignalEnvelope;

contract_cases!(
    corrections_after_invoicing_become_delta_items_on_later_invoices,
    a_correction_racing_the_claim_ends_as_a_delta_or_a_replacement,
    a_correction_of_written_off_hours_is_refused_for_finance_to_decide,
);

/// Globex's engineer rate on the standard card in 2026 (version 2 of 2027 charges 140.00).
const RATE: &str = "135.00";

async fn run(h: &Harness, project: ProjectId, month: &str, last_day: &str) -> JobOutcome {
    invoicing(h)
        .run(
            project,
            month,
            &format!("{month}-01"),
            &format!("{month}-{last_day}"),
            &format!("{month}-{last_day}"),
        )
        .await
        .unwrap()
}

/// A new version of a worklog, as the PM tool resends it after an edit.
fn edited(entry: &TimeEntry, version: u32, hours: &str) -> TimeEntry {
    let mut edited = entry.clone();
    edited.source.version = version;
    edited.hours = handoff_domain::hours::Hours::new(hours.parse().unwrap()).unwrap();
    edited
}

async fn apply(h: &Harness, project: ProjectId, entry: &TimeEntry) {
    billing(h.store.clone(), &h.table)
        .apply(&SignalEnvelope {
            project_id: project,
            signal: Signal::Time(entry.clone()),
        })
        .await
        .unwrap_or_else(|e| panic!("{} v{}: {e}", entry.source.id, entry.source.version));
}

/// Σ of the amounts of the project's unbilled items, as stored.
async fn unbilled_amount(h: &Harness, project: ProjectId) -> Decimal {
    let query = Query::partition(&h.table, format!("PROJECT#{project}")).sort_prefix("ITEM#");
    query_all(h.store.as_ref(), query)
        .await
        .unwrap()
        .iter()
        .filter(|i| text(i, "status").as_deref() == Some("unbilled"))
        .map(|i| {
            let item: BillableItem = serde_json::from_str(&text(i, "item").unwrap()).unwrap();
            item.amount.amount()
        })
        .sum()
}

/// Σ unbilled items' amounts, and the ledger's unbilled receivables (1200): equal.
async fn unbilled_matches_the_ledger(h: &Harness, project: ProjectId) -> Decimal {
    let stored = unbilled_amount(h, project).await;
    let ledger = balance(&journal_entries(h, project, "20").await, "1200");
    assert_eq!(ledger, stored, "unbilled receivables = Σ unbilled items");
    stored
}

async fn december(h: &Harness) -> (ProjectId, ContractId, Vec<TimeEntry>) {
    let (project, contract) = convert(h, "globex-data", |_| {}).await;
    let entries: Vec<TimeEntry> = (0..3)
        .map(|i| {
            time_entry(
                &format!("w-{i}"),
                "engineer",
                day("2026-12-07") + chrono::Duration::days(i),
                "2",
            )
        })
        .collect();
    deliver_time(h, project, entries.clone()).await;
    let december = run(h, project, "2026-12", "31").await;
    assert_eq!(december.number.as_deref(), Some("INV-2026-000001"));
    assert_eq!(december.draft.unwrap().net_total.amount(), dec("810.00"));
    (project, contract, entries)
}

async fn corrections_after_invoicing_become_delta_items_on_later_invoices(h: Harness) {
    let (project, _, entries) = december(&h).await;
    assert_eq!(
        unbilled_matches_the_ledger(&h, project).await,
        Decimal::ZERO
    );

    // w-1 edited from 2 h to 3 h after December's invoice: a +1 h delta, unbilled.
    apply(&h, project, &edited(&entries[1], 2, "3")).await;
    let statuses = items(&h, project).await;
    assert_eq!(
        statuses.len(),
        4,
        "3 invoiced items + 1 delta: {statuses:?}"
    );
    assert_eq!(
        statuses
            .values()
            .filter(|(s, _)| s.as_deref() == Some("invoiced"))
            .count(),
        3,
        "invoiced history untouched: {statuses:?}"
    );
    assert_eq!(unbilled_matches_the_ledger(&h, project).await, dec(RATE));

    // January: 2 h of new work at 2027's 140.00 + the delta at its work date's 135.00,
    // one line per rate (the lower rate first).
    deliver_time(
        &h,
        project,
        [time_entry("w-9", "engineer", day("2027-01-05"), "2")],
    )
    .await;
    let january = run(&h, project, "2027-01", "31").await;
    let draft = january.draft.expect("January is invoiced");
    assert_eq!(january.number.as_deref(), Some("INV-2027-000001"));
    assert_eq!(draft.net_total.amount(), dec("415.00"), "280.00 + 135.00");
    let lines: Vec<(String, String)> = draft
        .lines
        .iter()
        .map(|l| (l.quantity.to_string(), l.net.amount().to_string()))
        .collect();
    assert_eq!(
        lines,
        [
            ("1".to_owned(), "135.00".to_owned()),
            ("2".to_owned(), "280.00".to_owned())
        ],
        "{draft:#?}"
    );
    assert_eq!(
        unbilled_matches_the_ledger(&h, project).await,
        Decimal::ZERO
    );

    // w-2 cut from 2 h to 1 h: a −135.00 delta. February has nothing else: no negative
    // invoice; the deduction waits, with its reason.
    apply(&h, project, &edited(&entries[2], 2, "1")).await;
    assert_eq!(
        unbilled_matches_the_ledger(&h, project).await,
        -dec(RATE),
        "the ledger shows the deduction as negative unbilled receivables"
    );
    let february = run(&h, project, "2027-02", "28").await;
    assert!(february.draft.is_none(), "{february:#?}");
    assert!(february.number.is_none());
    let reason = february.deferred.expect("the reason nothing was invoiced");
    assert!(reason.contains("-135.00 USD"), "{reason}");

    // March: 2 h of new work nets the deduction: 280.00 − 135.00 = 145.00.
    deliver_time(
        &h,
        project,
        [time_entry("w-10", "engineer", day("2027-03-02"), "2")],
    )
    .await;
    let march = run(&h, project, "2027-03", "31").await;
    let draft = march.draft.expect("March is invoiced");
    assert_eq!(march.number.as_deref(), Some("INV-2027-000002"));
    assert_eq!(draft.net_total.amount(), dec("145.00"));
    assert_eq!(
        unbilled_matches_the_ledger(&h, project).await,
        Decimal::ZERO
    );
    let statuses = items(&h, project).await;
    assert!(
        statuses
            .values()
            .all(|(s, _)| s.as_deref() == Some("invoiced")),
        "everything billed exactly once: {statuses:?}"
    );
}

/// The correction and January's claim race; whichever wins, nothing is lost or doubled:
/// the claim took the old item (the correction becomes a delta) or the correction replaced
/// it first (the new item is billed in January or, if the job had already listed the old
/// one, in February).
async fn a_correction_racing_the_claim_ends_as_a_delta_or_a_replacement(h: Harness) {
    let (project, contract) = convert(&h, "globex-data", |_| {}).await;
    let entry = time_entry("w-0", "engineer", day("2027-01-05"), "2");
    deliver_time(&h, project, [entry.clone()]).await;
    let correction = edited(&entry, 2, "3");
    let (claimed, ()) = tokio::join!(run(&h, project, "2027-01", "31"), async {
        // A condition failure is retryable: the message is delivered again.
        let billing = billing(h.store.clone(), &h.table);
        for attempt in 0.. {
            let envelope = SignalEnvelope {
                project_id: project,
                signal: Signal::Time(correction.clone()),
            };
            match billing.apply(&envelope).await {
                Ok(_) => break,
                Err(e) if handoff_runtime::Failure::is_retryable(&e) && attempt < 5 => {}
                Err(e) => panic!("{e}"),
            }
        }
    });
    // The correction may replace the item after the job listed it and before its claim:
    // then January claims nothing and the new version waits for February.
    let january = claimed
        .draft
        .map_or(Decimal::ZERO, |d| d.net_total.amount());
    let rest = run(&h, project, "2027-02", "28").await;
    let february = rest.draft.map_or(Decimal::ZERO, |d| d.net_total.amount());
    assert_eq!(
        january + february,
        dec("420.00"),
        "3 h at 140.00 billed in total, once: January {january}, February {february} ({contract})"
    );
    assert_eq!(
        unbilled_matches_the_ledger(&h, project).await,
        Decimal::ZERO
    );
}

/// Hours a credit note wrote off are settled: a later correction would charge or credit
/// them again, so it is refused for good (the message waits in the DLQ with the reason)
/// and nothing is written.
async fn a_correction_of_written_off_hours_is_refused_for_finance_to_decide(h: Harness) {
    use handoff_domain::credit::Disposition;
    use handoff_runtime::Failure;
    use invoice_generator::credits::CreditRequest;
    let (project, contract, entries) = december(&h).await;
    let invoice = invoice_generator::job::invoice_id_for(contract, "2026-12");
    invoicing(&h)
        .credit_note(
            invoice,
            &CreditRequest {
                lines: None,
                disposition: Disposition::WriteOff,
                reason: "goodwill".into(),
                issue_on: None,
            },
            day("2026-12-31"),
        )
        .await
        .unwrap();
    let before = items(&h, project).await;
    let ledger_before = journal_entries(&h, project, "20").await.len();
    let err = billing(h.store.clone(), &h.table)
        .apply(&SignalEnvelope {
            project_id: project,
            signal: Signal::Time(edited(&entries[0], 2, "1")),
        })
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(err.code(), "entry_written_off");
    assert!(err.to_string().contains("written off"), "{err}");
    assert_eq!(items(&h, project).await, before, "no item written");
    assert_eq!(
        journal_entries(&h, project, "20").await.len(),
        ledger_before
    );
    assert_eq!(
        unbilled_matches_the_ledger(&h, project).await,
        Decimal::ZERO
    );
}
