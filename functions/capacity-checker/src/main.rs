//! Lambda entry point of `POST /capacity/checks`.

use capacity_checker::http::handle;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    handoff_runtime::telemetry::init();
    let (capacity, (), _) = capacity_checker::wiring::aws_capacity(|_| ()).await?;
    lambda_http::run(lambda_http::service_fn(|request| {
        let capacity = &capacity;
        async move { Ok::<_, std::convert::Infallible>(handle(capacity, request).await) }
    }))
    .await
}
