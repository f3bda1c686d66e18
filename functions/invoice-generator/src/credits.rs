//! Credit notes: `POST /invoices/{id}/credit-notes` (DESIGN §4.6).
//!
//! The credit note's id derives from (invoice, credited lines), so a repeated request
//! answers the same note. Its number comes from its own series (`CN-2026-000001`) in the
//! same transaction that writes its journal entry, its `CreditNoteIssued` outbox record
//! and the invoice's credited lines (conditional on the invoice's `credit_version`, so two
//! notes racing for one invoice cannot both credit a line). The items are then released to
//! unbilled or written off, each conditional on still being on this invoice; a crash
//! before that finishes is healed by repeating the request (the issued note is found and
//! only the item step runs again).

use crate::claims::{claimed_with_keys, release_op, write_each_once, write_off_op};
use crate::job::{Invoicing, JobError};
use crate::numbering::{invoice_key, issue_with, new_record, IssueWrites, NumberingError, Series};
use crate::relay::{pending_record, CREDIT_NOTE_ISSUED};
use handoff_domain::credit::{
    check_credit_date, credit, credit_entry, remaining_lines, CreditNoteDraft, CreditSelection,
    Disposition,
};
use handoff_domain::ledger::DocumentRef;
use handoff_domain::{CreditNoteId, InvoiceId, Money};
use handoff_ports::journal::journal_item;
use handoff_ports::{AttributeValue, Condition, StoreError, Update, WriteOp};
use serde::{Deserialize, Serialize};

/// Series prefix of credit notes.
pub const CREDIT_NOTE_PREFIX: &str = "CN";

