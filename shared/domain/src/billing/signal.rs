//! What delivery tools send, validated.

use crate::catalog::RoleCode;
use crate::hours::Hours;
use crate::id::{ExternalId, MilestoneId, SourceSystem};
use crate::money::Money;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Which source record (and which version of it) a signal carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceRef {
    pub system: SourceSystem,
    pub id: ExternalId,
    pub version: u32,
}

impl SourceRef {
    /// The record across versions: `jira:worklog-88`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.system.as_str(), self.id.as_str())
    }

    /// This version: `jira:worklog-88@v2`.
    pub fn reference(&self) -> String {
        format!("{}@v{}", self.key(), self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeEntry {
    pub source: SourceRef,
    pub resource: String,
    pub role: RoleCode,
    pub work_date: NaiveDate,
    pub hours: Hours,
    pub billable: bool,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpenseEntry {
    pub source: SourceRef,
    pub incurred_on: NaiveDate,
    pub amount: Money,
    pub billable: bool,
    pub category: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneAcceptance {
    pub source: SourceRef,
    pub milestone_id: MilestoneId,
    pub accepted_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeOrder {
    pub source: SourceRef,
    pub effective_on: NaiveDate,
    /// A new not-to-exceed on the contract's net amount.
    pub new_cap: Option<Money>,
    /// A fixed-fee change order's new milestone: (name, amount, due date).
    pub add_milestone: Option<(String, Money, NaiveDate)>,
}

/// A retainer period begins: its block is billed in advance and unused hours roll over
/// (up to the contract's limit) or expire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainerPeriodStart {
    pub source: SourceRef,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Signal {
    Time(TimeEntry),
    Expense(ExpenseEntry),
    MilestoneAccepted(MilestoneAcceptance),
    ChangeOrder(ChangeOrder),
    RetainerPeriodStart(RetainerPeriodStart),
}

impl Signal {
    pub fn source(&self) -> &SourceRef {
        match self {
            Signal::Time(s) => &s.source,
            Signal::Expense(s) => &s.source,
            Signal::MilestoneAccepted(s) => &s.source,
            Signal::ChangeOrder(s) => &s.source,
            Signal::RetainerPeriodStart(s) => &s.source,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Signal::Time(_) => "timesheet",
            Signal::Expense(_) => "expense",
            Signal::MilestoneAccepted(_) => "milestone",
            Signal::ChangeOrder(_) => "change_order",
            Signal::RetainerPeriodStart(_) => "retainer_period",
        }
    }
}
