//! Lambda entry point of the `project-events` consumer (SQS, partial batch failures).

use capacity_checker::service::Capacity;
use handoff_adapters_aws::{DynamoStore, SqsQueue};
use handoff_domain::capacity::ResourcePool;
use handoff_ports::SystemClock;
use handoff_runtime::{CommonConfig, EnvReader};
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

const BUNDLED_RESOURCES: &str = include_str!("../../../../infra/seed/resources.json");

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handoff_runtime::telemetry::init();
    let aws = handoff_adapters_aws::load_config().await;
    let mut env = EnvReader::from_process();
    let common = CommonConfig::read(&mut env);
    let dlq_url = env.required("PROJECT_EVENTS_DLQ_URL");
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
    let dead_letter = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), dlq_url);
    lambda_runtime::run(service_fn(|event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
        let (capacity, dead_letter) = (&capacity, &dead_letter);
        async move { capacity_checker::consumer::handle(capacity, dead_letter, event.payload).await }
    }))
    .await
}
