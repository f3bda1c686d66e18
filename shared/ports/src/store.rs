//! The storage port: a DynamoDB-shaped key-value store, narrow enough that the memory
//! adapter can honour every promise the DynamoDB adapter makes.
//!
//! Items are `serde_dynamo` items (typed attribute maps), so domain records serialise to
//! items with `serde_dynamo::to_item` and both adapters see exactly the same data. Every
//! table has a string partition key `PK` and sort key `SK`; the main table has the sparse
//! secondary indexes of [`Index`].

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{de::DeserializeOwned, Serialize};

pub use serde_dynamo::{AttributeValue, Item};

pub const PARTITION_KEY: &str = "PK";
pub const SORT_KEY: &str = "SK";
/// DynamoDB `TransactWriteItems` takes at most 100 actions.
pub const TRANSACT_ITEMS_MAX: usize = 100;
/// DynamoDB `BatchWriteItem` takes at most 25 requests.
pub const BATCH_WRITE_ITEMS_MAX: usize = 25;
/// Largest page a query may ask for (DynamoDB also caps a page at 1 MB).
pub const QUERY_LIMIT_MAX: usize = 1000;

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub partition: String,
    pub sort: String,
}

impl Key {
    pub fn new(partition: impl Into<String>, sort: impl Into<String>) -> Self {
        Key {
            partition: partition.into(),
            sort: sort.into(),
        }
    }

    /// Reads the key attributes of an item.
    pub fn of(item: &Item) -> Result<Key, StoreError> {
        match (item.get(PARTITION_KEY), item.get(SORT_KEY)) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk)))
                if !pk.is_empty() && !sk.is_empty() =>
            {
                Ok(Key::new(pk.clone(), sk.clone()))
            }
            _ => Err(StoreError::Invalid(format!(
                "an item needs non-empty string attributes {PARTITION_KEY} and {SORT_KEY}"
            ))),
        }
    }

    /// The key as an item with only the key attributes.
    pub fn to_item(&self) -> Item {
        let mut item = Item::default();
        item.insert(
            PARTITION_KEY.into(),
            AttributeValue::S(self.partition.clone()),
        );
        item.insert(SORT_KEY.into(), AttributeValue::S(self.sort.clone()));
        item
    }
}

/// The main table's sparse global secondary indexes: an item is in an index only when it
/// has that index's partition-key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// Work queues by owner, e.g. unbilled items by contract.
    Gsi1,
    /// Lookups by another system's id (crosswalk); an invoice's claimed items.
    Gsi2,
    /// The ledger by month (journal entries of every project, in date order).
    Gsi3,
}

impl Index {
    pub const ALL: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];
}

impl Index {
    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1",
            Index::Gsi2 => "GSI2",
            Index::Gsi3 => "GSI3",
        }
    }
    pub fn partition_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1PK",
            Index::Gsi2 => "GSI2PK",
            Index::Gsi3 => "GSI3PK",
        }
    }
    pub fn sort_attribute(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1SK",
            Index::Gsi2 => "GSI2SK",
            Index::Gsi3 => "GSI3SK",
        }
    }
}

/// A condition on the current state of one item, evaluated atomically with its write.
/// Comparisons follow DynamoDB: numbers compare as numbers, strings by bytes, and a
/// comparison between different types (or with a missing attribute) is false.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists.
    Exists,
    /// No item with this key exists.
    NotExists,
    AttributeExists(String),
    AttributeNotExists(String),
    Equals(String, AttributeValue),
    LessThan(String, AttributeValue),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    pub fn equals(name: &str, value: AttributeValue) -> Self {
        Condition::Equals(name.into(), value)
    }
    pub fn less_than(name: &str, value: AttributeValue) -> Self {
        Condition::LessThan(name.into(), value)
    }
    /// Optimistic concurrency: the stored `version` is still the one read.
    pub fn version_is(version: u64) -> Self {
        Condition::Equals("version".into(), AttributeValue::N(version.to_string()))
    }
}

/// One change of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Set(String, AttributeValue),
    /// Adds to a number attribute (a missing attribute counts as 0): atomic counters.
    Add(String, Decimal),
    Remove(String),
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Put {
        table: String,
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        table: String,
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    },
    Delete {
        table: String,
        key: Key,
        condition: Option<Condition>,
    },
    /// Writes nothing; cancels the transaction unless the condition holds.
    Check {
        table: String,
        key: Key,
        condition: Condition,
    },
}

