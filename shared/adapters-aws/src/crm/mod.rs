//! CRM API clients behind the `CrmClient` port: HubSpot CRM v3 and Pipedrive API v2.

mod http;
pub mod hubspot;
pub mod pipedrive;

pub use http::{RetryPolicy, CRM_REQUEST_ATTEMPTS_MAX};
pub use hubspot::HubSpotClient;
pub use pipedrive::PipedriveClient;
