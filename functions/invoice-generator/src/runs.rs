//! Billing runs: the planner (schedule or `POST /billing-runs`) and the per-contract jobs.
//!
//! The planner asks the billing calendar which cadences bill on `as_of` (and for which
//! period), reads only those cadences' contract lists (`GSI2` = `CONTRACTS#<cadence>`, the
//! terms records the converter writes; small records, not project skeletons), records the run
//! (`BILLINGRUN#<run>` / `RUN`) and one job record per contract (`JOB#<contract>`), then
//! enqueues one message per contract on `invoice-jobs.fifo` (group = contract, dedup id =
//! run + contract). The run id derives from what was asked (trigger, `as_of`, dry run,
//! filter, what-if), so a redelivered schedule event or a repeated request resumes the same
//! run: records that exist are kept, jobs not finished are enqueued again, and every job
//! is idempotent on its invoice id anyway. `GET /billing-runs/{id}` reads the job records.

use crate::job::{DryRunOutcome, Invoicing, JobError, JobOutcome};
use crate::numbering::NumberingError;
use crate::relay::Relay;
use chrono::NaiveDate;
use handoff_domain::billing_calendar::{due_period, BillingPeriod, Cadence, WhatIf};
use handoff_domain::invoice::check_not_future;
use handoff_domain::{InvoiceId, Money, Problem, ProblemList, Problems, ProjectId};
use handoff_ports::listing::contracts_partition;
use handoff_ports::store::text;
use handoff_ports::store::{from_item, query_all};
use handoff_ports::{
    AttributeValue, BatchWrite, Clock, Index, Item, Key, OutgoingMessage, Query, Queue, QueueError,
    Store, StoreError, Update,
};
use handoff_runtime::{metrics, Failure};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Contracts one run may name explicitly.
pub const RUN_CONTRACTS_FILTER_MAX: usize = 1000;

#[derive(Clone)]
pub struct BillingRuns {
    pub invoicing: Invoicing,
    pub jobs: Arc<dyn Queue>,
    pub relay: Option<Relay>,
    /// The firm's billing time zone: a schedule event without `as_of` bills the local
    /// date of its firing time here (`BILLING_TIME_ZONE`, default UTC), so a schedule
    /// firing at 23:30 in New York (04:30 UTC the next day) bills New York's day.
    pub time_zone: chrono_tz::Tz,
    /// Today's date (in `time_zone`): no document is dated after it, and a catch-up run
    /// for a past day issues today.
    pub clock: Arc<dyn Clock>,
}

/// `POST /billing-runs` (also what the schedule asks, with `as_of` = the schedule's day).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub as_of: NaiveDate,
    #[serde(default)]
    pub dry_run: bool,
    /// Only these contracts (ids), if given.
    #[serde(default)]
    pub contracts: Option<Vec<String>>,
    /// A dry run's hypothetical change.
    #[serde(default)]
    pub what_if: Option<WhatIf>,
}

/// The fields a billing-run request may have.
const RUN_REQUEST_FIELDS: [&str; 4] = ["as_of", "dry_run", "contracts", "what_if"];

