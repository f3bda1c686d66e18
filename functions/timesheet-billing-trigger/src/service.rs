//! Applies one delivery signal: load (or open) the contract's billing state, rate the
//! signal in the domain, and write everything it produced in one transaction that is
//! conditional on the state's version (optimistic concurrency). A signal already rated
//! changes nothing, so a redelivered message is harmless.

use closed_won_converter::service::project_key;
use handoff_domain::billing::{
    rate, BillableItem, ContractState, EntryState, ItemStatus, RatingContext, RatingError, Signal,
};
use handoff_domain::ledger::ChartOfAccounts;
use handoff_domain::project::ProjectSkeleton;
use handoff_domain::rates::RateBook;
use handoff_domain::ProjectId;
use handoff_ports::store::{from_item, to_item};
use handoff_ports::{
    AttributeValue, Condition, Key, Store, StoreError, Update, WriteOp, TRANSACT_ITEMS_MAX,
};
use handoff_runtime::{ErrorDetail, Failure};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One message on `delivery-signals.fifo` (group = project).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalEnvelope {
    pub project_id: ProjectId,
    pub signal: Signal,
}

#[derive(Clone)]
pub struct Billing {
    pub store: Arc<dyn Store>,
    pub rates: Arc<RateBook>,
    pub chart: Arc<ChartOfAccounts>,
    pub main_table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("rating: {0}")]
    Rating(#[from] RatingError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("project {0} is not stored")]
    UnknownProject(ProjectId),
    #[error("the signal produces {0} writes, more than one transaction holds")]
    TooLarge(usize),
    #[error(
        "{0} was written off by a credit note: a correction is not billed automatically \
         (bill or credit the difference by hand)"
    )]
    WrittenOff(String),
}

impl Failure for BillingError {
    fn is_retryable(&self) -> bool {
        match self {
            BillingError::Store(e) => {
                e.is_retryable()
                    || *e == StoreError::ConditionFailed
                    || !e.failed_conditions().is_empty()
            }
            BillingError::UnknownProject(_) => true,
            BillingError::Rating(_) | BillingError::TooLarge(_) | BillingError::WrittenOff(_) => {
                false
            }
        }
    }
    fn code(&self) -> &'static str {
        match self {
            BillingError::Rating(_) => "rating_failed",
            BillingError::Store(e) => e.code(),
            BillingError::UnknownProject(_) => "unknown_project",
            BillingError::TooLarge(_) => "signal_too_large",
            BillingError::WrittenOff(_) => "entry_written_off",
        }
    }
    fn details(&self) -> Vec<ErrorDetail> {
        Vec::new()
    }
}

/// What applying a signal did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub duplicate: bool,
    pub items: usize,
    pub journal_entries: usize,
}

fn state_key(project: ProjectId) -> Key {
    Key::new(format!("PROJECT#{project}"), "BILLING#STATE")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StateRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    version: u64,
    /// JSON of the state (read and written whole).
    state: String,
}

fn item_record(item: &BillableItem) -> Result<handoff_ports::Item, StoreError> {
    let mut record = Key::new(
        format!("PROJECT#{}", item.project_id),
        format!("ITEM#{}", item.id),
    )
    .to_item();
    record.insert(
        "item".into(),
        AttributeValue::S(
            serde_json::to_string(item).map_err(|e| StoreError::Invalid(e.to_string()))?,
        ),
    );
    record.insert(
        "status".into(),
        AttributeValue::S(status_name(&item.status).into()),
    );
    if item.status == ItemStatus::Unbilled {
        // Sparse index of what the invoice run will pick up, by contract and date.
        for (name, value) in handoff_ports::listing::unbilled_attributes(
            &item.contract_id.to_string(),
            &item.work_date.to_string(),
            &item.id.to_string(),
        ) {
            record.insert(name.into(), value);
        }
    }
    Ok(record)
}

fn status_name(status: &ItemStatus) -> &'static str {
    match status {
        ItemStatus::Unbilled => "unbilled",
        ItemStatus::Invoiced { .. } => "invoiced",
        ItemStatus::WrittenOff => "written_off",
        ItemStatus::Reversed { .. } => "reversed",
        ItemStatus::NonBillable => "non_billable",
    }
}

/// Live items of one source record read to tell whether it was invoiced (a record has
/// its original item and, after corrections, delta items: a handful).
const ENTRY_ITEMS_READ_MAX: usize = 32;

impl Billing {
    /// The record's state with `invoiced` set when any of its live items has been claimed
    /// by an invoice. The invoice generator marks the items it claims, not this record,
    /// so the flag is read from the items (at most a record's few live items). An invoice
    /// claiming an item between this read and the write makes the replacement's
    /// condition (still `unbilled`) fail; the retry then reads the item as invoiced.
    /// An item a credit note wrote off refuses the correction for good (a delta would
    /// charge or credit the customer again for hours already written off): finance
    /// decides, the message waits in the DLQ with this reason.
    async fn with_invoiced(
        &self,
        project: ProjectId,
        mut entry: EntryState,
    ) -> Result<EntryState, BillingError> {
        for id in entry.items.iter().take(ENTRY_ITEMS_READ_MAX) {
            let key = Key::new(format!("PROJECT#{project}"), format!("ITEM#{id}"));
            let status = self
                .store
                .get(&self.main_table, &key)
                .await?
                .and_then(|item| match item.get("status") {
                    Some(AttributeValue::S(status)) => Some(status.clone()),
                    _ => None,
                });
            match status.as_deref() {
                Some("written_off") => return Err(BillingError::WrittenOff(entry.key.clone())),
                Some("invoiced") => entry.invoiced = true,
                _ => {}
            }
        }
        Ok(entry)
    }

