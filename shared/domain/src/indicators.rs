//! Leading indicators at handoff (DESIGN §4.7): the scope clarity score, the kickoff
//! readiness checklist and the proposal cycle time. Each check is named, weighted and says
//! why it failed, so sales sees what to fix rather than a bare number.

use crate::deal::Deal;
use crate::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub weight: u32,
    pub passed: bool,
    /// Why it passed or failed, in words a sales rep can act on.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeClarity {
    /// 0–100: the weights of the passed checks.
    pub score: u32,
    pub checks: Vec<Check>,
}

impl ScopeClarity {
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessItem {
    pub item: String,
    pub passed: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicators {
    pub scope_clarity: ScopeClarity,
    pub kickoff_readiness: Vec<ReadinessItem>,
    /// Days from deal created to won.
    pub proposal_cycle_days: Option<i64>,
}

pub fn evaluate(deal: &Deal) -> Indicators {
    Indicators {
        scope_clarity: scope_clarity(deal),
        kickoff_readiness: kickoff_readiness(deal),
        proposal_cycle_days: proposal_cycle_days(deal),
    }
}

fn check(name: &str, weight: u32, outcome: Result<String, String>) -> Check {
    let (passed, reason) = match outcome {
        Ok(reason) => (true, reason),
        Err(reason) => (false, reason),
    };
    Check {
        name: name.to_owned(),
        weight,
        passed,
        reason,
    }
}

fn all_or_missing<'a>(
    names: impl Iterator<Item = &'a str>,
    what: &str,
    none: &str,
) -> Result<String, String> {
    let missing: Vec<&str> = names.collect();
    if missing.is_empty() {
        Ok(format!("every {what}"))
    } else {
        Err(format!("{none}: {}", missing.join(", ")))
    }
}

/// The weighted checks; weights add up to 100.
pub fn scope_clarity(deal: &Deal) -> ScopeClarity {
    let deliverables = &deal.scope.deliverables;
    let checks = vec![
        check(
            "deliverables_have_acceptance_criteria",
            20,
            if deliverables.is_empty() {
                Err("no deliverables are scoped".into())
            } else {
                all_or_missing(
                    deliverables
                        .iter()
                        .filter(|d| d.acceptance_criteria.is_empty())
                        .map(|d| d.name.as_str()),
                    "deliverable has acceptance criteria",
                    "no acceptance criteria for",
                )
            },
        ),
        check(
            "line_items_map_to_catalog",
            10,
            if deal.line_items.is_empty() {
                Err("the deal has no line items".into())
            } else {
                Ok(format!(
                    "{} line item(s), all catalog SKUs",
                    deal.line_items.len()
                ))
            },
        ),
        check(
            "role_estimates_present",
            15,
            if deliverables.is_empty() {
                Err("no deliverables, so no role estimates".into())
            } else {
                all_or_missing(
                    deliverables
                        .iter()
                        .filter(|d| d.role_estimates.is_empty())
                        .map(|d| d.name.as_str()),
                    "deliverable has role estimates",
                    "no role estimates for",
                )
            },
        ),
        check(
            "assumptions_approved",
            15,
            if deal.scope.assumptions.is_empty() {
                Err("no assumptions are recorded".into())
            } else {
                all_or_missing(
                    deal.scope
                        .assumptions
                        .iter()
                        .filter(|a| !a.approved)
                        .map(|a| a.text.as_str()),
                    "assumption is approved",
                    "not approved",
                )
            },
        ),
        check("dates_present_and_ordered", 15, dates(deal)),
        check("billing_terms_complete", 15, billing_terms(deal)),
        check(
            "billing_contact_present",
            10,
            match &deal.customer.billing_contact {
                Some(_) => Ok("billing contact named".into()),
                None => Err("no billing contact".into()),
            },
        ),
    ];
    let score = checks.iter().filter(|c| c.passed).map(|c| c.weight).sum();
    ScopeClarity { score, checks }
}

fn dates(deal: &Deal) -> Result<String, String> {
    let (start, end) = (deal.scope.start_date, deal.scope.target_end_date);
    match (start, end) {
        (None, None) => Err("no start or target end date".into()),
        (None, Some(_)) => Err("no start date".into()),
        (Some(_), None) => Err("no target end date".into()),
        (Some(s), Some(e)) if e < s => Err("target end is before start".into()),
        (Some(s), Some(_)) if deal.closed_on.is_some_and(|c| s < c) => {
            Err("start is before the deal closed".into())
        }
        (Some(s), Some(e)) => Ok(format!("{s} to {e}")),
    }
}

fn billing_terms(deal: &Deal) -> Result<String, String> {
    let b = &deal.billing;
    let mut missing = Vec::new();
    if !b.model_stated {
        missing.push("billing model (defaulted from the catalog)");
    }
    if b.frequency.is_none() {
        missing.push("billing frequency");
    }
    if b.payment_terms_days.is_none() {
        missing.push("payment terms");
    }
    if missing.is_empty() {
        Ok("model, frequency and payment terms stated".into())
    } else {
        Err(format!("missing {}", missing.join(", ")))
    }
}

/// Items evaluated from the data at handoff, each with its reason.
pub fn kickoff_readiness(deal: &Deal) -> Vec<ReadinessItem> {
    let item = |name: &str, outcome: Result<String, String>| {
        let c = check(name, 0, outcome);
        ReadinessItem {
            item: c.name,
            passed: c.passed,
            reason: c.reason,
        }
    };
    let lines_total = Money::sum(deal.currency, deal.line_items.iter().map(|l| &l.net));
    vec![
        item(
            "Customer known by name",
            if deal.customer.name_known {
                Ok(deal.customer.name.clone())
            } else {
                Err(format!(
                    "the CRM sent only an account id; shown as {:?}",
                    deal.customer.name
                ))
            },
        ),
        item(
            "Billing contact named",
            deal.customer
                .billing_contact
                .as_ref()
                .map(|c| c.email.clone())
                .ok_or_else(|| "ask the customer who receives invoices".to_owned()),
        ),
        item(
            "Tax jurisdiction and legal entity known",
            match (&deal.customer.tax_jurisdiction, &deal.customer.legal_entity) {
                (Some(t), Some(l)) => Ok(format!("{t}, invoiced by {l}")),
                _ => Err("needed to invoice with the right tax and from the right entity".into()),
            },
        ),
        item(
            "Start date agreed after close",
            match (deal.scope.start_date, deal.closed_on) {
                (Some(s), Some(c)) if s < c => Err(format!("start {s} is before the close {c}")),
                (Some(s), _) => Ok(format!("starts {s}")),
                (None, _) => Err("no agreed start date; the plan assumes one".into()),
            },
        ),
        item(
            "Every deliverable has acceptance criteria",
            scope_clarity(deal)
                .checks
                .into_iter()
                .find(|c| c.name == "deliverables_have_acceptance_criteria")
                .map_or(Err(String::new()), |c| {
                    if c.passed {
                        Ok(c.reason)
                    } else {
                        Err(c.reason)
                    }
                }),
        ),
        item(
            "Deal amount matches the line items",
            match (deal.amount, lines_total) {
                (Some(amount), Ok(total)) if amount.round_to_minor_units() == total => {
                    Ok(format!("{total}"))
                }
                (Some(amount), Ok(total)) => {
                    Err(format!("deal says {amount}, line items add up to {total}"))
                }
                (None, _) => Err("the CRM sent no deal amount".into()),
                (_, Err(e)) => Err(e.to_string()),
            },
        ),
        item(
            "Assumptions approved",
            if !deal.scope.assumptions.is_empty()
                && deal.scope.assumptions.iter().all(|a| a.approved)
            {
                Ok("all approved".into())
            } else {
                Err("unapproved or missing assumptions".into())
            },
        ),
    ]
}

pub fn proposal_cycle_days(deal: &Deal) -> Option<i64> {
    Some((deal.closed_on? - deal.created_on?).num_days())
}
