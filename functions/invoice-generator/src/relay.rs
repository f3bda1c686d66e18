//! Relays `InvoiceIssued` (and `CreditNoteIssued`) outbox records to `accounting-outbox`.
//!
//! The outbox record is written in the numbering transaction, so an event exists exactly
//! when its document was issued. Relaying is at least once: send, then mark the record
//! `sent` (conditional on `pending`); a crash between the two resends on the next relay
//! (the job's redelivery, the issue route's retry), and consumers deduplicate on the
//! event's `event_id`.

use handoff_domain::InvoiceId;
use handoff_ports::{AttributeValue, Condition, Key, OutgoingMessage, Queue, Store, Update};
use std::sync::Arc;

#[derive(Clone)]
pub struct Relay {
    pub store: Arc<dyn Store>,
    pub main_table: String,
    pub queue: Arc<dyn Queue>,
}

impl Relay {
    /// Sends the invoice's pending `InvoiceIssued` event, if any; true when it sent one.
    pub async fn invoice_issued(&self, invoice: InvoiceId) -> Result<bool, crate::runs::RunError> {
        self.outbox(Key::new(
            format!("INVOICE#{invoice}"),
            "OUTBOX#InvoiceIssued",
        ))
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
                vec![Update::Set(
                    "status".into(),
                    AttributeValue::S("sent".into()),
                )],
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
}
