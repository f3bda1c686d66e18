//! One invoice job: a contract's billing period → one invoice, exactly once.
//!
//! The invoice id derives from (contract, period), so a redelivered job or a second run
//! resumes the same invoice: claim the contract's unbilled items up to the cut-off (each
//! claim transaction also counts the claims on the invoice, and only while it is a draft),
//! build the draft from every item the invoice holds (and only once the index shows them
//! all), store it, and — unless finance approves first — issue it with the next legal
//! number, writing the issue's journal entry and `InvoiceIssued` outbox record in the same
//! transaction as the number. An issued invoice is final: a rerun returns it unchanged, and
//! items delivered later wait for the next period's invoice.

use crate::claims::{claim, claimed_by, unbilled};
use crate::document::{InvoiceDocument, InvoiceRecord};
use crate::numbering::{invoice_key, issue_with, new_record, IssueWrites, NumberingError, Series};
use crate::relay::{pending_record, INVOICE_ISSUED};
use handoff_domain::billing::BillableItem;
use handoff_domain::billing_calendar::{simulate, BillingPeriod, CardRates, WhatIf};
use handoff_domain::invoice::{
    assemble, deferral, due_date, issue_entry, InvoiceDraft, InvoiceError, TaxTable,
};
use handoff_domain::ledger::{ChartOfAccounts, DocumentRef};
use handoff_domain::project::ProjectSkeleton;
use handoff_domain::rates::RateBook;
use handoff_domain::{ContractId, InvoiceId, Money, ProjectId};
use handoff_ports::journal::journal_item;
use handoff_ports::{AttributeValue, Condition, Key, Store, StoreError, Update};
use handoff_runtime::Failure;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Rebuilds of a draft when items keep being claimed while it is built.
pub const DRAFT_ATTEMPTS_MAX: u32 = 5;
/// Reads of the claimed-items index until it shows every claimed item (GSIs lag writes).
pub const INDEX_VISIBILITY_ATTEMPTS_MAX: u32 = 20;
pub const INDEX_VISIBILITY_WAIT_MS: u64 = 50;

#[derive(Clone)]
pub struct Invoicing {
    pub store: Arc<dyn Store>,
    pub tax: Arc<TaxTable>,
    pub chart: Arc<ChartOfAccounts>,
    pub main_table: String,
    /// Series prefix of invoices (`INV`).
    pub series_prefix: String,
    /// The rate cards, for what-ifs naming a card version (`None`: such what-ifs are
    /// refused).
    pub rates: Option<Arc<RateBook>>,
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
    #[error("invoice {0} is not stored")]
    UnknownInvoice(InvoiceId),
    #[error("the customer has no tax jurisdiction or it is not in the tax table")]
    NoTaxJurisdiction,
    #[error("invoice {0}: {1}")]
    Conflict(InvoiceId, String),
    #[error("{0}")]
    Invalid(handoff_domain::Problems),
    #[error(
        "the period holds {count} unbilled items, more than one invoice carries ({INVOICE_ITEMS_MAX}); \
         bill the contract more often (weekly or semi-monthly)"
    )]
    TooManyItems { count: usize },
    #[error("invoice {invoice}: the claimed-items index shows {seen} of {claimed} items yet")]
    IndexLagging {
        invoice: InvoiceId,
        seen: usize,
        claimed: u64,
    },
}

