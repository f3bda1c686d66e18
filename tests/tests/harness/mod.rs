#![allow(dead_code)] // each test binary uses part of the harness
//! Builds a fresh table and queues per test, on the memory adapters or on AWS endpoints.

use handoff_adapters_aws::{tables, DynamoStore, SqsQueue};
use handoff_adapters_memory::{MemoryQueue, MemoryStore};
use handoff_ports::{AttributeValue, Item, Queue, Store};
use std::sync::Arc;
use std::time::Duration;

pub mod faulty;
pub mod invoicing;

/// Visibility timeout of test queues: long enough that no message reappears mid-test.
/// Runs each named `async fn case(h: Harness)` twice: `memory::case` on the memory
/// adapters and `aws::case` on the AWS adapters (skipped without an endpoint).
macro_rules! contract_cases {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case(super::Harness::memory(stringify!($case))).await;
            })*
        }
        mod aws {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                if let Some(harness) = super::Harness::aws(stringify!($case)).await {
                    super::$case(harness.clone()).await;
                    harness.cleanup().await;
                }
            })*
        }
    };
}

const TEST_VISIBILITY_TIMEOUT_S: u32 = 30;

#[derive(Clone)]
pub struct Harness {
    /// Billing's clock: the month-end run's evening (2026-12-31 23:30 UTC) unless a case
    /// moves it (billing runs and issue dates may not be after its day).
    pub clock: Arc<handoff_adapters_memory::ManualClock>,
    pub store: Arc<dyn Store>,
    pub table: String,
    prefix: String,
    aws: Option<aws_config::SdkConfig>,
}

/// True when the environment names an AWS endpoint (or a real account) to test against.
pub fn aws_configured() -> bool {
    [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "HANDOFF_CONTRACT_AWS",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

fn unique(case: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    // Queue names allow 80 characters; keep room for ".fifo" and a suffix.
    format!("contract-{}-{}", &case[..case.len().min(40)], &suffix[..8]).replace('_', "-")
}

impl Harness {
    pub fn memory(case: &str) -> Harness {
        let table = unique(case);
        Harness {
            store: Arc::new(MemoryStore::with_tables(&[&table])),
            prefix: table.clone(),
            table,
            aws: None,
            clock: billing_evening(),
        }
    }

    pub async fn aws(case: &str) -> Option<Harness> {
        if !aws_configured() {
            assert!(
                std::env::var_os("HANDOFF_REQUIRE_AWS_CONTRACT").is_none(),
                "HANDOFF_REQUIRE_AWS_CONTRACT is set but no AWS endpoint is configured \
                 (set AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS, or run infra/test.sh)"
            );
            eprintln!("skipping AWS contract case {case}: no AWS endpoint configured");
            return None;
        }
        let config = handoff_adapters_aws::load_config().await;
        let table = unique(case);
        let store = DynamoStore::from_config(&config);
        tables::create_table(store.client(), &table, true)
            .await
            .unwrap_or_else(|e| panic!("create table {table}: {e}"));
        tables::wait_until_active(store.client(), &table)
            .await
            .expect("the table becomes active");
        Some(Harness {
            store: Arc::new(store),
            prefix: table.clone(),
            table,
            aws: Some(config),
            clock: billing_evening(),
        })
    }

    /// Moves billing's clock to `rfc3339` (as the schedule's firing time would).
    pub fn set_time(&self, rfc3339: &str) {
        self.clock.set(
            chrono::DateTime::parse_from_rfc3339(rfc3339)
                .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
                .to_utc(),
        );
    }

    /// A fresh queue; a name ending in `.fifo` makes a FIFO queue.
    pub async fn queue(&self, name: &str) -> Arc<dyn Queue> {
        // Queue names allow 80 characters: the case's unique suffix is enough.
        let suffix = &self.prefix[self.prefix.len().saturating_sub(8)..];
        let name = format!("q-{suffix}-{name}");
        match &self.aws {
            None => Arc::new(MemoryQueue::new(
                &name,
                Duration::from_secs(TEST_VISIBILITY_TIMEOUT_S.into()),
            )),
            Some(config) => {
                let client = aws_sdk_sqs::Client::new(config);
                let url = tables::create_queue(&client, &name, TEST_VISIBILITY_TIMEOUT_S, None)
                    .await
                    .unwrap_or_else(|e| panic!("create queue {name}: {e}"));
                Arc::new(SqsQueue::new(client, url))
            }
        }
    }

    /// Deletes the case's table (best effort: a local endpoint is thrown away anyway).
    pub async fn cleanup(&self) {
        if let Some(config) = &self.aws {
            let client = aws_sdk_dynamodb::Client::new(config);
            let _ = client.delete_table().table_name(&self.table).send().await;
        }
    }
}

pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub fn n(value: &str) -> AttributeValue {
    AttributeValue::N(value.to_owned())
}

pub fn item(pk: &str, sk: &str, attributes: &[(&str, AttributeValue)]) -> Item {
    let mut item = handoff_ports::Key::new(pk, sk).to_item();
    for (name, value) in attributes {
        item.insert((*name).to_owned(), value.clone());
    }
    item
}

/// A seed file of `infra/seed/`.
pub fn seed(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../infra/seed/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The evening of December's month-end billing run, 2026-12-31 23:30 UTC.
pub fn billing_evening() -> Arc<handoff_adapters_memory::ManualClock> {
    use chrono::TimeZone;
    Arc::new(handoff_adapters_memory::ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 30, 0)
            .unwrap(),
    ))
}

/// The clock every end-to-end case starts from.
pub fn noon_2026_11_26() -> Arc<handoff_adapters_memory::ManualClock> {
    use chrono::TimeZone;
    Arc::new(handoff_adapters_memory::ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
            .unwrap(),
    ))
}

/// The closed-won converter on the case's store, emitting to an in-memory queue; the
/// idempotency records share the case's table (Lambda uses a table of their own).
pub fn converter(
    h: &Harness,
    clock: Arc<handoff_adapters_memory::ManualClock>,
) -> closed_won_converter::service::Converter {
    closed_won_converter::service::Converter {
        store: h.store.clone(),
        events: Arc::new(MemoryQueue::new("project-events", Duration::from_secs(30))),
        clock: clock.clone(),
        idempotency: handoff_runtime::Idempotency::new(
            h.store.clone(),
            clock,
            &h.table,
            "closed-won-converter",
            86_400,
        ),
        reference: Arc::new(closed_won_converter::reference::bundled().unwrap()),
        main_table: h.table.clone(),
    }
}

/// Converts a sample deal of `infra/seed/deals/`.
pub async fn convert_sample(h: &Harness, deal: &str) -> closed_won_converter::service::Outcome {
    let input: handoff_domain::deal::DealInput =
        serde_json::from_str(&seed(&format!("deals/{deal}.json"))).unwrap();
    converter(h, noon_2026_11_26())
        .convert(&input, None)
        .await
        .unwrap()
}

/// The billing service over `store` with the bundled rate cards and the seeded chart.
pub fn billing(store: Arc<dyn Store>, table: &str) -> timesheet_billing_trigger::service::Billing {
    timesheet_billing_trigger::service::Billing {
        store,
        rates: Arc::new(closed_won_converter::reference::bundled().unwrap().rates),
        chart: Arc::new(
            handoff_domain::ledger::ChartOfAccounts::from_json(&seed("chart_of_accounts.json"))
                .unwrap(),
        ),
        main_table: table.to_owned(),
    }
}
