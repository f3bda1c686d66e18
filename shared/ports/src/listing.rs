//! The contracts list the billing planner reads, by billing cadence.
//!
//! A contract's terms record (`CONTRACT#<id>` / `TERMS#v1`, written by the converter) is
//! also on `GSI2` under `CONTRACTS#<cadence>` (`monthly`, `weekly`, ...), so a day's
//! planner reads only the cadences due that day, and only small terms records — not every
//! project's whole skeleton.

use crate::store::AttributeValue;

/// The index partition of the contracts billed at `cadence`.
pub fn contracts_partition(cadence: &str) -> String {
    format!("CONTRACTS#{cadence}")
}

/// The attributes that put a contract's terms record on the planner's list.
pub fn listing_attributes(cadence: &str, contract_id: &str) -> [(&'static str, AttributeValue); 2] {
    [
        ("GSI2PK", AttributeValue::S(contracts_partition(cadence))),
        ("GSI2SK", AttributeValue::S(contract_id.to_owned())),
    ]
}
