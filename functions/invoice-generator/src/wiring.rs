//! What the Lambda binaries build at cold start, once: the stores, the queues, and the
//! reference data bundled from `infra/seed/` (tax rates, chart of accounts).

use crate::job::Invoicing;
use crate::relay::Relay;
use crate::runs::BillingRuns;
use handoff_adapters_aws::{DynamoStore, SqsQueue};
use handoff_domain::invoice::TaxTable;
use handoff_domain::ledger::ChartOfAccounts;
use handoff_runtime::{CommonConfig, EnvReader};
use std::sync::Arc;

const BUNDLED_CHART: &str = include_str!("../../../infra/seed/chart_of_accounts.json");
const BUNDLED_TAX_RATES: &str = include_str!("../../../infra/seed/tax_rates.json");
const BUNDLED_CATALOG: &str = include_str!("../../../infra/seed/catalog.json");
const BUNDLED_RATE_CARDS: &str = include_str!("../../../infra/seed/rate_cards.json");

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything both binaries use.
pub struct Wired {
    pub runs: BillingRuns,
    /// `invoice-jobs.fifo`'s DLQ (the consumer parks poison jobs there).
    pub jobs_dead_letter: SqsQueue,
}

/// Reads the configuration (every missing variable named at once) and builds the services.
pub async fn wire() -> Result<Wired, BoxError> {
    let aws = handoff_adapters_aws::load_config().await;
    let mut env = EnvReader::from_process();
    let common = CommonConfig::read(&mut env);
    let jobs_url = env.required("INVOICE_JOBS_QUEUE_URL");
    let jobs_dlq_url = env.required("INVOICE_JOBS_DLQ_URL");
    let outbox_url = env.required("ACCOUNTING_OUTBOX_QUEUE_URL");
    let prefix = env
        .optional("INVOICE_SERIES_PREFIX")
        .unwrap_or_else(|| "INV".into());
    let time_zone = env.parsed_or("BILLING_TIME_ZONE", chrono_tz::Tz::UTC);
    env.finish()?;
    let store = Arc::new(DynamoStore::from_config(&aws));
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let invoicing = Invoicing {
        store: store.clone(),
        tax: Arc::new(TaxTable::from_json(BUNDLED_TAX_RATES)?),
        chart: Arc::new(ChartOfAccounts::from_json(BUNDLED_CHART)?),
        main_table: common.main_table.clone(),
        series_prefix: prefix,
        rates: Some(Arc::new(handoff_domain::rates::RateBook::from_json(
            BUNDLED_RATE_CARDS,
            &handoff_domain::catalog::Catalog::from_json(BUNDLED_CATALOG)?,
        )?)),
    };
    let relay = Relay {
        store,
        main_table: common.main_table,
        queue: Arc::new(SqsQueue::new(sqs.clone(), outbox_url)),
    };
    Ok(Wired {
        runs: BillingRuns {
            invoicing,
            jobs: Arc::new(SqsQueue::new(sqs.clone(), jobs_url)),
            relay: Some(relay),
            time_zone,
            clock: Arc::new(handoff_ports::SystemClock),
        },
        jobs_dead_letter: SqsQueue::new(sqs, jobs_dlq_url),
    })
}
