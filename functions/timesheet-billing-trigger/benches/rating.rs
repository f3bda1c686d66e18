//! `cargo bench -p timesheet-billing-trigger --bench rating [-- ENTRIES CONTRACTS]`:
//! rates ENTRIES approved time entries (default 1,000,000) spread over CONTRACTS T&M
//! contracts (default 1,000) through the billing service on the memory adapters (domain
//! rating + one storage transaction per signal), and the domain alone; prints entries
//! per second. A plain binary: figures, not assertions.

use chrono::{Duration, NaiveDate};
use handoff_adapters_memory::MemoryStore;
use handoff_domain::billing::{Book, RatingContext, Signal, SourceRef, TimeEntry};
use handoff_domain::catalog::{Catalog, RoleCode};
use handoff_domain::deal::{validate, DealInput};
use handoff_domain::hours::Hours;
use handoff_domain::ledger::ChartOfAccounts;
use handoff_domain::project::{convert, ProjectSkeleton};
use handoff_domain::rates::RateBook;
use handoff_domain::{ExternalId, ProjectId, SourceSystem};
use handoff_ports::{AttributeValue, Key, Store};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::Instant;
use timesheet_billing_trigger::service::{Billing, SignalEnvelope};

const TABLE: &str = "bench";

fn seed(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../infra/seed/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("seed")
}

fn entry(i: usize, start: NaiveDate) -> Signal {
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
        work_date: start + Duration::days((i % 60) as i64),
        hours: Hours::new(Decimal::new(25 * (1 + (i % 32) as i64), 2)).expect("hours"),
        billable: true,
        note: None,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let entries = args.first().copied().unwrap_or(1_000_000);
    let contracts = args.get(1).copied().unwrap_or(1_000).max(1);
    let catalog = Catalog::from_json(&seed("catalog.json")).expect("catalog");
    let rates = RateBook::from_json(&seed("rate_cards.json"), &catalog).expect("rates");
    let chart = ChartOfAccounts::from_json(&seed("chart_of_accounts.json")).expect("chart");
    let mut input: DealInput = serde_json::from_str(&seed("deals/globex-data.json")).expect("deal");
    input.billing.cap = None; // no cap: every entry bills (the worst case for writes)
    let deal = validate(&input, &catalog).expect("valid");
    let base =
        convert(&deal, &catalog, &rates, "2026-11-26".parse().expect("date")).expect("converted");
    let store = Arc::new(MemoryStore::with_tables(&[TABLE]));
    let mut projects: Vec<ProjectSkeleton> = Vec::with_capacity(contracts);
    for c in 0..contracts {
        let mut p = base.clone();
        p.project_id = ProjectId::derive_from_parts(&["bench", &c.to_string()]);
        let mut item = Key::new(format!("PROJECT#{}", p.project_id), "PROJECT").to_item();
        item.insert(
            "skeleton".into(),
            AttributeValue::S(serde_json::to_string(&p).expect("json")),
        );
        store.put(TABLE, item, None).await.expect("put");
        projects.push(p);
    }
    let billing = Billing {
        store: store.clone(),
        rates: Arc::new(rates.clone()),
        chart: Arc::new(chart.clone()),
        main_table: TABLE.into(),
    };
    println!("rating {entries} time entries over {contracts} contracts");

    // Domain only: one in-memory book per contract.
    let ctx = RatingContext {
        rates: &rates,
        accounts: &chart.mapping,
    };
    let mut books: Vec<Book> = projects.iter().map(Book::open).collect();
    let t = Instant::now();
    for i in 0..entries {
        books[i % contracts]
            .apply(&entry(i, base.start_date), &ctx)
            .expect("rated");
    }
    let domain_s = t.elapsed().as_secs_f64();
    println!(
        "  domain only:            {:>10.0} entries/s ({domain_s:.2} s)",
        entries as f64 / domain_s
    );

    // Service on the memory store: load state and entry, rate, one transaction.
    let t = Instant::now();
    for i in 0..entries {
        let envelope = SignalEnvelope {
            project_id: projects[i % contracts].project_id,
            signal: entry(i, base.start_date),
        };
        billing.apply(&envelope).await.expect("applied");
    }
    let service_s = t.elapsed().as_secs_f64();
    println!(
        "  service + memory store: {:>10.0} entries/s ({service_s:.2} s)",
        entries as f64 / service_s
    );
}