impl WriteOp {
    pub fn table(&self) -> &str {
        match self {
            WriteOp::Put { table, .. }
            | WriteOp::Update { table, .. }
            | WriteOp::Delete { table, .. }
            | WriteOp::Check { table, .. } => table,
        }
    }
}

/// One request of a batch write (no conditions: DynamoDB batches take none).
#[derive(Debug, Clone, PartialEq)]
pub enum BatchWrite {
    Put(Item),
    Delete(Key),
}

/// DynamoDB's cancellation reason codes that a retry can clear (capacity, throttling).
pub const TRANSIENT_CANCELLATION_CODES: [&str; 3] = [
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// Why one write of a cancelled transaction failed, in the order the writes were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancellationReason {
    /// This write was fine; another one cancelled the transaction.
    None,
    ConditionalCheckFailed,
    /// Another transaction touched the item (retryable).
    TransactionConflict,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("the write's condition did not hold")]
    ConditionFailed,
    #[error("transaction cancelled: {}", describe_reasons(.reasons))]
    TransactionCanceled { reasons: Vec<CancellationReason> },
    /// The request can never succeed as sent: a bad key, an unknown table, a transaction
    /// that touches one item twice or exceeds [`TRANSACT_ITEMS_MAX`].
    #[error("storage request rejected: {0}")]
    Invalid(String),
    /// Throttling, a network fault, a 5xx, unprocessed batch items after every retry.
    #[error("storage temporarily unavailable: {0}")]
    Transient(String),
    /// A stored item does not have the shape the caller expects.
    #[error("stored item could not be decoded: {0}")]
    Decode(String),
}

fn describe_reasons(reasons: &[CancellationReason]) -> String {
    let failed: Vec<String> = reasons
        .iter()
        .enumerate()
        .filter(|(_, r)| **r != CancellationReason::None)
        .map(|(i, r)| format!("write {i}: {r:?}"))
        .collect();
    failed.join(", ")
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Transient(_) => true,
            // A conflict with another transaction, or capacity a moment later, clears by
            // itself; a failed condition or a validation problem does not.
            StoreError::TransactionCanceled { reasons } => reasons.iter().any(|r| match r {
                CancellationReason::TransactionConflict => true,
                CancellationReason::Other(code) => {
                    TRANSIENT_CANCELLATION_CODES.contains(&code.as_str())
                }
                _ => false,
            }),
            _ => false,
        }
    }

    /// For a cancelled transaction, the indexes of the writes whose condition failed.
    pub fn failed_conditions(&self) -> Vec<usize> {
        match self {
            StoreError::TransactionCanceled { reasons } => reasons
                .iter()
                .enumerate()
                .filter(|(_, r)| **r == CancellationReason::ConditionalCheckFailed)
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Where to continue a query: the last evaluated key of the previous page. Opaque to
/// callers; pass it back unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor(pub Item);

/// A query of one partition, of the table or of a secondary index.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub table: String,
    pub index: Option<Index>,
    pub partition: String,
    /// Only sort keys that start with this (`begins_with`).
    pub sort_prefix: Option<String>,
    /// Items per page, 1..=[`QUERY_LIMIT_MAX`].
    pub limit: usize,
    pub start_after: Option<Cursor>,
    pub ascending: bool,
}

impl Query {
    pub fn partition(table: &str, partition: impl Into<String>) -> Self {
        Query {
            table: table.into(),
            index: None,
            partition: partition.into(),
            sort_prefix: None,
            limit: 100,
            start_after: None,
            ascending: true,
        }
    }
    pub fn on_index(mut self, index: Index) -> Self {
        self.index = Some(index);
        self
    }
    pub fn sort_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sort_prefix = Some(prefix.into());
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn descending(mut self) -> Self {
        self.ascending = false;
        self
    }
    pub fn start_after(mut self, cursor: Option<Cursor>) -> Self {
        self.start_after = cursor;
        self
    }

    pub fn validate(&self) -> Result<(), StoreError> {
        if self.limit == 0 || self.limit > QUERY_LIMIT_MAX {
            return Err(StoreError::Invalid(format!(
                "query limit {} outside 1..={QUERY_LIMIT_MAX}",
                self.limit
            )));
        }
        if self.partition.is_empty() {
            return Err(StoreError::Invalid("query partition is empty".into()));
        }
        Ok(())
    }
}

/// One page of a query. `next` is `Some` when more items may follow (DynamoDB may also
/// return a cursor when the page happened to end exactly at the last item).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// A strongly consistent read.
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError>;

    async fn put(
        &self,
        table: &str,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), StoreError>;

    /// Applies `updates` (creating the item if absent, as DynamoDB does, unless the
    /// condition forbids it) and returns the item as it is afterwards.
    async fn update(
        &self,
        table: &str,
        key: &Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError>;

    async fn delete(
        &self,
        table: &str,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<(), StoreError>;

    /// All writes or none; at most [`TRANSACT_ITEMS_MAX`], each item at most once. On a
    /// failed condition the error lists a reason per write, in order.
    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    async fn query(&self, query: &Query) -> Result<Page, StoreError>;

    /// Unconditional writes in chunks of [`BATCH_WRITE_ITEMS_MAX`], retrying unprocessed
    /// items with backoff; not atomic across items.
    async fn batch_write(&self, table: &str, writes: Vec<BatchWrite>) -> Result<(), StoreError>;
}

/// Serialises a record into an item.
/// A string attribute of an item, if it has one by that name.
pub fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Invalid(format!("not an item: {e}")))
}

