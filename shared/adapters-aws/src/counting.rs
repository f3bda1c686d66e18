//! Counting the requests the adapters send, by service and operation.
//!
//! A [`RequestCounter`] is an SDK interceptor installed on the adapter's client: it counts
//! once per HTTP attempt actually transmitted (`read_before_transmit`), so every page of a
//! query, every batch re-send of unprocessed items and every retry the SDK makes on its
//! own is one request, as AWS bills them. The operation is read from the request's
//! `X-Amz-Target` header (`DynamoDB_20120810.GetItem` → `GetItem`; SQS speaks the same
//! JSON protocol: `AmazonSQS.SendMessageBatch` → `SendMessageBatch`). One counter may be
//! shared by several adapters (a store and its queues); counts are kept per service.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Service label of the DynamoDB adapter's counts.
pub const DYNAMODB: &str = "dynamodb";
/// Service label of the SQS adapter's counts.
pub const SQS: &str = "sqs";

#[derive(Default)]
struct Slot {
    requests: AtomicU64,
    /// Items written by the requests (transactions and batches: one per write).
    items: AtomicU64,
    /// Consumed capacity units reported by the service, in thousandths.
    capacity_milli: AtomicU64,
}

type Slots = BTreeMap<(String, String), Arc<Slot>>;

/// Shared request counts (cheap to clone: clones share the counts).
#[derive(Clone, Default)]
pub struct RequestCounter {
    slots: Arc<Mutex<Slots>>,
}

impl fmt::Debug for RequestCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestCounter")
            .field(&self.snapshot())
            .finish()
    }
}

impl RequestCounter {
    pub fn new() -> Self {
        RequestCounter::default()
    }

    fn slot(&self, service: &str, operation: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry((service.to_owned(), operation.to_owned()))
            .or_default()
            .clone()
    }

    /// Counts one request of `service` / `operation`.
    pub fn record(&self, service: &str, operation: &str) {
        self.slot(service, operation)
            .requests
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `items` writes sent in one request (a transaction's or a batch's).
    pub fn record_items(&self, service: &str, operation: &str, items: usize) {
        self.slot(service, operation)
            .items
            .fetch_add(items as u64, Ordering::Relaxed);
    }

    /// Adds capacity units the service reported as consumed by `operation`.
    pub fn record_capacity(&self, service: &str, operation: &str, units: f64) {
        if units > 0.0 {
            self.slot(service, operation)
                .capacity_milli
                .fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    }

    /// The counts so far.
    pub fn snapshot(&self) -> RequestCounts {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mut counts = RequestCounts::default();
        for (key, slot) in slots.iter() {
            counts
                .requests
                .insert(key.clone(), slot.requests.load(Ordering::Relaxed));
            counts
                .items
                .insert(key.clone(), slot.items.load(Ordering::Relaxed));
            counts
                .capacity_milli
                .insert(key.clone(), slot.capacity_milli.load(Ordering::Relaxed));
        }
        counts
    }

    /// The interceptor counting `service`'s requests into this counter.
    pub(crate) fn interceptor(&self, service: &'static str) -> CountingInterceptor {
        CountingInterceptor {
            counter: self.clone(),
            service,
        }
    }
}

/// A snapshot of request counts (and consumed capacity) by (service, operation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Requests sent (each attempt counts).
    pub requests: BTreeMap<(String, String), u64>,
    /// Writes sent in transactions and batches (each attempt counts).
    pub items: BTreeMap<(String, String), u64>,
    /// Capacity units consumed, in thousandths, as the service reported them (DynamoDB's
    /// `ReturnConsumedCapacity=TOTAL`, indexes included; a cancelled transaction reports
    /// none although AWS bills it).
    pub capacity_milli: BTreeMap<(String, String), u64>,
}

impl RequestCounts {
    /// Requests of one operation (`("dynamodb", "GetItem")`).
    pub fn get(&self, service: &str, operation: &str) -> u64 {
        self.requests
            .get(&(service.to_owned(), operation.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// All requests of `service`.
    pub fn total(&self, service: &str) -> u64 {
        self.operations(service).map(|(_, n)| n).sum()
    }

    /// `(operation, requests)` of `service`, by operation name.
    pub fn operations<'a>(&'a self, service: &'a str) -> impl Iterator<Item = (&'a str, u64)> {
        self.requests
            .iter()
            .filter(move |((s, _), _)| s == service)
            .map(|((_, op), n)| (op.as_str(), *n))
    }

    /// Writes `operation` sent (transactions and batches; each attempt counts).
    pub fn items(&self, service: &str, operation: &str) -> u64 {
        self.items
            .get(&(service.to_owned(), operation.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Capacity units `operation` consumed, as reported.
    pub fn capacity(&self, service: &str, operation: &str) -> f64 {
        self.capacity_milli
            .get(&(service.to_owned(), operation.to_owned()))
            .map_or(0.0, |m| *m as f64 / 1000.0)
    }

    /// What happened since `earlier` (a snapshot of the same counter).
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        fn minus(
            now: &BTreeMap<(String, String), u64>,
            then: &BTreeMap<(String, String), u64>,
        ) -> BTreeMap<(String, String), u64> {
            now.iter()
                .map(|(k, n)| (k.clone(), n - then.get(k).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect()
        }
        RequestCounts {
            requests: minus(&self.requests, &earlier.requests),
            items: minus(&self.items, &earlier.items),
            capacity_milli: minus(&self.capacity_milli, &earlier.capacity_milli),
        }
    }
}

#[derive(Debug)]
pub(crate) struct CountingInterceptor {
    counter: RequestCounter,
    service: &'static str,
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "handoff-request-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target");
        let operation = target
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown");
        self.counter.record(self.service, operation);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

    #[test]
    fn snapshots_subtract_and_sum_per_service() {
        let counter = RequestCounter::new();
        counter.record(DYNAMODB, "GetItem");
        let before = counter.snapshot();
        counter.record(DYNAMODB, "GetItem");
        counter.record(DYNAMODB, "Query");
        counter.record(SQS, "SendMessageBatch");
        counter.record_capacity(DYNAMODB, "Query", 0.5);
        counter.record_items(DYNAMODB, "TransactWriteItems", 3);
        let after = counter.snapshot().since(&before);
        assert_eq!(after.get(DYNAMODB, "GetItem"), 1);
        assert_eq!(after.total(DYNAMODB), 2);
        assert_eq!(after.total(SQS), 1);
        assert_eq!(after.capacity(DYNAMODB, "Query"), 0.5);
        assert_eq!(after.capacity(DYNAMODB, "GetItem"), 0.0);
        assert_eq!(after.items(DYNAMODB, "TransactWriteItems"), 3);
    }

    /// Every attempt counts, also those the SDK retries by itself: nothing listens on
    /// port 1, so each of the two attempts fails to connect after being counted.
    #[tokio::test]
    async fn each_attempt_of_a_request_counts() {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url("http://127.0.0.1:1")
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .build();
        let counter = RequestCounter::new();
        let store = crate::DynamoStore::with_counter(
            aws_sdk_dynamodb::Client::from_conf(config),
            counter.clone(),
        );
        let key = handoff_ports::Key::new("PK", "SK");
        let result = handoff_ports::Store::get(&store, "t", &key).await;
        assert!(result.is_err());
        assert_eq!(store.requests().get(DYNAMODB, "GetItem"), 2);
        assert_eq!(counter.snapshot().total(DYNAMODB), 2);
    }
}
