//! Pipedrive API v2: the deal, its products (cursor pages), each product's code (the
//! catalog SKU) and the organisation.
//!
//! Requests (header `x-api-token: <token>`, never the `api_token` query parameter, so the
//! token stays out of URLs and access logs):
//! - `GET /api/v2/deals/{id}`
//! - `GET /api/v2/deals/{id}/products?limit=100[&cursor=…]`, following
//!   `additional_data.next_cursor` until null, at most [`PIPEDRIVE_PAGES_MAX`] pages.
//! - `GET /api/v2/products/{product_id}`, once per distinct product whose deal-product
//!   row carries no code (v2 rows carry none), at most [`PIPEDRIVE_PRODUCT_LOOKUPS_MAX`].
//! - `GET /api/v2/organizations/{org_id}`
//!
//! Pipedrive sends numbers as JSON numbers; they become decimal strings with the digits
//! as sent (see `decimal_text`), never through a float computation.

use super::http::{self, decimal_text, path_id, text, Call, Http, RetryPolicy};
use async_trait::async_trait;
use handoff_ports::{CrmAccount, CrmClient, CrmDeal, CrmError, CrmLineItem};
use reqwest::header::HeaderValue;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

/// Most product pages followed for one deal.
pub const PIPEDRIVE_PAGES_MAX: usize = 50;
/// Deal products per page (Pipedrive's maximum).
pub const PIPEDRIVE_PAGE_LIMIT: usize = 100;
/// Most distinct products looked up for their code in one `fetch_deal`.
pub const PIPEDRIVE_PRODUCT_LOOKUPS_MAX: usize = 100;
/// The header carrying the API token.
pub const PIPEDRIVE_TOKEN_HEADER: &str = "x-api-token";

/// A [`CrmClient`] over the Pipedrive API v2 with a company API token.
///
/// Line items are the deal's *enabled* products (a disabled one does not count towards
/// the deal's value): `quantity`, `item_price`, and `discount` by `discount_type`
/// (`percentage`, Pipedrive's default when absent, → percent; `amount`, an amount off
/// the line, → amount; anything else is an `Invalid` answer).
///
/// The SKU is the product's `code`: from the deal-product row when it carries one
/// (`code`, or `product.code` as v1 rows do), else from the product itself. Without a
/// code, the configured SKU field ([`PipedriveClient::with_sku_field`]: a product field
/// key, custom-field hash keys included) is read from the row, then from the product.
/// Otherwise the SKU is `None` and validation reports the line.
///
/// The account is the deal's organisation: its id and name (Pipedrive has no domain
/// field); an organisation that no longer exists leaves the id alone.
#[derive(Clone)]
pub struct PipedriveClient {
    http: Http,
    base_url: String,
    /// `None` if the token cannot be an HTTP header value; every call then fails.
    token: Option<HeaderValue>,
    sku_field: Option<String>,
}

impl fmt::Debug for PipedriveClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipedriveClient")
            .field("base_url", &self.base_url)
            .field("api_token", &"<redacted>")
            .field("sku_field", &self.sku_field)
            .finish_non_exhaustive()
    }
}

impl PipedriveClient {
    /// `base_url` is `https://api.pipedrive.com` or the company domain
    /// (`https://acme.pipedrive.com`); a trailing `/` is fine. Surrounding whitespace of
    /// the token (a newline from a secret store) is ignored.
    pub fn new(
        base_url: impl Into<String>,
        api_token: impl Into<String>,
        policy: RetryPolicy,
    ) -> Self {
        let token = HeaderValue::from_str(api_token.into().trim())
            .ok()
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        PipedriveClient {
            http: Http::new(policy),
            base_url: http::base(base_url),
            token,
            sku_field: None,
        }
    }

