//! The CRM port: fetch a won deal and its line items from the CRM that announced it.
//!
//! Webhooks carry too little (HubSpot sends only an id and a stage; Pipedrive no
//! products), so the converter asks the CRM's API. Values stay as the CRM sent them
//! (amounts as decimal strings, dates as sent); mapping onto the catalog and validating
//! happen in the domain, where every problem is listed together.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The CRM's account (company / organisation) that the deal belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CrmAccount {
    pub id: String,
    pub name: Option<String>,
    /// Web domain (`acme.com`), when the CRM has one.
    pub domain: Option<String>,
}

/// A product line on the deal.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CrmLineItem {
    pub id: String,
    pub name: Option<String>,
    /// The catalog SKU, read from the configured property (HubSpot `hs_sku` by default;
    /// Pipedrive product `code`). `None` when the CRM has none: a validation problem later.
    pub sku: Option<String>,
    /// Decimal strings as the CRM sent them (`"2"`, `"1500.00"`).
    pub quantity: Option<String>,
    pub unit_price: Option<String>,
    /// A percentage discount (`"10"` = 10 %), if the CRM expresses it so.
    pub discount_percent: Option<String>,
    /// An absolute discount on the line, if the CRM expresses it so.
    pub discount_amount: Option<String>,
}

/// A deal as the CRM's API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CrmDeal {
    /// `hubspot`, `pipedrive` or `salesforce`.
    pub system: String,
    pub deal_id: String,
    pub name: Option<String>,
    pub amount: Option<String>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// As sent: an ISO-8601 date or date-time, or Pipedrive's `YYYY-MM-DD HH:MM:SS`.
    pub created_at: Option<String>,
    pub closed_at: Option<String>,
    pub owner_id: Option<String>,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    /// The CRM's own won flag, where it has one (HubSpot `hs_is_closed_won`, Salesforce
    /// `IsWon`, Pipedrive `status == "won"`).
    pub is_won: Option<bool>,
    pub account: Option<CrmAccount>,
    pub line_items: Vec<CrmLineItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    #[error("the CRM has no deal {0}")]
    NotFound(String),
    #[error("the CRM refused our credentials")]
    Unauthorized,
    /// Rate limited (after our own retries), 5xx, timeouts, connection failures.
    #[error("the CRM is temporarily unavailable: {0}")]
    Transient(String),
    /// The CRM answered something we cannot read.
    #[error("unexpected CRM response: {0}")]
    Invalid(String),
}

impl CrmError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, CrmError::Transient(_))
    }
}

#[async_trait]
pub trait CrmClient: Send + Sync {
    /// The deal with its account and every line item (all pages).
    async fn fetch_deal(&self, deal_id: &str) -> Result<CrmDeal, CrmError>;
}
