//! Lambda entry point of finance's billing routes (`/billing-runs`, `/invoices`,
//! `/ledger/journal`).

use invoice_generator::http::{handle, FinanceApi};
use invoice_generator::wiring::wire;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    handoff_runtime::telemetry::init();
    let wired = wire().await?;
    let api = FinanceApi {
        relay: wired.runs.relay.clone(),
        runs: wired.runs,
    };
    lambda_http::run(lambda_http::service_fn(|request| {
        let api = &api;
        async move { Ok::<_, std::convert::Infallible>(handle(api, request).await) }
    }))
    .await
}