/// Deserialises an item into a record.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Decode(e.to_string()))
}

/// Checks what DynamoDB would reject in a transaction before sending it, so both adapters
/// fail the same way and the memory adapter cannot accept what AWS would not.
pub fn validate_transaction(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > TRANSACT_ITEMS_MAX {
        return Err(StoreError::Invalid(format!(
            "a transaction takes 1..={TRANSACT_ITEMS_MAX} writes, got {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        let key = match op {
            WriteOp::Put { item, .. } => Key::of(item)?,
            WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. }
            | WriteOp::Check { key, .. } => key.clone(),
        };
        if !seen.insert((op.table().to_owned(), key.clone())) {
            return Err(StoreError::Invalid(format!(
                "a transaction cannot include more than one write of one item ({}/{})",
                key.partition, key.sort
            )));
        }
    }
    Ok(())
}

/// Checks one `BatchWriteItem` request as DynamoDB does: at most
/// [`BATCH_WRITE_ITEMS_MAX`] requests and no key twice.
pub fn validate_batch_chunk(chunk: &[BatchWrite]) -> Result<(), StoreError> {
    if chunk.len() > BATCH_WRITE_ITEMS_MAX {
        return Err(StoreError::Invalid(format!(
            "a batch write takes at most {BATCH_WRITE_ITEMS_MAX} requests, got {}",
            chunk.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for write in chunk {
        let key = match write {
            BatchWrite::Put(item) => Key::of(item)?,
            BatchWrite::Delete(key) => key.clone(),
        };
        if !seen.insert(key.clone()) {
            return Err(StoreError::Invalid(format!(
                "a batch write cannot include one key twice ({}/{})",
                key.partition, key.sort
            )));
        }
    }
    Ok(())
}

/// Pages a query follows in [`query_all`] before giving up (every loop is bounded).
pub const QUERY_PAGES_MAX: usize = 10_000;

/// Every item of a query, following cursors to the end (at most [`QUERY_PAGES_MAX`] pages).
pub async fn query_all(store: &dyn Store, mut query: Query) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    for _ in 0..QUERY_PAGES_MAX {
        let page = store.query(&query).await?;
        items.extend(page.items);
        match page.next {
            Some(cursor) => query.start_after = Some(cursor),
            None => return Ok(items),
        }
    }
    Err(StoreError::Invalid(format!(
        "query {} spans more than {QUERY_PAGES_MAX} pages",
        query.partition
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_transactions_are_retryable_failed_conditions_are_not() {
        let cancelled = |reasons| StoreError::TransactionCanceled { reasons };
        assert!(cancelled(vec![
            CancellationReason::None,
            CancellationReason::Other("ThrottlingError".into()),
        ])
        .is_retryable());
        assert!(cancelled(vec![CancellationReason::TransactionConflict]).is_retryable());
        assert!(!cancelled(vec![CancellationReason::ConditionalCheckFailed]).is_retryable());
        assert!(
            !cancelled(vec![CancellationReason::Other("ValidationError".into())]).is_retryable()
        );
    }
}
