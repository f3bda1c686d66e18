//! The memory store: tables of ordered maps behind one mutex, so every write (and every
//! transaction) is atomic and conditions are evaluated against the state it replaces.

use crate::condition::{apply, holds, normalize};
use async_trait::async_trait;
use handoff_ports::store::{validate_batch_chunk, validate_transaction};
use handoff_ports::{
    AttributeValue, BatchWrite, CancellationReason, Condition, Cursor, Index, Item, Key, Page,
    Query, Store, StoreError, Update, WriteOp, BATCH_WRITE_ITEMS_MAX,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

/// DynamoDB's item size limit; the memory store estimates sizes the same way (names and
/// values in bytes) so an oversized record fails here first.
pub const ITEM_BYTES_MAX: usize = 400 * 1024;

/// One table: its items in key order, and the keys of every partition of the table and of
/// each sparse index, so a query reads its partition rather than the whole table (the
/// embedded runner bills a million items; a scan per query made that quadratic).
#[derive(Debug, Default)]
struct Table {
    items: BTreeMap<Key, Item>,
    partitions: HashMap<(Option<Index>, String), BTreeSet<Key>>,
}

fn partitions_of(item: &Item) -> Vec<(Option<Index>, String)> {
    let text = |attribute: &str| match item.get(attribute) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let mut found: Vec<(Option<Index>, String)> = text(handoff_ports::PARTITION_KEY)
        .map(|pk| (None, pk))
        .into_iter()
        .collect();
    for index in Index::ALL {
        if let (Some(pk), Some(_)) = (
            text(index.partition_attribute()),
            text(index.sort_attribute()),
        ) {
            found.push((Some(index), pk));
        }
    }
    found
}

impl Table {
    fn get(&self, key: &Key) -> Option<&Item> {
        self.items.get(key)
    }

    fn values(&self) -> impl Iterator<Item = &Item> {
        self.items.values()
    }

    fn insert(&mut self, key: Key, item: Item) {
        self.remove(&key);
        for partition in partitions_of(&item) {
            self.partitions
                .entry(partition)
                .or_default()
                .insert(key.clone());
        }
        self.items.insert(key, item);
    }

    fn remove(&mut self, key: &Key) {
        let Some(old) = self.items.remove(key) else {
            return;
        };
        for partition in partitions_of(&old) {
            if let Some(keys) = self.partitions.get_mut(&partition) {
                keys.remove(key);
                if keys.is_empty() {
                    self.partitions.remove(&partition);
                }
            }
        }
    }

    /// The items of one partition of the table or of an index.
    fn partition(&self, index: Option<Index>, partition: &str) -> Vec<&Item> {
        self.partitions
            .get(&(index, partition.to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|k| self.items.get(k))
            .collect()
    }
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<HashMap<String, Table>>,
}

impl MemoryStore {
    /// A store with these (empty) tables; writes to any other table fail as DynamoDB's
    /// `ResourceNotFoundException` does.
    pub fn with_tables(names: &[&str]) -> Self {
        let store = MemoryStore::default();
        for name in names {
            store.create_table(name);
        }
        store
    }

    pub fn create_table(&self, name: &str) {
        self.lock().entry(name.to_owned()).or_default();
    }

    /// Every item of a table, in key order (for the demo's artifacts and for tests).
    pub fn scan(&self, table: &str) -> Vec<Item> {
        self.lock()
            .get(table)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Table>> {
        // A panic while holding the lock cannot leave a half-applied write: writes are
        // computed first and inserted last.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn table_mut<'a>(
    tables: &'a mut HashMap<String, Table>,
    name: &str,
) -> Result<&'a mut Table, StoreError> {
    tables
        .get_mut(name)
        .ok_or_else(|| StoreError::Invalid(format!("table {name} does not exist")))
}

fn check_item(item: &Item) -> Result<(), StoreError> {
    Key::of(item)?;
    for index in Index::ALL {
        for attribute in [index.partition_attribute(), index.sort_attribute()] {
            match item.get(attribute) {
                None => {}
                Some(AttributeValue::S(s)) if !s.is_empty() => {}
                Some(_) => {
                    return Err(StoreError::Invalid(format!(
                        "index key attribute {attribute} must be a non-empty string"
                    )))
                }
            }
        }
    }
    let size = item_bytes(item);
    if size > ITEM_BYTES_MAX {
        return Err(StoreError::Invalid(format!(
            "item of about {size} bytes exceeds {ITEM_BYTES_MAX}"
        )));
    }
    Ok(())
}

fn item_bytes(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_bytes(v)).sum()
}

fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::N(s) | AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_bytes(v))
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(value_bytes).sum::<usize>(),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(String::len).sum(),
        AttributeValue::Bs(v) => v.iter().map(Vec::len).sum(),
    }
}

