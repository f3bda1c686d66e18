//! Lambda entry point of the `delivery-signals.fifo` consumer (partial batch failures).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use timesheet_billing_trigger::wiring::{billing, queue, wire};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handoff_runtime::telemetry::init();
    let (wired, dlq_url) = wire(|env| env.required("DELIVERY_SIGNALS_DLQ_URL")).await?;
    let billing = billing(&wired)?;
    let dead_letter = queue(&wired, dlq_url);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (billing, dead_letter) = (&billing, &dead_letter);
        async move {
            timesheet_billing_trigger::consumer::handle(billing, dead_letter, event.payload).await
        }
    }))
    .await
}
