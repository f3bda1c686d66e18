//! Lambda entry point of the `project-events` consumer (SQS, partial batch failures).

use aws_lambda_events::event::sqs::SqsEvent;
use handoff_adapters_aws::SqsQueue;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handoff_runtime::telemetry::init();
    let (capacity, dlq_url, aws) =
        capacity_checker::wiring::aws_capacity(|env| env.required("PROJECT_EVENTS_DLQ_URL"))
            .await?;
    let dead_letter = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), dlq_url);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (capacity, dead_letter) = (&capacity, &dead_letter);
        async move { capacity_checker::consumer::handle(capacity, dead_letter, event.payload).await }
    }))
    .await
}
