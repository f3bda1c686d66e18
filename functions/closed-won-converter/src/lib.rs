//! closed-won-converter: CRM webhooks → canonical deal → project skeleton, exactly once.

pub mod inbound;
