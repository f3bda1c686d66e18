//! capacity-checker: can we staff this demand, with whom, and from when?
//!
//! Two entry points over one service: `POST /capacity/checks` (synchronous, for sales
//! before promising a date) and the `project-events` consumer (a converted project gets
//! its staffing report and tentative allocations). Both binaries only wire; the handlers
//! take their ports through [`service::Capacity`].

pub mod consumer;
pub mod http;
pub mod service;
#[cfg(feature = "lambda")]
pub mod wiring;
