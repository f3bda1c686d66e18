//! invoice-generator (issue 6, in progress): exactly-once claims of unbilled items and
//! gapless legal numbering.

pub mod claims;
pub mod job;
pub mod numbering;
