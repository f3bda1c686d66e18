//! HubSpot webhooks (v3 app webhooks): which deals in one delivery just moved to a
//! closed-won stage.
//!
//! A delivery body is a JSON array of up to [`HUBSPOT_EVENTS_MAX`] events. Each event names
//! its type under `subscriptionType` (current docs) or `eventType` (older docs and the
//! docs example in `tests/fixtures/hubspot/`); both are accepted. A deal is won by an
//! event when:
//!
//! - its type is `deal.propertyChange`,
//! - `propertyName` is `dealstage`, and
//! - `propertyValue` (the stage's internal id: `closedwon` in the default pipeline, a
//!   numeric or UUID id in custom pipelines) is one of the configured closed-won stages.
//!
//! Every other event (`contact.creation`, other deal properties, other stages, other
//! object types) is skipped without complaint: HubSpot subscriptions are per app and may
//! carry more than we need. The webhook carries no amount: the caller fetches the deal and
//! its line items through the CRM port afterwards.
//!
//! Malformed input never panics: the body must be a JSON array, each event an object, and
//! a `dealstage` change must carry `objectId` (a number, reported as a string, like the
//! CRM API's ids), `eventId` and `occurredAt` (epoch ms). Every problem is listed with its
//! path (`[3].objectId`) and the whole delivery is refused (no partial result), so the
//! handler answers with the full list and no win of a broken batch is half-processed.
//!
//! The same deal appearing twice in one delivery is reported once (the first occurrence);
//! re-deliveries across requests are the idempotency layer's job (`eventId` is not
//! guaranteed unique, so dedupe downstream on the deal id).

use handoff_domain::{Problem, ProblemList, Problems};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Most events HubSpot puts in one delivery; a longer body is refused.
pub const HUBSPOT_EVENTS_MAX: usize = 100;

/// The event type announcing a deal property change.
pub const DEAL_PROPERTY_CHANGE: &str = "deal.propertyChange";

/// The deal property holding the stage id.
pub const DEAL_STAGE_PROPERTY: &str = "dealstage";

/// A deal that one event of the delivery moved into a closed-won stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpotWonDeal {
    /// `objectId`, as a decimal string (the CRM API's form).
    pub deal_id: String,
    /// `eventId` of the first event announcing the win, as a decimal string.
    pub event_id: String,
    /// `occurredAt`: when the stage changed, epoch milliseconds.
    pub occurred_at_ms: i64,
    /// `portalId` (the HubSpot account), when the event has one.
    pub portal_id: Option<i64>,
}

/// The deals that this delivery moves into one of `closed_won_stages`, in delivery order,
/// each once.
///
/// `Err` lists every problem of a malformed delivery: not a JSON array, more than
/// [`HUBSPOT_EVENTS_MAX`] events, an event that is not an object or has no type, or a
/// `dealstage` change without a usable `objectId`, `eventId`, `occurredAt` or
/// `propertyValue`.
pub fn won_deals(
    body: &[u8],
    closed_won_stages: &[String],
) -> Result<Vec<HubSpotWonDeal>, Problems> {
    let events = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(events)) => events,
        Ok(other) => {
            return Err(one(
                "",
                format!(
                    "must be a JSON array of webhook events, not {}",
                    kind(&other)
                ),
            ))
        }
        Err(e) => return Err(one("", format!("is not valid JSON: {e}"))),
    };

    let mut problems = ProblemList::new();
    if events.len() > HUBSPOT_EVENTS_MAX {
        problems.push(
            "",
            format!(
                "has {} events; HubSpot sends at most {HUBSPOT_EVENTS_MAX} per delivery",
                events.len()
            ),
        );
    }

    let mut wins = Vec::new();
    let mut seen = HashSet::new();
    for (i, event) in events.iter().enumerate() {
        let at = format!("[{i}]");
        let Value::Object(event) = event else {
            problems.push(at, format!("must be an object, not {}", kind(event)));
            continue;
        };
        if let Some(win) = won_deal(event, &at, closed_won_stages, &mut problems) {
            if seen.insert(win.deal_id.clone()) {
                wins.push(win);
            }
        }
    }
    problems.finish(|| wins)
}

