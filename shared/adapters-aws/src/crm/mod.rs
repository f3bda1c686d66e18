//! CRM API clients behind the `CrmClient` port: HubSpot CRM v3 and Pipedrive API v2,
//! over one retry loop (`http`).

mod http;
pub mod hubspot;
pub mod pipedrive;

pub use http::{
    RetryPolicy, CRM_BACKOFF_BASE_MS, CRM_BACKOFF_MAX_MS, CRM_REQUEST_ATTEMPTS_MAX,
    CRM_REQUEST_TIMEOUT_MS,
};
pub use hubspot::HubSpotClient;
pub use pipedrive::PipedriveClient;
