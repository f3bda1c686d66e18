//! Billable items, cost records and the per-contract state rating needs.

use super::signal::SourceRef;
use crate::catalog::{BillingModel, RoleCode};
use crate::id::{BillableItemId, ContractId, InvoiceId, MilestoneId, ProjectId};
use crate::money::Money;
use crate::rates::RateSource;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ItemStatus {
    Unbilled,
    Invoiced {
        invoice_id: InvoiceId,
        line: u32,
    },
    WrittenOff,
    Reversed {
        by: BillableItemId,
    },
    /// Delivered over the cap: never billed unless a change order raises the cap.
    NonBillable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    TimeAndMaterials,
    Expense,
    MilestoneFee,
    OverCap,
    /// A retainer block billed in advance (revenue follows the drawdown).
    RetainerFee,
    /// Retainer hours beyond the block, billed at the bill rate.
    RetainerOverage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillableItem {
    pub id: BillableItemId,
    pub project_id: ProjectId,
    pub contract_id: ContractId,
    pub trigger: SourceRef,
    pub contract_version: u32,
    pub rate_source: Option<RateSource>,
    /// The rule applied, in words: `t&m hours × bill rate on the work date`.
    pub rule: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    /// Raw hours before the contract's rounding increment (time only).
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub raw_quantity: Option<Decimal>,
    pub unit: String,
    pub rate: Money,
    pub amount: Money,
    pub treatment: Treatment,
    pub status: ItemStatus,
    pub work_date: NaiveDate,
    pub role: Option<RoleCode>,
    pub resource: Option<String>,
    /// A delta item: the invoiced item it corrects.
    pub corrects: Option<BillableItemId>,
    /// The source record's note (time entries and expenses), shown in the invoice annex.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostRecord {
    pub trigger: SourceRef,
    pub work_date: NaiveDate,
    pub resource: Option<String>,
    pub role: Option<RoleCode>,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
    pub amount: Money,
}

/// What rating remembers of a source record across its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryState {
    /// `system:id` of the source record.
    #[serde(default)]
    pub key: String,
    pub version: u32,
    /// Billable (cap-consuming) amount currently accrued for the record.
    pub billable: Money,
    /// The billable hours behind that amount (time entries).
    #[serde(with = "rust_decimal::serde::str")]
    pub hours: Decimal,
    /// The record's live items, newest last.
    pub items: Vec<BillableItemId>,
    /// Set when any of the record's items is on an invoice.
    pub invoiced: bool,
}

/// The contract's billing state, versioned for optimistic concurrency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractState {
    pub project_id: ProjectId,
    pub contract_id: ContractId,
    pub model: BillingModel,
    pub currency: crate::currency::Currency,
    /// Bumped by change orders.
    pub terms_version: u32,
    /// Bumped on every write (the storage condition).
    pub version: u64,
    pub cap: Option<Money>,
    /// Net amount accrued towards the cap.
    pub billed_net: Money,
    pub expense_markup_percent: Decimal,
    pub hour_increment: Option<crate::hours::HourIncrement>,
    pub rate_overrides: Vec<crate::rates::RateOverride>,
    pub customer_id: crate::id::CustomerId,
    pub milestones: BTreeMap<MilestoneId, (String, Option<Money>, bool)>,
    pub retainer: Option<crate::project::RetainerTerms>,
    /// Retainer hours left in the current period's block.
    #[serde(with = "rust_decimal::serde::str")]
    pub retainer_balance_hours: Decimal,
    /// Retainer hours that expired at period ends, in total.
    #[serde(with = "rust_decimal::serde::str")]
    pub retainer_expired_hours: Decimal,
    /// Fixed fee: the fee revenue is recognised against, and the progress measure.
    pub fee: Option<Money>,
    #[serde(with = "rust_decimal::serde::str")]
    pub budget_hours: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours_delivered: Decimal,
    pub revenue_recognized: Money,
}

impl ContractState {
    /// The opening state of a converted project's contract.
    pub fn open(project: &crate::project::ProjectSkeleton) -> ContractState {
        let contract = &project.contract;
        ContractState {
            project_id: project.project_id,
            contract_id: contract.contract_id,
            model: contract.billing.model,
            currency: contract.currency,
            terms_version: contract.version,
            version: 0,
            cap: contract.billing.cap,
            billed_net: Money::zero(contract.currency),
            expense_markup_percent: contract.billing.expense_markup_percent,
            hour_increment: contract.billing.hour_increment,
            rate_overrides: contract.billing.rate_overrides.clone(),
            customer_id: project.customer_id,
            milestones: project
                .milestones
                .iter()
                .filter(|m| m.amount.is_some())
                .map(|m| (m.id, (m.name.clone(), m.amount, false)))
                .collect(),
            retainer: contract.retainer.clone(),
            retainer_balance_hours: Decimal::ZERO,
            retainer_expired_hours: Decimal::ZERO,
            fee: contract.fee,
            budget_hours: project.budget.total_hours,
            hours_delivered: Decimal::ZERO,
            revenue_recognized: Money::zero(contract.currency),
        }
    }
}
