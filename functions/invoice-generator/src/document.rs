//! The stored invoice record and the canonical invoice document (DESIGN §4.6).
//!
//! The record (`INVOICE#<id>` / `INVOICE`) holds the status, the claim count, the draft
//! as JSON and, once issued, the number and dates; credit notes add the lines they
//! credited. The document is what `GET /invoices/{id}` answers and what `InvoiceIssued`
//! carries (without the annex, which can be long: an SQS message holds 256 KB).

use handoff_domain::invoice::InvoiceDraft;
use handoff_domain::project::ProjectSkeleton;
use handoff_domain::{InvoiceId, ProjectId};
use handoff_ports::store::text;
use handoff_ports::{AttributeValue, Item, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An invoice as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    pub invoice_id: InvoiceId,
    /// `draft`, `issued`, `credited` (fully) or `partly_credited`; `credit_note` for the
    /// records of credit notes.
    pub status: String,
    pub claims: u64,
    /// The claim count the stored draft was built from (its annex pages carry it).
    #[serde(default)]
    pub draft_claims: u64,
    pub project_id: Option<ProjectId>,
    pub contract_id: Option<String>,
    pub customer_name: Option<String>,
    pub period: Option<String>,
    pub number: Option<String>,
    pub issued_on: Option<String>,
    pub due_date: Option<String>,
    pub draft: Option<InvoiceDraft>,
    /// Line index → the credit note number that credited it.
    pub credited_lines: BTreeMap<usize, String>,
    /// Bumped by every credit note (the condition of the next).
    pub credit_version: u64,
    /// Σ gross of the credit notes issued against the invoice.
    #[serde(with = "rust_decimal::serde::str")]
    pub credited_gross: rust_decimal::Decimal,
}

fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| StoreError::Decode(format!("{name} = {n}"))),
        _ => Ok(0),
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    item: &Item,
    name: &str,
) -> Result<Option<T>, StoreError> {
    text(item, name)
        .map(|json| {
            serde_json::from_str(&json).map_err(|e| StoreError::Decode(format!("{name}: {e}")))
        })
        .transpose()
}

impl InvoiceRecord {
    pub fn from_item(invoice_id: InvoiceId, item: &Item) -> Result<InvoiceRecord, StoreError> {
        let project_id = text(item, "project_id")
            .map(|p| {
                p.parse()
                    .map_err(|_| StoreError::Decode(format!("project_id {p}")))
            })
            .transpose()?;
        Ok(InvoiceRecord {
            invoice_id,
            status: text(item, "status").unwrap_or_default(),
            claims: number(item, "claims")?,
            draft_claims: number(item, "draft_claims")?,
            project_id,
            contract_id: text(item, "contract_id"),
            customer_name: text(item, "customer_name"),
            period: text(item, "period"),
            number: text(item, "number"),
            issued_on: text(item, "issued_on"),
            due_date: text(item, "due_date"),
            draft: decode(item, "draft")?,
            credited_lines: decode(item, "credited_lines")?.unwrap_or_default(),
            credit_version: number(item, "credit_version")?,
            credited_gross: text(item, "credited_gross")
                .map(|t| {
                    t.parse()
                        .map_err(|_| StoreError::Decode(format!("credited_gross {t}")))
                })
                .transpose()?
                .unwrap_or_default(),
        })
    }

    /// Issued and not fully credited.
    pub fn is_open(&self) -> bool {
        self.status == "issued" || self.status == "partly_credited"
    }

    /// What the customer still owes on it: gross − credited (zero unless open).
    pub fn open_amount(&self) -> Option<handoff_domain::Money> {
        let draft = self.draft.as_ref()?;
        let open = draft.gross_total.amount() - self.credited_gross;
        Some(handoff_domain::Money::new(
            if self.is_open() {
                open
            } else {
                rust_decimal::Decimal::ZERO
            },
            draft.currency,
        ))
    }
}

/// The canonical invoice document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDocument {
    pub invoice_id: InvoiceId,
    pub status: String,
    pub number: Option<String>,
    pub project_id: Option<ProjectId>,
    pub contract_id: Option<String>,
    pub customer_name: Option<String>,
    pub period: Option<String>,
    pub issued_on: Option<String>,
    pub due_date: Option<String>,
    pub credited_lines: BTreeMap<usize, String>,
    #[serde(flatten)]
    pub draft: Option<InvoiceDraft>,
}

impl InvoiceDocument {
    pub fn from_record(record: &InvoiceRecord) -> InvoiceDocument {
        InvoiceDocument {
            invoice_id: record.invoice_id,
            status: record.status.clone(),
            number: record.number.clone(),
            project_id: record.project_id,
            contract_id: record.contract_id.clone(),
            customer_name: record.customer_name.clone(),
            period: record.period.clone(),
            issued_on: record.issued_on.clone(),
            due_date: record.due_date.clone(),
            credited_lines: record.credited_lines.clone(),
            draft: record.draft.clone(),
        }
    }

    /// The document of an invoice as it is being issued.
    pub fn issued(
        invoice_id: InvoiceId,
        project: &ProjectSkeleton,
        draft: &InvoiceDraft,
        number: &str,
        issued_on: chrono::NaiveDate,
        due: chrono::NaiveDate,
    ) -> InvoiceDocument {
        InvoiceDocument {
            invoice_id,
            status: "issued".into(),
            number: Some(number.to_owned()),
            project_id: Some(project.project_id),
            contract_id: Some(project.contract.contract_id.to_string()),
            customer_name: project.customer.as_ref().map(|c| c.name.clone()),
            period: None,
            issued_on: Some(issued_on.to_string()),
            due_date: Some(due.to_string()),
            credited_lines: BTreeMap::new(),
            draft: Some(draft.clone()),
        }
    }

    /// The `InvoiceIssued` event for `accounting-outbox`: the document without annexes.
    pub fn event(&self) -> serde_json::Value {
        let mut document = self.clone();
        if let Some(d) = document.draft.as_mut() {
            crate::annex::strip(d);
        }
        serde_json::json!({
            "type": "InvoiceIssued",
            "event_id": format!("{}:issued", self.invoice_id),
            "invoice": document,
        })
    }
}
