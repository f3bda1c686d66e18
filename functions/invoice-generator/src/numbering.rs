//! Legal invoice numbers: gapless and strictly increasing per (legal entity, series,
//! fiscal year), assigned only at issue.
//!
//! The counter's increment and the invoice's `draft → issued` change are one transaction:
//! the counter update is conditional on the value read, the invoice update on still being
//! a draft. A number is therefore consumed exactly when an invoice is issued with it (no
//! gap), and two concurrent issues cannot take the same number (one transaction is
//! cancelled and retries with the next value). Issuing an issued invoice returns its number.

use handoff_domain::deal::legal_entity_key;
use handoff_domain::invoice::legal_number;
use handoff_ports::store::text;
use handoff_ports::{AttributeValue, Condition, Key, Store, StoreError, Update, WriteOp};
use handoff_runtime::Failure;
use rust_decimal::Decimal;

/// Retries of an issue transaction that failed on storage (not on a condition).
pub const TRANSIENT_RETRIES_MAX: u32 = 3;
pub const TRANSIENT_BACKOFF_MS: u64 = 20;

/// Attempts when other issues keep taking the number first.
pub const ISSUE_ATTEMPTS_MAX: u32 = 64;

#[derive(Debug, thiserror::Error)]
pub enum NumberingError {
    #[error("invoice {0} does not exist")]
    UnknownInvoice(String),
    #[error("invoice {0} is neither a draft nor issued")]
    NotIssuable(String),
    #[error("issue date {requested} is before the series' last issue date {last}: numbers must follow dates")]
    BackDated { requested: String, last: String },
    #[error("the records issued with the number could not be built: {0}")]
    Writes(String),
    #[error("{0}: a record written with the issue changed meanwhile; read it again and retry")]
    WritesConflict(String),
    #[error("invoice {0}: items were claimed after its draft was built; build it again")]
    StaleDraft(String),
    #[error("the numbering counter stayed contended after {ISSUE_ATTEMPTS_MAX} attempts")]
    Contended,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl Failure for NumberingError {
    fn is_retryable(&self) -> bool {
        match self {
            NumberingError::Contended
            | NumberingError::StaleDraft(_)
            | NumberingError::WritesConflict(_) => true,
            NumberingError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            NumberingError::UnknownInvoice(_) => "unknown_invoice",
            NumberingError::NotIssuable(_) => "invoice_not_issuable",
            NumberingError::Contended => "numbering_contended",
            NumberingError::StaleDraft(_) => "invoice_draft_stale",
            NumberingError::WritesConflict(_) => "concurrent_change",
            NumberingError::Writes(_) => "issue_records_invalid",
            NumberingError::BackDated { .. } => "issue_date_before_last",
            NumberingError::Store(e) => e.code(),
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            NumberingError::UnknownInvoice(_) => 404,
            NumberingError::NotIssuable(_) | NumberingError::BackDated { .. } => 409,
            _ if self.is_retryable() => 503,
            _ => 500,
        }
    }
}

/// Which sequence a number comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub legal_entity: String,
    /// `INV` for invoices, `CN` for credit notes.
    pub prefix: String,
    pub fiscal_year: i32,
    /// The issue date: a number is never dated before the series' last one (numbers
    /// follow dates, as invoicing law asks). `None` skips the rule (tests of the counter).
    pub issued_on: Option<chrono::NaiveDate>,
}

impl Series {
    /// The series of `prefix` for documents of `project` issued on `issued_on`: per legal
    /// entity (the customer's, by the domain's `legal_entity_key`: records converted
    /// before conversion applied it keep their case), prefix and fiscal year.
    pub fn of(
        project: &handoff_domain::project::ProjectSkeleton,
        prefix: &str,
        issued_on: chrono::NaiveDate,
    ) -> Series {
        Series {
            legal_entity: project
                .customer
                .as_ref()
                .and_then(|c| c.legal_entity.as_deref())
                .map_or_else(|| "default".into(), legal_entity_key),
            prefix: prefix.to_owned(),
            fiscal_year: chrono::Datelike::year(&issued_on),
            issued_on: Some(issued_on),
        }
    }

    fn counter_key(&self) -> Key {
        Key::new(
            format!(
                "COUNTER#{}#{}#{}",
                self.legal_entity, self.prefix, self.fiscal_year
            ),
            "COUNTER",
        )
    }
}

fn counter_updates(series: &Series) -> Vec<Update> {
    let mut updates = vec![Update::Add("last".into(), Decimal::ONE)];
    if let Some(day) = series.issued_on {
        updates.push(Update::Set(
            "last_issued_on".into(),
            AttributeValue::S(day.to_string()),
        ));
    }
    updates
}

/// A record written once with an issue (its journal entry, its outbox event): a second
/// write of the same record cancels the issue rather than overwrite it.
pub fn new_record(table: &str, item: handoff_ports::Item) -> WriteOp {
    WriteOp::Put {
        table: table.to_owned(),
        item,
        condition: Some(Condition::NotExists),
    }
}

