//! The ports: what handlers and domain services need from the outside world, as traits.
//!
//! Two adapter sets implement them with the same semantics: `handoff-adapters-aws`
//! (DynamoDB, SQS) and `handoff-adapters-memory` (the embedded default). One contract test
//! suite (`tests/tests/contract.rs`) holds both to the behaviour described here.

pub mod clock;
pub mod crm;
pub mod journal;
pub mod listing;
pub mod queue;
pub mod store;

pub use clock::{Clock, SystemClock};
pub use crm::{CrmAccount, CrmClient, CrmDeal, CrmError, CrmLineItem};
pub use queue::{
    OutgoingMessage, Queue, QueueError, ReceivedMessage, RECEIVE_BATCH_MAX, SEND_BATCH_MAX,
};
pub use store::{
    AttributeValue, BatchWrite, CancellationReason, Condition, Cursor, Index, Item, Key, Page,
    Query, Store, StoreError, Update, WriteOp, BATCH_WRITE_ITEMS_MAX, PARTITION_KEY, SORT_KEY,
    TRANSACT_ITEMS_MAX,
};
