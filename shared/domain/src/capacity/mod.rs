//! Capacity: can we staff this demand, with whom, and from when (DESIGN §4.4)?

pub mod check;
pub mod flow;
pub mod model;

pub use check::{
    check, earliest_feasible_start, partner_margin, shift, CheckOptions, PartnerMargin,
    StaffingReport, Verdict,
};
pub use model::{Allocation, AllocationKind, Demand, Resource, ResourcePool};
