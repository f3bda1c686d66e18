//! Claiming unbilled items for an invoice, exactly once.
//!
//! Each item is claimed with a conditional update (still `unbilled`, or already claimed
//! by this same invoice), in transactions of at most [`TRANSACT_ITEMS_MAX`]; an item
//! claimed meanwhile by another invoice (or reversed by a correction) cancels its chunk,
//! is dropped, and the rest of the chunk is retried. Because the invoice id derives from
//! (contract, billing period), a rerun after a crash, or a second run racing the first,
//! claims for the same invoice and resumes instead of duplicating; the invoice is then
//! built from the items actually claimed (found through `GSI2` = `CLAIMED#<invoice>`).

use handoff_domain::billing::BillableItem;
use handoff_domain::{ContractId, InvoiceId};
use handoff_ports::listing::{unbilled_attributes, unbilled_partition};
use handoff_ports::store::{from_item, query_all};
use handoff_ports::{
    AttributeValue, Condition, Index, Key, Query, Store, StoreError, Update, WriteOp,
    TRANSACT_ITEMS_MAX,
};
use serde::Deserialize;

/// Pause after a throttled transaction before its retry (× the attempt number).
pub const CHUNK_BACKOFF_MS: u64 = 25;

/// Retries of one chunk as items drop out of it.
pub const CHUNK_ATTEMPTS_MAX: usize = 8;

#[derive(Debug, Deserialize)]
struct ItemRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    item: String,
}

fn decode(item: handoff_ports::Item) -> Result<(Key, BillableItem), StoreError> {
    let record: ItemRecord = from_item(item)?;
    let parsed: BillableItem =
        serde_json::from_str(&record.item).map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok((Key::new(record.pk, record.sk), parsed))
}

/// The contract's unbilled items with work dates up to `cutoff` (`YYYY-MM-DD`).
pub async fn unbilled(
    store: &dyn Store,
    table: &str,
    contract: ContractId,
    cutoff: &str,
) -> Result<Vec<(Key, BillableItem)>, StoreError> {
    let query = Query::partition(table, unbilled_partition(&contract.to_string()))
        .on_index(Index::Gsi1)
        .limit(1000);
    let mut found = Vec::new();
    for item in query_all(store, query).await? {
        let sort_ok = matches!(item.get("GSI1SK"), Some(AttributeValue::S(sk)) if sk.as_str() <= format!("{cutoff}#~").as_str());
        if sort_ok {
            found.push(decode(item)?);
        }
    }
    Ok(found)
}

/// What one claim pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Claimed {
    /// Items this pass moved from unbilled to the invoice.
    pub newly: usize,
    /// The invoice was issued meanwhile: it takes no more items (they wait for the next
    /// period's invoice).
    pub invoice_closed: bool,
}

/// Claims `items` for `invoice`.
///
/// Every chunk's transaction also counts the claims on the invoice record (`claims`,
/// created as a draft if missing) on the condition that the invoice is still a draft: an
/// item can never be claimed onto an issued invoice, and the draft knows how many items
/// it must hold (so a draft built from a lagging index is caught before it is issued).
pub async fn claim(
    store: &dyn Store,
    table: &str,
    invoice: InvoiceId,
    items: &[(Key, BillableItem)],
) -> Result<Claimed, StoreError> {
    let ops = items
        .iter()
        .map(|(key, item)| claim_op(table, key, item, invoice))
        .collect();
    let guard = |claimed: usize| guard_op(table, invoice, claimed);
    let written = write_each_once(store, ops, Some(&guard)).await?;
    Ok(Claimed {
        newly: written.count,
        invoice_closed: written.guard_failed,
    })
}

/// What [`write_each_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// Writes applied by this call.
    pub count: usize,
    /// The guard's condition failed: writing stopped there.
    pub guard_failed: bool,
}

/// Applies conditional item writes (claims, releases, write-offs) in transactions of at
/// most [`TRANSACT_ITEMS_MAX`] writes. A write whose condition fails is dropped (another
/// invoice holds the item, or this write was applied before) and the rest of its
/// transaction retried; throttling is retried after a pause. Writes still pending after
/// [`CHUNK_ATTEMPTS_MAX`] attempts are a retryable error, never a silent success, since the
/// caller would otherwise book amounts for items it did not move. With `guard`, each
/// transaction starts with `guard(writes in it)`; when the guard's condition fails, writing
/// stops and [`Written::guard_failed`] says so.
pub async fn write_each_once(
    store: &dyn Store,
    ops: Vec<WriteOp>,
    guard: Option<&(dyn Fn(usize) -> WriteOp + Sync)>,
) -> Result<Written, StoreError> {
    let chunk_max = TRANSACT_ITEMS_MAX - usize::from(guard.is_some());
    let offset = usize::from(guard.is_some());
    let mut written = Written::default();
    for chunk in ops.chunks(chunk_max) {
        let mut pending: Vec<WriteOp> = chunk.to_vec();
        let mut last_error = None;
        for attempt in 1..=CHUNK_ATTEMPTS_MAX {
            if pending.is_empty() {
                break;
            }
            let mut transaction: Vec<WriteOp> =
                guard.map(|g| g(pending.len())).into_iter().collect();
            transaction.extend(pending.iter().cloned());
            match store.transact_write(transaction).await {
                Ok(()) => {
                    written.count += pending.len();
                    pending.clear();
                }
                Err(e) if guard.is_some() && e.failed_conditions().contains(&0) => {
                    written.guard_failed = true;
                    return Ok(written);
                }
                Err(e) if !e.failed_conditions().is_empty() => {
                    let lost: Vec<usize> =
                        e.failed_conditions().iter().map(|i| i - offset).collect();
                    pending = pending
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !lost.contains(i))
                        .map(|(_, op)| op)
                        .collect();
                }
                Err(e) if e.is_retryable() => {
                    last_error = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(
                        CHUNK_BACKOFF_MS * attempt as u64,
                    ))
                    .await;
                }
                Err(e) => return Err(e),
            }
        }
        if !pending.is_empty() {
            return Err(last_error.unwrap_or_else(|| {
                StoreError::Transient(format!(
                    "{} writes still contended after {CHUNK_ATTEMPTS_MAX} attempts",
                    pending.len()
                ))
            }));
        }
    }
    Ok(written)
}