impl RunRequest {
    /// Parses a `POST /billing-runs` body, listing every problem with its field.
    pub fn from_json(body: &[u8]) -> Result<RunRequest, Problems> {
        let body = if body.is_empty() {
            b"{}".as_slice()
        } else {
            body
        };
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Problems(vec![Problem::new("", format!("not JSON: {e}"))]))?;
        let Some(object) = value.as_object() else {
            return Err(Problems(vec![Problem::new("", "expected a JSON object")]));
        };
        let mut p = ProblemList::new();
        for key in object
            .keys()
            .filter(|k| !RUN_REQUEST_FIELDS.contains(&k.as_str()))
        {
            p.push(
                key.clone(),
                format!("unknown field; expected one of {RUN_REQUEST_FIELDS:?}"),
            );
        }
        let as_of = match object.get("as_of") {
            Some(serde_json::Value::String(d)) => match d.parse::<NaiveDate>() {
                Ok(day) => Some(day),
                Err(_) => {
                    p.push("as_of", format!("{d:?} is not a date (YYYY-MM-DD)"));
                    None
                }
            },
            Some(_) => {
                p.push("as_of", "expected a date string (YYYY-MM-DD)");
                None
            }
            None => {
                p.push("as_of", "is required");
                None
            }
        };
        let dry_run = match object.get("dry_run") {
            None => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => {
                p.push("dry_run", "expected true or false");
                false
            }
        };
        let contracts = match object.get("contracts") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Array(list)) => {
                if list.len() > RUN_CONTRACTS_FILTER_MAX {
                    p.push(
                        "contracts",
                        format!("at most {RUN_CONTRACTS_FILTER_MAX} per run"),
                    );
                }
                let mut ids = Vec::new();
                for (i, c) in list.iter().enumerate() {
                    match c.as_str().map(handoff_domain::ContractId::parse) {
                        Some(Ok(id)) => ids.push(id.to_string()),
                        _ => p.push(format!("contracts[{i}]"), "expected a contract id (UUID)"),
                    }
                }
                Some(ids)
            }
            Some(_) => {
                p.push("contracts", "expected a list of contract ids");
                None
            }
        };
        let what_if = match object.get("what_if") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => match serde_json::from_value::<WhatIf>(v.clone()) {
                Ok(w) => {
                    w.check("what_if", &mut p);
                    Some(w)
                }
                Err(e) => {
                    p.push("what_if", e.to_string());
                    None
                }
            },
        };
        if what_if.as_ref().is_some_and(|w| !w.is_empty()) && !dry_run {
            p.push("what_if", "a hypothetical change needs dry_run = true");
        }
        p.finish(|| RunRequest {
            as_of: as_of.unwrap_or_default(),
            dry_run,
            contracts,
            what_if,
        })
    }
}

/// The message of one job on `invoice-jobs.fifo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub run_id: String,
    pub project_id: ProjectId,
    pub contract_id: String,
    pub period: BillingPeriod,
    pub issue_on: NaiveDate,
    pub dry_run: bool,
    #[serde(default)]
    pub what_if: Option<WhatIf>,
}

