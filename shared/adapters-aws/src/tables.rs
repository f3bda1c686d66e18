//! Creates handoff's tables and queues on an endpoint (DynamoDB Local, moto, LocalStack):
//! the shapes `template.yaml` declares, for tests and `handoff serve --aws-endpoint`.

use crate::errors::store_error;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use handoff_ports::{Index, StoreError, PARTITION_KEY, SORT_KEY};

fn key(attribute: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(attribute)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn string_attribute(attribute: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(attribute)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Creates a PK/SK table, with the main table's sparse indexes when `with_indexes`.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    with_indexes: bool,
) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .attribute_definitions(string_attribute(PARTITION_KEY)?)
        .attribute_definitions(string_attribute(SORT_KEY)?);
    if with_indexes {
        for index in Index::ALL {
            request = request
                .attribute_definitions(string_attribute(index.partition_attribute())?)
                .attribute_definitions(string_attribute(index.sort_attribute())?)
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(index.name())
                        .key_schema(key(index.partition_attribute(), KeyType::Hash)?)
                        .key_schema(key(index.sort_attribute(), KeyType::Range)?)
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                );
        }
    }
    request
        .send()
        .await
        .map_err(|err| store_error("create table", err))?;
    Ok(())
}

/// Polls of [`wait_until_active`], 500 ms apart.
pub const TABLE_ACTIVE_POLLS_MAX: u32 = 120;

/// Waits until a table just created is `ACTIVE` (DynamoDB creates tables asynchronously).
pub async fn wait_until_active(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), StoreError> {
    for _ in 0..TABLE_ACTIVE_POLLS_MAX {
        let status = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .ok()
            .and_then(|d| d.table)
            .and_then(|t| t.table_status);
        if status == Some(aws_sdk_dynamodb::types::TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(StoreError::Transient(format!(
        "table {name} did not become active"
    )))
}

/// Creates a queue (FIFO when the name ends in `.fifo`), optionally with a dead-letter
/// queue after `max_receive_count` receives; returns its URL.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout_s: u32,
    dead_letter: Option<(&str, u32)>,
) -> Result<String, handoff_ports::QueueError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut request = client
        .create_queue()
        .queue_name(name)
        .attributes(A::VisibilityTimeout, visibility_timeout_s.to_string());
    if name.ends_with(".fifo") {
        request = request
            .attributes(A::FifoQueue, "true")
            .attributes(A::ContentBasedDeduplication, "false");
    }
    if let Some((dlq_arn, max_receive_count)) = dead_letter {
        let policy = format!(
            r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receive_count}"}}"#
        );
        request = request.attributes(A::RedrivePolicy, policy);
    }
    let output = request
        .send()
        .await
        .map_err(|err| crate::errors::queue_error("create queue", err))?;
    output
        .queue_url
        .ok_or_else(|| handoff_ports::QueueError::Invalid("create queue returned no URL".into()))
}

/// The ARN of a queue (needed for redrive policies).
pub async fn queue_arn(
    client: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<String, handoff_ports::QueueError> {
    let output = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|err| crate::errors::queue_error("get queue attributes", err))?;
    output
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .ok_or_else(|| handoff_ports::QueueError::Invalid("queue has no ARN".into()))
}
