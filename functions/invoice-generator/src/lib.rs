//! invoice-generator (issue 6, in progress): today the gapless legal numbering.

pub mod numbering;