    /// Reads the SKU from this product field when a product has no `code` (blank →
    /// none).
    pub fn with_sku_field(mut self, sku_field: Option<String>) -> Self {
        self.sku_field = sku_field
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty());
        self
    }

    async fn get(&self, what: &'static str, deal_id: &str, path: &str) -> Result<Value, CrmError> {
        let token = self.token.as_ref().ok_or_else(|| {
            CrmError::Invalid("the Pipedrive API token is not a valid HTTP header value".into())
        })?;
        let url = format!("{}{path}", self.base_url);
        self.http
            .json(
                Call {
                    system: "pipedrive",
                    what,
                    deal_id,
                },
                |client| {
                    client
                        .get(&url)
                        .header(PIPEDRIVE_TOKEN_HEADER, token.clone())
                },
            )
            .await
    }

    /// Every deal-product row, all pages.
    async fn product_rows(&self, deal_id: &str) -> Result<Vec<Value>, CrmError> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..PIPEDRIVE_PAGES_MAX {
            let mut path = format!("/api/v2/deals/{deal_id}/products?limit={PIPEDRIVE_PAGE_LIMIT}");
            if let Some(c) = &cursor {
                path.push_str("&cursor=");
                path.push_str(&http::encode(c));
            }
            let page = self.get("deal products", deal_id, &path).await?;
            match &page["data"] {
                Value::Array(data) => rows.extend(data.iter().cloned()),
                Value::Null => {}
                _ => {
                    return Err(CrmError::Invalid(format!(
                        "pipedrive products of deal {deal_id}: `data` is not a list"
                    )))
                }
            }
            cursor = text(&page["additional_data"]["next_cursor"]);
            if cursor.is_none() {
                return Ok(rows);
            }
        }
        Err(CrmError::Invalid(format!(
            "pipedrive deal {deal_id} has more than {PIPEDRIVE_PAGES_MAX} pages of products"
        )))
    }

    /// The product's `data`, once per product per call (`Null` if it no longer exists).
    async fn product<'c>(
        &self,
        deal_id: &str,
        product_id: &str,
        cache: &'c mut HashMap<String, Value>,
    ) -> Result<&'c Value, CrmError> {
        if !cache.contains_key(product_id) {
            if cache.len() >= PIPEDRIVE_PRODUCT_LOOKUPS_MAX {
                return Err(CrmError::Invalid(format!(
                    "pipedrive deal {deal_id} has more than {PIPEDRIVE_PRODUCT_LOOKUPS_MAX} distinct products to look up"
                )));
            }
            let id = path_id(product_id).ok_or_else(|| {
                CrmError::Invalid(format!(
                    "pipedrive deal {deal_id}: product id {product_id:?}"
                ))
            })?;
            let data = match self
                .get("product", deal_id, &format!("/api/v2/products/{id}"))
                .await
            {
                Ok(mut product) => product["data"].take(),
                Err(CrmError::NotFound(_)) => Value::Null,
                Err(e) => return Err(e),
            };
            cache.insert(product_id.to_owned(), data);
        }
        Ok(&cache[product_id])
    }

    async fn sku(
        &self,
        deal_id: &str,
        row: &Value,
        cache: &mut HashMap<String, Value>,
    ) -> Result<Option<String>, CrmError> {
        if let Some(code) = code(row).or_else(|| code(&row["product"])) {
            return Ok(Some(code));
        }
        let product = match text(&row["product_id"]) {
            Some(product_id) => self.product(deal_id, &product_id, cache).await?,
            None => &Value::Null,
        };
        if let Some(code) = code(product) {
            return Ok(Some(code));
        }
        Ok(self
            .sku_field
            .as_deref()
            .and_then(|field| field_text(row, field).or_else(|| field_text(product, field))))
    }

    fn line_item(
        &self,
        deal_id: &str,
        row: &Value,
        sku: Option<String>,
    ) -> Result<CrmLineItem, CrmError> {
        let id = text(&row["id"]).unwrap_or_default();
        let discount = decimal_text(&row["discount"]);
        let (discount_percent, discount_amount) = match &row["discount_type"] {
            Value::Null => (discount, None),
            Value::String(t) if t == "percentage" => (discount, None),
            Value::String(t) if t == "amount" => (None, discount),
            other => {
                return Err(CrmError::Invalid(format!(
                    "pipedrive deal {deal_id}, deal product {id}: unknown discount_type {other}"
                )))
            }
        };
        Ok(CrmLineItem {
            id,
            name: text(&row["name"]),
            sku,
            quantity: decimal_text(&row["quantity"]),
            unit_price: decimal_text(&row["item_price"]),
            discount_percent,
            discount_amount,
        })
    }

    async fn account(&self, deal_id: &str, deal: &Value) -> Result<Option<CrmAccount>, CrmError> {
        let Some(org_id) = id_of(&deal["org_id"]) else {
            return Ok(None);
        };
        let id = path_id(&org_id).ok_or_else(|| {
            CrmError::Invalid(format!(
                "pipedrive deal {deal_id}: organization id {org_id:?}"
            ))
        })?;
        match self
            .get(
                "organization",
                deal_id,
                &format!("/api/v2/organizations/{id}"),
            )
            .await
        {
            Ok(org) => Ok(Some(CrmAccount {
                name: text(&org["data"]["name"]),
                id: org_id,
                domain: None,
            })),
            Err(CrmError::NotFound(_)) => Ok(Some(CrmAccount {
                id: org_id,
                ..CrmAccount::default()
            })),
            Err(e) => Err(e),
        }
    }
}