/// The win announced by one event, if any; problems of a malformed stage change recorded.
fn won_deal(
    event: &Map<String, Value>,
    at: &str,
    closed_won_stages: &[String],
    problems: &mut ProblemList,
) -> Option<HubSpotWonDeal> {
    let event_type = event_type(event, at, problems)?;
    if event_type != DEAL_PROPERTY_CHANGE {
        return None;
    }
    let property = required_str(event, "propertyName", at, problems)?;
    if property != DEAL_STAGE_PROPERTY {
        return None;
    }

    // A stage change: everything needed to act on it must be there, won stage or not, so a
    // broken integration shows up on the first delivery rather than on the first win.
    let stage = required_str(event, "propertyValue", at, problems);
    let deal_id = required_u64(event, "objectId", at, problems);
    let event_id = required_u64(event, "eventId", at, problems);
    let occurred_at_ms = required_i64(event, "occurredAt", at, problems);
    let portal_id = optional_i64(event, "portalId", at, problems);

    let stage = stage?;
    if !closed_won_stages.iter().any(|won| won == stage) {
        return None;
    }
    Some(HubSpotWonDeal {
        deal_id: deal_id?.to_string(),
        event_id: event_id?.to_string(),
        occurred_at_ms: occurred_at_ms?,
        portal_id: portal_id?,
    })
}

/// `subscriptionType`, or the older `eventType`; both present must agree.
fn event_type<'a>(
    event: &'a Map<String, Value>,
    at: &str,
    problems: &mut ProblemList,
) -> Option<&'a str> {
    let mut found = None;
    let mut ok = true;
    for key in ["subscriptionType", "eventType"] {
        match event.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => match found {
                None => found = Some(s.as_str()),
                Some(first) if first != s.as_str() => {
                    problems.push(
                        format!("{at}.eventType"),
                        format!("\"{s}\" disagrees with subscriptionType \"{first}\""),
                    );
                    ok = false;
                }
                Some(_) => {}
            },
            Some(other) => {
                problems.push(
                    format!("{at}.{key}"),
                    format!("must be a string, not {}", kind(other)),
                );
                ok = false;
            }
        }
    }
    if found.is_none() && ok {
        problems.push(
            format!("{at}.subscriptionType"),
            "is required (or the older eventType)",
        );
    }
    if ok {
        found
    } else {
        None
    }
}

fn required_str<'a>(
    event: &'a Map<String, Value>,
    key: &str,
    at: &str,
    problems: &mut ProblemList,
) -> Option<&'a str> {
    match event.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::String(_)) => {
            problems.push(format!("{at}.{key}"), "must not be empty");
            None
        }
        None | Some(Value::Null) => {
            problems.push(format!("{at}.{key}"), "is required");
            None
        }
        Some(other) => {
            problems.push(
                format!("{at}.{key}"),
                format!("must be a string, not {}", kind(other)),
            );
            None
        }
    }
}

fn required_u64(
    event: &Map<String, Value>,
    key: &str,
    at: &str,
    problems: &mut ProblemList,
) -> Option<u64> {
    match event.get(key) {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) => Some(v),
            None => {
                problems.push(
                    format!("{at}.{key}"),
                    format!("must be a non-negative whole number, not {n}"),
                );
                None
            }
        },
        None | Some(Value::Null) => {
            problems.push(format!("{at}.{key}"), "is required");
            None
        }
        Some(other) => {
            problems.push(
                format!("{at}.{key}"),
                format!("must be a number, not {}", kind(other)),
            );
            None
        }
    }
}

fn required_i64(
    event: &Map<String, Value>,
    key: &str,
    at: &str,
    problems: &mut ProblemList,
) -> Option<i64> {
    match optional_i64(event, key, at, problems) {
        Some(Some(v)) => Some(v),
        Some(None) => {
            problems.push(format!("{at}.{key}"), "is required");
            None
        }
        None => None,
    }
}

/// `Some(None)` when absent or null, `None` when present but not a whole number (recorded).
fn optional_i64(
    event: &Map<String, Value>,
    key: &str,
    at: &str,
    problems: &mut ProblemList,
) -> Option<Option<i64>> {
    match event.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) => Some(Some(v)),
            None => {
                problems.push(
                    format!("{at}.{key}"),
                    format!("must be a whole number, not {n}"),
                );
                None
            }
        },
        Some(other) => {
            problems.push(
                format!("{at}.{key}"),
                format!("must be a number, not {}", kind(other)),
            );
            None
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn one(field: &str, problem: impl Into<String>) -> Problems {
    Problems(vec![Problem::new(field, problem)])
}
