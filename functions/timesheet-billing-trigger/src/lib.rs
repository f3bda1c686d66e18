//! timesheet-billing-trigger: delivery signals → billable items, cost records, contract
//! state and accrual journal entries, one transaction per signal.
//!
//! The intake routes ([`intake`]) validate and queue; the consumer ([`consumer`]) rates
//! through the service ([`service`]). Binaries: `delivery-intake` (HTTP) and
//! `timesheet-billing-trigger` (SQS).

pub mod consumer;
pub mod intake;
pub mod service;
#[cfg(feature = "lambda")]
pub mod wiring;
