//! In-process adapters of the storage, queue and clock ports.
//!
//! They are the embedded default of `handoff demo` and of the fast tests, not mocks: they
//! keep DynamoDB's and SQS's semantics (conditional writes fail the same way, transactions
//! are all-or-nothing, FIFO groups deliver in order), and the contract test suite runs the
//! same cases against them and against the AWS adapters.

mod clock;
mod condition;
mod crm;
mod queue;
mod store;

pub use clock::ManualClock;
pub use crm::MemoryCrm;
pub use queue::MemoryQueue;
pub use store::MemoryStore;
