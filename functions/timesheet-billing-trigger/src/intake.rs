//! Intake routes: validate delivery signals, then queue them on `delivery-signals.fifo`
//! (group = project, so one project's budget and cap are updated in order; deduplication
//! id = the source record and version, so a resent batch queues nothing twice).
//!
//! `POST /delivery/timesheets`, `/delivery/expenses`, `/delivery/milestones/{id}/acceptance`,
//! `/delivery/change-orders`. In AWS they sit behind the HTTP API's IAM authorizer (PM and
//! expense tools call with AWS credentials); they do not authenticate in code.

use crate::service::SignalEnvelope;
use closed_won_converter::service::project_key;
use handoff_domain::billing::intake::{
    expenses, timesheets, ContractView, ExpenseInput, TimeEntryInput,
};
use handoff_domain::billing::{ChangeOrder, MilestoneAcceptance, Signal, SourceRef};
use handoff_domain::deal::parse_date;
use handoff_domain::project::ProjectSkeleton;
use handoff_domain::{
    ExternalId, MilestoneId, Money, Problem, ProblemList, Problems, ProjectId, SourceSystem,
};
use handoff_ports::{AttributeValue, OutgoingMessage, Queue, QueueError, Store, StoreError};
use handoff_runtime::{ErrorBody, ErrorDetail, Failure};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Largest intake body accepted.
pub const INTAKE_BODY_BYTES_MAX: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct Intake {
    pub store: Arc<dyn Store>,
    pub signals: Arc<dyn Queue>,
    pub main_table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{0}")]
    Invalid(Problems),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
}

