//! timesheet-billing-trigger: delivery signals → billable items, cost records, contract
//! state and accrual journal entries, one transaction per signal.
//!
//! The intake routes ([`intake`]) validate and queue; the consumer ([`consumer`]) rates
//! through the service ([`service`]). The Lambda binaries and the demo follow (issue 5 is
//! in progress).

pub mod consumer;
pub mod intake;
pub mod service;
