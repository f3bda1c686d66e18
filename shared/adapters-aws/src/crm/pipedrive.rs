//! Pipedrive API v2: the deal, its products (cursor pages), each product's code (the
//! catalog SKU) and the organisation.

use super::http::{decimal_text, text, Http, RetryPolicy};
use async_trait::async_trait;
use handoff_ports::{CrmAccount, CrmClient, CrmDeal, CrmError, CrmLineItem};
use serde_json::Value;
use std::collections::HashMap;

/// Most product pages followed for one deal.
pub const PIPEDRIVE_PAGES_MAX: usize = 50;
/// Deal products per page.
pub const PIPEDRIVE_PAGE_LIMIT: usize = 100;

#[derive(Debug, Clone)]
pub struct PipedriveClient {
    http: Http,
    base_url: String,
    token: String,
}

impl PipedriveClient {
    pub fn new(base_url: &str, api_token: &str, policy: RetryPolicy) -> Self {
        PipedriveClient {
            http: Http::new(policy),
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: api_token.to_owned(),
        }
    }

    async fn get(&self, what: &str, path: &str) -> Result<Value, CrmError> {
        let url = format!("{}{path}", self.base_url);
        self.http
            .json(what, || {
                self.http
                    .client()
                    .get(&url)
                    .header("x-api-token", &self.token)
            })
            .await
    }

    async fn products(&self, deal_id: &str) -> Result<Vec<Value>, CrmError> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..PIPEDRIVE_PAGES_MAX {
            let mut path = format!("/api/v2/deals/{deal_id}/products?limit={PIPEDRIVE_PAGE_LIMIT}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", percent_encode(c)));
            }
            let page = self.get("deal products", &path).await?;
            rows.extend(page["data"].as_array().cloned().unwrap_or_default());
            cursor = text(&page["additional_data"]["next_cursor"]);
            if cursor.is_none() {
                return Ok(rows);
            }
        }
        Err(CrmError::Invalid(format!(
            "deal {deal_id} has more than {PIPEDRIVE_PAGES_MAX} pages of products"
        )))
    }

    async fn product_code(
        &self,
        product_id: &str,
        cache: &mut HashMap<String, Option<String>>,
    ) -> Result<Option<String>, CrmError> {
        if let Some(code) = cache.get(product_id) {
            return Ok(code.clone());
        }
        let code = match self
            .get("product", &format!("/api/v2/products/{product_id}"))
            .await
        {
            Ok(product) => text(&product["data"]["code"]),
            Err(CrmError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        cache.insert(product_id.to_owned(), code.clone());
        Ok(code)
    }
}

#[async_trait]
impl CrmClient for PipedriveClient {
    async fn fetch_deal(&self, deal_id: &str) -> Result<CrmDeal, CrmError> {
        let deal = self
            .get("deal", &format!("/api/v2/deals/{deal_id}"))
            .await?;
        let d = &deal["data"];
        let mut codes = HashMap::new();
        let mut line_items = Vec::new();
        for row in self.products(deal_id).await? {
            let sku = match text(&row["product_id"]) {
                Some(product_id) => self.product_code(&product_id, &mut codes).await?,
                None => None,
            };
            let discount = decimal_text(&row["discount"]);
            let percent = row["discount_type"].as_str() == Some("percentage");
            line_items.push(CrmLineItem {
                id: text(&row["id"]).unwrap_or_default(),
                name: text(&row["name"]),
                sku,
                quantity: decimal_text(&row["quantity"]),
                unit_price: decimal_text(&row["item_price"]),
                discount_percent: if percent { discount.clone() } else { None },
                discount_amount: if percent { None } else { discount },
            });
        }
        let account = match text(&d["org_id"]) {
            Some(org_id) => match self
                .get("organization", &format!("/api/v2/organizations/{org_id}"))
                .await
            {
                Ok(org) => Some(CrmAccount {
                    name: text(&org["data"]["name"]),
                    id: org_id,
                    domain: None,
                }),
                Err(CrmError::NotFound(_)) => Some(CrmAccount {
                    id: org_id,
                    ..Default::default()
                }),
                Err(e) => return Err(e),
            },
            None => None,
        };
        Ok(CrmDeal {
            system: "pipedrive".into(),
            deal_id: text(&d["id"]).unwrap_or_else(|| deal_id.to_owned()),
            name: text(&d["title"]),
            amount: decimal_text(&d["value"]),
            currency: text(&d["currency"]),
            created_at: text(&d["add_time"]),
            closed_at: text(&d["close_time"]).or_else(|| text(&d["won_time"])),
            owner_id: text(&d["owner_id"]),
            pipeline: text(&d["pipeline_id"]),
            stage: text(&d["stage_id"]),
            is_won: d["status"].as_str().map(|s| s == "won"),
            account,
            line_items,
        })
    }
}

/// Percent-encodes a query value (cursors are opaque and may hold `+`, `/` or `=`).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
