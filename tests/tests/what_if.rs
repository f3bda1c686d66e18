//! A dry run that prices next year's rate card on this month's unbilled work, on both
//! adapter sets: the difference per contract to the cent, nothing claimed or issued.

#[macro_use]
mod harness;

use handoff_runtime::Failure;
use harness::invoicing::{billing_runs, dec, drain, job_queues, project_with_items, receive};
use harness::Harness;
use invoice_generator::claims::unbilled;
use invoice_generator::runs::RunRequest;

contract_cases!(next_years_rate_card_is_priced_before_it_applies,);

/// Engineer entries of 2 h: 270.00 each on the standard card's version 1 (135.00/h).
const ITEMS: usize = 10;

async fn next_years_rate_card_is_priced_before_it_applies(h: Harness) {
    let (_, contract) = project_with_items(&h, ITEMS).await;
    let (jobs, dead_letter) = job_queues(&h).await;
    let runs = billing_runs(&h, jobs.clone(), None);

    // A version that does not exist is refused at once, with the field.
    let unknown = RunRequest::from_json(
        br#"{"as_of": "2026-12-31", "dry_run": true, "what_if": {"rate_card": {"card": "standard-usd", "version": 9}}}"#,
    )
    .unwrap();
    let refused = runs.start(&unknown, "api").await.unwrap_err();
    assert_eq!(refused.http_status(), 400, "{refused}");
    assert_eq!(refused.details()[0].field, "what_if.rate_card");

    let request = RunRequest::from_json(
        br#"{"as_of": "2026-12-31", "dry_run": true, "what_if": {"rate_card": {"card": "standard-usd", "version": 2}}}"#,
    )
    .unwrap();
    let planned = runs.start(&request, "api").await.unwrap();
    assert_eq!(planned.contracts_due, 1);
    let messages = receive(jobs.as_ref(), 1).await;
    drain(&runs, jobs.as_ref(), dead_letter.as_ref(), &messages).await;
    let report = runs.report(&planned.run_id).await.unwrap();
    let job = report
        .jobs
        .iter()
        .find(|j| j.contract_id == contract.to_string())
        .unwrap();
    let dry = job.dry_run.clone().unwrap();
    let (current, simulated) = (dry.current.unwrap(), dry.simulated.unwrap());
    // 10 × 2 h × 135.00 = 2700.00 + 7.25 % (195.75) = 2895.75 today;
    // 10 × 2 h × 140.00 = 2800.00 + 7.25 % (203.00) = 3003.00 on version 2.
    assert_eq!(current.net_total.amount(), dec("2700.00"));
    assert_eq!(current.gross_total.amount(), dec("2895.75"));
    assert_eq!(simulated.net_total.amount(), dec("2800.00"));
    assert_eq!(simulated.gross_total.amount(), dec("3003.00"));
    assert_eq!(dry.difference.unwrap().amount(), dec("107.25"));
    // Nothing was claimed.
    let still = unbilled(h.store.as_ref(), &h.table, contract, "2026-12-31")
        .await
        .unwrap();
    assert_eq!(still.len(), ITEMS);
}
