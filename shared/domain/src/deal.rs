//! The canonical deal: what every CRM input becomes before conversion (DESIGN §4.3).
//!
//! [`DealInput`] is the wire shape of `POST /webhooks/crm` (and what the HubSpot, Pipedrive
//! and Salesforce paths map their payloads onto): strings as sent, everything optional so
//! that validation, not deserialisation, reports what is missing — all of it at once, with
//! field paths. [`Deal`] is the validated form; nothing downstream re-checks it.

use crate::catalog::{BillingModel, Catalog, RoleCode, Sku};
use crate::currency::Currency;
use crate::hours::{HourIncrement, Hours};
use crate::id::{ExternalId, SourceSystem};
use crate::money::Money;
use crate::problems::{ProblemList, Problems};
use crate::rates::RateOverride;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Most line items, deliverables or assumptions on one deal.
pub const DEAL_LIST_ITEMS_MAX: usize = 200;
/// Longest narrative kept with a project.
pub const NARRATIVE_CHARS_MAX: usize = 20_000;

// ---- wire shape -------------------------------------------------------------------------

/// The longest payment terms a deal may set (a year; longer is a data error, and would
/// push due dates out of any calendar).
pub const PAYMENT_TERMS_DAYS_MAX: u32 = 365;
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DealInput {
    pub crm: CrmRefInput,
    pub customer: CustomerInput,
    pub deal: DealHeaderInput,
    pub line_items: Vec<LineItemInput>,
    pub scope: ScopeInput,
    pub billing: BillingInput,
    pub narrative: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrmRefInput {
    pub system: Option<String>,
    pub deal_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerInput {
    /// The account's id in the CRM named by `crm.system`.
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<String>,
    pub billing_contact: Option<ContactInput>,
    pub tax_jurisdiction: Option<String>,
    pub legal_entity: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactInput {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DealHeaderInput {
    pub name: Option<String>,
    pub owner: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    /// `YYYY-MM-DD`, an RFC 3339 date-time, or `YYYY-MM-DD HH:MM:SS` (UTC).
    pub created_at: Option<String>,
    pub closed_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LineItemInput {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub quantity: Option<String>,
    pub unit_price: Option<String>,
    /// Percent, `"10"` = 10 %.
    pub discount_percent: Option<String>,
    /// An absolute discount on the whole line (some CRMs send this instead of a percent).
    pub discount_amount: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeInput {
    pub start_date: Option<String>,
    pub target_end_date: Option<String>,
    pub deliverables: Vec<DeliverableInput>,
    pub assumptions: Vec<AssumptionInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverableInput {
    pub name: Option<String>,
    /// The line item this deliverable details; its role estimates replace the offering's
    /// effort model for that SKU.
    pub sku: Option<String>,
    pub acceptance_criteria: Vec<String>,
    pub role_estimates: Vec<RoleEstimateInput>,
    pub due_date: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleEstimateInput {
    pub role: Option<String>,
    pub hours: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssumptionInput {
    pub text: Option<String>,
    pub approved: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingInput {
    pub model: Option<String>,
    /// Not-to-exceed on the contract's net amount.
    pub cap: Option<String>,
    pub frequency: Option<String>,
    pub payment_terms_days: Option<u32>,
    /// Finance approves each invoice before it is issued.
    pub finance_approval: Option<bool>,
    pub hour_increment: Option<String>,
    pub expense_markup_percent: Option<String>,
    pub rate_overrides: Vec<RateOverrideInput>,
    /// Retainers: unused hours carried into the next period, at most this many (0 or
    /// absent: unused hours expire).
    pub retainer_rollover_hours_max: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateOverrideInput {
    pub role: Option<String>,
    pub bill_rate: Option<String>,
}

// ---- validated form ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingFrequency {
    Weekly,
    SemiMonthly,
    Monthly,
    OnMilestone,
}

impl FromStr for BillingFrequency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "weekly" => Ok(BillingFrequency::Weekly),
            "semi_monthly" => Ok(BillingFrequency::SemiMonthly),
            "monthly" => Ok(BillingFrequency::Monthly),
            "on_milestone" => Ok(BillingFrequency::OnMilestone),
            other => Err(format!(
                "unknown billing frequency {other:?}: expected weekly, semi_monthly, monthly or on_milestone"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub external_id: ExternalId,
    /// The CRM's name for the account, or `<system> account <id>` when the CRM did not
    /// send one (Salesforce outbound messages carry only the account id).
    pub name: String,
    pub name_known: bool,
    pub domain: Option<String>,
    pub billing_contact: Option<Contact>,
    pub tax_jurisdiction: Option<String>,
    pub legal_entity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: Sku,
    pub name: Option<String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    pub unit_price: Money,
    #[serde(with = "rust_decimal::serde::str")]
    pub discount_percent: Decimal,
    pub discount_amount: Option<Money>,
    /// quantity × unit price − discount, rounded once to the currency's minor unit.
    pub net: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleEstimate {
    pub role: RoleCode,
    pub hours: Hours,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliverable {
    pub name: String,
    pub sku: Option<Sku>,
    pub acceptance_criteria: Vec<String>,
    pub role_estimates: Vec<RoleEstimate>,
    pub due_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assumption {
    pub text: String,
    pub approved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub start_date: Option<NaiveDate>,
    pub target_end_date: Option<NaiveDate>,
    pub deliverables: Vec<Deliverable>,
    pub assumptions: Vec<Assumption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingTerms {
    pub model: BillingModel,
    /// Whether the model was stated on the deal (not defaulted from the catalog).
    pub model_stated: bool,
    pub cap: Option<Money>,
    pub frequency: Option<BillingFrequency>,
    pub payment_terms_days: Option<u32>,
    pub finance_approval: bool,
    pub hour_increment: Option<HourIncrement>,
    #[serde(with = "rust_decimal::serde::str")]
    pub expense_markup_percent: Decimal,
    pub rate_overrides: Vec<RateOverride>,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub retainer_rollover_hours_max: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deal {
    pub system: SourceSystem,
    pub deal_id: ExternalId,
    pub customer: Customer,
    pub name: String,
    pub owner: Option<String>,
    pub amount: Option<Money>,
    pub currency: Currency,
    pub created_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub line_items: Vec<LineItem>,
    pub scope: Scope,
    pub billing: BillingTerms,
    pub narrative: Option<String>,
}

// ---- validation -------------------------------------------------------------------------

/// Parses a date as CRMs send it: `2026-11-30`, `2026-11-30T16:35:02.296Z`, or Pipedrive's
/// `2026-11-30 16:35:02`; the calendar date is what counts.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let head = text.trim().get(..10).unwrap_or(text);
    NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

fn parse_decimal(text: &str) -> Result<Decimal, String> {
    Decimal::from_str(text.trim()).map_err(|_| format!("{text:?} is not a decimal number"))
}

/// The legal entity as it names a numbering series: case-insensitive (`Northwind-US` and
/// `northwind-us` are one entity, one gapless series).
pub fn legal_entity_key(entity: &str) -> String {
    entity.trim().to_lowercase()
}

fn non_blank(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Validates a deal against the catalog, listing every problem with its field path.
pub fn validate(input: &DealInput, catalog: &Catalog) -> Result<Deal, Problems> {
    let mut p = ProblemList::new();
    let system = p.require("crm.system", non_blank(input.crm.system.as_ref()));
    let system = system.and_then(|s| p.check("crm.system", SourceSystem::new(&s)));
    let deal_id = p.require("crm.deal_id", non_blank(input.crm.deal_id.as_ref()));
    let deal_id = deal_id.and_then(|s| p.check("crm.deal_id", ExternalId::new(&s)));
    let currency = p.require("deal.currency", non_blank(input.deal.currency.as_ref()));
    let currency = currency.and_then(|c| p.check("deal.currency", Currency::parse(&c)));
    let customer = customer(&input.customer, system.as_ref(), &mut p);
    let name = p.require("deal.name", non_blank(input.deal.name.as_ref()));
    let amount = input
        .deal
        .amount
        .as_ref()
        .and_then(|a| p.check("deal.amount", parse_decimal(a)));
    let created_on = input
        .deal
        .created_at
        .as_ref()
        .and_then(|d| p.check("deal.created_at", parse_date(d)));
    let closed_on = input
        .deal
        .closed_at
        .as_ref()
        .and_then(|d| p.check("deal.closed_at", parse_date(d)));
    let line_items = line_items(&input.line_items, currency, catalog, &mut p);
    let scope = scope(&input.scope, catalog, &line_items, &mut p);
    let billing = billing(&input.billing, currency, &line_items, catalog, &mut p);
    let narrative = input.narrative.clone().filter(|n| !n.trim().is_empty());
    if narrative
        .as_ref()
        .is_some_and(|n| n.chars().count() > NARRATIVE_CHARS_MAX)
    {
        p.push(
            "narrative",
            format!("longer than {NARRATIVE_CHARS_MAX} characters"),
        );
    }
    if amount.is_some_and(|a| a < Decimal::ZERO) {
        p.push("deal.amount", "must not be negative");
    }
    match (system, deal_id, customer, name, currency, scope, billing) {
        (
            Some(system),
            Some(deal_id),
            Some(customer),
            Some(name),
            Some(currency),
            Some(scope),
            Some(billing),
        ) if p.is_empty() => Ok(Deal {
            system,
            deal_id,
            customer,
            name,
            owner: non_blank(input.deal.owner.as_ref()),
            amount: amount.map(|a| Money::new(a, currency)),
            currency,
            created_on,
            closed_on,
            line_items,
            scope,
            billing,
            narrative,
        }),
        _ => Err(p.into_problems()),
    }
}

fn customer(
    input: &CustomerInput,
    system: Option<&SourceSystem>,
    p: &mut ProblemList,
) -> Option<Customer> {
    let external_id = p.require(
        "customer.external_id",
        non_blank(input.external_id.as_ref()),
    );
    let external_id =
        external_id.and_then(|s| p.check("customer.external_id", ExternalId::new(&s)));
    let name = non_blank(input.name.as_ref());
    let billing_contact = input.billing_contact.as_ref().and_then(|c| {
        let email = p.require(
            "customer.billing_contact.email",
            non_blank(c.email.as_ref()),
        )?;
        if !email.contains('@') {
            p.push("customer.billing_contact.email", "is not an email address");
        }
        Some(Contact {
            name: non_blank(c.name.as_ref()),
            email,
        })
    });
    let external_id = external_id?;
    let placeholder = || {
        format!(
            "{} account {external_id}",
            system.map_or("CRM", |s| s.as_str())
        )
    };
    Some(Customer {
        name_known: name.is_some(),
        name: name.unwrap_or_else(placeholder),
        external_id,
        domain: non_blank(input.domain.as_ref()).map(|d| d.to_lowercase()),
        billing_contact,
        tax_jurisdiction: non_blank(input.tax_jurisdiction.as_ref()),
        legal_entity: non_blank(input.legal_entity.as_ref()).map(|e| legal_entity_key(&e)),
    })
}

fn line_items(
    inputs: &[LineItemInput],
    currency: Option<Currency>,
    catalog: &Catalog,
    p: &mut ProblemList,
) -> Vec<LineItem> {
    if inputs.len() > DEAL_LIST_ITEMS_MAX {
        p.push(
            "line_items",
            format!("more than {DEAL_LIST_ITEMS_MAX} line items"),
        );
        return Vec::new();
    }
    let mut items = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let at = |f: &str| format!("line_items[{i}].{f}");
        let sku = p
            .require(at("sku"), non_blank(input.sku.as_ref()))
            .and_then(|s| p.check(at("sku"), Sku::new(&s)));
        if let Some(sku) = &sku {
            if catalog.offering(sku).is_none() {
                p.push(
                    at("sku"),
                    format!("unknown SKU {sku}: not in the service catalog"),
                );
            }
        }
        let quantity = p
            .require(at("quantity"), input.quantity.as_ref())
            .and_then(|q| p.check(at("quantity"), parse_decimal(q)));
        if quantity.is_some_and(|q| q <= Decimal::ZERO) {
            p.push(at("quantity"), "must be above 0");
        }
        let price = p
            .require(at("unit_price"), input.unit_price.as_ref())
            .and_then(|u| p.check(at("unit_price"), parse_decimal(u)));
        if price.is_some_and(|u| u < Decimal::ZERO) {
            p.push(at("unit_price"), "must not be negative");
        }
        let discount = match &input.discount_percent {
            None => Some(Decimal::ZERO),
            Some(d) => p.check(at("discount_percent"), parse_decimal(d)),
        };
        if discount.is_some_and(|d| d < Decimal::ZERO || d > Decimal::ONE_HUNDRED) {
            p.push(at("discount_percent"), "must be between 0 and 100");
        }
        let discount_amount = input
            .discount_amount
            .as_ref()
            .and_then(|d| p.check(at("discount_amount"), parse_decimal(d)));
        if discount_amount.is_some_and(|d| d < Decimal::ZERO) {
            p.push(at("discount_amount"), "must not be negative");
        }
        if discount_amount.is_some() && input.discount_percent.is_some() {
            p.push(
                at("discount_amount"),
                "give a discount percent or amount, not both",
            );
        }
        if let (Some(sku), Some(quantity), Some(price), Some(discount), Some(currency)) =
            (sku, quantity, price, discount, currency)
        {
            let unit_price = Money::new(price, currency);
            let discount_amount = discount_amount.map(|d| Money::new(d, currency));
            match line_net(unit_price, quantity, discount, discount_amount) {
                Ok(net) => items.push(LineItem {
                    sku,
                    name: non_blank(input.name.as_ref()),
                    quantity,
                    unit_price,
                    discount_percent: discount,
                    discount_amount,
                    net,
                }),
                Err(e) => p.push(at("discount_amount"), e),
            }
        }
    }
    items
}

/// A line's net: quantity × unit price, less the discount (a percent, or an amount off the
/// line), rounded once to the currency's minor unit (DESIGN §4.2).
pub fn line_net(
    unit_price: Money,
    quantity: Decimal,
    discount_percent: Decimal,
    discount_amount: Option<Money>,
) -> Result<Money, String> {
    let gross = unit_price
        .checked_mul(quantity)
        .map_err(|e| e.to_string())?;
    let net = match discount_amount {
        Some(off) => {
            let net = gross.checked_sub(&off).map_err(|e| e.to_string())?;
            if net.is_negative() {
                return Err(format!("discount {off} exceeds the line's {gross}"));
            }
            net
        }
        None => {
            let keep = (Decimal::ONE_HUNDRED - discount_percent) / Decimal::ONE_HUNDRED;
            gross.checked_mul(keep).map_err(|e| e.to_string())?
        }
    };
    Ok(net.round_to_minor_units())
}

fn scope(
    input: &ScopeInput,
    catalog: &Catalog,
    line_items: &[LineItem],
    p: &mut ProblemList,
) -> Option<Scope> {
    let start_date = input
        .start_date
        .as_ref()
        .and_then(|d| p.check("scope.start_date", parse_date(d)));
    let target_end_date = input
        .target_end_date
        .as_ref()
        .and_then(|d| p.check("scope.target_end_date", parse_date(d)));
    if let (Some(start), Some(end)) = (start_date, target_end_date) {
        if end < start {
            p.push("scope.target_end_date", "is before scope.start_date");
        }
    }
    if input.deliverables.len() > DEAL_LIST_ITEMS_MAX
        || input.assumptions.len() > DEAL_LIST_ITEMS_MAX
    {
        p.push(
            "scope",
            format!("more than {DEAL_LIST_ITEMS_MAX} deliverables or assumptions"),
        );
        return None;
    }
    let deliverables = input
        .deliverables
        .iter()
        .enumerate()
        .filter_map(|(i, d)| deliverable(d, i, catalog, line_items, p))
        .collect();
    let assumptions = input
        .assumptions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let text = p.require(
                format!("scope.assumptions[{i}].text"),
                non_blank(a.text.as_ref()),
            )?;
            Some(Assumption {
                text,
                approved: a.approved.unwrap_or(false),
            })
        })
        .collect();
    Some(Scope {
        start_date,
        target_end_date,
        deliverables,
        assumptions,
    })
}

fn deliverable(
    input: &DeliverableInput,
    i: usize,
    catalog: &Catalog,
    line_items: &[LineItem],
    p: &mut ProblemList,
) -> Option<Deliverable> {
    let at = |f: &str| format!("scope.deliverables[{i}].{f}");
    let name = p.require(at("name"), non_blank(input.name.as_ref()));
    let sku = input
        .sku
        .as_ref()
        .and_then(|s| p.check(at("sku"), Sku::new(s)));
    if let Some(sku) = &sku {
        if !line_items.iter().any(|l| &l.sku == sku) {
            p.push(at("sku"), format!("{sku} is not a line item of this deal"));
        }
    }
    let mut role_estimates = Vec::new();
    for (j, estimate) in input.role_estimates.iter().enumerate() {
        let field = |f: &str| format!("scope.deliverables[{i}].role_estimates[{j}].{f}");
        let role = p
            .require(field("role"), non_blank(estimate.role.as_ref()))
            .and_then(|r| p.check(field("role"), RoleCode::new(&r)));
        if let Some(role) = &role {
            if catalog.role(role).is_none() {
                p.push(
                    field("role"),
                    format!("unknown role {role}: not in the catalog"),
                );
            }
        }
        let hours = p
            .require(field("hours"), estimate.hours.as_ref())
            .and_then(|h| p.check(field("hours"), parse_decimal(h)))
            .and_then(|h| p.check(field("hours"), Hours::new(h)));
        if let (Some(role), Some(hours)) = (role, hours) {
            role_estimates.push(RoleEstimate { role, hours });
        }
    }
    let due_date = input
        .due_date
        .as_ref()
        .and_then(|d| p.check(at("due_date"), parse_date(d)));
    let acceptance_criteria = input
        .acceptance_criteria
        .iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    Some(Deliverable {
        name: name?,
        sku,
        acceptance_criteria,
        role_estimates,
        due_date,
    })
}

fn billing(
    input: &BillingInput,
    currency: Option<Currency>,
    line_items: &[LineItem],
    catalog: &Catalog,
    p: &mut ProblemList,
) -> Option<BillingTerms> {
    let stated = input
        .model
        .as_ref()
        .and_then(|m| p.check("billing.model", BillingModel::parse(m)));
    let default = line_items
        .first()
        .and_then(|l| catalog.offering(&l.sku))
        .map(|o| o.billing_model_default);
    let model = stated.or(default).unwrap_or(BillingModel::TimeAndMaterials);
    let cap = input
        .cap
        .as_ref()
        .and_then(|c| p.check("billing.cap", parse_decimal(c)));
    if cap.is_some_and(|c| c <= Decimal::ZERO) {
        p.push("billing.cap", "must be above 0");
    }
    let frequency = input
        .frequency
        .as_ref()
        .and_then(|f| p.check("billing.frequency", f.parse()));
    let hour_increment = input
        .hour_increment
        .as_ref()
        .and_then(|h| p.check("billing.hour_increment", parse_decimal(h)))
        .and_then(|h| p.check("billing.hour_increment", HourIncrement::new(h)));
    let markup = match &input.expense_markup_percent {
        None => Some(Decimal::ZERO),
        Some(m) => p.check("billing.expense_markup_percent", parse_decimal(m)),
    };
    if markup.is_some_and(|m| m < Decimal::ZERO) {
        p.push("billing.expense_markup_percent", "must not be negative");
    }
    let mut rate_overrides = Vec::new();
    for (i, o) in input.rate_overrides.iter().enumerate() {
        let at = |f: &str| format!("billing.rate_overrides[{i}].{f}");
        let role = p
            .require(at("role"), non_blank(o.role.as_ref()))
            .and_then(|r| p.check(at("role"), RoleCode::new(&r)));
        if role.as_ref().is_some_and(|r| catalog.role(r).is_none()) {
            p.push(at("role"), "unknown role: not in the catalog");
        }
        let rate = p
            .require(at("bill_rate"), o.bill_rate.as_ref())
            .and_then(|r| p.check(at("bill_rate"), parse_decimal(r)));
        if let (Some(role), Some(rate), Some(currency)) = (role, rate, currency) {
            rate_overrides.push(RateOverride {
                role,
                bill: Money::new(rate, currency),
            });
        }
    }
    if input
        .payment_terms_days
        .is_some_and(|d| d > PAYMENT_TERMS_DAYS_MAX)
    {
        p.push(
            "billing.payment_terms_days",
            format!("at most {PAYMENT_TERMS_DAYS_MAX} days"),
        );
    }
    let rollover = input
        .retainer_rollover_hours_max
        .as_ref()
        .and_then(|r| p.check("billing.retainer_rollover_hours_max", parse_decimal(r)));
    if rollover.is_some_and(|r| r < Decimal::ZERO) {
        p.push(
            "billing.retainer_rollover_hours_max",
            "must not be negative",
        );
    }
    Some(BillingTerms {
        retainer_rollover_hours_max: rollover,
        model,
        model_stated: stated.is_some(),
        cap: cap.zip(currency).map(|(c, cur)| Money::new(c, cur)),
        frequency,
        payment_terms_days: input.payment_terms_days,
        finance_approval: input.finance_approval.unwrap_or(false),
        hour_increment,
        expense_markup_percent: markup.unwrap_or_default(),
        rate_overrides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Money {
        Money::new(s.parse().unwrap(), Currency::parse("USD").unwrap())
    }

    #[test]
    fn line_net_rounds_once_after_the_discount() {
        let net = line_net(
            usd("33.333"),
            "3".parse().unwrap(),
            "10".parse().unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(
            net.to_string(),
            "90.00 USD",
            "99.999 less 10 % = 89.9991 → 90.00"
        );
        let off = line_net(
            usd("1500.00"),
            "2".parse().unwrap(),
            Decimal::ZERO,
            Some(usd("250.005")),
        )
        .unwrap();
        assert_eq!(off.to_string(), "2750.00 USD", "2749.995 rounds half up");
        assert!(line_net(usd("10"), Decimal::ONE, Decimal::ZERO, Some(usd("11"))).is_err());
    }

    #[test]
    fn dates_as_crms_send_them() {
        let want: NaiveDate = "2025-02-28".parse().unwrap();
        for text in [
            "2025-02-28",
            "2025-02-28T16:35:02.296Z",
            "2025-02-28 16:35:02",
        ] {
            assert_eq!(parse_date(text), Ok(want), "{text}");
        }
        assert!(parse_date("28/02/2025").is_err());
        assert!(parse_date("").is_err());
    }
}