/// A product's (or row's) non-blank `code`.
fn code(value: &Value) -> Option<String> {
    non_blank(text(&value["code"]))
}

/// A field of a product or row, or of its `custom_fields`; a `{"value": …}` object
/// (how v2 returns some custom-field types) gives its value.
fn field_text(value: &Value, field: &str) -> Option<String> {
    [&value[field], &value["custom_fields"][field]]
        .into_iter()
        .find_map(|v| non_blank(text(v).or_else(|| text(&v["value"]))))
}

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// An id as v2 sends it (a number), or as v1 did (`{"value": 1, "name": …}`).
fn id_of(value: &Value) -> Option<String> {
    text(value).or_else(|| text(&value["value"]))
}

#[async_trait]
impl CrmClient for PipedriveClient {
    async fn fetch_deal(&self, deal_id: &str) -> Result<CrmDeal, CrmError> {
        let id = path_id(deal_id).ok_or_else(|| CrmError::NotFound(deal_id.to_owned()))?;
        let deal = self
            .get("deal", deal_id, &format!("/api/v2/deals/{id}"))
            .await?;
        let d = &deal["data"];
        if !d.is_object() {
            return Err(CrmError::Invalid(format!(
                "pipedrive deal {deal_id}: no `data` object"
            )));
        }
        let mut products = HashMap::new();
        let mut line_items = Vec::new();
        for row in self.product_rows(id).await? {
            let enabled = [&row["is_enabled"], &row["enabled_flag"]]
                .into_iter()
                .find_map(Value::as_bool)
                .unwrap_or(true);
            if !enabled {
                continue;
            }
            let sku = self.sku(deal_id, &row, &mut products).await?;
            line_items.push(self.line_item(deal_id, &row, sku)?);
        }
        let account = self.account(deal_id, d).await?;
        let status = d["status"].as_str();
        Ok(CrmDeal {
            system: "pipedrive".into(),
            deal_id: text(&d["id"]).unwrap_or_else(|| deal_id.to_owned()),
            name: text(&d["title"]),
            amount: decimal_text(&d["value"]),
            currency: text(&d["currency"]),
            created_at: text(&d["add_time"]),
            closed_at: if status == Some("won") {
                text(&d["won_time"]).or_else(|| text(&d["close_time"]))
            } else {
                text(&d["close_time"])
            },
            owner_id: id_of(&d["owner_id"]),
            pipeline: text(&d["pipeline_id"]),
            stage: text(&d["stage_id"]),
            is_won: status.map(|s| s == "won"),
            account,
            line_items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sku_fields_are_read_plain_nested_or_as_values() {
        let product = json!({
            "code": " ",
            "sku": "PLAIN",
            "custom_fields": { "abc123": "HASHED", "obj": { "value": "INNER" } }
        });
        assert_eq!(code(&product), None, "blank code");
        assert_eq!(field_text(&product, "sku").as_deref(), Some("PLAIN"));
        assert_eq!(field_text(&product, "abc123").as_deref(), Some("HASHED"));
        assert_eq!(field_text(&product, "obj").as_deref(), Some("INNER"));
        assert_eq!(field_text(&product, "none"), None);
        assert_eq!(field_text(&Value::Null, "sku"), None);
    }

    #[test]
    fn ids_are_read_from_numbers_and_v1_objects() {
        assert_eq!(id_of(&json!(7)).as_deref(), Some("7"));
        assert_eq!(
            id_of(&json!({"value": 7, "name": "Org"})).as_deref(),
            Some("7")
        );
        assert_eq!(id_of(&Value::Null), None);
    }

    #[test]
    fn debug_hides_the_token() {
        let client = PipedriveClient::new(
            "https://api.pipedrive.com",
            "secret-token",
            RetryPolicy::default(),
        );
        let shown = format!("{client:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
    }
}
