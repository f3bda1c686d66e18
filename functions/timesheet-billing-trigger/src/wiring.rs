//! What both Lambda binaries build at cold start, once.

use handoff_adapters_aws::{DynamoStore, SqsQueue};
use handoff_runtime::{CommonConfig, EnvReader};
use std::sync::Arc;

const BUNDLED_CHART: &str = include_str!("../../../infra/seed/chart_of_accounts.json");

pub struct Wired {
    pub store: Arc<DynamoStore>,
    pub main_table: String,
    pub aws: aws_config::SdkConfig,
}

/// Reads the common configuration and `extra` (a binary's own variables) together, so
/// every missing variable is named at once.
pub async fn wire<T>(
    extra: impl FnOnce(&mut EnvReader) -> T,
) -> Result<(Wired, T), Box<dyn std::error::Error + Send + Sync>> {
    let aws = handoff_adapters_aws::load_config().await;
    let mut env = EnvReader::from_process();
    let common = CommonConfig::read(&mut env);
    let own = extra(&mut env);
    env.finish()?;
    Ok((
        Wired {
            store: Arc::new(DynamoStore::from_config(&aws)),
            main_table: common.main_table,
            aws,
        },
        own,
    ))
}

pub fn queue(wired: &Wired, url: String) -> SqsQueue {
    SqsQueue::new(aws_sdk_sqs::Client::new(&wired.aws), url)
}

pub fn billing(
    wired: &Wired,
) -> Result<crate::service::Billing, Box<dyn std::error::Error + Send + Sync>> {
    let reference = closed_won_converter::reference::bundled()?;
    Ok(crate::service::Billing {
        store: wired.store.clone(),
        rates: Arc::new(reference.rates),
        chart: Arc::new(handoff_domain::ledger::ChartOfAccounts::from_json(
            BUNDLED_CHART,
        )?),
        main_table: wired.main_table.clone(),
    })
}
