//! A `Store` that fails one chosen write: the crash points of the fault-injection tests.
//!
//! Every writing call (put, update, delete, transact_write, batch_write) is counted from 1;
//! armed with `fail_at: Some(n)`, the n-th write fails once with a retryable
//! [`StoreError::Transient`], either before it reaches the inner store (nothing written)
//! or after the inner store applied it (written, but the caller never hears so: a crash
//! after commit). With [`failing_writes`](FaultyStore::failing_writes) the next writes
//! fail too (before they are applied), e.g. a throttling burst; made
//! [`crashing`](FaultyStore::crashing), every later write fails, as if the process died at
//! the n-th write. Reads pass through.

use super::Harness;
use async_trait::async_trait;
use handoff_ports::{
    BatchWrite, Condition, Item, Key, Page, Query, Store, StoreError, Update, WriteOp,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// When the armed write fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Transient error without calling the inner store.
    Before,
    /// The inner store applies the write, then the caller gets a transient error.
    After,
}

pub struct FaultyStore {
    inner: Arc<dyn Store>,
    fail_at: Option<usize>,
    mode: FailMode,
    /// Writes failing from `fail_at` on (the first in `mode`, the rest before applying).
    failing: usize,
    writes: AtomicUsize,
    fired: AtomicBool,
    log: Mutex<Vec<String>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>, fail_at: Option<usize>, mode: FailMode) -> FaultyStore {
        FaultyStore {
            inner,
            fail_at,
            mode,
            failing: 1,
            writes: AtomicUsize::new(0),
            fired: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
        }
    }

    /// Every write after the armed one fails too (before it is applied).
    pub fn crashing(self) -> FaultyStore {
        self.failing_writes(usize::MAX)
    }

    /// `count` writes fail from `fail_at` on: the first in the armed mode, the rest before
    /// they are applied.
    pub fn failing_writes(mut self, count: usize) -> FaultyStore {
        self.failing = count.max(1);
        self
    }

    /// A counting pass-through that never fails.
    pub fn counting(inner: Arc<dyn Store>) -> FaultyStore {
        FaultyStore::new(inner, None, FailMode::Before)
    }

    /// Writing calls made so far (including the failed one).
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Whether the armed write was reached and failed.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// One line per write call, in order: what it was.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Counts one write; `Some(mode)` when this one is the armed write.
    fn count(&self, what: String) -> Option<FailMode> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let armed = self.fail_at == Some(n);
        let dead = self.fail_at.is_some_and(|k| n > k && n - k < self.failing);
        self.log.lock().unwrap().push(format!(
            "#{n} {what}{}",
            if armed || dead { " (fails)" } else { "" }
        ));
        if armed {
            self.fired.store(true, Ordering::SeqCst);
            Some(self.mode)
        } else if dead {
            Some(FailMode::Before)
        } else {
            None
        }
    }

    fn injected(&self, mode: FailMode) -> StoreError {
        StoreError::Transient(format!(
            "injected fault {} write #{}",
            match mode {
                FailMode::Before => "before",
                FailMode::After => "after",
            },
            self.fail_at.unwrap_or_default()
        ))
    }
}

fn describe_key(key: &Key) -> String {
    format!("{}/{}", key.partition, key.sort)
}

fn describe_item(item: &Item) -> String {
    Key::of(item)
        .map(|k| describe_key(&k))
        .unwrap_or_else(|_| "?".into())
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(table, key).await
    }

    async fn put(
        &self,
        table: &str,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        match self.count(format!("put {}", describe_item(&item))) {
            None => self.inner.put(table, item, condition).await,
            Some(FailMode::Before) => Err(self.injected(FailMode::Before)),
            Some(FailMode::After) => {
                self.inner.put(table, item, condition).await?;
                Err(self.injected(FailMode::After))
            }
        }
    }

    async fn update(
        &self,
        table: &str,
        key: &Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        match self.count(format!("update {}", describe_key(key))) {
            None => self.inner.update(table, key, updates, condition).await,
            Some(FailMode::Before) => Err(self.injected(FailMode::Before)),
            Some(FailMode::After) => {
                self.inner.update(table, key, updates, condition).await?;
                Err(self.injected(FailMode::After))
            }
        }
    }

    async fn delete(
        &self,
        table: &str,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        match self.count(format!("delete {}", describe_key(key))) {
            None => self.inner.delete(table, key, condition).await,
            Some(FailMode::Before) => Err(self.injected(FailMode::Before)),
            Some(FailMode::After) => {
                self.inner.delete(table, key, condition).await?;
                Err(self.injected(FailMode::After))
            }
        }
    }

    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let first = match ops.first() {
            Some(WriteOp::Put { item, .. }) => describe_item(item),
            Some(
                WriteOp::Update { key, .. }
                | WriteOp::Delete { key, .. }
                | WriteOp::Check { key, .. },
            ) => describe_key(key),
            None => String::new(),
        };
        match self.count(format!("transact_write {} ops, first {first}", ops.len())) {
            None => self.inner.transact_write(ops).await,
            Some(FailMode::Before) => Err(self.injected(FailMode::Before)),
            Some(FailMode::After) => {
                self.inner.transact_write(ops).await?;
                Err(self.injected(FailMode::After))
            }
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }

    async fn batch_write(&self, table: &str, writes: Vec<BatchWrite>) -> Result<(), StoreError> {
        match self.count(format!("batch_write {} requests", writes.len())) {
            None => self.inner.batch_write(table, writes).await,
            Some(FailMode::Before) => Err(self.injected(FailMode::Before)),
            Some(FailMode::After) => {
                self.inner.batch_write(table, writes).await?;
                Err(self.injected(FailMode::After))
            }
        }
    }
}

/// True for a harness on the AWS adapters.
pub fn is_aws(h: &Harness) -> bool {
    h.aws.is_some()
}

/// A fresh, empty harness of the same adapter set as `h` (its own table; call
/// `cleanup` on it when done).
pub async fn fresh_like(h: &Harness, case: &str) -> Harness {
    if is_aws(h) {
        Harness::aws(case)
            .await
            .expect("the AWS harness exists, so its endpoint is configured")
    } else {
        Harness::memory(case)
    }
}
