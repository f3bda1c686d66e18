//! timesheet-billing-trigger: delivery signals → billable items, cost records, contract
//! state and accrual journal entries, one transaction per signal.
//!
//! This crate holds the service and the `delivery-signals.fifo` consumer; the intake
//! routes and the Lambda binary follow (issue 5 is in progress).

pub mod consumer;
pub mod service;
