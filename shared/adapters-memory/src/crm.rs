use async_trait::async_trait;
use handoff_ports::{CrmClient, CrmDeal, CrmError};
use std::collections::HashMap;
use std::sync::Mutex;

/// A CRM held in memory: the demo's HubSpot and Pipedrive, and the handler tests'. It
/// answers like the HTTP clients do: a deal it does not hold is `NotFound`.
#[derive(Debug, Default)]
pub struct MemoryCrm {
    deals: Mutex<HashMap<String, CrmDeal>>,
}

impl MemoryCrm {
    pub fn with_deals(deals: impl IntoIterator<Item = CrmDeal>) -> Self {
        let crm = MemoryCrm::default();
        for deal in deals {
            crm.upsert(deal);
        }
        crm
    }

    pub fn upsert(&self, deal: CrmDeal) {
        self.deals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(deal.deal_id.clone(), deal);
    }
}

#[async_trait]
impl CrmClient for MemoryCrm {
    async fn fetch_deal(&self, deal_id: &str) -> Result<CrmDeal, CrmError> {
        let deals = self.deals.lock().unwrap_or_else(|e| e.into_inner());
        deals
            .get(deal_id)
            .cloned()
            .ok_or_else(|| CrmError::NotFound(deal_id.to_owned()))
    }
}
