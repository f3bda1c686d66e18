//! Test-only crate: see `tests/` for the contract and end-to-end suites.
