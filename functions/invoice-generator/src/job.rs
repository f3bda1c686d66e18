//! One invoice job: a contract's billing period → one invoice, exactly once.
//!
//! The invoice id derives from (contract, period), so a redelivered job or a second run
//! resumes the same invoice: claim the contract's unbilled items up to the cut-off, build
//! the draft from every item the invoice holds, store it (replacing an earlier draft of
//! the same invoice), and — unless finance approves first — issue it with the next legal
//! number, writing the issue's journal entry and `InvoiceIssued` outbox record in the same
//! transaction as the number.

use crate::claims::{claim, claimed_by, unbilled};
use crate::numbering::{invoice_key, issue_with, NumberingError, Series};
use handoff_domain::invoice::{
    assemble, due_date, issue_entry, InvoiceDraft, InvoiceError, TaxTable,
};
use handoff_domain::ledger::ChartOfAccounts;
use handoff_domain::project::ProjectSkeleton;
use handoff_domain::{InvoiceId, ProjectId};
use handoff_ports::{AttributeValue, Condition, Key, Store, StoreError, WriteOp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct Invoicing {
    pub store: Arc<dyn Store>,
    pub tax: Arc<TaxTable>,
    pub chart: Arc<ChartOfAccounts>,
    pub main_table: String,
    /// Series prefix of invoices (`INV`).
    pub series_prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("invoice: {0}")]
    Invoice(#[from] InvoiceError),
    #[error("numbering: {0}")]
    Numbering(#[from] NumberingError),
    #[error("project {0} is not stored")]
    UnknownProject(ProjectId),
    #[error("the customer has no tax jurisdiction or it is not in the tax table")]
    NoTaxJurisdiction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutcome {
    pub invoice_id: InvoiceId,
    /// `None` while the invoice waits for finance's approval (a draft has no number).
    pub number: Option<String>,
    pub draft: Option<InvoiceDraft>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Invoicing {
    async fn project(&self, id: ProjectId) -> Result<ProjectSkeleton, JobError> {
        let item = self
            .store
            .get(
                &self.main_table,
                &Key::new(format!("PROJECT#{id}"), "PROJECT"),
            )
            .await?
            .ok_or(JobError::UnknownProject(id))?;
        match item.get("skeleton") {
            Some(AttributeValue::S(json)) => {
                serde_json::from_str(json).map_err(|e| StoreError::Decode(e.to_string()).into())
            }
            _ => Err(JobError::UnknownProject(id)),
        }
    }

    /// Invoices `project` for the period `period` (e.g. `2026-12`) with items up to
    /// `cutoff`, issuing on `issue_on` unless the contract wants finance's approval.
    pub async fn run(
        &self,
        project_id: ProjectId,
        period: &str,
        period_start: &str,
        cutoff: &str,
        issue_on: &str,
    ) -> Result<JobOutcome, JobError> {
        let project = self.project(project_id).await?;
        let contract = project.contract.contract_id;
        let invoice = InvoiceId::derive_from_parts(&[&contract.to_string(), period]);
        let items = unbilled(self.store.as_ref(), &self.main_table, contract, cutoff).await?;
        claim(self.store.as_ref(), &self.main_table, invoice, &items).await?;
        let claimed = claimed_by(self.store.as_ref(), &self.main_table, invoice).await?;
        if claimed.is_empty() {
            return Ok(JobOutcome {
                invoice_id: invoice,
                number: None,
                draft: None,
            });
        }
        let jurisdiction = project
            .customer
            .as_ref()
            .and_then(|c| c.tax_jurisdiction.clone())
            .ok_or(JobError::NoTaxJurisdiction)?;
        let tax = self
            .tax
            .for_jurisdiction(&jurisdiction)
            .ok_or(JobError::NoTaxJurisdiction)?;
        let parse = |d: &str| handoff_domain::deal::parse_date(d).map_err(StoreError::Invalid);
        let draft = assemble(
            &claimed,
            project.contract.currency,
            tax,
            parse(period_start)?,
            parse(cutoff)?,
        )?;
        let key = invoice_key(&invoice.to_string());
        let mut record = key.to_item();
        record.insert("status".into(), s("draft"));
        record.insert("project_id".into(), s(project_id.to_string()));
        record.insert("period".into(), s(period));
        record.insert(
            "draft".into(),
            s(serde_json::to_string(&draft).map_err(|e| StoreError::Invalid(e.to_string()))?),
        );
        // A new draft, or a fuller draft of the same invoice after a resumed claim; an
        // issued invoice is never rewritten.
        let still_draft = Condition::Or(vec![
            Condition::NotExists,
            Condition::equals("status", s("draft")),
        ]);
        match self
            .store
            .put(&self.main_table, record, Some(still_draft))
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        if project.contract.billing.finance_approval {
            return Ok(JobOutcome {
                invoice_id: invoice,
                number: None,
                draft: Some(draft),
            });
        }
        let number = self.issue(&project, invoice, &draft, issue_on).await?;
        Ok(JobOutcome {
            invoice_id: invoice,
            number: Some(number),
            draft: Some(draft),
        })
    }

    /// Issues a stored draft (also `POST /invoices/{id}/issue` after finance's approval).
    pub async fn issue(
        &self,
        project: &ProjectSkeleton,
        invoice: InvoiceId,
        draft: &InvoiceDraft,
        issue_on: &str,
    ) -> Result<String, JobError> {
        let issued_on = handoff_domain::deal::parse_date(issue_on).map_err(StoreError::Invalid)?;
        let legal_entity = project
            .customer
            .as_ref()
            .and_then(|c| c.legal_entity.clone())
            .unwrap_or_else(|| "default".into());
        let series = Series {
            legal_entity,
            prefix: self.series_prefix.clone(),
            fiscal_year: chrono::Datelike::year(&issued_on),
        };
        let table = self.main_table.clone();
        let accounts = self.chart.mapping.clone();
        let due = due_date(issued_on, project.contract.billing.payment_terms_days);
        let number = issue_with(self.store.as_ref(), &self.main_table, &invoice.to_string(), &series, |number| {
            let Ok(entry) = issue_entry(draft, number, issued_on, &accounts) else { return Vec::new() };
            let mut journal = Key::new(format!("JOURNAL#{}", project.project_id), format!("{issued_on}#invoice#{number}")).to_item();
            journal.insert("entry".into(), s(serde_json::to_string(&entry).unwrap_or_default()));
            let mut outbox = Key::new(format!("INVOICE#{invoice}"), "OUTBOX#InvoiceIssued").to_item();
            let event = serde_json::json!({"type": "InvoiceIssued", "invoice_id": invoice, "number": number, "due_date": due, "gross_total": draft.gross_total});
            outbox.insert("event".into(), s(event.to_string()));
            outbox.insert("status".into(), s("pending"));
            vec![
                WriteOp::Put { table: table.clone(), item: journal, condition: Some(Condition::NotExists) },
                WriteOp::Put { table: table.clone(), item: outbox, condition: Some(Condition::NotExists) },
            ]
        })
        .await?;
        Ok(number)
    }
}
