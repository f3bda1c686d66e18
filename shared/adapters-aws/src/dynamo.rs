//! The DynamoDB store.

use crate::counting::{RequestCounter, RequestCounts, DYNAMODB};
use crate::errors::{describe, store_error};
use crate::expression::Expressions;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue as SdkValue, CancellationReason as SdkReason, ConditionCheck, ConsumedCapacity,
    Delete, DeleteRequest, Put, PutRequest, ReturnConsumedCapacity, ReturnValue, TransactWriteItem,
    Update as SdkUpdate, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use handoff_ports::store::{validate_batch_chunk, validate_transaction};
use handoff_ports::{
    BatchWrite, CancellationReason, Condition, Cursor, Item, Key, Page, Query, Store, StoreError,
    Update, WriteOp, BATCH_WRITE_ITEMS_MAX,
};
use rand::Rng;
use std::collections::HashMap;
use std::time::Duration;

/// Attempts of one batch chunk before unprocessed items become an error.
pub const BATCH_WRITE_ATTEMPTS_MAX: u32 = 8;
/// First backoff between batch attempts; doubles each time, with full jitter.
pub const BATCH_BACKOFF_BASE_MS: u64 = 50;
/// Longest backoff between batch attempts.
pub const BATCH_BACKOFF_MAX_MS: u64 = 2_000;

type SdkItem = HashMap<String, SdkValue>;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    counter: RequestCounter,
}

impl DynamoStore {
    /// A store counting its requests in a counter of its own (see [`DynamoStore::requests`]).
    pub fn new(client: Client) -> Self {
        DynamoStore::with_counter(client, RequestCounter::new())
    }

    /// A store counting every request it sends (each attempt, page and retry) in
    /// `counter`, which other adapters may share.
    pub fn with_counter(client: Client, counter: RequestCounter) -> Self {
        let config = client
            .config()
            .to_builder()
            .interceptor(counter.interceptor(DYNAMODB))
            .build();
        DynamoStore {
            client: Client::from_conf(config),
            counter,
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        DynamoStore::new(Client::new(config))
    }

    /// The client, counting its requests too (table creation in tests and benches).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The requests sent so far, by operation (service [`DYNAMODB`]; all services when
    /// the counter is shared).
    pub fn requests(&self) -> RequestCounts {
        self.counter.snapshot()
    }

    pub fn counter(&self) -> &RequestCounter {
        &self.counter
    }

    /// Records the capacity DynamoDB reports for a request (every request asks for it).
    fn consumed<'a>(
        &self,
        operation: &str,
        capacity: impl IntoIterator<Item = &'a ConsumedCapacity>,
    ) {
        let units = capacity.into_iter().filter_map(|c| c.capacity_units).sum();
        self.counter.record_capacity(DYNAMODB, operation, units);
    }
}

fn sdk_item(item: Item) -> SdkItem {
    item.into()
}

fn port_item(item: SdkItem) -> Item {
    Item::from(item)
}

fn key_item(key: &Key) -> SdkItem {
    sdk_item(key.to_item())
}

fn build_error(context: &str, err: impl std::error::Error) -> StoreError {
    StoreError::Invalid(format!("{context}: {}", describe(&err)))
}

fn reason(sdk: &SdkReason) -> CancellationReason {
    match sdk.code() {
        None | Some("None") => CancellationReason::None,
        Some("ConditionalCheckFailed") => CancellationReason::ConditionalCheckFailed,
        Some("TransactionConflict") => CancellationReason::TransactionConflict,
        Some(other) => CancellationReason::Other(other.to_owned()),
    }
}

/// One transaction write in the SDK's shape, with its own placeholders.
fn transact_item(op: WriteOp) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expressions::default();
    let item = match op {
        WriteOp::Put {
            table,
            item,
            condition,
        } => {
            let condition = condition.map(|c| e.condition(&c));
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(sdk_item(item)))
                .set_condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(|err| build_error("transaction put", err))?;
            TransactWriteItem::builder().put(put)
        }
        WriteOp::Update {
            table,
            key,
            updates,
            condition,
        } => {
            let update_expression = e.update(&updates);
            let condition = condition.map(|c| e.condition(&c));
            let update = SdkUpdate::builder()
                .table_name(table)
                .set_key(Some(key_item(&key)))
                .update_expression(update_expression)
                .set_condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(|err| build_error("transaction update", err))?;
            TransactWriteItem::builder().update(update)
        }
        WriteOp::Delete {
            table,
            key,
            condition,
        } => {
            let condition = condition.map(|c| e.condition(&c));
            let delete = Delete::builder()
                .table_name(table)
                .set_key(Some(key_item(&key)))
                .set_condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(|err| build_error("transaction delete", err))?;
            TransactWriteItem::builder().delete(delete)
        }
        WriteOp::Check {
            table,
            key,
            condition,
        } => {
            let condition = e.condition(&condition);
            let check = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key_item(&key)))
                .condition_expression(condition)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(|err| build_error("transaction condition check", err))?;
            TransactWriteItem::builder().condition_check(check)
        }
    };
    Ok(item.build())
}

