//! The storage layout of journal entries, shared by every function that posts one.
//!
//! An entry lives in its project's partition (`JOURNAL#<project>`, sorted by date) and on
//! the ledger index (`GSI3PK` = `LEDGER#<yyyy-mm>`, `GSI3SK` = `<date>#<project>#<sort>`), so
//! `GET /ledger/journal?from=&to=` reads one index partition per month in date order
//! without knowing the projects.

use crate::store::{AttributeValue, Item, Key};

/// The item of one journal entry; `date` is the entry's `YYYY-MM-DD` date (first in `sort`).
pub fn journal_item(project: &str, sort: &str, date: &str, entry_json: String) -> Item {
    let mut item = Key::new(format!("JOURNAL#{project}"), sort).to_item();
    item.insert("entry".into(), AttributeValue::S(entry_json));
    item.insert("GSI3PK".into(), AttributeValue::S(ledger_partition(date)));
    item.insert(
        "GSI3SK".into(),
        AttributeValue::S(format!("{date}#{project}#{sort}")),
    );
    item
}

/// The ledger index partition of a date's month: `LEDGER#2026-12`.
pub fn ledger_partition(date: &str) -> String {
    format!("LEDGER#{}", date.get(..7).unwrap_or(date))
}
