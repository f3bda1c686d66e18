//! closed-won-converter: CRM webhooks → canonical deal → project skeleton, exactly once.
//!
//! `main.rs` wires configuration and adapters; [`http::handle`] is the handler, taking
//! its ports through [`http::App`], so tests and the local runner call exactly what
//! Lambda calls.

pub mod config;
pub mod crm_mapping;
pub mod http;
pub mod inbound;
pub mod reference;
pub mod service;