/// The new state of one item after a write, computed before anything is stored.
enum Outcome {
    Store(Key, Item),
    Remove(Key),
    Nothing,
}

fn check(condition: Option<&Condition>, current: Option<&Item>) -> Result<(), StoreError> {
    match condition {
        Some(c) if !holds(c, current) => Err(StoreError::ConditionFailed),
        _ => Ok(()),
    }
}

fn plan_put(
    table: &Table,
    item: Item,
    condition: Option<&Condition>,
) -> Result<Outcome, StoreError> {
    check_item(&item)?;
    let key = Key::of(&item)?;
    check(condition, table.get(&key))?;
    Ok(Outcome::Store(key, normalize(item)?))
}

fn plan_update(
    table: &Table,
    key: &Key,
    updates: &[Update],
    condition: Option<&Condition>,
) -> Result<Outcome, StoreError> {
    let current = table.get(key);
    check(condition, current)?;
    let item = apply(current, key.to_item(), updates)?;
    check_item(&item)?;
    Ok(Outcome::Store(key.clone(), item))
}

fn plan_delete(
    table: &Table,
    key: &Key,
    condition: Option<&Condition>,
) -> Result<Outcome, StoreError> {
    check(condition, table.get(key))?;
    Ok(Outcome::Remove(key.clone()))
}

fn plan(tables: &HashMap<String, Table>, op: &WriteOp) -> Result<Outcome, StoreError> {
    let table = tables
        .get(op.table())
        .ok_or_else(|| StoreError::Invalid(format!("table {} does not exist", op.table())))?;
    match op {
        WriteOp::Put {
            item, condition, ..
        } => plan_put(table, item.clone(), condition.as_ref()),
        WriteOp::Update {
            key,
            updates,
            condition,
            ..
        } => plan_update(table, key, updates, condition.as_ref()),
        WriteOp::Delete { key, condition, .. } => plan_delete(table, key, condition.as_ref()),
        WriteOp::Check { key, condition, .. } => {
            check(Some(condition), table.get(key))?;
            Ok(Outcome::Nothing)
        }
    }
}

fn commit(table: &mut Table, outcome: Outcome) {
    match outcome {
        Outcome::Store(key, item) => {
            table.insert(key, item);
        }
        Outcome::Remove(key) => {
            table.remove(&key);
        }
        Outcome::Nothing => {}
    }
}

/// The position of an item in a query's order: (index sort key, table key).
fn position(item: &Item, index: Option<Index>) -> (String, Key) {
    let sort_of = |attribute: &str| match item.get(attribute) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    let table_key = Key::new(
        sort_of(handoff_ports::PARTITION_KEY),
        sort_of(handoff_ports::SORT_KEY),
    );
    match index {
        Some(index) => (sort_of(index.sort_attribute()), table_key),
        None => (table_key.sort.clone(), table_key),
    }
}

fn cursor_of(item: &Item, index: Option<Index>) -> Cursor {
    let mut names = vec![handoff_ports::PARTITION_KEY, handoff_ports::SORT_KEY];
    if let Some(index) = index {
        names.extend([index.partition_attribute(), index.sort_attribute()]);
    }
    let mut key = Item::default();
    for name in names {
        if let Some(value) = item.get(name) {
            key.insert(name.to_owned(), value.clone());
        }
    }
    Cursor(key)
}

