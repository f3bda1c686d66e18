//! Lambda entry point: read configuration, build adapters once, serve the handler.

use closed_won_converter::config::{CrmConfig, WebhookConfig};
use closed_won_converter::http::{handle, App};
use closed_won_converter::reference;
use closed_won_converter::service::Converter;
use handoff_adapters_aws::{crm, secrets, DynamoStore, SqsQueue};
use handoff_ports::{Clock, CrmClient, SystemClock};
use handoff_runtime::{CommonConfig, EnvReader, Idempotency};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    handoff_runtime::telemetry::init();
    let aws = handoff_adapters_aws::load_config().await;
    let mut env = EnvReader::from_process();
    if let Some(arn) = env.optional("WEBHOOK_SECRETS_ARN") {
        for (name, value) in secrets::webhook_env(&aws, &arn).await? {
            env.set(&name, value);
        }
    }
    let common = CommonConfig::read(&mut env);
    let webhooks = WebhookConfig::read(&mut env);
    let crm_config = CrmConfig::read(&mut env);
    let events_url = env.required("PROJECT_EVENTS_QUEUE_URL");
    env.finish()?;

    let store = Arc::new(DynamoStore::from_config(&aws));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let converter = Converter {
        store: store.clone(),
        events: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&aws), events_url)),
        clock: clock.clone(),
        idempotency: Idempotency::new(
            store,
            clock.clone(),
            &common.idempotency_table,
            "closed-won-converter",
            common.idempotency_ttl_s,
        ),
        reference: Arc::new(reference::bundled()?),
        main_table: common.main_table,
    };
    let hubspot = crm_config.hubspot_access_token.as_ref().map(|token| {
        let client = crm::HubSpotClient::new(
            &crm_config.hubspot_api_base_url,
            token.expose(),
            crm::RetryPolicy::default(),
            &crm_config.hubspot_sku_property,
        );
        Arc::new(client) as Arc<dyn CrmClient>
    });
    let pipedrive = crm_config.pipedrive_api_token.as_ref().map(|token| {
        let client = crm::PipedriveClient::new(
            &crm_config.pipedrive_api_base_url,
            token.expose(),
            crm::RetryPolicy::default(),
        );
        Arc::new(client) as Arc<dyn CrmClient>
    });
    let app = App {
        converter,
        webhooks: Arc::new(webhooks),
        hubspot,
        pipedrive,
        clock,
    };
    lambda_http::run(lambda_http::service_fn(|request| {
        let app = &app;
        async move { Ok::<_, std::convert::Infallible>(handle(app, request).await) }
    }))
    .await
}
