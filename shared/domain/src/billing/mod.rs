//! Delivery signals → rated billable items, cost records and accrual journal entries
//! (DESIGN §4.5). Pure: the consumer loads the contract state, calls [`rate`], and stores
//! what comes back in one transaction.
//!
//! Policies where the design leaves a choice:
//! - Over the cap, delivered work becomes a non-billable `over_cap` item flagged for a
//!   change order, and books no revenue (no write-down entry: nothing was recognised).
//! - A corrected time entry (higher source version) replaces the previous version while
//!   that one is unbilled (the old item is marked reversed and its accrual reversed); once
//!   invoiced, the old item stays untouched and a delta item carries the difference.
//! - Fixed fee: time records cost and drives percent complete (delivered hours over the
//!   baseline budget hours, capped at 100 %); revenue follows it into unbilled
//!   receivables (the contract asset). A milestone acceptance makes the milestone's amount
//!   billable without booking revenue again; a change order's added milestone raises the
//!   fee.
//! - Retainers: the block is billed in advance at period start (the invoice credits
//!   deferred revenue); delivered hours draw it down, moving the block's effective hourly
//!   rate from deferred revenue to revenue; hours beyond the block are overage items at
//!   the bill rate. A corrected retainer entry re-rates only the change in hours, and a
//!   reduction returns hours to the block. Unused hours roll over up to the contract's
//!   limit at the next period start; the rest expire.

mod book;
pub mod intake;
mod rate;
mod signal;
mod state;

pub use book::Book;
pub use rate::{rate, Rated, RatingContext, RatingError};
pub use signal::{
    ChangeOrder, ExpenseEntry, MilestoneAcceptance, RetainerPeriodStart, Signal, SourceRef,
    TimeEntry,
};
pub use state::{BillableItem, ContractState, CostRecord, EntryState, ItemStatus, Treatment};