fn batch_request(write: BatchWrite) -> Result<WriteRequest, StoreError> {
    Ok(match write {
        BatchWrite::Put(item) => WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .set_item(Some(sdk_item(item)))
                    .build()
                    .map_err(|err| build_error("batch put", err))?,
            )
            .build(),
        BatchWrite::Delete(key) => WriteRequest::builder()
            .delete_request(
                DeleteRequest::builder()
                    .set_key(Some(key_item(&key)))
                    .build()
                    .map_err(|err| build_error("batch delete", err))?,
            )
            .build(),
    })
}

fn backoff(attempt: u32) -> Duration {
    let ceiling = BATCH_BACKOFF_BASE_MS
        .saturating_mul(1 << attempt.min(16))
        .min(BATCH_BACKOFF_MAX_MS);
    Duration::from_millis(rand::rng().random_range(0..=ceiling))
}

impl DynamoStore {
    /// Writes one chunk, retrying what DynamoDB leaves unprocessed (throttling).
    async fn write_chunk(
        &self,
        table: &str,
        mut requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        for attempt in 0..BATCH_WRITE_ATTEMPTS_MAX {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            self.counter
                .record_items(DYNAMODB, "BatchWriteItem", requests.len());
            let output = self
                .client
                .batch_write_item()
                .request_items(table, requests)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|err| store_error("batch write", err))?;
            self.consumed("BatchWriteItem", output.consumed_capacity());
            requests = output
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Transient(format!(
            "batch write: {} items still unprocessed after {BATCH_WRITE_ATTEMPTS_MAX} attempts",
            requests.len()
        )))
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key_item(key)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| store_error("get item", err))?;
        self.consumed("GetItem", output.consumed_capacity());
        Ok(output.item.map(port_item))
    }

    async fn put(
        &self,
        table: &str,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        Key::of(&item)?;
        let mut e = Expressions::default();
        let condition = condition.map(|c| e.condition(&c));
        let output = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(sdk_item(item)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| store_error("put item", err))?;
        self.consumed("PutItem", output.consumed_capacity());
        Ok(())
    }

    async fn update(
        &self,
        table: &str,
        key: &Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        let mut e = Expressions::default();
        let update_expression = e.update(&updates);
        let condition = condition.map(|c| e.condition(&c));
        let output = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(key_item(key)))
            .update_expression(update_expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| store_error("update item", err))?;
        self.consumed("UpdateItem", output.consumed_capacity());
        Ok(port_item(output.attributes.unwrap_or_default()))
    }

    async fn delete(
        &self,
        table: &str,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        let mut e = Expressions::default();
        let condition = condition.map(|c| e.condition(&c));
        let output = self
            .client
            .delete_item()
            .table_name(table)
            .set_key(Some(key_item(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| store_error("delete item", err))?;
        self.consumed("DeleteItem", output.consumed_capacity());
        Ok(())
    }

    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let items = ops
            .into_iter()
            .map(transact_item)
            .collect::<Result<Vec<_>, _>>()?;
        self.counter
            .record_items(DYNAMODB, "TransactWriteItems", items.len());
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.consumed("TransactWriteItems", output.consumed_capacity());
                Ok(())
            }
            Err(err) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
                    let reasons = cancelled.cancellation_reasons().iter().map(reason).collect();
                    return Err(StoreError::TransactionCanceled { reasons });
                }
                Err(store_error("transact write", err))
            }
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        query.validate()?;
        let mut e = Expressions::default();
        let (pk_attribute, sk_attribute) = match query.index {
            Some(index) => (index.partition_attribute(), index.sort_attribute()),
            None => (handoff_ports::PARTITION_KEY, handoff_ports::SORT_KEY),
        };
        let mut key_condition = format!(
            "{} = {}",
            e.name(pk_attribute),
            e.value(handoff_ports::AttributeValue::S(query.partition.clone()))
        );
        if let Some(prefix) = &query.sort_prefix {
            let (name, value) = (
                e.name(sk_attribute),
                e.value(handoff_ports::AttributeValue::S(prefix.clone())),
            );
            key_condition.push_str(&format!(" AND begins_with({name}, {value})"));
        }
        let limit = i32::try_from(query.limit)
            .map_err(|_| StoreError::Invalid("query limit too large".into()))?;
        let output = self
            .client
            .query()
            .table_name(&query.table)
            .set_index_name(query.index.map(|i| i.name().to_owned()))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .limit(limit)
            .scan_index_forward(query.ascending)
            // Secondary indexes are eventually consistent and refuse consistent reads.
            .consistent_read(query.index.is_none())
            .set_exclusive_start_key(query.start_after.clone().map(|c| sdk_item(c.0)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| store_error("query", err))?;
        self.consumed("Query", output.consumed_capacity());
        Ok(Page {
            items: output
                .items
                .unwrap_or_default()
                .into_iter()
                .map(port_item)
                .collect(),
            next: output.last_evaluated_key.map(|k| Cursor(port_item(k))),
        })
    }

    async fn batch_write(&self, table: &str, writes: Vec<BatchWrite>) -> Result<(), StoreError> {
        for chunk in writes.chunks(BATCH_WRITE_ITEMS_MAX) {
            validate_batch_chunk(chunk)?;
            let requests = chunk
                .iter()
                .cloned()
                .map(batch_request)
                .collect::<Result<Vec<_>, _>>()?;
            self.write_chunk(table, requests).await?;
        }
        Ok(())
    }
}