fn matches_partition(item: &Item, query: &Query) -> bool {
    let (pk_attribute, sk_attribute) = match query.index {
        Some(index) => (index.partition_attribute(), index.sort_attribute()),
        None => (handoff_ports::PARTITION_KEY, handoff_ports::SORT_KEY),
    };
    let partition_matches =
        matches!(item.get(pk_attribute), Some(AttributeValue::S(pk)) if *pk == query.partition);
    let sort = match item.get(sk_attribute) {
        Some(AttributeValue::S(sk)) => sk,
        _ => return false, // sparse: without the index sort key the item is not in the index
    };
    partition_matches
        && query
            .sort_prefix
            .as_deref()
            .is_none_or(|prefix| sort.starts_with(prefix))
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let mut tables = self.lock();
        Ok(table_mut(&mut tables, table)?.get(key).cloned())
    }

    async fn put(
        &self,
        table: &str,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        let mut tables = self.lock();
        let table = table_mut(&mut tables, table)?;
        let outcome = plan_put(table, item, condition.as_ref())?;
        commit(table, outcome);
        Ok(())
    }

    async fn update(
        &self,
        table: &str,
        key: &Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        let mut tables = self.lock();
        let table = table_mut(&mut tables, table)?;
        let outcome = plan_update(table, key, &updates, condition.as_ref())?;
        commit(table, outcome);
        table
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::Decode("updated item vanished".into()))
    }

    async fn delete(
        &self,
        table: &str,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<(), StoreError> {
        let mut tables = self.lock();
        let table = table_mut(&mut tables, table)?;
        let outcome = plan_delete(table, key, condition.as_ref())?;
        commit(table, outcome);
        Ok(())
    }

    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let mut tables = self.lock();
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut reasons = Vec::with_capacity(ops.len());
        for op in &ops {
            match plan(&tables, op) {
                Ok(outcome) => {
                    outcomes.push(outcome);
                    reasons.push(CancellationReason::None);
                }
                Err(StoreError::ConditionFailed) => {
                    reasons.push(CancellationReason::ConditionalCheckFailed)
                }
                Err(other) => return Err(other),
            }
        }
        if reasons.iter().any(|r| *r != CancellationReason::None) {
            return Err(StoreError::TransactionCanceled { reasons });
        }
        for (op, outcome) in ops.iter().zip(outcomes) {
            commit(table_mut(&mut tables, op.table())?, outcome);
        }
        Ok(())
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        query.validate()?;
        let mut tables = self.lock();
        let table = table_mut(&mut tables, &query.table)?;
        let mut matching: Vec<&Item> = table
            .partition(query.index, &query.partition)
            .into_iter()
            .filter(|i| matches_partition(i, query))
            .collect();
        matching.sort_by_key(|i| position(i, query.index));
        if !query.ascending {
            matching.reverse();
        }
        let after = query
            .start_after
            .as_ref()
            .map(|c| position(&c.0, query.index));
        let remaining: Vec<&Item> = matching
            .into_iter()
            .filter(|i| match &after {
                None => true,
                Some(after) if query.ascending => position(i, query.index) > *after,
                Some(after) => position(i, query.index) < *after,
            })
            .collect();
        let items: Vec<Item> = remaining
            .iter()
            .take(query.limit)
            .map(|i| (*i).clone())
            .collect();
        let next = (remaining.len() > query.limit)
            .then(|| items.last().map(|last| cursor_of(last, query.index)))
            .flatten();
        Ok(Page { items, next })
    }

    async fn batch_write(&self, table: &str, writes: Vec<BatchWrite>) -> Result<(), StoreError> {
        for chunk in writes.chunks(BATCH_WRITE_ITEMS_MAX) {
            validate_batch_chunk(chunk)?;
            let mut tables = self.lock();
            let table = table_mut(&mut tables, table)?;
            let outcomes = chunk
                .iter()
                .map(|write| match write {
                    BatchWrite::Put(item) => plan_put(table, item.clone(), None),
                    BatchWrite::Delete(key) => plan_delete(table, key, None),
                })
                .collect::<Result<Vec<_>, _>>()?;
            for outcome in outcomes {
                commit(table, outcome);
            }
        }
        Ok(())
    }
}
