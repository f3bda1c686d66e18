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

/// Claims `items` for `invoice`; returns how many this call claimed or found claimed.
pub async fn claim(
    store: &dyn Store,
    table: &str,
    invoice: InvoiceId,
    items: &[(Key, BillableItem)],
) -> Result<usize, StoreError> {
    let mut claimed = 0;
    for chunk in items.chunks(TRANSACT_ITEMS_MAX) {
        let mut pending: Vec<&(Key, BillableItem)> = chunk.iter().collect();
        for _ in 0..CHUNK_ATTEMPTS_MAX {
            if pending.is_empty() {
                break;
            }
            let ops = pending
                .iter()
                .map(|(key, item)| claim_op(table, key, item, invoice))
                .collect();
            match store.transact_write(ops).await {
                Ok(()) => {
                    claimed += pending.len();
                    pending.clear();
                }
                Err(e) if !e.failed_conditions().is_empty() => {
                    let lost = e.failed_conditions();
                    pending = pending
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !lost.contains(i))
                        .map(|(_, p)| p)
                        .collect();
                }
                Err(e) if e.is_retryable() => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(claimed)
}

fn claim_op(table: &str, key: &Key, item: &BillableItem, invoice: InvoiceId) -> WriteOp {
    let invoice_text = AttributeValue::S(invoice.to_string());
    WriteOp::Update {
        table: table.to_owned(),
        key: key.clone(),
        updates: vec![
            Update::Set("status".into(), AttributeValue::S("invoiced".into())),
            Update::Set("invoice_id".into(), invoice_text.clone()),
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
        condition: Some(Condition::Or(vec![
            Condition::equals("status", AttributeValue::S("unbilled".into())),
            Condition::equals("invoice_id", invoice_text),
        ])),
    }
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
