//! Lambda entry point of the invoice generator: the daily schedule (plans a billing run)
//! and the `invoice-jobs.fifo` consumer (one invoice per contract, partial batch failures).

use invoice_generator::consumer::handle;
use invoice_generator::wiring::wire;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handoff_runtime::telemetry::init();
    let wired = wire().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let wired = &wired;
        async move {
            handle(&wired.runs, &wired.jobs_dead_letter, event.payload)
                .await
                .map_err(|e| handoff_runtime::error::diagnostic(&e))
        }
    }))
    .await
}
