//! HubSpot CRM v3: the deal with its associations, its line items by batch read, and its
//! company.
//!
//! Requests (`Authorization: Bearer <token>`):
//! - `GET /crm/v3/objects/deals/{id}?properties=…&associations=line_items,companies,contacts`
//!   The real API names the line-item association `"line items"` (with a space); both
//!   spellings are read. When an association list is paged (`paging.next.after`), the
//!   rest is read from `GET /crm/v3/objects/deals/{id}/associations/line_items`.
//! - `POST /crm/v3/objects/line_items/batch/read`, at most [`HUBSPOT_BATCH_READ_MAX`] ids
//!   a call.
//! - `GET /crm/v3/objects/companies/{id}?properties=name,domain` for the first associated
//!   company (the primary one when HubSpot marks it).
//!
//! Every property value HubSpot returns is a string or null.

use super::http::{self, decimal_text, path_id, text, Call, Http, RetryPolicy};
use async_trait::async_trait;
use handoff_ports::{CrmAccount, CrmClient, CrmDeal, CrmError, CrmLineItem};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

/// HubSpot's batch read takes at most 100 ids.
pub const HUBSPOT_BATCH_READ_MAX: usize = 100;
/// Most pages of line-item associations followed for one deal.
pub const HUBSPOT_ASSOCIATION_PAGES_MAX: usize = 50;
/// Associations per page when paging through them (HubSpot's maximum).
pub const HUBSPOT_ASSOCIATION_PAGE_LIMIT: usize = 500;
/// The line-item property holding the catalog SKU unless configured otherwise.
pub const HUBSPOT_DEFAULT_SKU_PROPERTY: &str = "hs_sku";
/// The deal properties read.
pub const HUBSPOT_DEAL_PROPERTIES: &str = "dealname,amount,deal_currency_code,dealstage,pipeline,hs_is_closed_won,closedate,createdate,hubspot_owner_id";
/// The associations read with the deal: contacts too, for deals without a company.
pub const HUBSPOT_DEAL_ASSOCIATIONS: &str = "line_items,companies,contacts";
/// The line-item properties always read (the configured SKU property is added).
pub const HUBSPOT_LINE_ITEM_PROPERTIES: [&str; 8] = [
    "name",
    "quantity",
    "price",
    "amount",
    "hs_sku",
    "hs_product_id",
    "hs_discount_percentage",
    "discount",
];
/// The association type of a deal's primary company.
const PRIMARY_COMPANY_TYPE: &str = "deal_to_company";

/// A [`CrmClient`] over the HubSpot CRM v3 API with a private-app or OAuth access token.
///
/// The account of a deal is its first associated company (the primary one when HubSpot
/// marks it), with the company's `name` and `domain`. A deal without a company (HubSpot
/// deals can belong to a person) uses its first associated contact's id as the account
/// id, with no name or domain: the contact's name is personal data the project does not
/// need. Without either, the account is `None` and validation reports it.
///
/// Line items keep HubSpot's values: `quantity` and `price` as sent, the SKU from the
/// configured property, `hs_discount_percentage` as the percent. HubSpot's `discount` is
/// a discount *per unit*; the port wants one on the line, so it is multiplied by the
/// quantity (exactly, in decimal).
#[derive(Clone)]
pub struct HubSpotClient {
    http: Http,
    base_url: String,
    /// `None` if the token cannot be an HTTP header value; every call then fails.
    authorization: Option<HeaderValue>,
    sku_property: String,
}

impl fmt::Debug for HubSpotClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSpotClient")
            .field("base_url", &self.base_url)
            .field("access_token", &"<redacted>")
            .field("sku_property", &self.sku_property)
            .finish_non_exhaustive()
    }
}

impl HubSpotClient {
    /// `base_url` is `https://api.hubapi.com` in production (a trailing `/` is fine);
    /// `sku_property` is the line-item property holding the catalog SKU (blank →
    /// [`HUBSPOT_DEFAULT_SKU_PROPERTY`]). Surrounding whitespace of the token (a newline
    /// from a secret store) is ignored.
    pub fn new(
        base_url: impl Into<String>,
        access_token: impl Into<String>,
        policy: RetryPolicy,
        sku_property: impl Into<String>,
    ) -> Self {
        let sku_property = sku_property.into().trim().to_owned();
        let authorization =
            HeaderValue::from_str(&format!("Bearer {}", access_token.into().trim()))
                .ok()
                .map(|mut value| {
                    value.set_sensitive(true);
                    value
                });
        HubSpotClient {
            http: Http::new(policy),
            base_url: http::base(base_url),
            authorization,
            sku_property: if sku_property.is_empty() {
                HUBSPOT_DEFAULT_SKU_PROPERTY.to_owned()
            } else {
                sku_property
            },
        }
    }

    fn authorization(&self) -> Result<&HeaderValue, CrmError> {
        self.authorization.as_ref().ok_or_else(|| {
            CrmError::Invalid("the HubSpot access token is not a valid HTTP header value".into())
        })
    }

