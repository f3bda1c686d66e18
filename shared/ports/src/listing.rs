//! The work lists the invoice generator reads: contracts by billing cadence, and each
//! contract's unbilled items.
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

/// The index partition (`GSI1`) of a contract's unbilled items.
pub fn unbilled_partition(contract_id: &str) -> String {
    format!("UNBILLED#{contract_id}")
}

/// The attributes that put an item on its contract's unbilled list, sorted by work date
/// (the billing trigger writes them; a credit note that releases the item writes them again).
pub fn unbilled_attributes(
    contract_id: &str,
    work_date: &str,
    item_id: &str,
) -> [(&'static str, AttributeValue); 2] {
    [
        ("GSI1PK", AttributeValue::S(unbilled_partition(contract_id))),
        (
            "GSI1SK",
            AttributeValue::S(format!("{work_date}#{item_id}")),
        ),
    ]
}