impl Failure for IntakeError {
    fn is_retryable(&self) -> bool {
        match self {
            IntakeError::Invalid(_) => false,
            IntakeError::Store(e) => e.is_retryable(),
            IntakeError::Queue(e) => e.is_retryable(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            IntakeError::Invalid(_) => "validation_failed",
            IntakeError::Store(e) => e.code(),
            IntakeError::Queue(e) => e.code(),
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            IntakeError::Invalid(_) => 400,
            _ if self.is_retryable() => 503,
            _ => 500,
        }
    }
    fn details(&self) -> Vec<ErrorDetail> {
        match self {
            IntakeError::Invalid(p) => handoff_runtime::ErrorDetail::of(p),
            _ => Vec::new(),
        }
    }
}

fn invalid(field: &str, problem: impl Into<String>) -> IntakeError {
    IntakeError::Invalid(Problems(vec![Problem::new(field, problem)]))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TimesheetBatch {
    project_id: Option<String>,
    entries: Vec<TimeEntryInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ExpenseBatch {
    project_id: Option<String>,
    expenses: Vec<ExpenseInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct AcceptanceInput {
    project_id: Option<String>,
    source_system: Option<String>,
    source_id: Option<String>,
    source_version: Option<u32>,
    accepted_on: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ChangeOrderInput {
    project_id: Option<String>,
    source_system: Option<String>,
    source_id: Option<String>,
    source_version: Option<u32>,
    effective_on: Option<String>,
    new_cap: Option<String>,
    add_milestone: Option<NewMilestoneInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct NewMilestoneInput {
    name: Option<String>,
    amount: Option<String>,
    due_date: Option<String>,
}

/// The 202 body: the references queued.
#[derive(Debug, Serialize)]
struct Accepted {
    project_id: ProjectId,
    accepted: Vec<String>,
}

impl Intake {
    async fn project(&self, id: Option<&str>) -> Result<ProjectSkeleton, IntakeError> {
        let id = id.ok_or_else(|| invalid("project_id", "is required"))?;
        let id = ProjectId::parse(id).map_err(|e| invalid("project_id", e.to_string()))?;
        let item = self
            .store
            .get(&self.main_table, &project_key(id))
            .await?
            .ok_or_else(|| invalid("project_id", "unknown project"))?;
        match item.get("skeleton") {
            Some(AttributeValue::S(json)) => {
                serde_json::from_str(json).map_err(|e| StoreError::Decode(e.to_string()).into())
            }
            _ => Err(StoreError::Decode(format!("project {id} has no skeleton")).into()),
        }
    }

    async fn enqueue(
        &self,
        project: ProjectId,
        signals: Vec<Signal>,
    ) -> Result<Accepted, IntakeError> {
        let mut accepted = Vec::new();
        let mut messages = Vec::new();
        for signal in signals {
            let reference = signal.source().reference();
            let body = serde_json::to_string(&SignalEnvelope {
                project_id: project,
                signal,
            })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
            // SQS dedup ids are at most 128 characters: a UUIDv5 of the reference.
            let dedup = ProjectId::derive_from_parts(&["delivery-signal", &reference]).to_string();
            messages.push(OutgoingMessage::new(body).in_group(project.to_string(), dedup));
            accepted.push(reference);
        }
        self.signals.send(messages).await?;
        Ok(Accepted {
            project_id: project,
            accepted,
        })
    }

    async fn route(&self, path: &str, body: &[u8]) -> Result<Accepted, IntakeError> {
        let parse_error = |e: serde_json::Error| invalid("", format!("body: {e}"));
        match path {
            "/delivery/timesheets" => {
                let batch: TimesheetBatch = serde_json::from_slice(body).map_err(parse_error)?;
                let project = self.project(batch.project_id.as_deref()).await?;
                let signals =
                    timesheets(&batch.entries, &view(&project)).map_err(IntakeError::Invalid)?;
                self.enqueue(project.project_id, signals).await
            }
            "/delivery/expenses" => {
                let batch: ExpenseBatch = serde_json::from_slice(body).map_err(parse_error)?;
                let project = self.project(batch.project_id.as_deref()).await?;
                let signals =
                    expenses(&batch.expenses, &view(&project)).map_err(IntakeError::Invalid)?;
                self.enqueue(project.project_id, signals).await
            }
            "/delivery/change-orders" => {
                let input: ChangeOrderInput = serde_json::from_slice(body).map_err(parse_error)?;
                let project = self.project(input.project_id.as_deref()).await?;
                let signal = change_order(&input, &project).map_err(IntakeError::Invalid)?;
                self.enqueue(project.project_id, vec![signal]).await
            }
            p => {
                let milestone = p
                    .strip_prefix("/delivery/milestones/")
                    .and_then(|rest| rest.strip_suffix("/acceptance"))
                    .ok_or_else(|| invalid("", "no such route"))?;
                let input: AcceptanceInput = serde_json::from_slice(body).map_err(parse_error)?;
                let project = self.project(input.project_id.as_deref()).await?;
                let signal =
                    acceptance(milestone, &input, &project).map_err(IntakeError::Invalid)?;
                self.enqueue(project.project_id, vec![signal]).await
            }
        }
    }
}

fn view(project: &ProjectSkeleton) -> ContractView {
    ContractView {
        roles: project
            .budget
            .by_role
            .iter()
            .map(|r| r.role.clone())
            .collect(),
        start: project.start_date,
        end: project.end_date,
        currency: project.contract.currency,
    }
}

fn source(
    p: &mut ProblemList,
    system: &Option<String>,
    id: &Option<String>,
    version: Option<u32>,
) -> Option<SourceRef> {
    let system = p
        .require("source_system", system.as_deref())
        .and_then(|s| p.check("source_system", SourceSystem::new(s)));
    let id = p
        .require("source_id", id.as_deref())
        .and_then(|s| p.check("source_id", ExternalId::new(s)));
    Some(SourceRef {
        system: system?,
        id: id?,
        version: version.unwrap_or(1).max(1),
    })
}

fn acceptance(
    milestone: &str,
    input: &AcceptanceInput,
    project: &ProjectSkeleton,
) -> Result<Signal, Problems> {
    let mut p = ProblemList::new();
    let milestone_id = p.check("milestone_id", MilestoneId::parse(milestone));
    if milestone_id.is_some_and(|m| !project.milestones.iter().any(|x| x.id == m)) {
        p.push("milestone_id", "not a milestone of this project");
    }
    let source = source(
        &mut p,
        &input.source_system,
        &input.source_id,
        input.source_version,
    );
    let date = p
        .require("accepted_on", input.accepted_on.as_deref())
        .and_then(|d| p.check("accepted_on", parse_date(d)));
    match (milestone_id, source, date) {
        (Some(milestone_id), Some(source), Some(accepted_on)) if p.is_empty() => {
            Ok(Signal::MilestoneAccepted(MilestoneAcceptance {
                source,
                milestone_id,
                accepted_on,
            }))
        }
        _ => Err(p.into_problems()),
    }
}

fn change_order(input: &ChangeOrderInput, project: &ProjectSkeleton) -> Result<Signal, Problems> {
    let mut p = ProblemList::new();
    let currency = project.contract.currency;
    let source = source(
        &mut p,
        &input.source_system,
        &input.source_id,
        input.source_version,
    );
    let effective_on = p
        .require("effective_on", input.effective_on.as_deref())
        .and_then(|d| p.check("effective_on", parse_date(d)));
    let money = |p: &mut ProblemList, field: &str, text: &str| {
        let amount = p.check(
            field,
            text.trim()
                .parse::<rust_decimal::Decimal>()
                .map_err(|_| "is not a number"),
        )?;
        p.check(field, Money::exact(amount, currency))
    };
    let new_cap = input
        .new_cap
        .as_deref()
        .and_then(|c| money(&mut p, "new_cap", c));
    let add_milestone = input.add_milestone.as_ref().and_then(|m| {
        let name = p.require("add_milestone.name", m.name.clone())?;
        let amount = money(
            &mut p,
            "add_milestone.amount",
            m.amount.as_deref().unwrap_or(""),
        )?;
        let due = p
            .require("add_milestone.due_date", m.due_date.as_deref())
            .and_then(|d| p.check("add_milestone.due_date", parse_date(d)))?;
        Some((name, amount, due))
    });
    if input.new_cap.is_none() && input.add_milestone.is_none() {
        p.push("", "a change order changes the cap or adds a milestone");
    }
    match (source, effective_on) {
        (Some(source), Some(effective_on)) if p.is_empty() => {
            Ok(Signal::ChangeOrder(ChangeOrder {
                source,
                effective_on,
                new_cap,
                add_milestone,
            }))
        }
        _ => Err(p.into_problems()),
    }
}

/// The HTTP handler.
pub async fn handle(intake: &Intake, request: Request) -> Response<Body> {
    let path = match request.raw_http_path() {
        "" => request.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    let body = request.body().as_ref();
    let result = if request.method() != Method::POST {
        Err(invalid("", "use POST"))
    } else if body.len() > INTAKE_BODY_BYTES_MAX {
        Err(invalid("", "the body exceeds 2 MiB"))
    } else {
        intake.route(&path, body).await
    };
    match result {
        Ok(accepted) => respond(
            StatusCode::ACCEPTED,
            serde_json::to_value(accepted).unwrap_or_default(),
        ),
        Err(e) => {
            if e.http_status() >= 500 {
                tracing::error!(code = e.code(), error = %e, "intake failed");
            }
            let (status, body) = ErrorBody::from_failure(&e);
            respond(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                serde_json::to_value(body).unwrap_or_default(),
            )
        }
    }
}

fn respond(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap_or_default()
}