    pub async fn state(
        &self,
        project: ProjectId,
    ) -> Result<(ContractState, Option<u64>), BillingError> {
        if let Some(item) = self
            .store
            .get(&self.main_table, &state_key(project))
            .await?
        {
            let record: StateRecord = from_item(item)?;
            let state = serde_json::from_str(&record.state)
                .map_err(|e| StoreError::Decode(e.to_string()))?;
            return Ok((state, Some(record.version)));
        }
        let item = self
            .store
            .get(&self.main_table, &project_key(project))
            .await?
            .ok_or(BillingError::UnknownProject(project))?;
        let skeleton: ProjectSkeleton = match item.get("skeleton") {
            Some(AttributeValue::S(json)) => {
                serde_json::from_str(json).map_err(|e| StoreError::Decode(e.to_string()))?
            }
            _ => {
                return Err(StoreError::Decode(format!("project {project} has no skeleton")).into())
            }
        };
        Ok((ContractState::open(&skeleton), None))
    }

    pub async fn apply(&self, envelope: &SignalEnvelope) -> Result<Applied, BillingError> {
        let (state, stored_version) = self.state(envelope.project_id).await?;
        let entry_key = Key::new(
            format!("PROJECT#{}", envelope.project_id),
            format!("ENTRY#{}", envelope.signal.source().key()),
        );
        let previous: Option<EntryState> =
            match self.store.get(&self.main_table, &entry_key).await? {
                Some(item) => match item.get("entry") {
                    Some(AttributeValue::S(json)) => Some(
                        serde_json::from_str(json)
                            .map_err(|e| StoreError::Decode(e.to_string()))?,
                    ),
                    _ => None,
                },
                None => None,
            };
        let previous = match previous {
            Some(entry) => Some(self.with_invoiced(envelope.project_id, entry).await?),
            None => None,
        };
        let ctx = RatingContext {
            rates: &self.rates,
            accounts: &self.chart.mapping,
        };
        let Some(rated) = rate(&envelope.signal, &state, previous.as_ref(), &ctx)? else {
            return Ok(Applied {
                duplicate: true,
                items: 0,
                journal_entries: 0,
            });
        };
        let table = || self.main_table.clone();
        let key = state_key(envelope.project_id);
        let record = StateRecord {
            pk: key.partition.clone(),
            sk: key.sort.clone(),
            version: rated.state.version,
            state: serde_json::to_string(&rated.state)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        };
        let condition = match stored_version {
            Some(v) => Condition::version_is(v),
            None => Condition::NotExists,
        };
        let mut writes = vec![WriteOp::Put {
            table: table(),
            item: to_item(&record)?,
            condition: Some(condition),
        }];
        if let Some(entry) = &rated.entry {
            // One item per source record keeps the contract state small; the state's
            // version condition above serialises writes to both.
            let mut item = entry_key.to_item();
            let json =
                serde_json::to_string(entry).map_err(|e| StoreError::Invalid(e.to_string()))?;
            item.insert("entry".into(), AttributeValue::S(json));
            writes.push(WriteOp::Put {
                table: table(),
                item,
                condition: None,
            });
        }
        for item in &rated.items {
            writes.push(WriteOp::Put {
                table: table(),
                item: item_record(item)?,
                condition: Some(Condition::NotExists),
            });
        }
        for (id, status) in &rated.superseded {
            writes.push(WriteOp::Update {
                table: table(),
                key: Key::new(
                    format!("PROJECT#{}", envelope.project_id),
                    format!("ITEM#{id}"),
                ),
                updates: vec![
                    Update::Set(
                        "status".into(),
                        AttributeValue::S(status_name(status).into()),
                    ),
                    Update::Set(
                        "superseded".into(),
                        AttributeValue::S(serde_json::to_string(status).unwrap_or_default()),
                    ),
                    Update::Remove("GSI1PK".into()),
                    Update::Remove("GSI1SK".into()),
                ],
                // Only an unbilled item may be replaced: an invoice run may have claimed it.
                condition: Some(Condition::equals(
                    "status",
                    AttributeValue::S("unbilled".into()),
                )),
            });
        }
        let source = envelope.signal.source().reference();
        for (i, cost) in rated.costs.iter().enumerate() {
            let mut item = Key::new(
                format!("PROJECT#{}", envelope.project_id),
                format!("COST#{source}#{i}"),
            )
            .to_item();
            item.insert(
                "cost".into(),
                AttributeValue::S(
                    serde_json::to_string(cost).map_err(|e| StoreError::Invalid(e.to_string()))?,
                ),
            );
            writes.push(WriteOp::Put {
                table: table(),
                item,
                condition: None,
            });
        }
        for (i, entry) in rated.journal.iter().enumerate() {
            let date = entry.date.to_string();
            let item = handoff_ports::journal::journal_item(
                &envelope.project_id.to_string(),
                &format!("{date}#{source}#{i}"),
                &date,
                serde_json::to_string(entry).map_err(|e| StoreError::Invalid(e.to_string()))?,
            );
            writes.push(WriteOp::Put {
                table: table(),
                item,
                condition: None,
            });
        }
        if writes.len() > TRANSACT_ITEMS_MAX {
            return Err(BillingError::TooLarge(writes.len()));
        }
        self.store.transact_write(writes).await?;
        Ok(Applied {
            duplicate: false,
            items: rated.items.len(),
            journal_entries: rated.journal.len(),
        })
    }
}
