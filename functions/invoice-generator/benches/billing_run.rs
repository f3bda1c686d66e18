//! A billing run as it runs in AWS: the planner enqueues one job per due contract, the
//! consumers run them (claim, invoice, number, journal, outbox relay).
//!
//! ```sh
//! cargo bench -p invoice-generator --bench billing_run                       # memory, full size
//! cargo bench -p invoice-generator --bench billing_run -- --contracts 100 --items 10000
//! cargo bench -p invoice-generator --bench billing_run -- --aws               # local AWS endpoint
//! ```
//!
//! Memory part (default): `--contracts` T&M contracts (default 10,000) with `--items`
//! unbilled items (default 1,000,000, spread evenly, dated in December 2026) rated through
//! the real billing service, so the items are stored exactly as the invoice job reads them.
//! The billing run (planner + jobs queue + consumers) is timed once per `--concurrency`
//! value (consumers; default `1,4`; each on a freshly seeded store): items/s, invoices/s, wall time, seeding time, peak RSS (`VmHWM`).
//!
//! AWS part (`--aws` or `HANDOFF_BENCH_AWS=1`; add `--memory` to run both): the same on the
//! AWS adapters against `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` (e.g.
//! `bash -c 'source infra/local/endpoints.sh start && cargo bench ...; infra/local/endpoints.sh stop'`)
//! with `--aws-contracts` (default 100) × `--aws-items` (default 10) items: DynamoDB and
//! SQS requests per invoice by operation, as the adapters counted them, and the cost per
//! 1,000 invoices at on-demand prices (printed with the figures).
//!
//! Every run is checked before its figures are printed: each seeded item is on exactly one
//! invoice (claimed once, on one invoice line), nothing is left unbilled, and the legal
//! numbers are exactly 1..N. A bench measuring the wrong work panics instead.

use handoff_adapters_aws::counting::{DYNAMODB, SQS};
use handoff_adapters_aws::{tables, DynamoStore, RequestCounter, RequestCounts, SqsQueue};
use handoff_adapters_memory::MemoryStore;
use handoff_domain::billing::{Signal, SourceRef, TimeEntry};
use handoff_domain::billing_calendar::{cadence, due_period};
use handoff_domain::catalog::{Catalog, RoleCode};
use handoff_domain::deal::{validate, DealInput};
use handoff_domain::hours::Hours;
use handoff_domain::invoice::TaxTable;
use handoff_domain::ledger::ChartOfAccounts;
use handoff_domain::project::{contract_id, convert, ProjectSkeleton};
use handoff_domain::rates::RateBook;
use handoff_domain::{ContractId, ExternalId, ProjectId, SourceSystem};
use handoff_ports::{AttributeValue, Key, Store};
use handoff_ports::{Queue, RECEIVE_BATCH_MAX};
use invoice_generator::claims::{claimed_by, unbilled};
use invoice_generator::job::{invoice_id_for, Invoicing, JobOutcome};
use invoice_generator::relay::Relay;
use invoice_generator::runs::{BillingRuns, JobMessage, RunRequest};
use rust_decimal::Decimal;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timesheet_billing_trigger::service::{Billing, SignalEnvelope};

const CUTOFF: &str = "2026-12-31";

// On-demand prices, us-east-1 (standard table class).
// Prices are exact decimals (money never goes through a float); capacity units, which the
// SDK reports as floats, are converted once where they meet a price.
const USD_PER_MILLION_WRU: &str = "0.625";
const USD_PER_MILLION_RRU: &str = "0.125";
const USD_PER_MILLION_SQS_STANDARD: &str = "0.40";
const USD_PER_MILLION_SQS_FIFO: &str = "0.50";

/// The USD cost of `units` (per 1,000 invoices) at `per_million`.
fn cost_usd(units: f64, per_million: &str) -> Decimal {
    let units = Decimal::from_f64_retain(units).unwrap_or_default();
    let price: Decimal = per_million.parse().expect("a price");
    (units * price / Decimal::from(1_000_000)).round_dp(6)
}

