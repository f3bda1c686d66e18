//! Lambda entry point of `POST /capacity/checks`.

use capacity_checker::http::handle;
use capacity_checker::service::Capacity;
use handoff_adapters_aws::DynamoStore;
use handoff_domain::capacity::ResourcePool;
use handoff_ports::SystemClock;
use handoff_runtime::{CommonConfig, EnvReader};
use std::sync::Arc;

const BUNDLED_RESOURCES: &str = include_str!("../../../infra/seed/resources.json");

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    handoff_runtime::telemetry::init();
    let aws = handoff_adapters_aws::load_config().await;
    let mut env = EnvReader::from_process();
    let common = CommonConfig::read(&mut env);
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
    lambda_http::run(lambda_http::service_fn(|request| {
        let capacity = &capacity;
        async move { Ok::<_, std::convert::Infallible>(handle(capacity, request).await) }
    }))
    .await
}
