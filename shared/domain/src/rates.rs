//! Rate cards: versioned, effective-dated bill and cost rates per role (DESIGN §4.4).
//!
//! A rate is looked up on the work date in this order: the contract's override for the
//! role → the customer's card → the standard card of the currency. The answer names its
//! source (card and version), so every billed amount traces back to the rate it used.

use crate::catalog::{Catalog, RoleCode};
use crate::currency::Currency;
use crate::id::{CustomerId, ExternalId, SourceSystem};
use crate::money::Money;
use crate::problems::{Problem, ProblemList, Problems};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePrice {
    pub role: RoleCode,
    #[serde(with = "rust_decimal::serde::str")]
    pub bill: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateCardVersion {
    pub version: u32,
    pub effective_from: NaiveDate,
    pub rates: Vec<RolePrice>,
}

/// Who a card belongs to, as seeded: a CRM account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardCustomer {
    pub system: SourceSystem,
    pub external_id: ExternalId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateCard {
    pub id: String,
    pub currency: Currency,
    /// `None` for the standard card of the currency.
    #[serde(default)]
    pub customer: Option<CardCustomer>,
    pub versions: Vec<RateCardVersion>,
}

impl RateCard {
    fn customer_id(&self) -> Option<CustomerId> {
        self.customer
            .as_ref()
            .map(|c| CustomerId::derive(&c.system, &c.external_id))
    }

    /// The version in effect on `date`: the latest whose `effective_from` is not after it.
    fn version_on(&self, date: NaiveDate) -> Option<&RateCardVersion> {
        self.versions
            .iter()
            .filter(|v| v.effective_from <= date)
            .max_by_key(|v| v.effective_from)
    }
}

/// Where a rate came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RateSource {
    ContractOverride,
    CustomerCard { card: String, version: u32 },
    StandardCard { card: String, version: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateQuote {
    pub role: RoleCode,
    pub bill: Money,
    /// `None` for a contract override without a cost (the card's cost still applies when
    /// a card has the role; see [`RateBook::quote`]).
    pub cost: Option<Money>,
    pub source: RateSource,
}

/// A contract's own bill rate for a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateOverride {
    pub role: RoleCode,
    pub bill: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no {currency} rate for role {role} on {date}")]
pub struct NoRate {
    pub role: RoleCode,
    pub currency: Currency,
    pub date: NaiveDate,
}

/// Every rate card, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateBook {
    cards: Vec<RateCard>,
}

#[derive(Deserialize)]
struct RateBookFile {
    cards: Vec<RateCard>,
}

impl RateBook {
    /// Parses and validates `rate_cards.json` against the catalog's roles.
    pub fn from_json(json: &str, catalog: &Catalog) -> Result<RateBook, Problems> {
        let file: RateBookFile = serde_json::from_str(json)
            .map_err(|e| Problems(vec![Problem::new("", format!("rate cards: {e}"))]))?;
        let mut problems = ProblemList::new();
        let mut ids = BTreeSet::new();
        let mut standard = BTreeSet::new();
        for (i, card) in file.cards.iter().enumerate() {
            let at = format!("cards[{i}]");
            if !ids.insert(card.id.clone()) {
                problems.push(format!("{at}.id"), format!("duplicate card id {}", card.id));
            }
            if card.customer.is_none() && !standard.insert(card.currency) {
                problems.push(
                    format!("{at}.currency"),
                    format!("second standard card for {}", card.currency),
                );
            }
            validate_versions(card, &at, catalog, &mut problems);
        }
        problems.finish(|| RateBook { cards: file.cards })
    }

    /// The bill rates of one version of a card (a what-if: a version not yet in effect).
    pub fn version_bill_rates(
        &self,
        card: &str,
        version: u32,
    ) -> Option<std::collections::BTreeMap<RoleCode, Money>> {
        let card = self.cards.iter().find(|c| c.id == card)?;
        let version = card.versions.iter().find(|v| v.version == version)?;
        Some(
            version
                .rates
                .iter()
                .map(|r| (r.role.clone(), Money::new(r.bill, card.currency)))
                .collect(),
        )
    }

    /// The bill (and cost) rate of `role` on `date`, by precedence.
    pub fn quote(
        &self,
        role: &RoleCode,
        date: NaiveDate,
        currency: Currency,
        customer: Option<CustomerId>,
        overrides: &[RateOverride],
    ) -> Result<RateQuote, NoRate> {
        let from_card = |card| price_on(card, role, date);
        let cards = || self.cards.iter().filter(|c| c.currency == currency);
        let customer_card = customer.and_then(|id| {
            cards()
                .filter(|c| c.customer_id() == Some(id))
                .find_map(from_card)
        });
        let standard_card = cards().filter(|c| c.customer.is_none()).find_map(from_card);
        let card_rate = customer_card.or(standard_card);
        let card_cost = card_rate.map(|(_, _, price)| Money::new(price.cost, currency));
        if let Some(o) = overrides
            .iter()
            .find(|o| &o.role == role && o.bill.currency() == currency)
        {
            return Ok(RateQuote {
                role: role.clone(),
                bill: o.bill,
                cost: card_cost,
                source: RateSource::ContractOverride,
            });
        }
        let (card, version, price) = card_rate.ok_or_else(|| NoRate {
            role: role.clone(),
            currency,
            date,
        })?;
        let source = if card.customer.is_some() {
            RateSource::CustomerCard {
                card: card.id.clone(),
                version,
            }
        } else {
            RateSource::StandardCard {
                card: card.id.clone(),
                version,
            }
        };
        Ok(RateQuote {
            role: role.clone(),
            bill: Money::new(price.bill, currency),
            cost: Some(Money::new(price.cost, currency)),
            source,
        })
    }
}

/// The price of `role` in the version of `card` in effect on `date`.
fn price_on<'a>(
    card: &'a RateCard,
    role: &RoleCode,
    date: NaiveDate,
) -> Option<(&'a RateCard, u32, &'a RolePrice)> {
    let version = card.version_on(date)?;
    let price = version.rates.iter().find(|p| &p.role == role)?;
    Some((card, version.version, price))
}

