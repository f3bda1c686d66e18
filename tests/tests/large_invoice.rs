//! A month of a large project on both adapter sets: 1,000 time entries with notes make an
//! annex far larger than one DynamoDB item (400 KB). The invoice is still issued, every
//! entry is in the document's annex once, and the annex adds up to the lines to the cent.

#[macro_use]
mod harness;

use harness::invoicing::{
    call_json, convert, deliver_time, engineer_entries, finance_api, job_queues,
};
use harness::Harness;
use rust_decimal::Decimal;
use std::collections::BTreeSet;

contract_cases!(an_invoice_whose_annex_exceeds_an_item_is_issued_whole,);

/// Entries of the month (2 h each at 135.00: 270,000.00 net).
const ENTRIES: usize = 1000;

async fn an_invoice_whose_annex_exceeds_an_item_is_issued_whole(h: Harness) {
    // Without Globex's 105,000.00 cap, so the whole month is billable.
    let (project, contract) = convert(&h, "globex-data", |v| {
        v["billing"].as_object_mut().unwrap().remove("cap");
    })
    .await;
    let mut entries = engineer_entries("big", ENTRIES, "2026-12-01", 28);
    for (i, entry) in entries.iter_mut().enumerate() {
        // A real timesheet note: what was done, for whom, and the ticket.
        entry.note = Some(format!(
            "Data pipeline work for the Globex migration: schema mapping, backfill checks and \
             review of the nightly load with the customer's data team (ticket GLX-{i:05})"
        ));
    }
    deliver_time(&h, project, entries).await;
    let outcome = harness::invoicing::invoicing(&h)
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap();
    assert_eq!(outcome.number.as_deref(), Some("INV-2026-000001"));
    let invoice = outcome.invoice_id;

    let (jobs, _) = job_queues(&h).await;
    let outbox = h.queue("accounting-outbox").await;
    let api = finance_api(&h, jobs, outbox);
    let (status, document) = call_json(&api, "GET", &format!("/invoices/{invoice}"), None).await;
    assert_eq!(status, 200, "{document}");
    let annex_bytes = serde_json::to_string(&document["lines"]).unwrap().len();
    assert!(
        annex_bytes > 400 * 1024,
        "the annex ({annex_bytes} bytes) is larger than one item may be"
    );
    let mut seen = BTreeSet::new();
    let mut net = Decimal::ZERO;
    for line in document["lines"].as_array().unwrap() {
        let mut line_sum = Decimal::ZERO;
        for entry in line["annex"].as_array().unwrap() {
            assert!(seen.insert(entry["item_id"].as_str().unwrap().to_owned()));
            line_sum += entry["amount"]["amount"]
                .as_str()
                .unwrap()
                .parse::<Decimal>()
                .unwrap();
        }
        let line_net: Decimal = line["net"]["amount"].as_str().unwrap().parse().unwrap();
        assert_eq!(line_sum, line_net, "the annex adds up to its line");
        net += line_net;
    }
    assert_eq!(
        seen.len(),
        ENTRIES,
        "every entry in the annex once ({contract})"
    );
    assert_eq!(net, "270000.00".parse::<Decimal>().unwrap());
}

/// More items than one invoice carries: refused before anything is claimed, with what to
/// do, and permanent (a retry would not help). Memory adapters only: seeding 4,001 items
/// through DynamoDB Local would take most of a minute and prove nothing more.
#[tokio::test]
async fn a_period_with_more_items_than_an_invoice_carries_is_refused_before_claiming() {
    use handoff_runtime::Failure;
    use invoice_generator::claims::unbilled;
    use invoice_generator::job::{JobError, INVOICE_ITEMS_MAX};
    let h = Harness::memory("too-many-items");
    let (project, contract) = convert(&h, "globex-data", |v| {
        v["billing"].as_object_mut().unwrap().remove("cap");
    })
    .await;
    let entries = engineer_entries("many", INVOICE_ITEMS_MAX + 1, "2026-12-01", 28);
    deliver_time(&h, project, entries).await;
    let err = harness::invoicing::invoicing(&h)
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::TooManyItems { count } if count == INVOICE_ITEMS_MAX + 1));
    assert!(!err.is_retryable());
    assert_eq!(err.code(), "too_many_items");
    assert!(err.to_string().contains("weekly or semi-monthly"), "{err}");
    let still = unbilled(h.store.as_ref(), &h.table, contract, "2026-12-31")
        .await
        .unwrap();
    assert_eq!(still.len(), INVOICE_ITEMS_MAX + 1, "nothing claimed");
}
