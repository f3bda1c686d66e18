//! The embedded demo. Every step calls the shared crates; none re-implements a rule.

use anyhow::Context;
use handoff_adapters_memory::{ManualClock, MemoryQueue, MemoryStore};
use handoff_domain::{Currency, ExternalId, HourIncrement, Hours, Money, ProjectId, SourceSystem};
use handoff_ports::store::to_item;
use handoff_ports::{Clock, Condition, OutgoingMessage, Queue, Store};
use handoff_runtime::{Idempotency, IdempotencyError, RunError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

const MAIN_TABLE: &str = "handoff";
const IDEMPOTENCY_TABLE: &str = "handoff-idempotency";

#[derive(Debug, Serialize)]
struct WonDeal<'a> {
    system: &'a str,
    deal_id: &'a str,
    amount: &'a str,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Converted {
    project_id: String,
}

pub async fn run() -> anyhow::Result<()> {
    println!("handoff demo (embedded, memory adapters)\n");
    canonical_ids()?;
    exact_money()?;
    exactly_once().await?;
    ordered_delivery().await?;
    println!("\nThe converter, capacity, billing and invoicing steps join this demo as they land.");
    Ok(())
}

fn canonical_ids() -> anyhow::Result<()> {
    let hubspot = SourceSystem::new("hubspot")?;
    let deal = ExternalId::new("1234567890")?;
    let first = ProjectId::derive(&hubspot, &deal);
    let retry = ProjectId::derive(&hubspot, &deal);
    println!("1. canonical ids: HubSpot deal 1234567890 -> project {first}");
    anyhow::ensure!(
        first == retry,
        "a retried deal must land on the same project"
    );
    println!("   a re-delivered webhook derives the same id: {retry}");
    Ok(())
}

fn exact_money() -> anyhow::Result<()> {
    let usd = Currency::parse("USD")?;
    let logged = Hours::new(Decimal::new(3710, 2))?; // 37.10 h
    let billed = logged.billable(Some(HourIncrement::new(Decimal::new(25, 2))?))?;
    let rate = Money::new(Decimal::new(14_550, 2), usd);
    let line = rate.checked_mul(billed.value())?.round_to_minor_units();
    println!(
        "2. exact money: {logged} logged, billed as {billed} (0.25 h increments) x {rate} = {line}"
    );
    for (amount, code) in [("1234.5", "JPY"), ("7.0005", "KWD"), ("2.675", "EUR")] {
        let money = Money::new(amount.parse()?, Currency::parse(code)?);
        println!(
            "   {money} rounds half-up to {}",
            money.round_to_minor_units()
        );
    }
    Ok(())
}

async fn exactly_once() -> anyhow::Result<()> {
    let store = Arc::new(MemoryStore::with_tables(&[MAIN_TABLE, IDEMPOTENCY_TABLE]));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(chrono::Utc::now()));
    let idempotency = Idempotency::new(
        store.clone(),
        clock,
        IDEMPOTENCY_TABLE,
        "closed-won-converter",
        86_400,
    );
    let deal = WonDeal {
        system: "hubspot",
        deal_id: "1234567890",
        amount: "48000.00",
    };
    let project_id = ProjectId::derive(
        &SourceSystem::new(deal.system)?,
        &ExternalId::new(deal.deal_id)?,
    );
    for delivery in 1..=3 {
        let store = store.clone();
        let converted: Converted = idempotency
            .run("hubspot:1234567890", &deal, None, || async move {
                let record = serde_json::json!({"PK": format!("PROJECT#{project_id}"), "SK": "PROJECT", "version": 1});
                store.put(MAIN_TABLE, to_item(&record)?, Some(Condition::NotExists)).await?;
                Ok::<_, handoff_ports::StoreError>(Converted { project_id: project_id.to_string() })
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "3. delivery {delivery} of the won deal -> project {}",
            converted.project_id
        );
    }
    let projects = store.scan(MAIN_TABLE).len();
    println!("   projects stored: {projects} (three deliveries, one project)");
    anyhow::ensure!(projects == 1, "duplicate project");
    let amended = WonDeal {
        amount: "52000.00",
        ..deal
    };
    let reused = idempotency
        .run::<Converted, String, _, _>("hubspot:1234567890", &amended, None, || async {
            Ok(Converted {
                project_id: String::new(),
            })
        })
        .await;
    anyhow::ensure!(
        matches!(
            reused,
            Err(RunError::Idempotency(IdempotencyError::KeyReused))
        ),
        "reuse must be refused"
    );
    println!("   the same delivery key with another payload is refused (HTTP 409)");
    Ok(())
}

async fn ordered_delivery() -> anyhow::Result<()> {
    let queue = MemoryQueue::new("delivery-signals.fifo", Duration::from_secs(30));
    let mut signals = Vec::new();
    for week in 1..=3 {
        for project in ["website", "erp"] {
            signals.push(
                OutgoingMessage::new(format!("{project}: timesheet week {week}"))
                    .in_group(project, format!("{project}-{week}")),
            );
        }
    }
    queue.send(signals).await.context("send signals")?;
    print!("4. FIFO delivery per project:");
    let mut delivered = 0;
    for _ in 0..10 {
        let batch = queue.receive(10, 0).await?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            print!("\n   {}", message.body);
            queue.delete(&message.receipt_handle).await?;
            delivered += 1;
        }
    }
    println!();
    anyhow::ensure!(delivered == 6, "all signals delivered once");
    Ok(())
}