fn validate_versions(card: &RateCard, at: &str, catalog: &Catalog, problems: &mut ProblemList) {
    if card.versions.is_empty() {
        problems.push(format!("{at}.versions"), "needs at least one version");
    }
    for (j, pair) in card.versions.windows(2).enumerate() {
        if pair[1].version <= pair[0].version || pair[1].effective_from <= pair[0].effective_from {
            problems.push(
                format!("{at}.versions[{}]", j + 1),
                "versions must increase in number and effective date",
            );
        }
    }
    for (j, version) in card.versions.iter().enumerate() {
        let mut roles = BTreeSet::new();
        for (k, price) in version.rates.iter().enumerate() {
            let field = format!("{at}.versions[{j}].rates[{k}]");
            if catalog.role(&price.role).is_none() {
                problems.push(
                    format!("{field}.role"),
                    format!("unknown role {}", price.role),
                );
            }
            if !roles.insert(price.role.clone()) {
                problems.push(
                    format!("{field}.role"),
                    format!("duplicate role {}", price.role),
                );
            }
            if price.bill < Decimal::ZERO || price.cost < Decimal::ZERO {
                problems.push(field, "rates must not be negative");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::from_json(
            r#"{"roles": [{"code": "engineer", "name": "E"}, {"code": "designer", "name": "D"}],
                "offerings": []}"#,
        )
        .unwrap()
    }

    const CARDS: &str = r#"{"cards": [
      {"id": "standard-usd", "currency": "USD", "versions": [
        {"version": 1, "effective_from": "2026-01-01", "rates": [
          {"role": "engineer", "bill": "150.00", "cost": "70.00"},
          {"role": "designer", "bill": "130.00", "cost": "60.00"}]},
        {"version": 2, "effective_from": "2026-12-01", "rates": [
          {"role": "engineer", "bill": "160.00", "cost": "72.00"}]}]},
      {"id": "acme-usd", "currency": "USD", "customer": {"system": "hubspot", "external_id": "acme"},
       "versions": [{"version": 1, "effective_from": "2026-06-01", "rates": [
          {"role": "engineer", "bill": "140.00", "cost": "70.00"}]}]}
    ]}"#;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }
    fn role(s: &str) -> RoleCode {
        RoleCode::new(s).unwrap()
    }
    fn acme() -> CustomerId {
        CustomerId::derive(
            &SourceSystem::new("hubspot").unwrap(),
            &ExternalId::new("acme").unwrap(),
        )
    }

    #[test]
    fn the_version_in_effect_on_the_work_date_applies() {
        let book = RateBook::from_json(CARDS, &catalog()).unwrap();
        let nov = book
            .quote(&role("engineer"), date("2026-11-30"), usd(), None, &[])
            .unwrap();
        let dec = book
            .quote(&role("engineer"), date("2026-12-01"), usd(), None, &[])
            .unwrap();
        assert_eq!(nov.bill.amount().to_string(), "150.00");
        assert_eq!(dec.bill.amount().to_string(), "160.00");
        assert_eq!(
            dec.source,
            RateSource::StandardCard {
                card: "standard-usd".into(),
                version: 2
            }
        );
        // A version is complete on its own: a role it omits has no rate from that card.
        let designer = book.quote(&role("designer"), date("2026-12-15"), usd(), None, &[]);
        assert!(
            designer.is_err(),
            "v2 of the standard card has no designer rate"
        );
    }

    #[test]
    fn precedence_is_override_then_customer_then_standard() {
        let book = RateBook::from_json(CARDS, &catalog()).unwrap();
        let on = date("2026-11-02");
        let customer = book
            .quote(&role("engineer"), on, usd(), Some(acme()), &[])
            .unwrap();
        assert_eq!(
            customer.source,
            RateSource::CustomerCard {
                card: "acme-usd".into(),
                version: 1
            }
        );
        assert_eq!(customer.bill.amount().to_string(), "140.00");
        let fallback = book
            .quote(&role("designer"), on, usd(), Some(acme()), &[])
            .unwrap();
        assert_eq!(
            fallback.source,
            RateSource::StandardCard {
                card: "standard-usd".into(),
                version: 1
            }
        );
        let over = RateOverride {
            role: role("engineer"),
            bill: Money::new("120".parse().unwrap(), usd()),
        };
        let contract = book
            .quote(&role("engineer"), on, usd(), Some(acme()), &[over])
            .unwrap();
        assert_eq!(contract.source, RateSource::ContractOverride);
        assert_eq!(
            contract.cost.unwrap().amount().to_string(),
            "70.00",
            "cost from the customer card"
        );
        let before = book.quote(&role("engineer"), date("2025-12-31"), usd(), None, &[]);
        assert!(before.is_err(), "no card was in effect yet");
        let eur = book.quote(
            &role("engineer"),
            on,
            Currency::parse("EUR").unwrap(),
            None,
            &[],
        );
        assert!(eur.is_err(), "no EUR card: never convert silently");
    }

    #[test]
    fn validation_lists_every_problem() {
        let bad = CARDS
            .replace(
                r#""version": 2, "effective_from": "2026-12-01""#,
                r#""version": 1, "effective_from": "2025-12-01""#,
            )
            .replace(
                r#"{"role": "designer", "bill": "130.00""#,
                r#"{"role": "wizard", "bill": "-1""#,
            );
        let problems = RateBook::from_json(&bad, &catalog()).unwrap_err().0;
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