struct Args {
    contracts: usize,
    items: usize,
    concurrency: Vec<usize>,
    memory: bool,
    aws: bool,
    aws_contracts: usize,
    aws_items: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        contracts: 10_000,
        items: 1_000_000,
        concurrency: vec![1, 4],
        memory: false,
        aws: std::env::var("HANDOFF_BENCH_AWS").is_ok_and(|v| !v.is_empty() && v != "0"),
        aws_contracts: 100,
        aws_items: 10,
    };
    let mut memory_flag = false;
    let mut it = std::env::args().skip(1);
    let number = |name: &str, v: Option<String>| -> usize {
        v.and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or_else(|| panic!("{name} wants a number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--contracts" => args.contracts = number("--contracts", it.next()),
            "--items" => args.items = number("--items", it.next()),
            "--concurrency" => {
                args.concurrency = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(|n| number("--concurrency", Some(n.to_owned())).max(1))
                    .collect()
            }
            "--aws" => args.aws = true,
            "--memory" => memory_flag = true,
            "--aws-contracts" => args.aws_contracts = number("--aws-contracts", it.next()),
            "--aws-items" => args.aws_items = number("--aws-items", it.next()),
            // `cargo bench` passes `--bench`; anything else unknown is ignored too.
            _ => {}
        }
    }
    args.memory = memory_flag || !args.aws;
    assert!(
        args.contracts >= 1 && args.items >= args.contracts,
        "every contract needs an item (items >= contracts >= 1)"
    );
    args
}

fn seed(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../infra/seed/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("seed")
}

/// Reference data shared by every run.
struct Reference {
    base: ProjectSkeleton,
    rates: Arc<RateBook>,
    chart: Arc<ChartOfAccounts>,
    tax: Arc<TaxTable>,
}

fn reference() -> Reference {
    let catalog = Catalog::from_json(&seed("catalog.json")).expect("catalog");
    let rates = RateBook::from_json(&seed("rate_cards.json"), &catalog).expect("rates");
    let chart = ChartOfAccounts::from_json(&seed("chart_of_accounts.json")).expect("chart");
    let tax = TaxTable::from_json(&seed("tax_rates.json")).expect("tax table");
    let mut input: DealInput = serde_json::from_str(&seed("deals/globex-data.json")).expect("deal");
    input.billing.cap = None; // no cap: every entry is billable
    input.billing.finance_approval = Some(false); // every invoice is issued and numbered
    let deal = validate(&input, &catalog).expect("valid");
    let base =
        convert(&deal, &catalog, &rates, "2026-11-26".parse().expect("date")).expect("converted");
    Reference {
        base,
        rates: Arc::new(rates),
        chart: Arc::new(chart),
        tax: Arc::new(tax),
    }
}

/// Approved time entry `i` (of contract `i % contracts`), dated in December 2026.
fn entry(i: usize, contracts: usize) -> Signal {
    let day = 1 + (i / contracts) % 31;
    Signal::Time(TimeEntry {
        source: SourceRef {
            system: SourceSystem::new("jira").expect("system"),
            id: ExternalId::new(&format!("w-{i}")).expect("id"),
            version: 1,
        },
        resource: format!("person-{}", i % 7),
        role: RoleCode::new(
            [
                "engineer",
                "senior-engineer",
                "qa-engineer",
                "data-engineer",
            ][i % 4],
        )
        .expect("role"),
        work_date: format!("2026-12-{day:02}").parse().expect("date"),
        hours: Hours::new(Decimal::new(25 * (1 + (i % 32) as i64), 2)).expect("hours"),
        billable: true,
        note: None,
    })
}

#[derive(Clone, Copy)]
struct Contract {
    project: ProjectId,
    contract: ContractId,
}

