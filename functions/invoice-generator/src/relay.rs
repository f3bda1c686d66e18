//! Relays `InvoiceIssued` (and `CreditNoteIssued`) outbox records to `accounting-outbox`.
//!
//! The outbox record is written in the numbering transaction, so an event exists exactly
//! when its document was issued. Relaying is at least once: send, then mark the record
//! `sent` (conditional on `pending`); a crash between the two resends on the next relay
//! (the job's redelivery, the issue route's retry, or the daily sweep), and consumers
//! deduplicate on the event's `event_id`. Pending records are on `GSI1` under
//! `ACCOUNTING_OUTBOX#pending` until sent, so the schedule's sweep finds any a crash left.

use handoff_domain::InvoiceId;
use handoff_ports::{
    AttributeValue, Condition, Index, Item, Key, OutgoingMessage, Query, Queue, Store, Update,
};
use std::sync::Arc;

/// The index partition of accounting events not yet sent.
pub const PENDING_PARTITION: &str = "ACCOUNTING_OUTBOX#pending";
/// Records one sweep relays at most (the next day's sweep takes the rest).
pub const SWEEP_RECORDS_MAX: usize = 1000;

/// The event types of `accounting-outbox`.
pub const INVOICE_ISSUED: &str = "InvoiceIssued";
pub const CREDIT_NOTE_ISSUED: &str = "CreditNoteIssued";

/// Where the outbox record of `event_type` for a document (invoice or credit note) lives.
pub fn outbox_key(document_id: &str, event_type: &str) -> Key {
    Key::new(
        format!("INVOICE#{document_id}"),
        format!("OUTBOX#{event_type}"),
    )
}

/// A pending outbox record, on the pending index until sent (written in the document's
/// numbering transaction).
pub fn pending_record(document_id: &str, event_type: &str, event_json: String, day: &str) -> Item {
    let mut record = outbox_key(document_id, event_type).to_item();
    record.insert("event".into(), AttributeValue::S(event_json));
    record.insert("status".into(), AttributeValue::S("pending".into()));
    record.insert("GSI1PK".into(), AttributeValue::S(PENDING_PARTITION.into()));
    record.insert(
        "GSI1SK".into(),
        AttributeValue::S(format!("{day}#{document_id}")),
    );
    record
}

/// The updates that take a sent record off the pending index.
fn off_pending_index() -> Vec<Update> {
    vec![
        Update::Remove("GSI1PK".into()),
        Update::Remove("GSI1SK".into()),
    ]
}

#[derive(Clone)]
pub struct Relay {
    pub store: Arc<dyn Store>,
    pub main_table: String,
    pub queue: Arc<dyn Queue>,
}

impl Relay {
    /// Sends the invoice's pending `InvoiceIssued` event, if any; true when it sent one.
    pub async fn invoice_issued(&self, invoice: InvoiceId) -> Result<bool, crate::runs::RunError> {
        self.outbox(outbox_key(&invoice.to_string(), INVOICE_ISSUED))
            .await
    }

    /// Sends the pending event stored at `key`, if any.
    pub async fn outbox(&self, key: Key) -> Result<bool, crate::runs::RunError> {
        let Some(record) = self.store.get(&self.main_table, &key).await? else {
            return Ok(false);
        };
        let pending = matches!(record.get("status"), Some(AttributeValue::S(s)) if s == "pending");
        let Some(AttributeValue::S(event)) = record.get("event").filter(|_| pending) else {
            return Ok(false);
        };
        let mut message = OutgoingMessage::new(event.clone());
        if let Some(kind) = serde_json::from_str::<serde_json::Value>(event)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        {
            message.attributes.insert("type".into(), kind);
        }
        self.queue.send(vec![message]).await?;
        let sent = self
            .store
            .update(
                &self.main_table,
                &key,
                // Off the pending index: the sweep reads only what is still to send.
                [
                    vec![Update::Set(
                        "status".into(),
                        AttributeValue::S("sent".into()),
                    )],
                    off_pending_index(),
                ]
                .concat(),
                Some(Condition::equals(
                    "status",
                    AttributeValue::S("pending".into()),
                )),
            )
            .await;
        match sent {
            Ok(_) | Err(handoff_ports::StoreError::ConditionFailed) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Relays the pending records a crash left behind, oldest first and at most
    /// [`SWEEP_RECORDS_MAX`] (one index page; the next sweep takes the rest); returns how
    /// many it sent. Sent records leave the index, so it holds only unsent ones.
    pub async fn sweep(&self) -> Result<usize, crate::runs::RunError> {
        let query = Query::partition(&self.main_table, PENDING_PARTITION)
            .on_index(Index::Gsi1)
            .limit(SWEEP_RECORDS_MAX);
        let mut sent = 0;
        for item in self.store.query(&query).await?.items {
            let key = Key::of(&item)?;
            let pending =
                matches!(item.get("status"), Some(AttributeValue::S(s)) if s == "pending");
            if !pending {
                // Sent before sent records left the index: take it off now.
                self.store
                    .update(
                        &self.main_table,
                        &key,
                        off_pending_index(),
                        Some(Condition::equals(
                            "status",
                            AttributeValue::S("sent".into()),
                        )),
                    )
                    .await
                    .map(drop)
                    .or_else(|e| match e {
                        handoff_ports::StoreError::ConditionFailed => Ok(()),
                        e => Err(e),
                    })?;
                continue;
            }
            match self.outbox(key).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                // One event that can never be sent must not hold back the others.
                Err(e) if !handoff_runtime::Failure::is_retryable(&e) => tracing::error!(
                    code = handoff_runtime::Failure::code(&e),
                    error = %e,
                    "an accounting event cannot be relayed; it stays pending"
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }
}
