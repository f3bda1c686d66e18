//! HubSpot CRM v3: the deal (with its associations), its line items in batches, and its
//! company. A deal without an associated company uses its first contact as the account
//! (HubSpot deals often belong to a person); without either, the account is left empty
//! and validation says so.

use super::http::{decimal_text, text, Http, RetryPolicy};
use async_trait::async_trait;
use handoff_ports::{CrmAccount, CrmClient, CrmDeal, CrmError, CrmLineItem};
use serde_json::{json, Value};

/// HubSpot's batch read takes at most 100 ids.
pub const HUBSPOT_BATCH_READ_MAX: usize = 100;
const DEAL_PROPERTIES: &str =
    "dealname,amount,deal_currency_code,dealstage,pipeline,hs_is_closed_won,closedate,createdate,hubspot_owner_id";

#[derive(Debug, Clone)]
pub struct HubSpotClient {
    http: Http,
    base_url: String,
    token: String,
    sku_property: String,
}

impl HubSpotClient {
    pub fn new(
        base_url: &str,
        access_token: &str,
        policy: RetryPolicy,
        sku_property: &str,
    ) -> Self {
        HubSpotClient {
            http: Http::new(policy),
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: access_token.to_owned(),
            sku_property: sku_property.to_owned(),
        }
    }

    async fn get(&self, what: &str, path: &str) -> Result<Value, CrmError> {
        let url = format!("{}{path}", self.base_url);
        self.http
            .json(what, || {
                self.http.client().get(&url).bearer_auth(&self.token)
            })
            .await
    }

    async fn line_items(&self, ids: &[String]) -> Result<Vec<CrmLineItem>, CrmError> {
        let url = format!("{}/crm/v3/objects/line_items/batch/read", self.base_url);
        let mut properties = vec![
            "name",
            "quantity",
            "price",
            "amount",
            "hs_sku",
            "hs_product_id",
            "hs_discount_percentage",
            "discount",
        ];
        if !properties.contains(&self.sku_property.as_str()) {
            properties.push(&self.sku_property);
        }
        let mut items = Vec::new();
        for chunk in ids.chunks(HUBSPOT_BATCH_READ_MAX) {
            let body = json!({
                "properties": properties,
                "inputs": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            });
            let response = self
                .http
                .json("line items", || {
                    self.http
                        .client()
                        .post(&url)
                        .bearer_auth(&self.token)
                        .json(&body)
                })
                .await?;
            for result in response["results"].as_array().into_iter().flatten() {
                let p = &result["properties"];
                items.push(CrmLineItem {
                    id: text(&result["id"]).unwrap_or_default(),
                    name: text(&p["name"]),
                    sku: text(&p[self.sku_property.as_str()]),
                    quantity: decimal_text(&p["quantity"]),
                    unit_price: decimal_text(&p["price"]),
                    discount_percent: decimal_text(&p["hs_discount_percentage"]),
                    discount_amount: decimal_text(&p["discount"]),
                });
            }
        }
        Ok(items)
    }
}

fn association_ids(deal: &Value, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .find_map(|n| deal["associations"][*n]["results"].as_array())
        .map(|results| results.iter().filter_map(|r| text(&r["id"])).collect())
        .unwrap_or_default()
}

#[async_trait]
impl CrmClient for HubSpotClient {
    async fn fetch_deal(&self, deal_id: &str) -> Result<CrmDeal, CrmError> {
        let path = format!("/crm/v3/objects/deals/{deal_id}?properties={DEAL_PROPERTIES}&associations=line_items,companies,contacts");
        let deal = self.get("deal", &path).await?;
        let p = &deal["properties"];
        // The real API names the association "line items" (with a space).
        let line_item_ids = association_ids(&deal, &["line items", "line_items"]);
        let account = match association_ids(&deal, &["companies"]).first() {
            Some(company_id) => {
                let path = format!("/crm/v3/objects/companies/{company_id}?properties=name,domain");
                match self.get("company", &path).await {
                    Ok(company) => Some(CrmAccount {
                        id: company_id.clone(),
                        name: text(&company["properties"]["name"]),
                        domain: text(&company["properties"]["domain"]),
                    }),
                    // Deleted since the association: the id still identifies the account.
                    Err(CrmError::NotFound(_)) => Some(CrmAccount {
                        id: company_id.clone(),
                        ..Default::default()
                    }),
                    Err(e) => return Err(e),
                }
            }
            None => association_ids(&deal, &["contacts"])
                .first()
                .map(|id| CrmAccount {
                    id: id.clone(),
                    ..Default::default()
                }),
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
            is_won: text(&p["hs_is_closed_won"]).map(|v| v == "true"),
            account,
            line_items: self.line_items(&line_item_ids).await?,
        })
    }
}