/// Stores `contracts` projects (distinct contracts of one customer) and rates `items`
/// time entries through the billing service, `workers` contracts at a time; returns the
/// contracts and the number of unbilled items the service wrote.
async fn seed_store(
    store: Arc<dyn Store>,
    table: &str,
    r: &Reference,
    contracts: usize,
    items: usize,
    workers: usize,
) -> (Vec<Contract>, usize) {
    let mut all = Vec::with_capacity(contracts);
    for c in 0..contracts {
        let mut p = r.base.clone();
        p.project_id = ProjectId::derive_from_parts(&["bench", &c.to_string()]);
        p.contract.contract_id = contract_id(p.project_id);
        let mut item = Key::new(format!("PROJECT#{}", p.project_id), "PROJECT").to_item();
        item.insert(
            "skeleton".into(),
            AttributeValue::S(serde_json::to_string(&p).expect("json")),
        );
        store.put(table, item, None).await.expect("put project");
        // Listed as the converter lists contracts for the billing planner.
        let mut terms =
            Key::new(format!("CONTRACT#{}", p.contract.contract_id), "TERMS#v1").to_item();
        terms.insert(
            "project_id".into(),
            AttributeValue::S(p.project_id.to_string()),
        );
        for (name, value) in handoff_ports::listing::listing_attributes(
            cadence(&p.contract).as_str(),
            &p.contract.contract_id.to_string(),
        ) {
            terms.insert(name.into(), value);
        }
        store.put(table, terms, None).await.expect("put terms");
        all.push(Contract {
            project: p.project_id,
            contract: p.contract.contract_id,
        });
    }
    let billing = Arc::new(Billing {
        store,
        rates: r.rates.clone(),
        chart: r.chart.clone(),
        main_table: table.to_owned(),
    });
    let all = Arc::new(all);
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (billing, all) = (billing.clone(), all.clone());
            tokio::spawn(async move {
                let mut written = 0;
                for c in (w..contracts).step_by(workers) {
                    for i in (c..items).step_by(contracts) {
                        let envelope = SignalEnvelope {
                            project_id: all[c].project,
                            signal: entry(i, contracts),
                        };
                        written += billing.apply(&envelope).await.expect("rated").items;
                    }
                }
                written
            })
        })
        .collect();
    let mut written = 0;
    for t in tasks {
        written += t.await.expect("seeding task");
    }
    (
        Arc::try_unwrap(all).unwrap_or_else(|a| (*a).clone()),
        written,
    )
}

fn billing_runs(
    store: Arc<dyn Store>,
    table: &str,
    r: &Reference,
    jobs: Arc<dyn Queue>,
    outbox: Arc<dyn Queue>,
) -> BillingRuns {
    BillingRuns {
        invoicing: invoicing(store.clone(), table, r),
        jobs,
        relay: Some(Relay {
            store,
            main_table: table.to_owned(),
            queue: outbox,
        }),
        time_zone: chrono_tz::Tz::UTC,
        // The run's evening: the planner refuses a run dated after today.
        clock: Arc::new(handoff_adapters_memory::ManualClock::new(
            CUTOFF
                .parse::<chrono::NaiveDate>()
                .expect("date")
                .and_hms_opt(23, 30, 0)
                .expect("time")
                .and_utc(),
        )),
    }
}

fn invoicing(store: Arc<dyn Store>, table: &str, r: &Reference) -> Invoicing {
    Invoicing {
        store,
        tax: r.tax.clone(),
        chart: r.chart.clone(),
        main_table: table.to_owned(),
        series_prefix: "INV".into(),
        rates: Some(r.rates.clone()),
    }
}

