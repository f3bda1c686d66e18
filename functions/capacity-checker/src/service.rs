//! The capacity service over the ports: gather demand (a prospective deal, an explicit
//! profile, or a converted project), availability (the seeded pool and every stored
//! allocation), run the domain's check, and for converted projects record the outcome.

use chrono::{Duration, NaiveDate};
use closed_won_converter::service::{project_key, ReferenceData};
use handoff_domain::capacity::{
    check, earliest_feasible_start, partner_margin, shift, Allocation, AllocationKind,
    CheckOptions, Demand, PartnerMargin, Resource, ResourcePool, StaffingReport,
};
use handoff_domain::catalog::RoleCode;
use handoff_domain::deal::{parse_date, validate, DealInput};
use handoff_domain::project::{convert, ProjectSkeleton};
use handoff_domain::schedule::iso_week_start;
use handoff_domain::{Currency, ProblemList, Problems, ProjectId};
use handoff_ports::store::{from_item, query_all, to_item};
use handoff_ports::{AttributeValue, BatchWrite, Clock, Condition, Key, Query, Store, StoreError};
use handoff_runtime::{ErrorDetail, Failure};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most weeks of demand one check accepts (five years).
pub const DEMAND_WEEKS_MAX: i64 = 260;
/// Most demand rows in one request.
pub const DEMAND_ROWS_MAX: usize = 10_000;
/// Probability recorded on the tentative allocations of a won, converted project: the
/// work will happen, the people are not confirmed yet.
pub const CONVERTED_PROJECT_PROBABILITY: Decimal = Decimal::ONE;

#[derive(Clone)]
pub struct Capacity {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub reference: Arc<ReferenceData>,
    pub pool: Arc<ResourcePool>,
    pub main_table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    #[error("{0}")]
    Invalid(Problems),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("project {0} is not stored")]
    UnknownProject(ProjectId),
}

impl From<Problems> for CapacityError {
    fn from(p: Problems) -> Self {
        CapacityError::Invalid(p)
    }
}

impl Failure for CapacityError {
    fn is_retryable(&self) -> bool {
        match self {
            CapacityError::Store(e) => e.is_retryable(),
            // The event may have overtaken the project's write on a replica: retry.
            CapacityError::UnknownProject(_) => true,
            CapacityError::Invalid(_) => false,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            CapacityError::Invalid(_) => "validation_failed",
            CapacityError::Store(e) => e.code(),
            CapacityError::UnknownProject(_) => "unknown_project",
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            CapacityError::Invalid(_) => 400,
            CapacityError::UnknownProject(_) => 404,
            CapacityError::Store(e) => e.http_status(),
        }
    }
    fn details(&self) -> Vec<ErrorDetail> {
        match self {
            CapacityError::Invalid(p) => handoff_runtime::ErrorDetail::of(p),
            _ => Vec::new(),
        }
    }
}