/// The body of `POST /invoices/{id}/credit-notes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditRequest {
    /// Invoice line indices (0-based); absent = the whole invoice.
    #[serde(default)]
    pub lines: Option<Vec<usize>>,
    /// `release` (bill the items again) or `write_off`.
    pub disposition: Disposition,
    pub reason: String,
    /// The credit note's date (default: today).
    #[serde(default)]
    pub issue_on: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditOutcome {
    pub credit_note_id: CreditNoteId,
    pub number: String,
    pub invoice_id: InvoiceId,
    pub invoice_number: String,
    pub note: CreditNoteDraft,
    /// Items this call released or wrote off (0 when a repeat found them done).
    pub items_moved: usize,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Attempts of a credit note while other notes of the same invoice keep landing first.
pub const CREDIT_ATTEMPTS_MAX: u32 = 4;

impl Invoicing {
    /// Issues a credit note for `invoice` (see the module doc). A note racing another
    /// note of the same invoice reads the invoice again and retries (the domain then
    /// refuses it if the other note took its lines).
    pub async fn credit_note(
        &self,
        invoice: InvoiceId,
        request: &CreditRequest,
        issue_on: chrono::NaiveDate,
    ) -> Result<CreditOutcome, JobError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.credit_note_once(invoice, request, issue_on).await {
                Err(JobError::Numbering(NumberingError::WritesConflict(_)))
                    if attempt < CREDIT_ATTEMPTS_MAX => {}
                other => return other,
            }
        }
    }

    async fn credit_note_once(
        &self,
        invoice: InvoiceId,
        request: &CreditRequest,
        issue_on: chrono::NaiveDate,
    ) -> Result<CreditOutcome, JobError> {
        let record = self
            .record(invoice)
            .await?
            .ok_or(JobError::UnknownInvoice(invoice))?;
        let (Some(draft), Some(invoice_number), Some(project_id)) = (
            record.draft.clone(),
            record.number.clone(),
            record.project_id,
        ) else {
            return Err(JobError::Conflict(
                invoice,
                "only an issued invoice can be credited".into(),
            ));
        };
        let selection = match &request.lines {
            Some(lines) => CreditSelection::Lines(lines.clone()),
            None => CreditSelection::All,
        };
        let mut chosen = request.lines.clone().unwrap_or_default();
        chosen.sort_unstable();
        let selection_key = match &request.lines {
            Some(_) => chosen
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(","),
            None => "all".into(),
        };
        // The same request again is the same note; another disposition or reason for the
        // same lines is another note, which the domain then refuses (already credited).
        let disposition = serde_json::to_string(&request.disposition).unwrap_or_default();
        let note_id = CreditNoteId::derive_from_parts(&[
            &invoice.to_string(),
            &selection_key,
            &disposition,
            request.reason.trim(),
        ]);
        let note_key = invoice_key(&note_id.to_string());
        if let Some(existing) = self.store.get(&self.main_table, &note_key).await? {
            if let (Some(AttributeValue::S(number)), Some(AttributeValue::S(note))) =
                (existing.get("number"), existing.get("note"))
            {
                let note: CreditNoteDraft =
                    serde_json::from_str(note).map_err(|e| StoreError::Decode(e.to_string()))?;
                let moved = self.move_items(invoice, &note).await?;
                return Ok(CreditOutcome {
                    credit_note_id: note_id,
                    number: number.clone(),
                    invoice_id: invoice,
                    invoice_number,
                    note,
                    items_moved: moved,
                });
            }
        }
        if !record.is_open() {
            return Err(JobError::Conflict(
                invoice,
                format!("the invoice is {}", record.status),
            ));
        }
        if let Some(issued_on) = record.issued_on.as_deref() {
            let issued_on = issued_on
                .parse()
                .map_err(|e| StoreError::Decode(format!("issued_on {issued_on:?}: {e}")))?;
            check_credit_date(issued_on, issue_on).map_err(JobError::Invalid)?;
        }
        let note = credit(
            &draft,
            &invoice_number,
            &selection,
            &record.credited_lines,
            request.disposition,
            &request.reason,
        )
        .map_err(|e| match e {
            handoff_domain::credit::CreditError::Invalid(p) => JobError::Invalid(p),
            handoff_domain::credit::CreditError::Money(m) => JobError::Invoice(m.into()),
        })?;
        let mut draft_record = note_key.to_item();
        draft_record.insert("status".into(), s("draft"));
        draft_record.insert("kind".into(), s("credit_note"));
        draft_record.insert("credited_invoice".into(), s(invoice.to_string()));
        draft_record.insert("note".into(), s(json(&note)?));
        match self
            .store
            .put(
                &self.main_table,
                draft_record,
                Some(Condition::Or(vec![
                    Condition::NotExists,
                    Condition::equals("status", s("draft")),
                ])),
            )
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        let project = self.project(project_id).await?;
        let series = Series::of(&project, CREDIT_NOTE_PREFIX, issue_on);
        let writes = |number: &str| -> Result<IssueWrites, JobError> {
            let document = DocumentRef {
                id: &note_id.to_string(),
                number,
            };
            let entry = credit_entry(&note, document, issue_on, &self.chart.mapping)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let day = issue_on.to_string();
            let journal = journal_item(
                &project_id.to_string(),
                &format!("{day}#credit#{number}"),
                &day,
                json(&entry)?,
            );
            let mut credited = record.credited_lines.clone();
            credited.extend(note.credited_lines.iter().map(|l| (*l, number.to_owned())));
            let fully = remaining_lines(&draft, &credited).is_empty();
            let credited_gross = Money::new(record.credited_gross, draft.currency)
                .checked_add(&note.gross_total)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let event = serde_json::json!({
                "type": CREDIT_NOTE_ISSUED,
                "event_id": format!("{note_id}:issued"),
                "credit_note_id": note_id,
                "number": number,
                "invoice_id": invoice,
                "invoice_number": invoice_number,
                "issued_on": day,
                "note": note,
            });
            let outbox = pending_record(
                &note_id.to_string(),
                CREDIT_NOTE_ISSUED,
                json(&event)?,
                &day,
            );
            Ok(IssueWrites {
                invoice_updates: vec![Update::Set("issued_on".into(), s(day))],
                writes: vec![
                    new_record(&self.main_table, journal),
                    new_record(&self.main_table, outbox),
                    WriteOp::Update {
                        table: self.main_table.clone(),
                        key: invoice_key(&invoice.to_string()),
                        updates: vec![
                            Update::Set("credited_lines".into(), s(json(&credited)?)),
                            Update::Set(
                                "credited_gross".into(),
                                s(credited_gross.amount().to_string()),
                            ),
                            Update::Set(
                                "status".into(),
                                s(if fully { "credited" } else { "partly_credited" }),
                            ),
                            Update::Add("credit_version".into(), rust_decimal::Decimal::ONE),
                        ],
                        condition: Some(if record.credit_version == 0 {
                            Condition::AttributeNotExists("credit_version".into())
                        } else {
                            Condition::equals(
                                "credit_version",
                                AttributeValue::N(record.credit_version.to_string()),
                            )
                        }),
                    },
                ],
            })
        };
        let number = issue_with(
            self.store.as_ref(),
            &self.main_table,
            &note_id.to_string(),
            &series,
            |number| writes(number).map_err(|e| e.to_string()),
        )
        .await?;
        let moved = self.move_items(invoice, &note).await?;
        Ok(CreditOutcome {
            credit_note_id: note_id,
            number,
            invoice_id: invoice,
            invoice_number,
            note,
            items_moved: moved,
        })
    }

    /// Releases or writes off the credited items still on `invoice`.
    async fn move_items(
        &self,
        invoice: InvoiceId,
        note: &CreditNoteDraft,
    ) -> Result<usize, JobError> {
        let wanted: std::collections::BTreeSet<&str> =
            note.item_ids.iter().map(String::as_str).collect();
        let on_invoice = claimed_with_keys(self.store.as_ref(), &self.main_table, invoice).await?;
        let ops: Vec<WriteOp> = on_invoice
            .iter()
            .filter(|(_, item)| wanted.contains(item.id.to_string().as_str()))
            .map(|(key, item)| match note.disposition {
                Disposition::Release => release_op(&self.main_table, key, item, invoice),
                Disposition::WriteOff => write_off_op(&self.main_table, key, invoice),
            })
            .collect();
        // Never answer success with items still on the credited invoice: the journal
        // already moved their amounts; a repeated request finishes this step.
        Ok(write_each_once(self.store.as_ref(), ops, None).await?.count)
    }
}