impl Failure for JobError {
    fn is_retryable(&self) -> bool {
        match self {
            JobError::Store(e) => e.is_retryable(),
            JobError::Numbering(e) => e.is_retryable(),
            JobError::IndexLagging { .. } => true,
            _ => false,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            JobError::Store(e) => e.code(),
            JobError::Invoice(_) => "invoice_invalid",
            JobError::Numbering(e) => e.code(),
            JobError::UnknownProject(_) => "unknown_project",
            JobError::UnknownInvoice(_) => "unknown_invoice",
            JobError::NoTaxJurisdiction => "no_tax_jurisdiction",
            JobError::Conflict(..) => "invoice_conflict",
            JobError::Invalid(_) => "validation_failed",
            JobError::IndexLagging { .. } => "index_lagging",
            JobError::TooManyItems { .. } => "too_many_items",
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            JobError::UnknownProject(_) | JobError::UnknownInvoice(_) => 404,
            JobError::Conflict(..) => 409,
            JobError::Invalid(_) => 400,
            JobError::Numbering(e) => e.http_status(),
            JobError::NoTaxJurisdiction | JobError::Invoice(_) | JobError::TooManyItems { .. } => {
                422
            }
            _ if self.is_retryable() => 503,
            _ => 500,
        }
    }
    fn details(&self) -> Vec<handoff_runtime::ErrorDetail> {
        match self {
            JobError::Invalid(p) => handoff_runtime::ErrorDetail::of(p),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutcome {
    pub invoice_id: InvoiceId,
    /// `None` while the invoice waits for finance's approval (a draft has no number).
    pub number: Option<String>,
    pub draft: Option<InvoiceDraft>,
    /// Why nothing was invoiced although items were unbilled (they net to zero or less
    /// and wait for the next period); `None` otherwise.
    #[serde(default)]
    pub deferred: Option<String>,
}

/// A dry run: what the invoice would be now, and under a hypothetical change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunOutcome {
    pub invoice_id: InvoiceId,
    pub current: Option<InvoiceDraft>,
    pub simulated: Option<InvoiceDraft>,
    /// Simulated gross total − current gross total.
    pub difference: Option<Money>,
    /// Why the what-if was not simulated for this contract (its amounts are in another
    /// currency than the contract bills in); the current figures still stand.
    #[serde(default)]
    pub not_simulated: Option<String>,
}

/// Items one invoice carries at most. Its record, its journal entry and its annex pages
/// hold every item's id (about 40 bytes each) and DynamoDB items hold 400 KB: a period
/// with more is refused before anything is claimed, with what to do.
pub const INVOICE_ITEMS_MAX: usize = 4000;

/// The index partition (`GSI1`) listing every invoice by cut-off, newest last; set with
/// the invoice's draft, read by `GET /invoices`.
pub const INVOICE_LIST_PARTITION: &str = "INVOICES";

/// An invoice's place in [`INVOICE_LIST_PARTITION`]: by cut-off, then id (also the
/// listing's `next` cursor).
pub fn invoice_list_sort_key(cutoff: &str, invoice: InvoiceId) -> String {
    format!("{cutoff}#{invoice}")
}

/// The invoice of a contract's billing period.
pub fn invoice_id_for(contract: ContractId, period_key: &str) -> InvoiceId {
    InvoiceId::derive_from_parts(&[&contract.to_string(), period_key])
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn date(text: &str) -> Result<chrono::NaiveDate, StoreError> {
    handoff_domain::deal::parse_date(text).map_err(StoreError::Invalid)
}

impl Invoicing {
    pub async fn project(&self, id: ProjectId) -> Result<ProjectSkeleton, JobError> {
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

    /// The stored invoice record, if any.
    pub async fn record(&self, invoice: InvoiceId) -> Result<Option<InvoiceRecord>, JobError> {
        let item = self
            .store
            .get(&self.main_table, &invoice_key(&invoice.to_string()))
            .await?;
        Ok(item
            .map(|i| InvoiceRecord::from_item(invoice, &i))
            .transpose()?)
    }

    /// The invoice as stored, its draft with the annex (read from the annex pages).
    pub async fn annexed_record(
        &self,
        invoice: InvoiceId,
    ) -> Result<Option<InvoiceRecord>, JobError> {
        let Some(mut record) = self.record(invoice).await? else {
            return Ok(None);
        };
        self.attach_annex(&mut record).await?;
        Ok(Some(record))
    }

    /// Puts the annex pages of the record's stored draft back on its lines.
    async fn attach_annex(&self, record: &mut InvoiceRecord) -> Result<(), JobError> {
        let (invoice, claims) = (record.invoice_id, record.draft_claims);
        if let Some(draft) = record.draft.as_mut() {
            crate::annex::attach(
                self.store.as_ref(),
                &self.main_table,
                invoice,
                draft,
                claims,
            )
            .await?;
        }
        Ok(())
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
        let period = BillingPeriod {
            key: period.to_owned(),
            start: date(period_start)?,
            cutoff: date(cutoff)?,
        };
        self.run_period(project_id, &period, date(issue_on)?).await
    }

    /// The job of one contract's billing period (see the module doc).
    pub async fn run_period(
        &self,
        project_id: ProjectId,
        period: &BillingPeriod,
        issue_on: chrono::NaiveDate,
    ) -> Result<JobOutcome, JobError> {
        let project = self.project(project_id).await?;
        let invoice = invoice_id_for(project.contract.contract_id, &period.key);
        let record = self.record(invoice).await?;
        if let Some(done) = self.final_outcome(invoice, record.clone()).await? {
            return Ok(done);
        }
        let claims_before = record.map_or(0, |r| r.claims);
        let items = unbilled(
            self.store.as_ref(),
            &self.main_table,
            project.contract.contract_id,
            &period.cutoff.to_string(),
        )
        .await?;
        if claims_before == 0 && items.len() > INVOICE_ITEMS_MAX {
            return Err(JobError::TooManyItems { count: items.len() });
        }
        if let Some(reason) = self.deferral(&project, claims_before, &items, period)? {
            return Ok(JobOutcome {
                invoice_id: invoice,
                number: None,
                draft: None,
                deferred: Some(reason),
            });
        }
        let claimed = claim(self.store.as_ref(), &self.main_table, invoice, &items).await?;
        if claimed.invoice_closed {
            let record = self.record(invoice).await?;
            if let Some(done) = self.final_outcome(invoice, record).await? {
                return Ok(done);
            }
        }
        for _ in 0..DRAFT_ATTEMPTS_MAX {
            let Some(draft) = self.store_draft(&project, invoice, period).await? else {
                return Ok(JobOutcome {
                    invoice_id: invoice,
                    number: None,
                    draft: None,
                    deferred: None,
                });
            };
            if project.contract.billing.finance_approval {
                return Ok(JobOutcome {
                    invoice_id: invoice,
                    number: None,
                    draft: Some(draft),
                    deferred: None,
                });
            }
            match self
                .issue(&project, invoice, &draft, &issue_on.to_string())
                .await
            {
                Ok(number) => {
                    return Ok(JobOutcome {
                        invoice_id: invoice,
                        number: Some(number),
                        draft: Some(draft),
                        deferred: None,
                    })
                }
                Err(JobError::Numbering(NumberingError::StaleDraft(_))) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(NumberingError::StaleDraft(invoice.to_string()).into())
    }

    /// Why the unbilled `items` are not claimed at all: they net to zero or less (the
    /// domain's [`deferral`]). Checked before the first claim only; once items are claimed
    /// for the invoice, a retry finishes it. A contract the invoice cannot be built for
    /// (no tax jurisdiction) fails here too, before any item is claimed.
    fn deferral(
        &self,
        project: &ProjectSkeleton,
        claims_before: u64,
        items: &[(Key, BillableItem)],
        period: &BillingPeriod,
    ) -> Result<Option<String>, JobError> {
        if items.is_empty() || claims_before > 0 {
            return Ok(None);
        }
        let plain: Vec<BillableItem> = items.iter().map(|(_, item)| item.clone()).collect();
        let preview = self.assemble_for(project, &plain, period)?;
        Ok(deferral(&preview))
    }

    /// An invoice that is no longer a draft: the job's answer without touching it.
    /// `record` is the invoice as just read.
    async fn final_outcome(
        &self,
        invoice: InvoiceId,
        record: Option<InvoiceRecord>,
    ) -> Result<Option<JobOutcome>, JobError> {
        let Some(mut record) = record.filter(|r| r.status != "draft") else {
            return Ok(None);
        };
        // Issued (or credited): the answer is the stored document, annex included.
        self.attach_annex(&mut record).await?;
        Ok(Some(JobOutcome {
            invoice_id: invoice,
            number: record.number,
            draft: record.draft,
            deferred: None,
        }))
    }

    /// Builds the draft from every item claimed by `invoice` and stores it, on the
    /// condition that no item was claimed meanwhile. `None`: nothing to invoice.
    async fn store_draft(
        &self,
        project: &ProjectSkeleton,
        invoice: InvoiceId,
        period: &BillingPeriod,
    ) -> Result<Option<InvoiceDraft>, JobError> {
        let claims = self.record(invoice).await?.map(|r| r.claims).unwrap_or(0);
        if claims == 0 {
            return Ok(None);
        }
        let items = self.claimed_items(invoice, claims).await?;
        let draft = self.assemble_for(project, &items, period)?;
        // The record keeps the draft without its annex, which has pages of its own.
        let (bare, pages) = crate::annex::split(invoice, &draft, claims)?;
        crate::annex::write(self.store.as_ref(), &self.main_table, pages).await?;
        let mut updates = vec![
            Update::Set("draft".into(), s(json(&bare)?)),
            Update::Set("draft_claims".into(), AttributeValue::N(claims.to_string())),
            Update::Set("project_id".into(), s(project.project_id.to_string())),
            Update::Set(
                "contract_id".into(),
                s(project.contract.contract_id.to_string()),
            ),
            Update::Set("period".into(), s(&period.key)),
            Update::Set("period_start".into(), s(period.start.to_string())),
            Update::Set("cutoff".into(), s(period.cutoff.to_string())),
            Update::Set("GSI1PK".into(), s(INVOICE_LIST_PARTITION)),
            Update::Set(
                "GSI1SK".into(),
                s(invoice_list_sort_key(&period.cutoff.to_string(), invoice)),
            ),
        ];
        if let Some(name) = project.customer.as_ref().map(|c| c.name.clone()) {
            updates.push(Update::Set("customer_name".into(), s(name)));
        }
        let condition = Condition::And(vec![
            Condition::equals("status", s("draft")),
            Condition::equals("claims", AttributeValue::N(claims.to_string())),
        ]);
        match self
            .store
            .update(
                &self.main_table,
                &invoice_key(&invoice.to_string()),
                updates,
                Some(condition),
            )
            .await
        {
            Ok(_) => Ok(Some(draft)),
            Err(StoreError::ConditionFailed) => Err(JobError::Numbering(
                NumberingError::StaleDraft(invoice.to_string()),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The items claimed by `invoice`, once the index shows all `claims` of them.
    async fn claimed_items(
        &self,
        invoice: InvoiceId,
        claims: u64,
    ) -> Result<Vec<BillableItem>, JobError> {
        let mut seen = 0;
        for attempt in 0..INDEX_VISIBILITY_ATTEMPTS_MAX {
            let items = claimed_by(self.store.as_ref(), &self.main_table, invoice).await?;
            if items.len() as u64 == claims {
                return Ok(items);
            }
            seen = items.len();
            if attempt + 1 < INDEX_VISIBILITY_ATTEMPTS_MAX {
                tokio::time::sleep(Duration::from_millis(INDEX_VISIBILITY_WAIT_MS)).await;
            }
        }
        Err(JobError::IndexLagging {
            invoice,
            seen,
            claimed: claims,
        })
    }

    fn assemble_for(
        &self,
        project: &ProjectSkeleton,
        items: &[BillableItem],
        period: &BillingPeriod,
    ) -> Result<InvoiceDraft, JobError> {
        let jurisdiction = project
            .customer
            .as_ref()
            .and_then(|c| c.tax_jurisdiction.clone())
            .ok_or(JobError::NoTaxJurisdiction)?;
        let tax = self
            .tax
            .for_jurisdiction(&jurisdiction)
            .ok_or(JobError::NoTaxJurisdiction)?;
        Ok(assemble(
            items,
            project.contract.currency,
            tax,
            period.start,
            period.cutoff,
        )?)
    }

    /// What the invoice of `period` would be, claiming nothing; with `what_if`, also
    /// under the hypothetical rates or cap, and the difference.
    pub async fn dry_run(
        &self,
        project_id: ProjectId,
        period: &BillingPeriod,
        what_if: &WhatIf,
    ) -> Result<DryRunOutcome, JobError> {
        let project = self.project(project_id).await?;
        let contract = project.contract.contract_id;
        let invoice = invoice_id_for(contract, &period.key);
        let mut items: Vec<BillableItem> = Vec::new();
        match self.record(invoice).await? {
            Some(r) if r.status != "draft" => {
                return Ok(DryRunOutcome {
                    invoice_id: invoice,
                    current: r.draft,
                    simulated: None,
                    difference: None,
                    not_simulated: None,
                })
            }
            Some(_) => {
                items.extend(claimed_by(self.store.as_ref(), &self.main_table, invoice).await?)
            }
            None => {}
        }
        let cutoff = period.cutoff.to_string();
        // The unbilled index can lag a claim: an item already claimed counts once.
        let claimed: std::collections::BTreeSet<String> =
            items.iter().map(|i| i.id.to_string()).collect();
        items.extend(
            unbilled(self.store.as_ref(), &self.main_table, contract, &cutoff)
                .await?
                .into_iter()
                .map(|(_, i)| i)
                .filter(|i| !claimed.contains(&i.id.to_string())),
        );
        let current = match self.assemble_for(&project, &items, period) {
            Ok(d) => Some(d),
            Err(JobError::Invoice(InvoiceError::Empty)) => None,
            Err(e) => return Err(e),
        };
        if what_if.is_empty() {
            return Ok(DryRunOutcome {
                invoice_id: invoice,
                current,
                simulated: None,
                difference: None,
                not_simulated: None,
            });
        }
        if let Some(other) = what_if
            .currency()
            .filter(|c| *c != project.contract.currency)
        {
            return Ok(DryRunOutcome {
                invoice_id: invoice,
                current,
                simulated: None,
                difference: None,
                not_simulated: Some(format!(
                    "the what-if is in {other}; this contract bills in {}",
                    project.contract.currency
                )),
            });
        }
        let accrued = self.accrued_net(&project).await?;
        let card = self.card_rates(what_if)?;
        let changed =
            simulate(&items, what_if, card.as_ref(), accrued).map_err(InvoiceError::from)?;
        let simulated = match self.assemble_for(&project, &changed, period) {
            Ok(d) => Some(d),
            Err(JobError::Invoice(InvoiceError::Empty)) => None,
            Err(e) => return Err(e),
        };
        let zero = Money::zero(project.contract.currency);
        let gross = |d: &Option<InvoiceDraft>| d.as_ref().map(|d| d.gross_total).unwrap_or(zero);
        let difference = gross(&simulated)
            .checked_sub(&gross(&current))
            .map_err(InvoiceError::from)?;
        Ok(DryRunOutcome {
            invoice_id: invoice,
            current,
            simulated,
            difference: Some(difference),
            not_simulated: None,
        })
    }

    /// The bill rates of the what-if's card version, if it names one.
    pub fn card_rates(&self, what_if: &WhatIf) -> Result<Option<CardRates>, JobError> {
        let Some(choice) = &what_if.rate_card else {
            return Ok(None);
        };
        let invalid = |problem: String| {
            JobError::Invalid(handoff_domain::Problems(vec![
                handoff_domain::Problem::new("what_if.rate_card", problem),
            ]))
        };
        let book = self
            .rates
            .as_ref()
            .ok_or_else(|| invalid("no rate cards are loaded here".into()))?;
        let rates = book
            .version_bill_rates(&choice.card, choice.version)
            .ok_or_else(|| {
                invalid(format!(
                    "no version {} of rate card {:?}",
                    choice.version, choice.card
                ))
            })?;
        Ok(Some(CardRates {
            card: choice.card.clone(),
            rates,
        }))
    }

    /// The net the contract accrued towards its cap (its billing state), zero if none.
    async fn accrued_net(&self, project: &ProjectSkeleton) -> Result<Money, JobError> {
        let key = Key::new(format!("PROJECT#{}", project.project_id), "BILLING#STATE");
        let state = self.store.get(&self.main_table, &key).await?;
        let parsed = match state.as_ref().and_then(|i| i.get("state")) {
            Some(AttributeValue::S(text)) => {
                serde_json::from_str::<handoff_domain::billing::ContractState>(text)
                    .map_err(|e| StoreError::Decode(e.to_string()))?
                    .billed_net
            }
            _ => Money::zero(project.contract.currency),
        };
        Ok(parsed)
    }

    /// Issues the stored draft `invoice` (`POST /invoices/{id}/issue` after finance's
    /// approval); an issued invoice answers its number again.
    pub async fn issue_stored(
        &self,
        invoice: InvoiceId,
        issue_on: &str,
    ) -> Result<JobOutcome, JobError> {
        let record = self
            .record(invoice)
            .await?
            .ok_or(JobError::UnknownInvoice(invoice))?;
        if record.status != "draft" {
            return Ok(JobOutcome {
                invoice_id: invoice,
                number: record.number,
                draft: record.draft,
                deferred: None,
            });
        }
        let (Some(draft), Some(project)) = (record.draft, record.project_id) else {
            return Err(JobError::Conflict(
                invoice,
                "the invoice has no draft yet; its billing job has not finished".into(),
            ));
        };
        let project = self.project(project).await?;
        let number = self.issue(&project, invoice, &draft, issue_on).await?;
        Ok(JobOutcome {
            invoice_id: invoice,
            number: Some(number),
            draft: Some(draft),
            deferred: None,
        })
    }

    /// Issues a stored draft with the next number, its journal entry and its outbox event.
    pub async fn issue(
        &self,
        project: &ProjectSkeleton,
        invoice: InvoiceId,
        draft: &InvoiceDraft,
        issue_on: &str,
    ) -> Result<String, JobError> {
        let issued_on = date(issue_on)?;
        let series = Series::of(project, &self.series_prefix, issued_on);
        let due = due_date(issued_on, project.contract.billing.payment_terms_days);
        let writes = |number: &str| -> Result<IssueWrites, JobError> {
            let document = DocumentRef {
                id: &invoice.to_string(),
                number,
            };
            let entry = issue_entry(draft, document, issued_on, &self.chart.mapping)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let day = issued_on.to_string();
            let journal = journal_item(
                &project.project_id.to_string(),
                &format!("{day}#invoice#{number}"),
                &day,
                json(&entry)?,
            );
            let document = InvoiceDocument::issued(invoice, project, draft, number, issued_on, due);
            let outbox = pending_record(
                &invoice.to_string(),
                INVOICE_ISSUED,
                json(&document.event())?,
                &day,
            );
            Ok(IssueWrites {
                invoice_updates: vec![
                    Update::Set("issued_on".into(), s(day)),
                    Update::Set("due_date".into(), s(due.to_string())),
                ],
                writes: vec![
                    new_record(&self.main_table, journal),
                    new_record(&self.main_table, outbox),
                ],
            })
        };
        let number = issue_with(
            self.store.as_ref(),
            &self.main_table,
            &invoice.to_string(),
            &series,
            |number| writes(number).map_err(|e| e.to_string()),
        )
        .await?;
        Ok(number)
    }
}