fn guard_op(table: &str, invoice: InvoiceId, claimed: usize) -> WriteOp {
    WriteOp::Update {
        table: table.to_owned(),
        key: Key::new(format!("INVOICE#{invoice}"), "INVOICE"),
        updates: vec![
            Update::Set("status".into(), AttributeValue::S("draft".into())),
            Update::Add("claims".into(), rust_decimal::Decimal::from(claimed)),
        ],
        condition: Some(Condition::Or(vec![
            Condition::NotExists,
            Condition::equals("status", AttributeValue::S("draft".into())),
        ])),
    }
}

fn claim_op(table: &str, key: &Key, item: &BillableItem, invoice: InvoiceId) -> WriteOp {
    WriteOp::Update {
        table: table.to_owned(),
        key: key.clone(),
        updates: vec![
            Update::Set("status".into(), AttributeValue::S("invoiced".into())),
            Update::Set("invoice_id".into(), AttributeValue::S(invoice.to_string())),
            Update::Set(
                "GSI2PK".into(),
                AttributeValue::S(format!("CLAIMED#{invoice}")),
            ),
            Update::Set(
                "GSI2SK".into(),
                AttributeValue::S(format!("{}#{}", item.work_date, item.id)),
            ),
            Update::Remove("GSI1PK".into()),
            Update::Remove("GSI1SK".into()),
        ],
        condition: Some(Condition::equals(
            "status",
            AttributeValue::S("unbilled".into()),
        )),
    }
}

/// Puts a claimed item back on the unbilled index (a credit note that releases it).
pub fn release_op(table: &str, key: &Key, item: &BillableItem, invoice: InvoiceId) -> WriteOp {
    let mut updates = vec![
        Update::Set("status".into(), AttributeValue::S("unbilled".into())),
        Update::Set(
            "released_from".into(),
            AttributeValue::S(invoice.to_string()),
        ),
    ];
    updates.extend(
        unbilled_attributes(
            &item.contract_id.to_string(),
            &item.work_date.to_string(),
            &item.id.to_string(),
        )
        .into_iter()
        .map(|(name, value)| Update::Set(name.into(), value)),
    );
    unclaim_op(table, key, invoice, updates)
}

/// Writes a claimed item off (a credit note that will not re-bill it).
pub fn write_off_op(table: &str, key: &Key, invoice: InvoiceId) -> WriteOp {
    let updates = vec![
        Update::Set("status".into(), AttributeValue::S("written_off".into())),
        Update::Set(
            "written_off_from".into(),
            AttributeValue::S(invoice.to_string()),
        ),
    ];
    unclaim_op(table, key, invoice, updates)
}

/// Takes an item off `invoice` (with `updates`), only while it is still on it.
fn unclaim_op(table: &str, key: &Key, invoice: InvoiceId, mut updates: Vec<Update>) -> WriteOp {
    updates.extend([
        Update::Remove("invoice_id".into()),
        Update::Remove("GSI2PK".into()),
        Update::Remove("GSI2SK".into()),
    ]);
    WriteOp::Update {
        table: table.to_owned(),
        key: key.clone(),
        updates,
        condition: Some(Condition::equals(
            "invoice_id",
            AttributeValue::S(invoice.to_string()),
        )),
    }
}

/// The claimed items of `invoice` with their storage keys.
pub async fn claimed_with_keys(
    store: &dyn Store,
    table: &str,
    invoice: InvoiceId,
) -> Result<Vec<(Key, BillableItem)>, StoreError> {
    let query = Query::partition(table, format!("CLAIMED#{invoice}"))
        .on_index(Index::Gsi2)
        .limit(1000);
    query_all(store, query)
        .await?
        .into_iter()
        .map(decode)
        .collect()
}

/// Every item claimed by `invoice` (the invoice is built from these).
pub async fn claimed_by(
    store: &dyn Store,
    table: &str,
    invoice: InvoiceId,
) -> Result<Vec<BillableItem>, StoreError> {
    Ok(claimed_with_keys(store, table, invoice)
        .await?
        .into_iter()
        .map(|(_, item)| item)
        .collect())
}