/// `POST /capacity/checks`: a prospective deal's scope or an explicit demand profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckRequest {
    pub deal: Option<DealInput>,
    pub demand: Option<Vec<DemandInput>>,
    /// Move the demand to start in this week (`YYYY-MM-DD`).
    pub desired_start: Option<String>,
    pub count_soft_allocations: Option<bool>,
    pub horizon_weeks: Option<u32>,
    /// Currency of the margin figures for an explicit profile (a deal brings its own).
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemandInput {
    pub role: Option<String>,
    /// Any date in the week (`YYYY-MM-DD`).
    pub week: Option<String>,
    pub hours: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResponse {
    pub report: StaffingReport,
    /// The first start (a Monday) at which the demand can be staffed, within the horizon.
    pub earliest_feasible_start: Option<NaiveDate>,
    pub partner_margin: Vec<PartnerMargin>,
}

impl Capacity {
    pub async fn check_request(
        &self,
        request: &CheckRequest,
    ) -> Result<CheckResponse, CapacityError> {
        let (demand, currency, customer) = self.demand_of(request)?;
        let mut p = ProblemList::new();
        let desired = request
            .desired_start
            .as_ref()
            .and_then(|d| p.check("desired_start", parse_date(d)));
        let horizon = request
            .horizon_weeks
            .unwrap_or(handoff_domain::capacity::check::HORIZON_WEEKS_DEFAULT);
        if horizon > handoff_domain::capacity::check::HORIZON_WEEKS_MAX {
            p.push("horizon_weeks", "at most 104");
        }
        if !p.is_empty() {
            return Err(p.into_problems().into());
        }
        let demand = match (desired, demand.iter().map(|d| d.week_start).min()) {
            (Some(desired), Some(first)) => {
                shift(&demand, (iso_week_start(desired) - first).num_weeks())
            }
            _ => demand,
        };
        let options = CheckOptions {
            count_soft: request.count_soft_allocations.unwrap_or(true),
            horizon_weeks: horizon,
        };
        self.evaluate(&demand, &options, currency, customer, None)
            .await
    }

    /// Checks `demand` against the pool and every allocation except `exclude`'s own.
    async fn evaluate(
        &self,
        demand: &[Demand],
        options: &CheckOptions,
        currency: Currency,
        customer: Option<handoff_domain::CustomerId>,
        exclude: Option<ProjectId>,
    ) -> Result<CheckResponse, CapacityError> {
        let catalog = &self.reference.catalog;
        let weeks = demand_weeks(demand, options.horizon_weeks);
        let allocations: Vec<Allocation> = self
            .allocations(&weeks)
            .await?
            .into_iter()
            .filter(|a| exclude.is_none() || a.project != exclude)
            .collect();
        let resources = self.resources().await?;
        let report = check(demand, &resources, &allocations, catalog, options);
        let earliest =
            earliest_feasible_start(demand, None, &resources, &allocations, catalog, options)
                .map(|(d, _)| d);
        let today = self.clock.now().date_naive();
        let margin = partner_margin(&report, &resources, |role: &RoleCode| {
            let quote = self
                .reference
                .rates
                .quote(role, today, currency, customer, &[])
                .ok()?;
            Some((quote.bill.amount(), quote.cost?.amount()))
        });
        Ok(CheckResponse {
            report,
            earliest_feasible_start: earliest,
            partner_margin: margin,
        })
    }

    fn demand_of(
        &self,
        request: &CheckRequest,
    ) -> Result<(Vec<Demand>, Currency, Option<handoff_domain::CustomerId>), CapacityError> {
        let catalog = &self.reference.catalog;
        match (&request.deal, &request.demand) {
            (Some(deal), None) => {
                let deal = validate(deal, catalog)?;
                let skeleton = convert(
                    &deal,
                    catalog,
                    &self.reference.rates,
                    self.clock.now().date_naive(),
                )?;
                Ok((
                    project_demand(&skeleton),
                    deal.currency,
                    Some(skeleton.customer_id),
                ))
            }
            (None, Some(rows)) => {
                let currency = request.currency.as_deref().unwrap_or("USD");
                let currency = Currency::parse(currency).map_err(|e| {
                    Problems(vec![handoff_domain::Problem::new(
                        "currency",
                        e.to_string(),
                    )])
                })?;
                Ok((demand_rows(rows, catalog)?, currency, None))
            }
            _ => Err(Problems(vec![handoff_domain::Problem::new(
                "",
                "give either `deal` or `demand`, not both or neither",
            )])
            .into()),
        }
    }

    /// The people: the bundled seed, overridden and extended by the records stored under
    /// `RESOURCES` (kept current through the storage port, e.g. by the local runner).
    pub async fn resources(&self) -> Result<Vec<Resource>, CapacityError> {
        let mut people: Vec<Resource> = self.pool.resources.clone();
        let query = Query::partition(&self.main_table, RESOURCES_PARTITION)
            .sort_prefix("RESOURCE#")
            .limit(1000);
        for item in query_all(self.store.as_ref(), query).await? {
            let record: ResourceRecord = from_item(item)?;
            people.retain(|p| p.id != record.resource.id);
            people.push(record.resource);
        }
        Ok(people)
    }

    /// Stores (or replaces) people records.
    pub async fn upsert_resources(&self, resources: &[Resource]) -> Result<(), CapacityError> {
        let writes = resources
            .iter()
            .map(|r| {
                Ok(BatchWrite::Put(to_item(&ResourceRecord {
                    pk: RESOURCES_PARTITION.into(),
                    sk: format!("RESOURCE#{}", r.id),
                    resource: r.clone(),
                })?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.store.batch_write(&self.main_table, writes).await?;
        Ok(())
    }

    /// Every allocation in the given weeks: the seeded ones and the stored ones.
    async fn allocations(&self, weeks: &[NaiveDate]) -> Result<Vec<Allocation>, CapacityError> {
        let mut all: Vec<Allocation> = self
            .pool
            .allocations
            .iter()
            .filter(|a| weeks.contains(&a.week_start))
            .cloned()
            .collect();
        for week in weeks {
            let query = Query::partition(&self.main_table, format!("ALLOCWEEK#{week}")).limit(1000);
            for item in query_all(self.store.as_ref(), query).await? {
                let record: AllocationRecord = from_item(item)?;
                all.push(record.allocation);
            }
        }
        Ok(all)
    }

    /// Staffs a converted project once: its report on the project and its proposed
    /// assignment as soft allocations. A redelivered event finds the report and stops.
    pub async fn staff_project(
        &self,
        project_id: ProjectId,
    ) -> Result<StaffingRecord, CapacityError> {
        let report_key = Key::new(format!("PROJECT#{project_id}"), "STAFFING");
        if let Some(existing) = self.store.get(&self.main_table, &report_key).await? {
            return Ok(from_item(existing)?);
        }
        let item = self
            .store
            .get(&self.main_table, &project_key(project_id))
            .await?
            .ok_or(CapacityError::UnknownProject(project_id))?;
        let skeleton: ProjectSkeleton = match item.get("skeleton") {
            Some(AttributeValue::S(json)) => {
                serde_json::from_str(json).map_err(|e| StoreError::Decode(e.to_string()))?
            }
            _ => {
                return Err(
                    StoreError::Decode(format!("project {project_id} has no skeleton")).into(),
                )
            }
        };
        let demand = project_demand(&skeleton);
        let checked = self
            .evaluate(
                &demand,
                &CheckOptions::default(),
                skeleton.contract.currency,
                Some(skeleton.customer_id),
                Some(project_id),
            )
            .await?;
        // Allocations first (deterministic keys: a retry overwrites them with the same
        // values), the report last and only once: its presence means "done".
        let allocations = proposed_allocations(project_id, &checked.report);
        let writes = allocations
            .iter()
            .map(|a| Ok(BatchWrite::Put(to_item(&AllocationRecord::of(a))?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.store.batch_write(&self.main_table, writes).await?;
        let record = StaffingRecord {
            pk: report_key.partition.clone(),
            sk: report_key.sort.clone(),
            project_id,
            checked_at: self.clock.now().to_rfc3339(),
            response: checked,
            allocations: allocations.len(),
        };
        match self
            .store
            .put(
                &self.main_table,
                to_item(&record)?,
                Some(Condition::NotExists),
            )
            .await
        {
            Ok(()) => Ok(record),
            Err(StoreError::ConditionFailed) => Ok(from_item(
                self.store
                    .get(&self.main_table, &report_key)
                    .await?
                    .ok_or(CapacityError::UnknownProject(project_id))?,
            )?),
            Err(e) => Err(e.into()),
        }
    }
}

/// A converted project's role demand as check input.
pub fn project_demand(skeleton: &ProjectSkeleton) -> Vec<Demand> {
    skeleton
        .role_demand
        .iter()
        .map(|d| Demand {
            role: d.role.clone(),
            week_start: d.week_start,
            hours: d.hours,
        })
        .collect()
}

fn demand_rows(
    rows: &[DemandInput],
    catalog: &handoff_domain::catalog::Catalog,
) -> Result<Vec<Demand>, Problems> {
    let mut p = ProblemList::new();
    if rows.is_empty() || rows.len() > DEMAND_ROWS_MAX {
        p.push("demand", format!("give 1 to {DEMAND_ROWS_MAX} rows"));
    }
    let mut demand = Vec::new();
    for (i, row) in rows.iter().enumerate().take(DEMAND_ROWS_MAX) {
        let at = |f: &str| format!("demand[{i}].{f}");
        let role = p
            .require(at("role"), row.role.as_ref())
            .and_then(|r| p.check(at("role"), RoleCode::new(r)));
        if role.as_ref().is_some_and(|r| catalog.role(r).is_none()) {
            p.push(at("role"), "unknown role: not in the catalog");
        }
        let week = p
            .require(at("week"), row.week.as_ref())
            .and_then(|w| p.check(at("week"), parse_date(w)));
        let hours = p.require(at("hours"), row.hours.as_ref()).and_then(|h| {
            p.check(
                at("hours"),
                h.trim().parse::<Decimal>().map_err(|_| "is not a number"),
            )
        });
        if hours.is_some_and(|h| h <= Decimal::ZERO || h > Decimal::from(10_000)) {
            p.push(at("hours"), "must be above 0 and at most 10000");
        }
        if let (Some(role), Some(week), Some(hours)) = (role, week, hours) {
            demand.push(Demand {
                role,
                week_start: iso_week_start(week),
                hours,
            });
        }
    }
    if let (Some(first), Some(last)) = (
        demand.iter().map(|d| d.week_start).min(),
        demand.iter().map(|d| d.week_start).max(),
    ) {
        if (last - first).num_weeks() > DEMAND_WEEKS_MAX {
            p.push(
                "demand",
                format!("spans more than {DEMAND_WEEKS_MAX} weeks"),
            );
        }
    }
    p.finish(|| demand)
}

/// The weeks whose allocations matter: the demand's, shifted up to the horizon.
fn demand_weeks(demand: &[Demand], horizon_weeks: u32) -> Vec<NaiveDate> {
    let mut weeks: Vec<NaiveDate> = demand
        .iter()
        .flat_map(|d| {
            (0..=i64::from(horizon_weeks)).map(move |k| d.week_start + Duration::weeks(k))
        })
        .collect();
    weeks.sort_unstable();
    weeks.dedup();
    weeks
}

fn proposed_allocations(project: ProjectId, report: &StaffingReport) -> Vec<Allocation> {
    report
        .roles
        .iter()
        .flat_map(|r| {
            r.assigned.iter().map(move |a| Allocation {
                resource: a.resource.clone(),
                project: Some(project),
                role: r.role.clone(),
                week_start: r.week_start,
                hours: a.hours,
                kind: AllocationKind::Soft {
                    probability: CONVERTED_PROJECT_PROBABILITY,
                },
            })
        })
        .collect()
}

/// Partition of the people records.
pub const RESOURCES_PARTITION: &str = "RESOURCES";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResourceRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    resource: Resource,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AllocationRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    allocation: Allocation,
}

impl AllocationRecord {
    fn of(a: &Allocation) -> Self {
        let project = a.project.map(|p| p.to_string()).unwrap_or_default();
        AllocationRecord {
            pk: format!("ALLOCWEEK#{}", a.week_start),
            sk: format!("ALLOC#{}#{project}#{}", a.resource, a.role),
            allocation: a.clone(),
        }
    }
}

/// The staffing report stored on a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffingRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub project_id: ProjectId,
    pub checked_at: String,
    pub response: CheckResponse,
    pub allocations: usize,
}
