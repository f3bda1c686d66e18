//! The conversion, over the ports: validate → derive ids → persist the project, its
//! customer and crosswalk entries → emit `ProjectConverted`, exactly once.
//!
//! Exactly once, concretely:
//! - the whole conversion runs under an idempotency record keyed by the deal and a hash of
//!   the delivery, so an identical re-delivery replays the stored answer and a concurrent
//!   one is told to retry;
//! - the project, the deal's crosswalk entry, the contract terms and an outbox record of
//!   the event are written in one transaction conditional on the project not existing, so
//!   a second conversion of the same deal can never create a second project;
//! - the event is sent after the transaction and the outbox record is then marked sent. A
//!   crash in between leaves the record pending; the next delivery of the deal (a CRM
//!   retry) or the local runner's relay sends it again. Consumers are idempotent on the
//!   event id, which is derived from the project id, so a re-send is harmless.
//!
//! A deal won again with other commercial terms raises a pending change request on the
//! project; it never overwrites the project (DESIGN §4.3).

use handoff_domain::amendment::{change_request, CommercialTerms};
use handoff_domain::billing_calendar::cadence;
use handoff_domain::catalog::Catalog;
use handoff_domain::deal::{validate, Deal, DealInput};
use handoff_domain::identity::{Fingerprint, Likeness};
use handoff_domain::project::{convert, ProjectSkeleton};
use handoff_domain::rates::RateBook;
use handoff_domain::{ChangeRequestId, ContractId, CustomerId, Problems, ProjectId};
use handoff_ports::store::{from_item, to_item};
use handoff_ports::{
    AttributeValue, Clock, Condition, CrmError, Key, OutgoingMessage, Query, Queue, QueueError,
    Store, StoreError, Update, WriteOp,
};
use handoff_runtime::{ErrorDetail, Failure, Idempotency, IdempotencyError, RunError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most near-duplicate candidates recorded for one new customer.
pub const DUPLICATE_CANDIDATES_MAX: usize = 20;
/// The event type on `project-events`.
pub const PROJECT_CONVERTED: &str = "ProjectConverted";

/// Catalog and rate cards, loaded once per cold start.
#[derive(Debug, Clone)]
pub struct ReferenceData {
    pub catalog: Catalog,
    pub rates: RateBook,
}

/// Everything the conversion needs, built once and shared by every request.
#[derive(Clone)]
pub struct Converter {
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub idempotency: Idempotency,
    pub reference: Arc<ReferenceData>,
    pub main_table: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// A new project was created.
    Converted,
    /// The deal was converted before with the same commercial terms: nothing changed.
    AlreadyConverted,
    /// The deal was converted before with other terms: a change request is pending.
    ChangeRequested,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateCandidate {
    pub customer_id: CustomerId,
    pub likeness: Likeness,
}

/// The answer of a conversion (the 202 body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: OutcomeStatus,
    pub project_id: ProjectId,
    pub customer_id: CustomerId,
    pub contract_id: ContractId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request_id: Option<ChangeRequestId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicate_candidates: Vec<DuplicateCandidate>,
    pub scope_clarity_score: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Invalid(Problems),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("event queue: {0}")]
    Queue(#[from] QueueError),
    #[error("CRM: {0}")]
    Crm(#[from] CrmError),
    #[error("inconsistent records: {0}")]
    Inconsistent(String),
}

impl Failure for ConvertError {
    fn is_retryable(&self) -> bool {
        match self {
            ConvertError::Invalid(_) | ConvertError::Inconsistent(_) => false,
            ConvertError::Idempotency(e) => e.is_retryable(),
            ConvertError::Store(e) => e.is_retryable(),
            ConvertError::Queue(e) => e.is_retryable(),
            ConvertError::Crm(e) => e.is_retryable(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            ConvertError::Invalid(_) => "validation_failed",
            ConvertError::Idempotency(e) => e.code(),
            ConvertError::Store(e) => e.code(),
            ConvertError::Queue(e) => e.code(),
            ConvertError::Crm(CrmError::NotFound(_)) => "crm_deal_not_found",
            ConvertError::Crm(CrmError::Unauthorized) => "crm_unauthorized",
            ConvertError::Crm(_) => "crm_unavailable",
            ConvertError::Inconsistent(_) => "inconsistent_records",
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            ConvertError::Invalid(_) => 400,
            ConvertError::Idempotency(e) => e.http_status(),
            // The CRM said the deal does not exist: a webhook we cannot act on.
            ConvertError::Crm(CrmError::NotFound(_)) => 422,
            _ if self.is_retryable() => 503,
            _ => 500,
        }
    }
    fn details(&self) -> Vec<ErrorDetail> {
        match self {
            ConvertError::Invalid(problems) => handoff_runtime::ErrorDetail::of(problems),
            _ => Vec::new(),
        }
    }
}

impl From<Problems> for ConvertError {
    fn from(problems: Problems) -> Self {
        ConvertError::Invalid(problems)
    }
}

/// The stored project record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProjectRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    version: u64,
    project_id: ProjectId,
    customer_id: CustomerId,
    contract_id: ContractId,
    status: String,
    converted_at: String,
    /// JSON of the skeleton (kept as one string: it is read and written whole).
    skeleton: String,
    commercial_terms: String,
}

/// The `ProjectConverted` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectConverted {
    #[serde(rename = "type")]
    pub kind: String,
    /// Derived from the project: consumers deduplicate on it.
    pub event_id: String,
    pub project_id: ProjectId,
    pub customer_id: CustomerId,
    pub contract_id: ContractId,
    pub deal_system: String,
    pub deal_id: String,
    pub occurred_at: String,
}

pub fn project_key(id: ProjectId) -> Key {
    Key::new(format!("PROJECT#{id}"), "PROJECT")
}

fn outbox_key(id: ProjectId) -> Key {
    Key::new(
        format!("PROJECT#{id}"),
        format!("OUTBOX#{PROJECT_CONVERTED}"),
    )
}

fn customer_key(id: CustomerId) -> Key {
    Key::new(format!("CUSTOMER#{id}"), "CUSTOMER")
}

fn crosswalk_key(system: &str, kind: &str, external_id: &str) -> Key {
    Key::new(format!("XWALK#{system}#{kind}#{external_id}"), "XWALK")
}

fn json<T: Serialize>(value: &T) -> Result<String, ConvertError> {
    serde_json::to_string(value).map_err(|e| ConvertError::Inconsistent(e.to_string()))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn item_with(key: &Key, attributes: Vec<(&str, AttributeValue)>) -> handoff_ports::Item {
    let mut item = key.to_item();
    for (name, value) in attributes {
        item.insert(name.to_owned(), value);
    }
    item
}

impl Converter {
    /// Converts one delivery of a won deal.
    pub async fn convert(
        &self,
        input: &DealInput,
        deadline_ms: Option<i64>,
    ) -> Result<Outcome, ConvertError> {
        let deal = validate(input, &self.reference.catalog)?;
        let today = self.clock.now().date_naive();
        let skeleton = convert(&deal, &self.reference.catalog, &self.reference.rates, today)?;
        let key = format!(
            "{}:{}:{}",
            deal.system,
            deal.deal_id,
            handoff_runtime::idempotency::payload_hash(input)?
        );
        let result = self
            .idempotency
            .run(&key, input, deadline_ms, || {
                self.convert_once(&deal, &skeleton)
            })
            .await;
        match result {
            Ok(outcome) => Ok(outcome),
            Err(RunError::Idempotency(e)) => Err(e.into()),
            Err(RunError::Handler(e)) => Err(e),
        }
    }

    async fn convert_once(
        &self,
        deal: &Deal,
        skeleton: &ProjectSkeleton,
    ) -> Result<Outcome, ConvertError> {
        let duplicate_candidates = self.ensure_customer(deal, skeleton.customer_id).await?;
        let mut outcome = Outcome {
            status: OutcomeStatus::Converted,
            project_id: skeleton.project_id,
            customer_id: skeleton.customer_id,
            contract_id: skeleton.contract.contract_id,
            change_request_id: None,
            duplicate_candidates,
            scope_clarity_score: skeleton.indicators.scope_clarity.score,
        };
        match self
            .store
            .transact_write(self.creation_writes(deal, skeleton)?)
            .await
        {
            Ok(()) => {}
            Err(e) if e.failed_conditions().contains(&0) => {
                let (status, change) = self.amend(deal, skeleton.project_id).await?;
                outcome.status = status;
                outcome.change_request_id = change;
            }
            Err(e) => return Err(e.into()),
        }
        self.relay(skeleton.project_id).await?;
        Ok(outcome)
    }

    fn creation_writes(
        &self,
        deal: &Deal,
        skeleton: &ProjectSkeleton,
    ) -> Result<Vec<WriteOp>, ConvertError> {
        let now = self.clock.now().to_rfc3339();
        let project = ProjectRecord {
            pk: project_key(skeleton.project_id).partition,
            sk: "PROJECT".into(),
            gsi1pk: format!("CUSTOMER#{}", skeleton.customer_id),
            gsi1sk: format!("PROJECT#{now}#{}", skeleton.project_id),
            version: 1,
            project_id: skeleton.project_id,
            customer_id: skeleton.customer_id,
            contract_id: skeleton.contract.contract_id,
            status: "planned".into(),
            converted_at: now.clone(),
            skeleton: json(skeleton)?,
            commercial_terms: json(&CommercialTerms::of(deal))?,
        };
        let event = ProjectConverted {
            kind: PROJECT_CONVERTED.into(),
            event_id: format!("{PROJECT_CONVERTED}:{}", skeleton.project_id),
            project_id: skeleton.project_id,
            customer_id: skeleton.customer_id,
            contract_id: skeleton.contract.contract_id,
            deal_system: deal.system.to_string(),
            deal_id: deal.deal_id.to_string(),
            occurred_at: now.clone(),
        };
        let contract = Key::new(
            format!("CONTRACT#{}", skeleton.contract.contract_id),
            "TERMS#v1",
        );
        let crosswalk = crosswalk_key(deal.system.as_str(), "deal", deal.deal_id.as_str());
        let table = || self.main_table.clone();
        Ok(vec![
            WriteOp::Put {
                table: table(),
                item: to_item(&project)?,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                table: table(),
                item: item_with(
                    &crosswalk,
                    vec![
                        ("canonical_id", s(skeleton.project_id.to_string())),
                        ("kind", s("project")),
                    ],
                ),
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                table: table(),
                item: item_with(&contract, {
                    let mut attributes = vec![
                        ("project_id", s(skeleton.project_id.to_string())),
                        ("version", AttributeValue::N("1".into())),
                        ("terms", s(json(&skeleton.contract)?)),
                    ];
                    // On the billing planner's list of its cadence.
                    attributes.extend(handoff_ports::listing::listing_attributes(
                        cadence(&skeleton.contract).as_str(),
                        &skeleton.contract.contract_id.to_string(),
                    ));
                    attributes
                }),
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                table: table(),
                item: item_with(
                    &outbox_key(skeleton.project_id),
                    vec![
                        ("event", s(json(&event)?)),
                        ("status", s("pending")),
                        ("GSI1PK", s("OUTBOX#pending")),
                        ("GSI1SK", s(format!("{now}#{}", skeleton.project_id))),
                    ],
                ),
                condition: Some(Condition::NotExists),
            },
        ])
    }

    /// The deal was converted before: compare its commercial terms with the stored ones.
    async fn amend(
        &self,
        deal: &Deal,
        project_id: ProjectId,
    ) -> Result<(OutcomeStatus, Option<ChangeRequestId>), ConvertError> {
        let item = self
            .store
            .get(&self.main_table, &project_key(project_id))
            .await?
            .ok_or_else(|| ConvertError::Inconsistent(format!("project {project_id} vanished")))?;
        let record: ProjectRecord = from_item(item)?;
        let converted: CommercialTerms = serde_json::from_str(&record.commercial_terms)
            .map_err(|e| ConvertError::Inconsistent(e.to_string()))?;
        let Some(request) = change_request(project_id, &converted, &CommercialTerms::of(deal))
        else {
            return Ok((OutcomeStatus::AlreadyConverted, None));
        };
        let key = Key::new(
            format!("PROJECT#{project_id}"),
            format!("CHANGE#{}", request.id),
        );
        let item = item_with(
            &key,
            vec![
                ("change_request", s(json(&request)?)),
                ("status", s("pending")),
            ],
        );
        match self
            .store
            .put(&self.main_table, item, Some(Condition::NotExists))
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed) => {
                Ok((OutcomeStatus::ChangeRequested, Some(request.id)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends the project's pending `ProjectConverted` (if any) and marks it sent.
    pub async fn relay(&self, project_id: ProjectId) -> Result<(), ConvertError> {
        let Some(outbox) = self
            .store
            .get(&self.main_table, &outbox_key(project_id))
            .await?
        else {
            return Err(ConvertError::Inconsistent(format!(
                "project {project_id} has no outbox record"
            )));
        };
        if outbox.get("status") != Some(&s("pending")) {
            return Ok(());
        }
        let Some(AttributeValue::S(body)) = outbox.get("event") else {
            return Err(ConvertError::Inconsistent(
                "outbox record without event".into(),
            ));
        };
        let mut message =
            OutgoingMessage::new(body.clone()).with_attribute("type", PROJECT_CONVERTED);
        if self.events.is_fifo() {
            message = message.in_group(
                project_id.to_string(),
                format!("{PROJECT_CONVERTED}:{project_id}"),
            );
        }
        self.events.send(vec![message]).await?;
        let sent = vec![
            Update::Set("status".into(), s("sent")),
            Update::Set("sent_at".into(), s(self.clock.now().to_rfc3339())),
            Update::Remove("GSI1PK".into()),
            Update::Remove("GSI1SK".into()),
        ];
        let still_pending = Condition::equals("status", s("pending"));
        match self
            .store
            .update(
                &self.main_table,
                &outbox_key(project_id),
                sent,
                Some(still_pending),
            )
            .await
        {
            // Another delivery relayed it meanwhile: the event went out (twice, harmlessly).
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Relays every pending event (the local runner's sweep), at most `limit` of them.
    pub async fn relay_pending(&self, limit: usize) -> Result<usize, ConvertError> {
        let query = Query::partition(&self.main_table, "OUTBOX#pending")
            .on_index(handoff_ports::Index::Gsi1)
            .limit(limit.max(1));
        let page = self.store.query(&query).await?;
        let mut relayed = 0;
        for item in page.items {
            let Some(AttributeValue::S(pk)) = item.get("PK") else {
                continue;
            };
            let Some(id) = pk
                .strip_prefix("PROJECT#")
                .and_then(|id| ProjectId::parse(id).ok())
            else {
                continue;
            };
            self.relay(id).await?;
            relayed += 1;
        }
        Ok(relayed)
    }

    /// Creates the customer on first sight with its crosswalk and index entries, flagging
    /// near-duplicates for a data steward; returns the candidates found.
    async fn ensure_customer(
        &self,
        deal: &Deal,
        customer_id: CustomerId,
    ) -> Result<Vec<DuplicateCandidate>, ConvertError> {
        if let Some(existing) = self
            .store
            .get(&self.main_table, &customer_key(customer_id))
            .await?
        {
            return Ok(stored_candidates(&existing));
        }
        let c = &deal.customer;
        let name = if c.name_known { c.name.as_str() } else { "" };
        let fingerprint = Fingerprint::new(
            name,
            c.domain.as_deref(),
            c.billing_contact.as_ref().map(|b| b.email.as_str()),
        );
        let candidates = self.near_duplicates(customer_id, &fingerprint).await?;
        let table = || self.main_table.clone();
        let mut writes = vec![
            WriteOp::Put {
                table: table(),
                item: item_with(
                    &customer_key(customer_id),
                    vec![
                        ("customer_id", s(customer_id.to_string())),
                        ("name", s(c.name.clone())),
                        ("normalized_name", s(fingerprint.normalized_name.clone())),
                        (
                            "introduced_by",
                            s(format!("{}:{}", deal.system, c.external_id)),
                        ),
                        ("duplicate_candidates", s(json(&candidates)?)),
                    ],
                ),
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                table: table(),
                item: item_with(
                    &crosswalk_key(deal.system.as_str(), "account", c.external_id.as_str()),
                    vec![
                        ("canonical_id", s(customer_id.to_string())),
                        ("kind", s("customer")),
                    ],
                ),
                condition: Some(Condition::NotExists),
            },
        ];
        if !fingerprint.normalized_name.is_empty() {
            let key = Key::new(
                format!("CUSTNAME#{}", fingerprint.normalized_name),
                format!("CUSTOMER#{customer_id}"),
            );
            writes.push(WriteOp::Put {
                table: table(),
                item: key.to_item(),
                condition: None,
            });
        }
        if let Some(domain) = &fingerprint.domain {
            let key = Key::new(
                format!("CUSTDOMAIN#{domain}"),
                format!("CUSTOMER#{customer_id}"),
            );
            writes.push(WriteOp::Put {
                table: table(),
                item: key.to_item(),
                condition: None,
            });
        }
        for candidate in &candidates {
            let key = Key::new(
                format!("CUSTOMER#{customer_id}"),
                format!("DUPLICATE#{}", candidate.customer_id),
            );
            let flag = item_with(
                &key,
                vec![
                    ("candidate_id", s(candidate.customer_id.to_string())),
                    ("likeness", s(json(&candidate.likeness)?)),
                    ("status", s("open")),
                    ("GSI1PK", s("STEWARD#duplicates")),
                    (
                        "GSI1SK",
                        s(format!("{}#{customer_id}", self.clock.now().to_rfc3339())),
                    ),
                ],
            );
            writes.push(WriteOp::Put {
                table: table(),
                item: flag,
                condition: None,
            });
        }
        match self.store.transact_write(writes).await {
            Ok(()) => Ok(candidates),
            // Created concurrently by another delivery: use what it recorded.
            Err(e) if e.failed_conditions().contains(&0) => Ok(self
                .store
                .get(&self.main_table, &customer_key(customer_id))
                .await?
                .map(|i| stored_candidates(&i))
                .unwrap_or_default()),
            Err(e) if e.failed_conditions() == vec![1] => Err(ConvertError::Inconsistent(format!(
                "CRM account {} of {} already maps to another customer",
                c.external_id, deal.system
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn near_duplicates(
        &self,
        customer_id: CustomerId,
        fingerprint: &Fingerprint,
    ) -> Result<Vec<DuplicateCandidate>, ConvertError> {
        let mut partitions = Vec::new();
        if !fingerprint.normalized_name.is_empty() {
            partitions.push(format!("CUSTNAME#{}", fingerprint.normalized_name));
        }
        if let Some(domain) = &fingerprint.domain {
            partitions.push(format!("CUSTDOMAIN#{domain}"));
        }
        let mut candidates: Vec<DuplicateCandidate> = Vec::new();
        for partition in partitions {
            let page = self
                .store
                .query(
                    &Query::partition(&self.main_table, partition.clone())
                        .limit(DUPLICATE_CANDIDATES_MAX),
                )
                .await?;
            for item in page.items {
                let Some(AttributeValue::S(sk)) = item.get("SK") else {
                    continue;
                };
                let Some(other) = sk
                    .strip_prefix("CUSTOMER#")
                    .and_then(|id| CustomerId::parse(id).ok())
                else {
                    continue;
                };
                if other == customer_id || candidates.iter().any(|c| c.customer_id == other) {
                    continue;
                }
                let kind = if partition.starts_with("CUSTNAME#") {
                    Likeness::SameName
                } else {
                    Likeness::SameDomain
                };
                candidates.push(DuplicateCandidate {
                    customer_id: other,
                    likeness: kind,
                });
            }
        }
        candidates.truncate(DUPLICATE_CANDIDATES_MAX);
        Ok(candidates)
    }
}

fn stored_candidates(customer: &handoff_ports::Item) -> Vec<DuplicateCandidate> {
    match customer.get("duplicate_candidates") {
        Some(AttributeValue::S(json)) => serde_json::from_str(json).unwrap_or_default(),
        _ => Vec::new(),
    }
}
