//! invoice-generator: billing runs (planner + one job per contract), exactly-once claims of
//! unbilled items, gapless legal numbering, credit notes, the journal and the exports.

pub mod annex;
pub mod claims;
pub mod consumer;
pub mod credits;
pub mod document;
pub mod http;
pub mod job;
pub mod numbering;
pub mod relay;
pub mod runs;
#[cfg(feature = "lambda")]
pub mod wiring;