/// The billing run as it runs in AWS: the planner (`BillingRuns::start`, as the schedule
/// calls it) finds the due contracts and enqueues one job each on the FIFO jobs queue;
/// `workers` consumers receive batches of 10, run each job (`BillingRuns::process`:
/// invoice, journal, outbox relay) and delete it, as Lambda's event source mapping would.
/// Returns the outcome per contract, in contract order.
async fn billing_run(
    runs: &BillingRuns,
    jobs: Arc<dyn Queue>,
    contracts: &[Contract],
    workers: usize,
) -> Vec<JobOutcome> {
    let as_of: chrono::NaiveDate = CUTOFF.parse().expect("date");
    let request = RunRequest {
        as_of,
        ..RunRequest::default()
    };
    let planned = runs.start(&request, "bench").await.expect("plan the run");
    assert_eq!(
        planned.contracts_due,
        contracts.len(),
        "every contract is due"
    );
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (runs, jobs) = (runs.clone(), jobs.clone());
            let bound = contracts.len() + 10;
            tokio::spawn(async move {
                for _ in 0..bound {
                    let batch = jobs.receive(RECEIVE_BATCH_MAX, 0).await.expect("receive");
                    if batch.is_empty() {
                        break;
                    }
                    for message in batch {
                        let job: JobMessage = serde_json::from_str(&message.body).expect("job");
                        runs.process(&job)
                            .await
                            .unwrap_or_else(|e| panic!("job of {}: {e}", job.contract_id));
                        jobs.delete(&message.receipt_handle).await.expect("delete");
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("consumer task");
    }
    let report = runs.report(&planned.run_id).await.expect("report");
    assert_eq!(report.status, "completed", "every job done");
    let period = due_period(cadence(&contracts_base_terms(runs, contracts).await), as_of)
        .expect("due on the cut-off");
    let mut outcomes = Vec::with_capacity(contracts.len());
    for c in contracts {
        let invoice = invoice_id_for(c.contract, &period.key);
        let record = runs
            .invoicing
            .record(invoice)
            .await
            .expect("read invoice")
            .expect("an invoice per contract");
        outcomes.push(JobOutcome {
            invoice_id: invoice,
            number: record.number,
            draft: record.draft,
            deferred: None,
        });
    }
    outcomes
}

/// The contract terms of the first contract (all share the base deal's terms).
async fn contracts_base_terms(
    runs: &BillingRuns,
    contracts: &[Contract],
) -> handoff_domain::project::ContractTerms {
    runs.invoicing
        .project(contracts[0].project)
        .await
        .expect("project")
        .contract
}

/// Panics unless every one of `items` seeded items is on exactly one invoice, once, and
/// the invoices are numbered exactly 1..=N.
async fn verify(
    store: &dyn Store,
    table: &str,
    contracts: &[Contract],
    outcomes: &[JobOutcome],
    items: usize,
) {
    assert_eq!(outcomes.len(), contracts.len(), "one outcome per contract");
    let mut seen: HashSet<String> = HashSet::with_capacity(items);
    for (c, outcome) in contracts.iter().zip(outcomes) {
        let claimed = claimed_by(store, table, outcome.invoice_id)
            .await
            .expect("claimed");
        for item in &claimed {
            assert_eq!(item.contract_id, c.contract, "an item of another contract");
            assert!(
                seen.insert(item.id.to_string()),
                "item {} is on two invoices (or twice on one)",
                item.id
            );
        }
        let draft = outcome.draft.as_ref().expect("every contract has items");
        let on_lines: usize = draft.lines.iter().map(|l| l.item_ids.len()).sum();
        assert_eq!(
            on_lines,
            claimed.len(),
            "invoice lines hold each claimed item"
        );
        let left = unbilled(store, table, c.contract, CUTOFF)
            .await
            .expect("unbilled");
        assert!(left.is_empty(), "{} items left unbilled", left.len());
    }
    assert_eq!(seen.len(), items, "every seeded item invoiced exactly once");
    let mut numbers: Vec<u64> = outcomes
        .iter()
        .map(|o| {
            let number = o.number.as_deref().expect("issued (no finance approval)");
            number
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("legal number {number}"))
        })
        .collect();
    numbers.sort_unstable();
    assert!(
        numbers.iter().copied().eq(1..=outcomes.len() as u64),
        "legal numbers are not exactly 1..={}",
        outcomes.len()
    );
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "n/a".into())
}

async fn memory_part(args: &Args, r: &Reference) {
    let (contracts, items) = (args.contracts, args.items);
    println!("memory adapters: {contracts} contracts, {items} unbilled items");
    for &workers in &args.concurrency {
        let table = "bench";
        let store: Arc<dyn Store> = Arc::new(MemoryStore::with_tables(&[table]));
        let t = Instant::now();
        let (all, written) = seed_store(store.clone(), table, r, contracts, items, workers).await;
        let seed_s = t.elapsed().as_secs_f64();
        assert_eq!(written, items, "one unbilled item per time entry");
        let visibility = Duration::from_secs(180);
        let jobs: Arc<dyn Queue> = Arc::new(handoff_adapters_memory::MemoryQueue::new(
            "invoice-jobs.fifo",
            visibility,
        ));
        let outbox = Arc::new(handoff_adapters_memory::MemoryQueue::new(
            "accounting-outbox",
            visibility,
        ));
        let runs = billing_runs(store.clone(), table, r, jobs.clone(), outbox.clone());
        let t = Instant::now();
        let outcomes = billing_run(&runs, jobs, &all, workers).await;
        let run_s = t.elapsed().as_secs_f64();
        verify(store.as_ref(), table, &all, &outcomes, items).await;
        assert_eq!(
            outbox.len(),
            contracts,
            "one InvoiceIssued event per invoice"
        );
        println!("  {workers} consumer(s) of the jobs queue:");
        println!(
            "    seeding (billing service): {seed_s:>8.2} s ({:.0} items/s)",
            items as f64 / seed_s
        );
        println!("    billing run:               {run_s:>8.2} s");
        println!(
            "    items/s:                   {:>10.0}",
            items as f64 / run_s
        );
        println!(
            "    invoices/s:                {:>10.0}",
            contracts as f64 / run_s
        );
        println!("    peak RSS so far (VmHWM):   {}", peak_rss());
        println!("    checked: {items} items each on exactly one invoice, numbers 1..={contracts}");
    }
}

fn per_invoice(n: u64, invoices: usize) -> f64 {
    n as f64 / invoices as f64
}

/// The units one request of `op` costs by AWS's rules, items < 1 KB: (RRU, WRU).
fn estimated_units(op: &str, requests: u64, write_items: u64) -> (f64, f64) {
    let n = requests as f64;
    match op {
        // Strongly consistent read of an item < 4 KB.
        "GetItem" => (n, 0.0),
        // Eventually consistent (index) page < 4 KB.
        "Query" => (0.5 * n, 0.0),
        "PutItem" | "UpdateItem" | "DeleteItem" => (0.0, n),
        // 2 WRU per item written in a transaction.
        "TransactWriteItems" => (0.0, 2.0 * write_items as f64),
        "BatchWriteItem" => (0.0, write_items as f64),
        _ => (0.0, 0.0),
    }
}

async fn aws_part(args: &Args, r: &Reference) {
    let (contracts, items) = (args.aws_contracts, args.aws_items * args.aws_contracts);
    let config = handoff_adapters_aws::load_config().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| "AWS (no endpoint override)".into());
    println!("AWS adapters ({endpoint}): {contracts} contracts, {items} unbilled items");
    // One counter for every adapter of the run: the store, and any queue given
    // `SqsQueue::with_counter(client, url, counter.clone())`.
    let counter = RequestCounter::new();
    let dynamo = DynamoStore::with_counter(aws_sdk_dynamodb::Client::new(&config), counter.clone());
    let suffix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let table = format!("bench-billing-run-{suffix}");
    tables::create_table(dynamo.client(), &table, true)
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e}"));
    tables::wait_until_active(dynamo.client(), &table)
        .await
        .expect("the table becomes active");
    let client = dynamo.client().clone();
    let store: Arc<dyn Store> = Arc::new(dynamo);

    let before_seed = counter.snapshot();
    let t = Instant::now();
    let (all, written) = seed_store(store.clone(), &table, r, contracts, items, 1).await;
    let seed_s = t.elapsed().as_secs_f64();
    assert_eq!(written, items, "one unbilled item per time entry");
    let seeding = counter.snapshot().since(&before_seed);

    let sqs_client = aws_sdk_sqs::Client::new(&config);
    let queue = |name: String| {
        let (client, counter) = (sqs_client.clone(), counter.clone());
        async move {
            let url = tables::create_queue(&client, &name, 180, None)
                .await
                .unwrap_or_else(|e| panic!("create queue {name}: {e}"));
            SqsQueue::with_counter(client, url, counter)
        }
    };
    let jobs: Arc<dyn Queue> = Arc::new(queue(format!("bench-jobs-{suffix}.fifo")).await);
    let outbox: Arc<dyn Queue> = Arc::new(queue(format!("bench-outbox-{suffix}")).await);
    let runs = billing_runs(store.clone(), &table, r, jobs.clone(), outbox);
    let before_run = counter.snapshot();
    let t = Instant::now();
    let outcomes = billing_run(&runs, jobs, &all, 1).await;
    let run_s = t.elapsed().as_secs_f64();
    let run = counter.snapshot().since(&before_run);
    verify(store.as_ref(), &table, &all, &outcomes, items).await;
    let _ = client.delete_table().table_name(&table).send().await;

    println!(
        "  seeding: {seed_s:.2} s, {} DynamoDB requests (billing service; not in the figures below)",
        seeding.total(DYNAMODB)
    );
    println!(
        "  billing run: {run_s:.2} s sequential, {:.1} invoices/s; checked: {items} items each on exactly one invoice, numbers 1..={contracts}",
        contracts as f64 / run_s
    );
    print_requests(&run, contracts, items);
}