/// A job's state as `GET /billing-runs/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    pub contract_id: String,
    pub project_id: ProjectId,
    pub period: String,
    /// `queued`, `issued`, `awaiting_approval`, `nothing_to_invoice`, `dry_run`, `failed`.
    pub status: String,
    pub invoice_id: Option<InvoiceId>,
    pub number: Option<String>,
    pub gross_total: Option<Money>,
    pub reason: Option<String>,
    pub dry_run: Option<DryRunOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: String,
    pub as_of: NaiveDate,
    pub dry_run: bool,
    pub trigger: String,
    /// `running` until every job is done or failed, then `completed`.
    pub status: String,
    pub contracts_due: usize,
    pub done: usize,
    pub failed: usize,
    /// Issued invoices (in a dry run: invoices that would be issued).
    pub invoices: usize,
    /// Drafts waiting for finance's approval (`POST /invoices/{id}/issue`).
    pub awaiting_approval: usize,
    /// Gross invoiced (or, in a dry run, that would be) per currency.
    pub totals: BTreeMap<String, String>,
    pub jobs: Vec<JobReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Problems(Problems),
    #[error("billing run {0} does not exist")]
    UnknownRun(String),
    #[error("{0}")]
    Job(#[from] JobError),
    #[error("batch: {0}")]
    Batch(#[from] handoff_runtime::BatchError),
}

impl Failure for RunError {
    fn is_retryable(&self) -> bool {
        match self {
            RunError::Store(e) => e.is_retryable(),
            RunError::Queue(e) => e.is_retryable(),
            RunError::Job(e) => e.is_retryable(),
            RunError::Batch(_) => true,
            _ => false,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            RunError::Store(e) => e.code(),
            RunError::Queue(e) => e.code(),
            RunError::Invalid(_) | RunError::Problems(_) => "validation_failed",
            RunError::UnknownRun(_) => "unknown_billing_run",
            RunError::Job(e) => e.code(),
            RunError::Batch(_) => "batch_failed",
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            RunError::Invalid(_) | RunError::Problems(_) => 400,
            RunError::UnknownRun(_) => 404,
            RunError::Job(e) => e.http_status(),
            _ if self.is_retryable() => 503,
            _ => 500,
        }
    }
    fn details(&self) -> Vec<handoff_runtime::ErrorDetail> {
        match self {
            RunError::Job(e) => e.details(),
            RunError::Problems(p) => handoff_runtime::ErrorDetail::of(p),
            _ => Vec::new(),
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn run_key(run_id: &str, sort: &str) -> Key {
    Key::new(format!("BILLINGRUN#{run_id}"), sort)
}

/// A contract's terms record as the planner reads it from its cadence's list.
#[derive(Debug, Deserialize)]
struct ContractListing {
    #[serde(rename = "GSI2SK")]
    contract_id: String,
    project_id: ProjectId,
}

impl BillingRuns {
    fn table(&self) -> &str {
        &self.invoicing.main_table
    }

    fn store(&self) -> &dyn Store {
        self.invoicing.store.as_ref()
    }

    /// Today in the billing time zone.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().with_timezone(&self.time_zone).date_naive()
    }

    /// The contracts billed at `cadence` (the converter lists each contract's terms record
    /// under its cadence; see `handoff_ports::listing`).
    async fn contracts(&self, cadence: Cadence) -> Result<Vec<ContractListing>, RunError> {
        let query = Query::partition(self.table(), contracts_partition(cadence.as_str()))
            .on_index(Index::Gsi2)
            .limit(1000);
        query_all(self.store(), query)
            .await?
            .into_iter()
            .map(|item| Ok(from_item(item)?))
            .collect()
    }

    /// Plans the run (or resumes it) and enqueues its jobs; answers the run's report.
    pub async fn start(&self, request: &RunRequest, trigger: &str) -> Result<RunReport, RunError> {
        if request
            .contracts
            .as_ref()
            .is_some_and(|c| c.len() > RUN_CONTRACTS_FILTER_MAX)
        {
            return Err(RunError::Invalid(format!(
                "contracts: at most {RUN_CONTRACTS_FILTER_MAX} per run"
            )));
        }
        if request.what_if.as_ref().is_some_and(|w| !w.is_empty()) && !request.dry_run {
            return Err(RunError::Invalid(
                "what_if: a hypothetical change needs dry_run = true".into(),
            ));
        }
        if let Some(what_if) = &request.what_if {
            // An unknown card version is the caller's mistake, said now, not per job.
            self.invoicing.card_rates(what_if)?;
        }
        // A run issues invoices: not for a day still to come (a dry run may preview one).
        // A catch-up run for a past day cuts off at that day and issues today, after
        // whatever the series issued meanwhile.
        let today = self.today();
        if !request.dry_run {
            check_not_future("as_of", request.as_of, today).map_err(RunError::Problems)?;
        }
        let issue_on = if request.dry_run {
            request.as_of
        } else {
            request.as_of.max(today)
        };
        let run_id = run_id(request, trigger);
        let filter: Option<BTreeSet<&str>> = request
            .contracts
            .as_ref()
            .map(|c| c.iter().map(String::as_str).collect());
        let mut jobs = Vec::new();
        for cadence in Cadence::ALL {
            let Some(period) = due_period(cadence, request.as_of) else {
                continue;
            };
            for listed in self.contracts(cadence).await? {
                if filter
                    .as_ref()
                    .is_some_and(|f| !f.contains(listed.contract_id.as_str()))
                {
                    continue;
                }
                jobs.push(JobMessage {
                    run_id: run_id.clone(),
                    project_id: listed.project_id,
                    contract_id: listed.contract_id,
                    period: period.clone(),
                    issue_on,
                    dry_run: request.dry_run,
                    what_if: request.what_if.clone(),
                });
            }
        }
        self.record_run(&run_id, request, trigger, &jobs).await?;
        let finished = self.finished_jobs(&run_id).await?;
        let messages = jobs
            .iter()
            .filter(|j| !finished.contains(&j.contract_id))
            .map(|job| {
                let mut message =
                    OutgoingMessage::new(serde_json::to_string(job).unwrap_or_default());
                message.group_id = Some(job.contract_id.clone());
                message.dedup_id = Some(format!("{run_id}:{}", job.contract_id));
                message
            })
            .collect::<Vec<_>>();
        tracing::info!(run_id = %run_id, trigger, contracts_due = jobs.len(), enqueued = messages.len(), "billing run planned");
        if !messages.is_empty() {
            self.jobs.send(messages).await?;
        }
        self.report(&run_id).await
    }

    /// Records the run and a `queued` record per job. The job records are written only
    /// while the run is not yet `planned`, which is before any job was enqueued, so they
    /// never overwrite a job's report; a crash before `planned` is set redoes them.
    async fn record_run(
        &self,
        run_id: &str,
        request: &RunRequest,
        trigger: &str,
        jobs: &[JobMessage],
    ) -> Result<(), RunError> {
        let key = run_key(run_id, "RUN");
        if let Some(run) = self.store().get(self.table(), &key).await? {
            if matches!(run.get("planned"), Some(AttributeValue::Bool(true))) {
                return Ok(());
            }
        }
        let mut run = key.to_item();
        run.insert(
            "request".into(),
            s(serde_json::to_string(request).unwrap_or_default()),
        );
        run.insert("trigger".into(), s(trigger));
        run.insert(
            "contracts_due".into(),
            AttributeValue::N(jobs.len().to_string()),
        );
        run.insert("planned".into(), AttributeValue::Bool(false));
        self.store().put(self.table(), run, None).await?;
        let records: Vec<BatchWrite> = jobs
            .iter()
            .map(|job| {
                let mut item = run_key(run_id, &format!("JOB#{}", job.contract_id)).to_item();
                item.insert("project_id".into(), s(job.project_id.to_string()));
                item.insert("period".into(), s(&job.period.key));
                item.insert("status".into(), s("queued"));
                BatchWrite::Put(item)
            })
            .collect();
        if !records.is_empty() {
            self.store().batch_write(self.table(), records).await?;
        }
        self.store()
            .update(
                self.table(),
                &key,
                vec![Update::Set("planned".into(), AttributeValue::Bool(true))],
                None,
            )
            .await?;
        Ok(())
    }

    async fn job_items(&self, run_id: &str) -> Result<Vec<Item>, RunError> {
        let query = Query::partition(self.table(), format!("BILLINGRUN#{run_id}")).limit(500);
        Ok(query_all(self.store(), query).await?)
    }

    async fn finished_jobs(&self, run_id: &str) -> Result<BTreeSet<String>, RunError> {
        Ok(self
            .job_items(run_id)
            .await?
            .iter()
            .filter_map(|i| {
                let sk = text(i, "SK")?;
                let contract = sk.strip_prefix("JOB#")?;
                let status = text(i, "status")?;
                (status != "queued" && status != "failed").then(|| contract.to_owned())
            })
            .collect())
    }

    /// `GET /billing-runs/{id}`.
    pub async fn report(&self, run_id: &str) -> Result<RunReport, RunError> {
        let items = self.job_items(run_id).await?;
        let run = items
            .iter()
            .find(|i| text(i, "SK").as_deref() == Some("RUN"))
            .ok_or_else(|| RunError::UnknownRun(run_id.to_owned()))?;
        let request: RunRequest = serde_json::from_str(&text(run, "request").unwrap_or_default())
            .map_err(|e| StoreError::Decode(e.to_string()))?;
        let mut jobs = Vec::new();
        for item in &items {
            if let Some(report) = text(item, "report") {
                jobs.push(
                    serde_json::from_str::<JobReport>(&report)
                        .map_err(|e| StoreError::Decode(e.to_string()))?,
                );
            } else if let (Some(sk), Some(project)) = (text(item, "SK"), text(item, "project_id")) {
                let Some(contract) = sk.strip_prefix("JOB#") else {
                    continue;
                };
                jobs.push(JobReport {
                    contract_id: contract.to_owned(),
                    project_id: project
                        .parse()
                        .map_err(|_| StoreError::Decode(project.clone()))?,
                    period: text(item, "period").unwrap_or_default(),
                    status: "queued".into(),
                    invoice_id: None,
                    number: None,
                    gross_total: None,
                    reason: None,
                    dry_run: None,
                });
            }
        }
        // Invoiced means issued (a draft awaiting approval is not); a dry run counts what
        // would be invoiced.
        let counted = if request.dry_run { "dry_run" } else { "issued" };
        let invoiced: Vec<&JobReport> = jobs
            .iter()
            .filter(|j| j.status == counted && j.gross_total.is_some())
            .collect();
        let mut totals: BTreeMap<String, rust_decimal::Decimal> = BTreeMap::new();
        for gross in invoiced.iter().filter_map(|j| j.gross_total) {
            *totals
                .entry(gross.currency().code().to_owned())
                .or_default() += gross.amount();
        }
        let failed = jobs.iter().filter(|j| j.status == "failed").count();
        let done = jobs
            .iter()
            .filter(|j| j.status != "queued" && j.status != "failed")
            .count();
        let awaiting_approval = jobs
            .iter()
            .filter(|j| j.status == "awaiting_approval")
            .count();
        Ok(RunReport {
            run_id: run_id.to_owned(),
            as_of: request.as_of,
            dry_run: request.dry_run,
            trigger: text(run, "trigger").unwrap_or_default(),
            status: if done + failed == jobs.len() {
                "completed".into()
            } else {
                "running".into()
            },
            contracts_due: jobs.len(),
            done,
            failed,
            invoices: invoiced.len(),
            awaiting_approval,
            totals: totals
                .into_iter()
                .map(|(c, t)| (c, t.to_string()))
                .collect(),
            jobs,
        })
    }

    /// One job from `invoice-jobs.fifo`: invoice (or dry-run) the contract's period and
    /// record the outcome on the run. A permanent failure is recorded and returned (the
    /// consumer parks the message in the DLQ); a transient one is only returned (retried).
    /// Runs a job on its planned issue date or, when the series has meanwhile issued a
    /// later date (the job waited past midnight: retries, a backlog), today: numbers
    /// follow dates, and the invoice is issued today.
    async fn run_job(&self, job: &JobMessage) -> Result<JobOutcome, JobError> {
        let run = |issue_on| {
            self.invoicing
                .run_period(job.project_id, &job.period, issue_on)
        };
        match run(job.issue_on).await {
            Err(JobError::Numbering(NumberingError::BackDated { .. }))
                if self.today() > job.issue_on =>
            {
                run(self.today()).await
            }
            other => other,
        }
    }

    pub async fn process(&self, job: &JobMessage) -> Result<JobReport, RunError> {
        let mut report = JobReport {
            contract_id: job.contract_id.clone(),
            project_id: job.project_id,
            period: job.period.key.clone(),
            status: String::new(),
            invoice_id: None,
            number: None,
            gross_total: None,
            reason: None,
            dry_run: None,
        };
        let outcome = if job.dry_run {
            let what_if = job.what_if.clone().unwrap_or_default();
            self.invoicing
                .dry_run(job.project_id, &job.period, &what_if)
                .await
                .map(|mut d| {
                    // The report is one record: figures only, no annexes (400 KB an item).
                    for draft in d.current.iter_mut().chain(d.simulated.iter_mut()) {
                        crate::annex::strip(draft);
                    }
                    report.status = "dry_run".into();
                    report.invoice_id = Some(d.invoice_id);
                    report.reason = d.not_simulated.clone();
                    report.gross_total = d.current.as_ref().map(|c| c.gross_total);
                    report.dry_run = Some(d);
                })
        } else {
            self.run_job(job).await.map(|o: JobOutcome| {
                report.status = match (&o.draft, &o.number) {
                    (None, _) => "nothing_to_invoice",
                    (Some(_), None) => "awaiting_approval",
                    (Some(_), Some(_)) => "issued",
                }
                .into();
                report.invoice_id = Some(o.invoice_id);
                report.gross_total = o.draft.as_ref().map(|d| d.gross_total);
                report.number = o.number;
                report.reason = o.deferred;
            })
        };
        match outcome {
            Ok(()) => {}
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                report.status = "failed".into();
                report.reason = Some(e.to_string());
                self.save_report(&job.run_id, &report).await?;
                metrics::emit(
                    &[("Code", e.code())],
                    &[metrics::Metric {
                        name: "InvoiceJobsFailed",
                        unit: "Count",
                        value: 1,
                    }],
                );
                return Err(e.into());
            }
        }
        if let (Some(gross), true) = (report.gross_total, report.status == "issued") {
            emit_issued(gross);
        }
        if let (Some(relay), Some(invoice)) = (&self.relay, report.invoice_id) {
            if report.number.is_some() {
                relay.invoice_issued(invoice).await?;
            }
        }
        self.save_report(&job.run_id, &report).await?;
        Ok(report)
    }

    async fn save_report(&self, run_id: &str, report: &JobReport) -> Result<(), RunError> {
        let mut item = run_key(run_id, &format!("JOB#{}", report.contract_id)).to_item();
        item.insert("project_id".into(), s(report.project_id.to_string()));
        item.insert("period".into(), s(&report.period));
        item.insert("status".into(), s(&report.status));
        item.insert(
            "report".into(),
            s(serde_json::to_string(report).unwrap_or_default()),
        );
        self.store().put(self.table(), item, None).await?;
        Ok(())
    }
}

/// The run id: the same request (or the same day's schedule) is the same run. A dry run
/// is a question about now, so each one is its own run (a repeat must not answer the
/// stale figures of an earlier one, nor be dropped by the queue's deduplication).
pub fn run_id(request: &RunRequest, trigger: &str) -> String {
    let mut contracts = request.contracts.clone().unwrap_or_default();
    contracts.sort();
    let what_if = serde_json::to_string(&request.what_if).unwrap_or_default();
    let asked_at = if request.dry_run {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    } else {
        String::new()
    };
    let parts = [
        trigger.to_owned(),
        request.as_of.to_string(),
        request.dry_run.to_string(),
        contracts.join(","),
        what_if,
        asked_at,
    ];
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    handoff_domain::BillingRunId::derive_from_parts(&refs).to_string()
}

/// `InvoicesIssued` and `AmountBilledMinorUnits` per currency (at least once: a redelivered
/// job that finds its invoice issued reports it again).
fn emit_issued(gross: Money) {
    use rust_decimal::prelude::ToPrimitive;
    let scale = rust_decimal::Decimal::from(10_i64.pow(gross.currency().minor_units()));
    let minor = (gross.amount() * scale).to_i64().unwrap_or(i64::MAX);
    metrics::emit(
        &[("Currency", gross.currency().code())],
        &[
            metrics::Metric {
                name: "InvoicesIssued",
                unit: "Count",
                value: 1,
            },
            metrics::Metric {
                name: "AmountBilledMinorUnits",
                unit: "None",
                value: minor,
            },
        ],
    );
}
