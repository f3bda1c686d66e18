//! The pure business rules of handoff.
//!
//! Nothing in this crate performs I/O, awaits, or knows about AWS: every rule here can be
//! unit- and property-tested in microseconds, and the Lambda handlers, the local runner and
//! the adapters all call the same code (DESIGN §2).

pub mod amendment;
pub mod billing;
pub mod billing_calendar;
pub mod capacity;
pub mod catalog;
pub mod credit;
pub mod currency;
pub mod deal;
pub mod hours;
pub mod id;
pub mod identity;
pub mod indicators;
pub mod invoice;
pub mod ledger;
pub mod money;
pub mod problems;
pub mod project;
pub mod rates;
pub mod schedule;
pub mod ubl;

pub use currency::{Currency, CurrencyError};
pub use hours::{HourIncrement, Hours, HoursError};
pub use id::{
    BillableItemId, BillingRunId, ChangeRequestId, ContractId, CreditNoteId, CustomerId,
    ExternalId, IdError, InvoiceId, MilestoneId, ProjectId, SourceSystem,
};
pub use money::{Money, MoneyError};
pub use problems::{Problem, ProblemList, Problems};
