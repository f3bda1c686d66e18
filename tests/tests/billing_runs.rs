//! Billing runs end to end on both adapter sets: the schedule's event plans the contracts
//! due that day, one FIFO job per contract, the jobs run through the consumer, and the
//! run's report adds up to the issued invoices to the cent. A permanent failure is parked
//! in the DLQ with its reason; a dry run claims nothing and prices a what-if.

#[macro_use]
mod harness;

use handoff_domain::{ContractId, ProjectId};
use handoff_ports::{Key, Queue, ReceivedMessage};
use handoff_runtime::Failure;
use harness::invoicing::{
    billing_runs, convert, day, deliver_time, engineer_entries, fixture, job_queues, receive,
};
use harness::Harness;
use invoice_generator::claims::unbilled;
use invoice_generator::consumer;
use invoice_generator::job::invoice_id_for;
use invoice_generator::runs::{BillingRuns, RunError, RunReport, RunRequest};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

contract_cases!(
    the_schedule_plans_the_due_contracts_and_the_report_adds_up,
    an_unrecognised_event_is_refused_and_enqueues_nothing,
    the_schedule_bills_the_local_day_of_the_billing_time_zone,
    runs_are_not_dated_ahead_and_a_catch_up_run_issues_today,
    a_job_that_waited_past_midnight_issues_today_when_the_series_moved_on,
    a_dry_run_claims_nothing_and_prices_a_what_if,
);

/// Globex's December: 3 entries x 2 h x 135.00 USD = 810.00; US-CA 7.25 % = 58.725,
/// rounded half-up to 58.73; gross 868.73.
const GLOBEX_NET: &str = "810.00";
const GLOBEX_GROSS: &str = "868.73";
const ENTRIES: usize = 3;
/// Globex, Acme and the tax-less copy of Globex invoice from `northwind-us`.
const COUNTER_PK: &str = "COUNTER#northwind-us#INV#2026";

struct Setup {
    runs: BillingRuns,
    jobs: Arc<dyn Queue>,
    dead_letter: Arc<dyn Queue>,
    globex: (ProjectId, ContractId),
    acme: ContractId,
    initech: ContractId,
    untaxed: (ProjectId, ContractId),
}

async fn time_entries(h: &Harness, project: ProjectId, prefix: &str) {
    deliver_time(
        h,
        project,
        engineer_entries(prefix, ENTRIES, "2026-12-07", ENTRIES),
    )
    .await;
}

/// Globex (monthly T&M), Acme (on milestone, nothing accepted), Initech (retainer) and,
/// with `untaxed_copy`, a copy of Globex whose customer has no tax jurisdiction.
async fn setup(h: &Harness, untaxed_copy: bool) -> Setup {
    let globex = convert(h, "globex-data", |_| {}).await;
    let acme = convert(h, "acme-website", |_| {}).await.1;
    let initech = convert(h, "initech-support", |_| {}).await.1;
    time_entries(h, globex.0, "g").await;
    let untaxed = if untaxed_copy {
        let copy = convert(h, "globex-data", |v| {
            v["crm"]["deal_id"] = json!("1187-untaxed");
            v["customer"]["external_id"] = json!("org-untaxed");
            v["customer"]["name"] = json!("Untaxed Holdings");
            v["customer"]["domain"] = json!("untaxed.example");
            v["customer"]
                .as_object_mut()
                .unwrap()
                .remove("tax_jurisdiction");
        })
        .await;
        time_entries(h, copy.0, "u").await;
        copy
    } else {
        globex
    };
    let (jobs, dead_letter) = job_queues(h).await;
    Setup {
        runs: billing_runs(h, jobs.clone(), None),
        jobs,
        dead_letter,
        globex,
        acme,
        initech,
        untaxed,
    }
}

/// Runs the received jobs through the consumer and acknowledges what it did not report.
async fn drain(s: &Setup, messages: &[ReceivedMessage]) -> Value {
    harness::invoicing::drain(&s.runs, s.jobs.as_ref(), s.dead_letter.as_ref(), messages).await
}

fn schedule_event(time: &str) -> Value {
    let mut event = fixture("aws_eventbridge_scheduler_default_event.json");
    assert_eq!(
        event["detail"],
        json!("{}"),
        "the Scheduler's detail is a string"
    );
    event["time"] = json!(time);
    event
}

