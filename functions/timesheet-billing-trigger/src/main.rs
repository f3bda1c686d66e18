//! Lambda entry point of the delivery intake routes.

use std::sync::Arc;
use timesheet_billing_trigger::intake::{handle, Intake};
use timesheet_billing_trigger::wiring::{queue, wire};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    handoff_runtime::telemetry::init();
    let (wired, url) = wire(|env| env.required("DELIVERY_SIGNALS_QUEUE_URL")).await?;
    let intake = Intake {
        store: wired.store.clone(),
        signals: Arc::new(queue(&wired, url)),
        main_table: wired.main_table.clone(),
    };
    lambda_http::run(lambda_http::service_fn(|request| {
        let intake = &intake;
        async move { Ok::<_, std::convert::Infallible>(handle(intake, request).await) }
    }))
    .await
}