pub fn invoice_key(invoice_id: &str) -> Key {
    Key::new(format!("INVOICE#{invoice_id}"), "INVOICE")
}

/// Issues the draft `invoice_id` with the next number of `series`; returns the number.
pub async fn issue(
    store: &dyn Store,
    table: &str,
    invoice_id: &str,
    series: &Series,
) -> Result<String, NumberingError> {
    issue_with(store, table, invoice_id, series, |_| {
        Ok(IssueWrites::default())
    })
    .await
}

/// What an issue writes besides the number: more fields of the invoice record, and other
/// records (journal entry, outbox event), all in the numbering transaction.
#[derive(Debug, Default)]
pub struct IssueWrites {
    pub invoice_updates: Vec<Update>,
    pub writes: Vec<WriteOp>,
}

/// As [`issue`], writing `with(number)` (the issue's journal entry, its outbox event) in
/// the same transaction, so they exist exactly when the invoice is issued.
///
/// Where the invoice counts its claimed items (`claims`, see `claims::claim`), the draft
/// must have been built from all of them (`draft_claims`), and the transaction holds only
/// while no further item was claimed: a stale draft is never issued.
pub async fn issue_with(
    store: &dyn Store,
    table: &str,
    invoice_id: &str,
    series: &Series,
    with: impl Fn(&str) -> Result<IssueWrites, String>,
) -> Result<String, NumberingError> {
    let invoice = invoice_key(invoice_id);
    let mut transient_failures = 0;
    for _ in 0..ISSUE_ATTEMPTS_MAX {
        let current = store
            .get(table, &invoice)
            .await?
            .ok_or_else(|| NumberingError::UnknownInvoice(invoice_id.to_owned()))?;
        match text(&current, "status").as_deref() {
            Some("issued") => {
                return text(&current, "number")
                    .ok_or_else(|| NumberingError::NotIssuable(invoice_id.to_owned()))
            }
            Some("draft") => {}
            _ => return Err(NumberingError::NotIssuable(invoice_id.to_owned())),
        }
        let claims = current.get("claims").cloned();
        if claims.is_some() && claims != current.get("draft_claims").cloned() {
            return Err(NumberingError::StaleDraft(invoice_id.to_owned()));
        }
        let mut invoice_condition = vec![Condition::equals(
            "status",
            AttributeValue::S("draft".into()),
        )];
        if let Some(claims) = claims {
            invoice_condition.push(Condition::equals("claims", claims));
        }
        let counter = store.get(table, &series.counter_key()).await?;
        let last: u64 = match counter.as_ref().and_then(|c| c.get("last")) {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map_err(|_| StoreError::Decode(format!("counter value {n}")))?,
            _ => 0,
        };
        let last_issued_on = counter.as_ref().and_then(|c| text(c, "last_issued_on"));
        if let (Some(day), Some(last_day)) = (series.issued_on, last_issued_on.as_deref()) {
            if day.to_string().as_str() < last_day {
                return Err(NumberingError::BackDated {
                    requested: day.to_string(),
                    last: last_day.to_owned(),
                });
            }
        }
        let next = last + 1;
        let number = legal_number(&series.prefix, series.fiscal_year, next);
        let counter_condition = if counter.is_some() {
            Condition::equals("last", AttributeValue::N(last.to_string()))
        } else {
            Condition::NotExists
        };
        let extra = with(&number).map_err(NumberingError::Writes)?;
        let mut invoice_updates = vec![
            Update::Set("status".into(), AttributeValue::S("issued".into())),
            Update::Set("number".into(), AttributeValue::S(number.clone())),
        ];
        invoice_updates.extend(extra.invoice_updates);
        let mut ops = vec![
            WriteOp::Update {
                table: table.to_owned(),
                key: series.counter_key(),
                updates: counter_updates(series),
                condition: Some(counter_condition),
            },
            WriteOp::Update {
                table: table.to_owned(),
                key: invoice.clone(),
                updates: invoice_updates,
                condition: Some(Condition::And(invoice_condition)),
            },
        ];
        ops.extend(extra.writes);
        match store.transact_write(ops).await {
            Ok(()) => return Ok(number),
            // One of the caller's own writes (index 2 on) failed its condition: its state
            // moved on, so only the caller can redo the issue.
            Err(e) if e.failed_conditions().iter().any(|i| *i >= 2) => {
                return Err(NumberingError::WritesConflict(invoice_id.to_owned()))
            }
            // Someone took this number, or issued this invoice: read again and retry.
            Err(e) if !e.failed_conditions().is_empty() => continue,
            // A storage outage is not contention: a few tries with a pause, then its error.
            Err(e) if e.is_retryable() && transient_failures < TRANSIENT_RETRIES_MAX => {
                transient_failures += 1;
                tokio::time::sleep(std::time::Duration::from_millis(
                    TRANSIENT_BACKOFF_MS * u64::from(transient_failures),
                ))
                .await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(NumberingError::Contended)
}