    async fn get(&self, what: &'static str, deal_id: &str, path: &str) -> Result<Value, CrmError> {
        let authorization = self.authorization()?;
        let url = format!("{}{path}", self.base_url);
        self.http
            .json(call(what, deal_id), |client| {
                client
                    .get(&url)
                    .header(AUTHORIZATION, authorization.clone())
            })
            .await
    }

    /// The line-item properties requested: the standard ones plus the SKU property.
    pub fn line_item_properties(&self) -> Vec<&str> {
        let mut properties = HUBSPOT_LINE_ITEM_PROPERTIES.to_vec();
        if !properties.contains(&self.sku_property.as_str()) {
            properties.push(&self.sku_property);
        }
        properties
    }

    /// Every line item associated with the deal, in association order, without repeats.
    async fn line_item_ids(&self, deal_id: &str, deal: &Value) -> Result<Vec<String>, CrmError> {
        let association = ["line items", "line_items"]
            .iter()
            .map(|key| &deal["associations"][*key])
            .find(|a| a.is_object())
            .unwrap_or(&Value::Null);
        let mut ids = result_ids(association);
        let mut after = next_after(association);
        let mut pages = 0;
        while let Some(cursor) = after {
            pages += 1;
            if pages > HUBSPOT_ASSOCIATION_PAGES_MAX {
                return Err(CrmError::Invalid(format!(
                    "hubspot deal {deal_id} has more than {HUBSPOT_ASSOCIATION_PAGES_MAX} pages of line items"
                )));
            }
            let path = format!(
                "/crm/v3/objects/deals/{deal_id}/associations/line_items?limit={HUBSPOT_ASSOCIATION_PAGE_LIMIT}&after={}",
                http::encode(&cursor)
            );
            let page = self.get("line item associations", deal_id, &path).await?;
            ids.extend(result_ids(&page));
            after = next_after(&page);
        }
        let mut seen = HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        Ok(ids)
    }

    async fn line_items(
        &self,
        deal_id: &str,
        ids: &[String],
    ) -> Result<Vec<CrmLineItem>, CrmError> {
        let authorization = self.authorization()?;
        let url = format!("{}/crm/v3/objects/line_items/batch/read", self.base_url);
        let properties = self.line_item_properties();
        let mut by_id = HashMap::new();
        for chunk in ids.chunks(HUBSPOT_BATCH_READ_MAX) {
            let body = json!({
                "properties": properties,
                "inputs": chunk.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
            });
            let response = self
                .http
                .json(call("line items", deal_id), |client| {
                    client
                        .post(&url)
                        .header(AUTHORIZATION, authorization.clone())
                        .json(&body)
                })
                .await
                .map_err(|e| match e {
                    // The deal listed them a moment ago: deleted since, a retry sees anew.
                    CrmError::NotFound(_) => CrmError::Transient(format!(
                        "hubspot line items of deal {deal_id}: not found"
                    )),
                    e => e,
                })?;
            let results = response["results"].as_array().ok_or_else(|| {
                CrmError::Invalid(format!(
                    "hubspot line items of deal {deal_id}: no `results` array"
                ))
            })?;
            for result in results {
                if let Some(id) = text(&result["id"]) {
                    by_id.insert(id, result.clone());
                }
            }
        }
        // HubSpot does not promise the batch's order, and answers 207 with `errors` for
        // ids it could not read: keep the association order, and miss none silently.
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !by_id.contains_key(*id))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(CrmError::Transient(format!(
                "hubspot line items of deal {deal_id}: {} listed on the deal but not returned ({})",
                missing.len(),
                missing.join(", ")
            )));
        }
        ids.iter()
            .map(|id| self.line_item(deal_id, id, &by_id[id]["properties"]))
            .collect()
    }

    fn line_item(&self, deal_id: &str, id: &str, p: &Value) -> Result<CrmLineItem, CrmError> {
        let quantity = decimal_text(&p["quantity"]);
        let discount_amount = decimal_text(&p["discount"])
            .map(|unit| line_discount(&unit, quantity.as_deref()))
            .transpose()
            .map_err(|e| {
                CrmError::Invalid(format!("hubspot line item {id} of deal {deal_id}: {e}"))
            })?;
        Ok(CrmLineItem {
            id: id.to_owned(),
            name: text(&p["name"]),
            sku: text(&p[self.sku_property.as_str()])
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            quantity,
            unit_price: decimal_text(&p["price"]),
            discount_percent: decimal_text(&p["hs_discount_percentage"]),
            discount_amount,
        })
    }

    async fn account(&self, deal_id: &str, deal: &Value) -> Result<Option<CrmAccount>, CrmError> {
        let companies = &deal["associations"]["companies"]["results"];
        let primary = companies
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["type"].as_str() == Some(PRIMARY_COMPANY_TYPE))
            .and_then(|r| text(&r["id"]));
        if let Some(company_id) = primary.or_else(|| {
            result_ids(&deal["associations"]["companies"])
                .into_iter()
                .next()
        }) {
            let id = path_id(&company_id).ok_or_else(|| {
                CrmError::Invalid(format!("hubspot deal {deal_id}: company id {company_id:?}"))
            })?;
            let path = format!("/crm/v3/objects/companies/{id}?properties=name,domain");
            return match self.get("company", deal_id, &path).await {
                Ok(company) => Ok(Some(CrmAccount {
                    id: company_id.clone(),
                    name: text(&company["properties"]["name"]),
                    domain: text(&company["properties"]["domain"]),
                })),
                // Deleted since the association: the id still identifies the account.
                Err(CrmError::NotFound(_)) => Ok(Some(CrmAccount {
                    id: company_id.clone(),
                    ..CrmAccount::default()
                })),
                Err(e) => Err(e),
            };
        }
        Ok(result_ids(&deal["associations"]["contacts"])
            .into_iter()
            .next()
            .map(|id| CrmAccount {
                id,
                ..CrmAccount::default()
            }))
    }
}

