//! Amended deals (DESIGN §4.3 conflict rule): the CRM masters commercial terms, the project
//! masters tasks and actuals. A won event for an already converted deal with different
//! commercial terms becomes a pending change request listing every change, old → new; the
//! project is never overwritten.

use crate::deal::Deal;
use crate::id::{ChangeRequestId, ProjectId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The commercial terms of a deal, flattened to comparable fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommercialTerms(pub BTreeMap<String, String>);

impl CommercialTerms {
    pub fn of(deal: &Deal) -> CommercialTerms {
        let mut f = BTreeMap::new();
        let mut put = |k: String, v: String| {
            f.insert(k, v);
        };
        put("deal.currency".into(), deal.currency.to_string());
        if let Some(amount) = deal.amount {
            put(
                "deal.amount".into(),
                amount.round_to_minor_units().to_string(),
            );
        }
        for item in &deal.line_items {
            let at = format!("line_items[{}]", item.sku);
            put(
                format!("{at}.quantity"),
                item.quantity.normalize().to_string(),
            );
            put(format!("{at}.unit_price"), item.unit_price.to_string());
            put(
                format!("{at}.discount_percent"),
                item.discount_percent.normalize().to_string(),
            );
        }
        let b = &deal.billing;
        put("billing.model".into(), format!("{:?}", b.model));
        let optional = |v: Option<String>| v.unwrap_or_else(|| "none".into());
        put("billing.cap".into(), optional(b.cap.map(|c| c.to_string())));
        put(
            "billing.frequency".into(),
            optional(b.frequency.map(|v| format!("{v:?}"))),
        );
        put(
            "billing.payment_terms_days".into(),
            optional(b.payment_terms_days.map(|d| d.to_string())),
        );
        put(
            "billing.finance_approval".into(),
            b.finance_approval.to_string(),
        );
        put(
            "billing.hour_increment".into(),
            optional(b.hour_increment.map(|h| h.value().to_string())),
        );
        put(
            "billing.expense_markup_percent".into(),
            b.expense_markup_percent.normalize().to_string(),
        );
        for o in &b.rate_overrides {
            put(
                format!("billing.rate_overrides[{}]", o.role),
                o.bill.to_string(),
            );
        }
        CommercialTerms(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    /// `None`: the field was absent before (or is absent now).
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeRequestStatus {
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// Derived from the project and the new terms: the same amendment delivered twice is
    /// one change request.
    pub id: ChangeRequestId,
    pub project_id: ProjectId,
    pub status: ChangeRequestStatus,
    pub changes: Vec<FieldChange>,
}

/// Every field that differs, in field order.
pub fn diff(old: &CommercialTerms, new: &CommercialTerms) -> Vec<FieldChange> {
    let fields: std::collections::BTreeSet<&String> = old.0.keys().chain(new.0.keys()).collect();
    fields
        .into_iter()
        .filter(|f| old.0.get(*f) != new.0.get(*f))
        .map(|f| FieldChange {
            field: f.clone(),
            old: old.0.get(f).cloned(),
            new: new.0.get(f).cloned(),
        })
        .collect()
}

/// The change request an amended deal raises, or `None` when its terms are unchanged.
pub fn change_request(
    project_id: ProjectId,
    converted: &CommercialTerms,
    amended: &CommercialTerms,
) -> Option<ChangeRequest> {
    let changes = diff(converted, amended);
    if changes.is_empty() {
        return None;
    }
    let fingerprint: Vec<String> = amended.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut parts = vec![project_id.to_string()];
    parts.extend(fingerprint);
    let id =
        ChangeRequestId::derive_from_parts(&parts.iter().map(String::as_str).collect::<Vec<_>>());
    Some(ChangeRequest {
        id,
        project_id,
        status: ChangeRequestStatus::Pending,
        changes,
    })
}