fn print_requests(run: &RequestCounts, invoices: usize, items: usize) {
    println!(
        "  DynamoDB requests per invoice ({} items per invoice):",
        items / invoices
    );
    let (mut est_r, mut est_w, mut rep_units) = (0.0, 0.0, 0.0);
    for (op, n) in run.operations(DYNAMODB) {
        let (r, w) = estimated_units(op, n, run.items(DYNAMODB, op));
        est_r += r;
        est_w += w;
        let reported = run.capacity(DYNAMODB, op);
        rep_units += reported;
        let writes = run.items(DYNAMODB, op);
        let writes = if writes > 0 {
            format!(" ({:.2} writes)", per_invoice(writes, invoices))
        } else {
            String::new()
        };
        println!(
            "    {op:<20} {:>6.2} requests{writes}, {:.2} capacity units reported",
            per_invoice(n, invoices),
            reported / invoices as f64
        );
    }
    println!(
        "    {:<20} {:>6.2} requests",
        "total",
        per_invoice(run.total(DYNAMODB), invoices)
    );
    let sqs = run.total(SQS);
    println!(
        "  SQS requests per invoice: {:.2}",
        per_invoice(sqs, invoices)
    );
    for (op, n) in run.operations(SQS) {
        println!("    {op:<20} {:>6.2}", per_invoice(n, invoices));
    }
    let k = 1000.0 / invoices as f64;
    let est_cost =
        cost_usd(est_r * k, USD_PER_MILLION_RRU) + cost_usd(est_w * k, USD_PER_MILLION_WRU);
    println!(
        "  prices (on-demand, us-east-1): DynamoDB ${USD_PER_MILLION_WRU}/M WRU, \
         ${USD_PER_MILLION_RRU}/M RRU; SQS ${USD_PER_MILLION_SQS_STANDARD}/M requests \
         (standard), ${USD_PER_MILLION_SQS_FIFO}/M (FIFO)"
    );
    println!(
        "  cost per 1,000 invoices, estimated from the operations (items < 1 KB; GetItem \
         1 RRU strongly consistent, Query page 0.5 RRU eventually consistent, write 1 WRU, \
         transactional write 2 WRU per item; index writes not included):"
    );
    println!(
        "    DynamoDB {:.0} RRU + {:.0} WRU = ${est_cost:.6}",
        est_r * k,
        est_w * k
    );
    // What DynamoDB itself reported (ReturnConsumedCapacity=TOTAL: real item sizes and
    // index writes included; reads and writes told apart by operation).
    let (mut rep_r, mut rep_w) = (0.0, 0.0);
    for (op, _) in run.operations(DYNAMODB) {
        let u = run.capacity(DYNAMODB, op);
        if matches!(op, "GetItem" | "Query" | "BatchGetItem" | "Scan") {
            rep_r += u;
        } else {
            rep_w += u;
        }
    }
    debug_assert!((rep_r + rep_w - rep_units).abs() < 1e-6);
    let rep_cost =
        cost_usd(rep_r * k, USD_PER_MILLION_RRU) + cost_usd(rep_w * k, USD_PER_MILLION_WRU);
    println!(
        "  cost per 1,000 invoices from the capacity DynamoDB reported: {:.0} RRU + {:.0} WRU = ${rep_cost:.6}",
        rep_r * k,
        rep_w * k
    );
    let sqs_cost = cost_usd(k * sqs as f64, USD_PER_MILLION_SQS_STANDARD);
    println!("  SQS per 1,000 invoices: ${sqs_cost:.6} (standard-queue price)");
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = parse_args();
    let r = reference();
    if args.memory {
        memory_part(&args, &r).await;
    }
    if args.aws {
        aws_part(&args, &r).await;
    }
}