fn call<'a>(what: &'static str, deal_id: &'a str) -> Call<'a> {
    Call {
        system: "hubspot",
        what,
        deal_id,
    }
}

/// The ids of an association list (`{"results": [{"id": "…", "type": "…"}]}`).
fn result_ids(association: &Value) -> Vec<String> {
    association["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| text(&r["id"]))
        .collect()
}

fn next_after(page: &Value) -> Option<String> {
    text(&page["paging"]["next"]["after"])
}

/// HubSpot's per-unit `discount` × quantity, the discount on the whole line. A value that
/// is not a decimal, or a quantity that is missing or not a decimal, leaves the discount
/// as sent: validation then reports that line anyway.
fn line_discount(unit: &str, quantity: Option<&str>) -> Result<String, String> {
    let (Ok(unit_discount), Some(Ok(quantity))) = (
        Decimal::from_str(unit),
        quantity.map(|q| Decimal::from_str(q.trim())),
    ) else {
        return Ok(unit.to_owned());
    };
    unit_discount
        .checked_mul(quantity)
        .map(|d| d.to_string())
        .ok_or_else(|| format!("discount {unit} × quantity {quantity} overflows"))
}

#[async_trait]
impl CrmClient for HubSpotClient {
    async fn fetch_deal(&self, deal_id: &str) -> Result<CrmDeal, CrmError> {
        let id = path_id(deal_id).ok_or_else(|| CrmError::NotFound(deal_id.to_owned()))?;
        let path = format!(
            "/crm/v3/objects/deals/{id}?properties={HUBSPOT_DEAL_PROPERTIES}&associations={HUBSPOT_DEAL_ASSOCIATIONS}"
        );
        let deal = self.get("deal", deal_id, &path).await?;
        let p = &deal["properties"];
        if !p.is_object() {
            return Err(CrmError::Invalid(format!(
                "hubspot deal {deal_id}: no `properties` object"
            )));
        }
        let line_item_ids = self.line_item_ids(id, &deal).await?;
        let account = self.account(deal_id, &deal).await?;
        let line_items = if line_item_ids.is_empty() {
            Vec::new()
        } else {
            self.line_items(deal_id, &line_item_ids).await?
        };
        Ok(CrmDeal {
            system: "hubspot".into(),
            deal_id: text(&deal["id"]).unwrap_or_else(|| deal_id.to_owned()),
            name: text(&p["dealname"]),
            amount: decimal_text(&p["amount"]),
            currency: text(&p["deal_currency_code"]),
            created_at: text(&p["createdate"]),
            closed_at: text(&p["closedate"]),
            owner_id: text(&p["hubspot_owner_id"]),
            pipeline: text(&p["pipeline"]),
            stage: text(&p["dealstage"]),
            is_won: match p["hs_is_closed_won"].as_str() {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            },
            account,
            line_items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_discount_becomes_a_line_discount() {
        assert_eq!(line_discount("10.00", Some("3")), Ok("30.00".into()));
        assert_eq!(line_discount("2.5", Some("0.5")), Ok("1.25".into()));
        assert_eq!(line_discount("0", Some("7")), Ok("0".into()));
        // Unreadable: left as sent for validation to report.
        assert_eq!(line_discount("10", None), Ok("10".into()));
        assert_eq!(line_discount("10", Some("two")), Ok("10".into()));
        assert_eq!(line_discount("ten", Some("2")), Ok("ten".into()));
        assert!(line_discount("79228162514264337593543950335", Some("2")).is_err());
    }

    #[test]
    fn debug_hides_the_token() {
        let client = HubSpotClient::new(
            "https://api.hubapi.com",
            "pat-na1-secret",
            RetryPolicy::default(),
            "",
        );
        let shown = format!("{client:?}");
        assert!(!shown.contains("pat-na1-secret"), "{shown}");
        assert!(shown.contains("hs_sku"), "blank → default: {shown}");
    }
}