async fn counter(h: &Harness) -> Option<String> {
    harness::invoicing::counter(h, COUNTER_PK).await
}

fn job(report: &RunReport, contract: ContractId) -> &invoice_generator::runs::JobReport {
    let id = contract.to_string();
    report
        .jobs
        .iter()
        .find(|j| j.contract_id == id)
        .unwrap_or_else(|| panic!("no job for {id}: {report:#?}"))
}

async fn the_schedule_plans_the_due_contracts_and_the_report_adds_up(h: Harness) {
    let s = setup(&h, true).await;
    // The Scheduler fires on the month's last day at 23:30 UTC.
    let event = schedule_event("2026-12-31T23:30:00Z");
    let planned: RunReport = serde_json::from_value(
        consumer::handle(&s.runs, s.dead_letter.as_ref(), event.clone())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(planned.as_of, day("2026-12-31"));
    assert_eq!(planned.trigger, "schedule");
    assert!(!planned.dry_run);
    assert_eq!(planned.status, "running", "{planned:#?}");
    // Due on the 31st: Globex (monthly), Acme (on milestone: every day), the untaxed
    // copy (monthly). Initech is a retainer, billed on the 1st.
    let due: BTreeSet<String> = planned.jobs.iter().map(|j| j.contract_id.clone()).collect();
    let expected: BTreeSet<String> = [s.globex.1, s.acme, s.untaxed.1]
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(due, expected, "{planned:#?}");
    assert!(!due.contains(&s.initech.to_string()));
    assert_eq!(planned.contracts_due, 3);
    assert_eq!((planned.done, planned.failed, planned.invoices), (0, 0, 0));
    assert!(planned.jobs.iter().all(|j| j.status == "queued"));
    assert_eq!(job(&planned, s.globex.1).period, "2026-12");
    assert_eq!(job(&planned, s.acme).period, "2026-12-31");

    // The same event redelivered: the same run, and no second message per contract.
    let again: RunReport = serde_json::from_value(
        consumer::handle(&s.runs, s.dead_letter.as_ref(), event.clone())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(again.run_id, planned.run_id);
    assert_eq!(again.contracts_due, 3);
    // An EventBridge rule's event for the same day (object detail with `as_of`) is the
    // same schedule run too.
    let mut rule = fixture("aws_eventbridge_scheduled_event.json");
    rule["detail"] = json!({"as_of": "2026-12-31"});
    let by_rule: RunReport = serde_json::from_value(
        consumer::handle(&s.runs, s.dead_letter.as_ref(), rule)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(by_rule.run_id, planned.run_id);

    let messages = receive(s.jobs.as_ref(), 3).await;
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for m in &messages {
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["run_id"], json!(planned.run_id));
        assert_eq!(
            m.group_id.as_deref(),
            body["contract_id"].as_str(),
            "group id = contract id"
        );
        *groups.entry(m.group_id.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(
        groups,
        expected
            .iter()
            .map(|c| (c.clone(), 1))
            .collect::<BTreeMap<_, _>>(),
        "one message per due contract (the redeliveries deduplicated)"
    );

    let response = drain(&s, &messages).await;
    assert_eq!(
        response["batchItemFailures"],
        json!([]),
        "the permanent failure is parked, not retried"
    );
    let report = s.runs.report(&planned.run_id).await.unwrap();
    assert_eq!(report.status, "completed", "{report:#?}");
    assert_eq!(
        (report.contracts_due, report.done, report.failed),
        (3, 2, 1),
        "{report:#?}"
    );
    assert_eq!(report.invoices, 1, "{report:#?}");

    let globex = job(&report, s.globex.1);
    assert_eq!(globex.status, "issued");
    assert_eq!(globex.number.as_deref(), Some("INV-2026-000001"));
    let invoice = invoice_id_for(s.globex.1, "2026-12");
    assert_eq!(globex.invoice_id, Some(invoice));
    let record = s.runs.invoicing.record(invoice).await.unwrap().unwrap();
    let draft = record.draft.unwrap();
    assert_eq!(record.status, "issued");
    assert_eq!(
        draft.net_total.amount(),
        GLOBEX_NET.parse::<Decimal>().unwrap()
    );
    assert_eq!(
        draft.gross_total.amount(),
        GLOBEX_GROSS.parse::<Decimal>().unwrap()
    );
    assert_eq!(globex.gross_total, Some(draft.gross_total));
    assert_eq!(
        report.totals,
        BTreeMap::from([("USD".to_owned(), GLOBEX_GROSS.to_owned())]),
        "the run's total is the issued invoice's gross"
    );
    assert_eq!(job(&report, s.acme).status, "nothing_to_invoice");

    let untaxed = job(&report, s.untaxed.1);
    assert_eq!(untaxed.status, "failed", "{report:#?}");
    assert!(
        untaxed
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("tax jurisdiction"),
        "{untaxed:#?}"
    );
    assert_eq!(untaxed.number, None);
    assert_eq!(
        counter(&h).await.as_deref(),
        Some("1"),
        "the failure took no number"
    );
    let parked = receive(s.dead_letter.as_ref(), 1).await;
    assert_eq!(parked.len(), 1, "{parked:#?}");
    let body: Value = serde_json::from_str(&parked[0].body).unwrap();
    assert_eq!(body["contract_id"], json!(s.untaxed.1.to_string()));
    assert_eq!(
        parked[0]
            .attributes
            .get(handoff_runtime::sqs_batch::FAILURE_CODE_ATTRIBUTE)
            .map(String::as_str),
        Some("no_tax_jurisdiction"),
        "{parked:#?}"
    );
    assert!(
        parked[0]
            .attributes
            .get(handoff_runtime::sqs_batch::FAILURE_REASON_ATTRIBUTE)
            .is_some_and(|r| r.contains("tax jurisdiction")),
        "{parked:#?}"
    );

    // The schedule redelivered after the jobs ran: the same run, nothing issued twice.
    let after: RunReport = serde_json::from_value(
        consumer::handle(&s.runs, s.dead_letter.as_ref(), event)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(after.run_id, planned.run_id);
    let redelivered = receive(s.jobs.as_ref(), 0).await;
    // Finished jobs are not enqueued again; the failed one is (SQS drops it as a duplicate
    // within its 5-minute deduplication window, moto does not once it was deleted), and
    // running it again fails again without touching anything.
    assert!(
        redelivered
            .iter()
            .all(|m| m.group_id == Some(s.untaxed.1.to_string())),
        "{redelivered:#?}"
    );
    drain(&s, &redelivered).await;
    let last = s.runs.report(&planned.run_id).await.unwrap();
    assert_eq!(last.invoices, 1);
    assert_eq!(last.totals, report.totals);
    assert_eq!(
        job(&last, s.globex.1).number.as_deref(),
        Some("INV-2026-000001")
    );
    assert_eq!(counter(&h).await.as_deref(), Some("1"), "no second invoice");

    // On the 1st the retainer is due, and the monthly contracts are not.
    h.set_time("2027-01-01T06:00:00Z");
    let january: RunReport = serde_json::from_value(
        consumer::handle(
            &s.runs,
            s.dead_letter.as_ref(),
            schedule_event("2027-01-01T06:00:00Z"),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let due: BTreeSet<String> = january.jobs.iter().map(|j| j.contract_id.clone()).collect();
    assert!(due.contains(&s.initech.to_string()), "{january:#?}");
    assert!(!due.contains(&s.globex.1.to_string()), "{january:#?}");
    assert_ne!(january.run_id, planned.run_id);
}

/// A New York firm's schedule fires at 23:30 local time on 31 December, which is 04:30
/// UTC on 1 January: the run is for New York's 31 December (month end: Globex is due, the
/// retainer is not), not for the UTC date.
async fn the_schedule_bills_the_local_day_of_the_billing_time_zone(h: Harness) {
    let s = setup(&h, false).await;
    let mut new_york = s.runs.clone();
    new_york.time_zone = chrono_tz::America::New_York;
    h.set_time("2027-01-01T04:30:00Z");
    let fired = schedule_event("2027-01-01T04:30:00Z");
    let planned: RunReport = serde_json::from_value(
        consumer::handle(&new_york, s.dead_letter.as_ref(), fired.clone())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(planned.as_of, day("2026-12-31"), "{planned:#?}");
    let due: BTreeSet<String> = planned.jobs.iter().map(|j| j.contract_id.clone()).collect();
    assert!(due.contains(&s.globex.1.to_string()), "{planned:#?}");
    assert!(!due.contains(&s.initech.to_string()), "{planned:#?}");

    // The same instant for a firm on UTC is already 1 January: the retainer's day.
    let utc: RunReport = serde_json::from_value(
        consumer::handle(&s.runs, s.dead_letter.as_ref(), fired)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(utc.as_of, day("2027-01-01"));
    assert!(utc
        .jobs
        .iter()
        .any(|j| j.contract_id == s.initech.to_string()));

    // An explicit `as_of` (a catch-up run) wins over the zone.
    let mut catch_up = fixture("aws_eventbridge_scheduled_event.json");
    catch_up["detail"] = json!({"as_of": "2026-12-15"});
    catch_up["time"] = json!("2027-01-01T04:30:00Z");
    let report: RunReport = serde_json::from_value(
        consumer::handle(&new_york, s.dead_letter.as_ref(), catch_up)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report.as_of, day("2026-12-15"));
}

/// A run for a day still to come is refused (it would date invoices ahead and move the
/// series' last date past every invoice issued before it); a dry run may preview it. A
/// catch-up run for a missed day cuts off at that day and issues today.
async fn runs_are_not_dated_ahead_and_a_catch_up_run_issues_today(h: Harness) {
    let s = setup(&h, false).await;
    let only_globex = Some(vec![s.globex.1.to_string()]);
    // It is 2026-12-31 23:30 (the harness's clock): January's month end is ahead.
    let ahead = RunRequest {
        as_of: day("2027-01-31"),
        contracts: only_globex.clone(),
        ..RunRequest::default()
    };
    let err = s.runs.start(&ahead, "api").await.unwrap_err();
    assert!(matches!(err, RunError::Problems(_)), "{err:?}");
    assert!(err.to_string().contains("as_of"), "{err}");
    assert!(
        receive(s.jobs.as_ref(), 0).await.is_empty(),
        "nothing enqueued"
    );
    let preview = RunRequest {
        dry_run: true,
        ..ahead
    };
    assert_eq!(
        s.runs.start(&preview, "api").await.unwrap().contracts_due,
        1
    );
    drain(&s, &receive(s.jobs.as_ref(), 1).await).await;

    // December's month-end run was missed; finance catches up on 2 January.
    h.set_time("2027-01-02T09:00:00Z");
    let catch_up = RunRequest {
        as_of: day("2026-12-31"),
        contracts: only_globex,
        ..RunRequest::default()
    };
    let planned = s.runs.start(&catch_up, "api").await.unwrap();
    assert_eq!(planned.contracts_due, 1);
    drain(&s, &receive(s.jobs.as_ref(), 1).await).await;
    let invoice = invoice_id_for(s.globex.1, "2026-12");
    let record = s.runs.invoicing.record(invoice).await.unwrap().unwrap();
    assert_eq!(
        record.issued_on.as_deref(),
        Some("2027-01-02"),
        "issued today"
    );
    assert_eq!(record.number.as_deref(), Some("INV-2027-000001"));
    let draft = record.draft.unwrap();
    assert_eq!(
        draft.period_end,
        day("2026-12-31"),
        "December's work, cut at the 31st"
    );
    assert_eq!(draft.net_total.amount(), Decimal::new(81000, 2));
}

async fn an_unrecognised_event_is_refused_and_enqueues_nothing(h: Harness) {
    let s = setup(&h, false).await;
    let custom = fixture("aws_eventbridge_scheduler_custom_input_event.json");
    let err = consumer::handle(&s.runs, s.dead_letter.as_ref(), custom)
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::Invalid(_)), "{err:?}");
    assert!(!err.is_retryable());
    // A rule event whose detail is not a schedule's is refused too, with its reason.
    let mut rule = fixture("aws_eventbridge_scheduled_event.json");
    rule["detail"] = json!({"backupID": "123"});
    let err = consumer::handle(&s.runs, s.dead_letter.as_ref(), rule)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("backupID"), "{err}");
    assert!(
        s.jobs.receive(10, 1).await.unwrap().is_empty(),
        "nothing enqueued"
    );
    assert!(s.dead_letter.receive(10, 0).await.unwrap().is_empty());
}

async fn a_dry_run_claims_nothing_and_prices_a_what_if(h: Harness) {
    let s = setup(&h, false).await;
    let (project, contract) = s.globex;
    let unbilled_before = unbilled(h.store.as_ref(), &h.table, contract, "2026-12-31")
        .await
        .unwrap();
    assert_eq!(unbilled_before.len(), ENTRIES);
    let only_globex = Some(vec![contract.to_string()]);
    // A what-if needs a dry run.
    let request: RunRequest = serde_json::from_value(json!({
        "as_of": "2026-12-31",
        "contracts": only_globex,
        "what_if": {"rates": {"engineer": {"amount": "120.00", "currency": "USD"}}},
    }))
    .unwrap();
    let err = s.runs.start(&request, "api").await.unwrap_err();
    assert!(matches!(err, RunError::Invalid(_)), "{err:?}");
    assert!(s.jobs.receive(10, 0).await.unwrap().is_empty());

    let what_ifs = [
        // 6 h x 120.00 = 720.00 + 52.20 tax = 772.20.
        (
            json!({"rates": {"engineer": {"amount": "120.00", "currency": "USD"}}}),
            "772.20",
        ),
        // The 810.00 of unbilled time cut at a 500.00 cap: 500.00 + 36.25 = 536.25.
        (
            json!({"cap": {"amount": "500.00", "currency": "USD"}}),
            "536.25",
        ),
    ];
    let mut runs = BTreeSet::new();
    for (what_if, simulated_gross) in what_ifs {
        let request: RunRequest = serde_json::from_value(json!({
            "as_of": "2026-12-31", "dry_run": true, "contracts": only_globex, "what_if": what_if,
        }))
        .unwrap();
        let planned = s.runs.start(&request, "api").await.unwrap();
        assert!(
            runs.insert(planned.run_id.clone()),
            "a what-if is its own run"
        );
        assert_eq!(planned.contracts_due, 1, "{planned:#?}");
        let messages = receive(s.jobs.as_ref(), 1).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(drain(&s, &messages).await["batchItemFailures"], json!([]));
        let report = s.runs.report(&planned.run_id).await.unwrap();
        assert!(report.dry_run);
        assert_eq!(report.status, "completed");
        // A dry run counts the invoices it would issue; nothing is issued.
        assert_eq!(
            (report.done, report.failed, report.invoices),
            (1, 0, 1),
            "{report:#?}"
        );
        let j = job(&report, contract);
        assert_eq!(j.status, "dry_run");
        assert_eq!(j.number, None);
        let dry = j.dry_run.clone().unwrap();
        let current = dry.current.unwrap().gross_total;
        let simulated = dry.simulated.unwrap().gross_total;
        assert_eq!(current.amount(), GLOBEX_GROSS.parse::<Decimal>().unwrap());
        assert_eq!(
            simulated.amount(),
            simulated_gross.parse::<Decimal>().unwrap(),
            "{what_if}"
        );
        assert!(simulated.amount() < current.amount());
        assert_eq!(
            dry.difference.unwrap().amount(),
            simulated.amount() - current.amount(),
            "difference = simulated - current"
        );
        assert_eq!(
            report.totals,
            BTreeMap::from([("USD".to_owned(), GLOBEX_GROSS.to_owned())]),
            "a dry run's total is what would be invoiced now"
        );
    }
    // A negative rate and a cap in another currency: every problem named at once.
    let bad = serde_json::to_vec(&json!({
        "as_of": "2026-12-31", "dry_run": true, "contracts": only_globex,
        "what_if": {
            "rates": {"engineer": {"amount": "-1.00", "currency": "USD"}},
            "cap": {"amount": "500.00", "currency": "EUR"},
        },
    }))
    .unwrap();
    let problems = RunRequest::from_json(&bad).unwrap_err().to_string();
    assert!(
        problems.contains("what_if.rates.engineer: must be more than zero"),
        "{problems}"
    );
    assert!(problems.contains("one currency"), "{problems}");
    // A what-if in euros for a contract billed in dollars: the job reports why it did not
    // simulate (the current figures stand) instead of failing into the DLQ.
    let euros: RunRequest = serde_json::from_value(json!({
        "as_of": "2026-12-31", "dry_run": true, "contracts": only_globex,
        "what_if": {"rates": {"engineer": {"amount": "110.00", "currency": "EUR"}}},
    }))
    .unwrap();
    let planned = s.runs.start(&euros, "api").await.unwrap();
    let messages = receive(s.jobs.as_ref(), 1).await;
    assert_eq!(drain(&s, &messages).await["batchItemFailures"], json!([]));
    let report = s.runs.report(&planned.run_id).await.unwrap();
    let j = job(&report, contract);
    assert_eq!(
        (j.status.as_str(), report.failed),
        ("dry_run", 0),
        "{report:#?}"
    );
    assert_eq!(
        j.reason.as_deref(),
        Some("the what-if is in EUR; this contract bills in USD")
    );
    let dry = j.dry_run.clone().unwrap();
    assert_eq!(
        dry.current.unwrap().gross_total.amount(),
        GLOBEX_GROSS.parse::<Decimal>().unwrap()
    );
    assert_eq!(dry.simulated, None);
    assert!(
        s.dead_letter.receive(10, 0).await.unwrap().is_empty(),
        "nothing parked"
    );

    // Nothing was claimed, stored or numbered.
    let unbilled_after = unbilled(h.store.as_ref(), &h.table, contract, "2026-12-31")
        .await
        .unwrap();
    let ids = |v: &[(Key, handoff_domain::billing::BillableItem)]| -> BTreeSet<String> {
        v.iter().map(|(_, i)| i.id.to_string()).collect()
    };
    assert_eq!(ids(&unbilled_after), ids(&unbilled_before));
    let invoice = invoice_id_for(contract, "2026-12");
    assert_eq!(s.runs.invoicing.record(invoice).await.unwrap(), None);
    assert_eq!(counter(&h).await, None, "the counter is untouched");
    // The real run afterwards still issues the whole month.
    let outcome = s
        .runs
        .invoicing
        .run(project, "2026-12", "2026-12-01", "2026-12-31", "2026-12-31")
        .await
        .unwrap();
    assert_eq!(
        outcome.draft.unwrap().gross_total.amount(),
        GLOBEX_GROSS.parse::<Decimal>().unwrap()
    );
}

/// A semi-monthly contract's job, planned on the 15th, runs after midnight once the series
/// has issued an invoice dated the 16th: numbers follow dates, so it issues on the 16th
/// instead of failing as back-dated with its items claimed.
async fn a_job_that_waited_past_midnight_issues_today_when_the_series_moved_on(h: Harness) {
    let s = setup(&h, false).await;
    let (project, contract) = convert(&h, "globex-data", |v| {
        v["crm"]["deal_id"] = json!("1187-semi");
        v["customer"]["external_id"] = json!("org-semi");
        v["customer"]["name"] = json!("Semi Globex");
        v["customer"]["domain"] = json!("semi.example");
        v["billing"]["frequency"] = json!("semi_monthly");
    })
    .await;
    time_entries(&h, project, "s").await;
    h.set_time("2026-12-15T23:30:00Z");
    let request = RunRequest {
        as_of: day("2026-12-15"),
        contracts: Some(vec![contract.to_string()]),
        ..RunRequest::default()
    };
    let planned = s.runs.start(&request, "schedule").await.unwrap();
    assert_eq!(planned.contracts_due, 1, "{planned:#?}");
    // Meanwhile the series issued its 7th invoice, dated the 16th.
    let mut counter = harness::item(COUNTER_PK, "COUNTER", &[]);
    counter.insert("last".into(), harness::n("7"));
    counter.insert("last_issued_on".into(), harness::s("2026-12-16"));
    h.store.put(&h.table, counter, None).await.unwrap();
    h.set_time("2026-12-16T01:00:00Z");
    let messages = receive(s.jobs.as_ref(), 1).await;
    assert_eq!(drain(&s, &messages).await["batchItemFailures"], json!([]));
    let report = s.runs.report(&planned.run_id).await.unwrap();
    let j = job(&report, contract);
    assert_eq!(j.status, "issued", "{report:#?}");
    assert_eq!(j.number.as_deref(), Some("INV-2026-000008"));
    let record = s
        .runs
        .invoicing
        .record(j.invoice_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.issued_on.as_deref(), Some("2026-12-16"));
}
