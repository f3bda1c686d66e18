//! Inbound CRM payloads: which deliveries announce a won deal, parsed from the real shapes
//! in `tests/fixtures/` (copied from the shared fixtures).

pub mod hubspot;
pub mod pipedrive;
pub mod salesforce;
