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
use handoff_ports::store::{from_item, query_all};
use handoff_ports::{
    AttributeValue, Condition, Index, Key, Query, Store, StoreError, Update, WriteOp,
    TRANSACT_ITEMS_MAX,
};
use serde::Deserialize;

/// Pause after a throttled claim transaction before its retry.
pub const CLAIM_BACKOFF_MS: u64 = 25;

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
    let query = Query::partition(table, format!("UNBILLED#{contract}"))
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

/// Items per claim transaction: one write is the invoice's guard.
pub const CLAIM_CHUNK_ITEMS_MAX: usize = TRANSACT_ITEMS_MAX - 1;

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
    let mut outcome = Claimed::default();
    for chunk in items.chunks(CLAIM_CHUNK_ITEMS_MAX) {
        let mut pending: Vec<&(Key, BillableItem)> = chunk.iter().collect();
        let mut last_error = None;
        for _ in 0..CHUNK_ATTEMPTS_MAX {
            if pending.is_empty() {
                break;
            }
            let mut ops = vec![guard_op(table, invoice, pending.len())];
            ops.extend(
                pending
                    .iter()
                    .map(|(key, item)| claim_op(table, key, item, invoice)),
            );
            match store.transact_write(ops).await {
                Ok(()) => {
                    outcome.newly += pending.len();
                    pending.clear();
                }
                Err(e) if e.failed_conditions().contains(&0) => {
                    outcome.invoice_closed = true;
                    return Ok(outcome);
                }
                Err(e) if !e.failed_conditions().is_empty() => {
                    // Claimed by another invoice, by this one earlier, or reversed.
                    let lost: Vec<usize> = e.failed_conditions().iter().map(|i| i - 1).collect();
                    pending = pending
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !lost.contains(i))
                        .map(|(_, p)| p)
                        .collect();
                }
                Err(e) if e.is_retryable() => {
                    last_error = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(CLAIM_BACKOFF_MS)).await;
                }
                Err(e) => return Err(e),
            }
        }
        // Never report success with items left behind: the job would issue a partial
        // invoice. The error is retryable; the redelivered job resumes the claims.
        if !pending.is_empty() {
            return Err(last_error.unwrap_or_else(|| {
                StoreError::Transient(format!(
                    "{} items still contended after {CHUNK_ATTEMPTS_MAX} attempts",
                    pending.len()
                ))
            }));
        }
    }
    Ok(outcome)
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
    WriteOp::Update {
        table: table.to_owned(),
        key: key.clone(),
        updates: vec![
            Update::Set("status".into(), AttributeValue::S("unbilled".into())),
            Update::Set(
                "GSI1PK".into(),
                AttributeValue::S(format!("UNBILLED#{}", item.contract_id)),
            ),
            Update::Set(
                "GSI1SK".into(),
                AttributeValue::S(format!("{}#{}", item.work_date, item.id)),
            ),
            Update::Set(
                "released_from".into(),
                AttributeValue::S(invoice.to_string()),
            ),
            Update::Remove("invoice_id".into()),
            Update::Remove("GSI2PK".into()),
            Update::Remove("GSI2SK".into()),
        ],
        condition: Some(Condition::equals(
            "invoice_id",
            AttributeValue::S(invoice.to_string()),
        )),
    }
}

/// Writes a claimed item off (a credit note that will not re-bill it).
pub fn write_off_op(table: &str, key: &Key, invoice: InvoiceId) -> WriteOp {
    WriteOp::Update {
        table: table.to_owned(),
        key: key.clone(),
        updates: vec![
            Update::Set("status".into(), AttributeValue::S("written_off".into())),
            Update::Set(
                "written_off_from".into(),
                AttributeValue::S(invoice.to_string()),
            ),
            Update::Remove("invoice_id".into()),
            Update::Remove("GSI2PK".into()),
            Update::Remove("GSI2SK".into()),
        ],
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
    let query = Query::partition(table, format!("CLAIMED#{invoice}"))
        .on_index(Index::Gsi2)
        .limit(1000);
    query_all(store, query)
        .await?
        .into_iter()
        .map(|i| decode(i).map(|(_, item)| item))
        .collect()
}
