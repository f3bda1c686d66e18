//! AWS adapters of the ports: DynamoDB for storage, SQS for queues, and the CRM HTTP
//! clients (HubSpot, Pipedrive) behind the CRM port.
//!
//! They only translate: port calls become SDK requests, SDK errors become port errors that
//! say whether a retry can help. Endpoints come from the standard AWS configuration, so
//! `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` (or `AWS_ENDPOINT_URL`) point them
//! at DynamoDB Local, moto or LocalStack without code changes.

pub mod counting;
pub mod crm;
mod dynamo;
mod errors;
mod expression;
pub mod secrets;
mod sqs;
pub mod tables;

pub use counting::{RequestCounter, RequestCounts};
pub use crm::{HubSpotClient, PipedriveClient, RetryPolicy};
pub use dynamo::DynamoStore;
pub use sqs::SqsQueue;

/// Loads the AWS configuration once (region, credentials, endpoints from the environment).
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
