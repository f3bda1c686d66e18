//! What both Lambda binaries build at cold start, once.

use crate::service::Capacity;
use handoff_adapters_aws::DynamoStore;
use handoff_domain::capacity::ResourcePool;
use handoff_ports::SystemClock;
use handoff_runtime::{CommonConfig, EnvReader};
use std::sync::Arc;

const BUNDLED_RESOURCES: &str = include_str!("../../../infra/seed/resources.json");

/// The service on DynamoDB with the bundled catalog, rate cards and people; `extra` reads
/// a binary's own variables before the configuration is checked as a whole.
pub async fn aws_capacity<T>(
    extra: impl FnOnce(&mut EnvReader) -> T,
) -> Result<(Capacity, T, aws_config::SdkConfig), Box<dyn std::error::Error + Send + Sync>> {
    let aws = handoff_adapters_aws::load_config().await;
    let mut env = EnvReader::from_process();
    let common = CommonConfig::read(&mut env);
    let own = extra(&mut env);
    env.finish()?;
    let reference = closed_won_converter::reference::bundled()?;
    let pool = ResourcePool::from_json(BUNDLED_RESOURCES, &reference.catalog)?;
    let capacity = Capacity {
        store: Arc::new(DynamoStore::from_config(&aws)),
        clock: Arc::new(SystemClock),
        reference: Arc::new(reference),
        pool: Arc::new(pool),
        main_table: common.main_table,
    };
    Ok((capacity, own, aws))
}
