//! A deal as a CRM's API reports it → the canonical deal input. Only translation: what
//! the CRM does not say stays empty, so validation lists it and the scope clarity score
//! shows the gap, rather than the mapping inventing it.

use handoff_domain::deal::{CrmRefInput, CustomerInput, DealHeaderInput, DealInput, LineItemInput};
use handoff_ports::CrmDeal;

pub fn deal_input(deal: &CrmDeal) -> DealInput {
    let account = deal.account.clone().unwrap_or_default();
    DealInput {
        crm: CrmRefInput {
            system: Some(deal.system.clone()),
            deal_id: Some(deal.deal_id.clone()),
        },
        customer: CustomerInput {
            external_id: Some(account.id).filter(|id| !id.is_empty()),
            name: account.name,
            domain: account.domain,
            ..Default::default()
        },
        deal: DealHeaderInput {
            name: deal.name.clone(),
            owner: deal.owner_id.clone(),
            amount: deal.amount.clone(),
            currency: deal.currency.clone(),
            created_at: deal.created_at.clone(),
            closed_at: deal.closed_at.clone(),
        },
        line_items: deal
            .line_items
            .iter()
            .map(|item| LineItemInput {
                sku: item.sku.clone(),
                name: item.name.clone(),
                quantity: item.quantity.clone(),
                unit_price: item.unit_price.clone(),
                discount_percent: item.discount_percent.clone().filter(|d| !is_zero(d)),
                discount_amount: item.discount_amount.clone().filter(|d| !is_zero(d)),
            })
            .collect(),
        ..Default::default()
    }
}

/// CRMs send `"0"` for "no discount"; that is not a discount given both ways.
fn is_zero(text: &str) -> bool {
    text.trim()
        .parse::<rust_decimal::Decimal>()
        .is_ok_and(|d| d.is_zero())
}
