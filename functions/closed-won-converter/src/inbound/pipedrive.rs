//! Pipedrive webhooks: does this delivery announce that a deal was just won?
//!
//! Two payload versions are accepted (real and docs examples in `tests/fixtures/pipedrive/`):
//!
//! - **v1**: `event: "updated.deal"` (`<action>.<object>`; also `meta.action` +
//!   `meta.object`), the full deal under `current` and the full previous deal under
//!   `previous`; the retry counter is the top-level `retry`.
//! - **v2** (`meta.version: "2.0"`): `meta.action` `create` / `change` / `delete`,
//!   `meta.entity` `deal`, the deal under `data`, and `previous` holding only the fields
//!   that changed (null on create); the retry counter is `meta.attempt`.
//!
//! # When is a delivery a win
//!
//! Won = the deal's status is `won` now **and** the delivery shows it was not before:
//!
//! - v1 `updated.deal` / v2 `change`: `previous.status` is present and is not `won`. A
//!   v2 `previous` without `status` means the status did not change (the deal was already
//!   won, and e.g. its title was edited): not a new win. v1 `won → won` likewise.
//! - v1 `added.deal` / v2 `create` with status `won`: **a win**. A deal can be created
//!   directly as won (imports, the API, a "won" button in the add dialog), and no later
//!   status change will ever announce it; a re-delivered or re-announced win is harmless
//!   because the project id is derived from (system, deal id) downstream.
//! - deletions, merges, other entities (persons, organisations, activities…) and any other
//!   status (`open`, `lost`) are `NotWon` with a reason, never errors.
//!
//! # Delivery ids
//!
//! [`PipedriveWon::delivery_id`] names the delivery for the idempotency layer and must be
//! the same on Pipedrive's retries of one delivery (after 3, 30 and 150 s):
//!
//! - v2: `meta.id`, the event's UUID. Retries resend the same event with only
//!   `meta.attempt` incremented; `meta.id` differs between the create and the change
//!   events of the same deal in the fixtures, so it names one event, not the deal.
//!   (`meta.timestamp` is the event time too, but `meta.id` is the purpose-made key.)
//! - v1: there is no delivery id. `meta.id` is the *object's* id (`49`, equal to
//!   `current.id` in the real fixture), so it would collapse every event of a deal into
//!   one; the `meta.timestamp*` fields are not documented as retry-stable. The id is
//!   therefore `<deal id>@<current.update_time>` (e.g. `49@2024-08-16 07:25:31`), falling
//!   back to `current.add_time` for `added.deal`: a property of the deal's state, so
//!   identical on every retry, and shared by the same change seen through two webhooks.
//!
//! # The deal
//!
//! [`PipedriveWon::deal`] is read from the payload (`current` or `data`): system
//! `pipedrive`, `title`, `value` (a JSON number, turned into its decimal text by
//! `serde_json::Number::to_string`, never through a float of our own), `currency`,
//! `add_time`, `close_time` (else `won_time`), owner (`owner_id`, v1 `user_id`),
//! `pipeline_id`, `stage_id`, and the account from `org_id` / `org_name`. Dates are kept
//! as sent (v1 `YYYY-MM-DD HH:MM:SS` UTC, v2 ISO-8601). `line_items` stay empty: products
//! are fetched through the Pipedrive API afterwards.

use handoff_domain::{Problem, ProblemList, Problems};
use handoff_ports::{CrmAccount, CrmDeal};
use serde_json::{Map, Value};

/// `CrmDeal::system` of Pipedrive deals.
pub const SYSTEM: &str = "pipedrive";

const WON: &str = "won";

type Object = Map<String, Value>;

/// What to do with one Pipedrive delivery.
// One short-lived value per request, matched at once: boxing the win would only add an
// allocation and noise at every call site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipedriveDecision {
    /// The delivery announces a new win: convert the deal.
    Won(PipedriveWon),
    /// Nothing to convert (acknowledge the delivery); `reason` says why, for the logs.
    NotWon { reason: String },
}

/// A deal this delivery announces as newly won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipedriveWon {
    /// The Pipedrive deal id, as a decimal string.
    pub deal_id: String,
    /// Stable across Pipedrive's retries of this delivery; see the module docs.
    pub delivery_id: String,
    /// The deal as the payload describes it; `line_items` empty.
    pub deal: CrmDeal,
}

/// Decides whether `body` (a v1 or v2 webhook delivery) announces a newly won deal.
///
/// `Err` lists every problem of a malformed delivery (not JSON, neither version, no event
/// type, a deal without id or status, a won deal without a delivery id…).
pub fn decide(body: &[u8]) -> Result<PipedriveDecision, Problems> {
    let root = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(root)) => root,
        Ok(other) => {
            return Err(one(
                "",
                format!("must be a JSON object, not {}", kind(&other)),
            ))
        }
        Err(e) => return Err(one("", format!("is not valid JSON: {e}"))),
    };
    if is_v2(&root) {
        decide_v2(&root)
    } else if is_v1(&root) {
        decide_v1(&root)
    } else {
        Err(one(
            "",
            "is neither a Pipedrive v1 webhook (`event`, `current`, `previous`) nor a v2 one \
             (`meta.version` \"2.0\", `data`, `previous`)",
        ))
    }
}

fn is_v2(root: &Object) -> bool {
    match root
        .get("meta")
        .and_then(|meta| meta.get("version"))
        .and_then(Value::as_str)
    {
        Some(version) => version.starts_with('2'),
        None => {
            root.contains_key("data")
                && !root.contains_key("event")
                && !root.contains_key("current")
        }
    }
}

fn is_v1(root: &Object) -> bool {
    root.contains_key("event")
        || root.contains_key("current")
        || root.get("v").and_then(Value::as_u64) == Some(1)
}

/// What the delivery says about the status before the change.
enum Before<'a> {
    /// The deal was created by this event.
    Created,
    /// The status did not change in this event.
    Unchanged,
    /// The status changed from this (`None`: from null).
    Was(Option<&'a str>),
}

/// `None` when the delivery is a new win, else the reason it is not.
fn not_won_reason(status: &str, before: Before<'_>) -> Option<String> {
    if status != WON {
        return Some(format!("deal status is \"{status}\", not won"));
    }
    match before {
        Before::Created | Before::Was(None) => None,
        Before::Was(Some(was)) if was != WON => None,
        Before::Was(Some(_)) => Some("the deal was already won (won → won)".into()),
        Before::Unchanged => Some("the status did not change: the deal was already won".into()),
    }
}

fn decide_v1(root: &Object) -> Result<PipedriveDecision, Problems> {
    let mut problems = ProblemList::new();
    let Some((action, object)) = v1_event(root, &mut problems) else {
        return Err(fail(problems));
    };
    if object != "deal" {
        return Ok(not_won(format!(
            "event {action}.{object} is about a {object}, not a deal"
        )));
    }
    let created = match action {
        "added" => true,
        "updated" => false,
        "deleted" => return Ok(not_won("the deal was deleted")),
        other => {
            return Ok(not_won(format!(
                "event {other}.deal does not change a deal's status"
            )))
        }
    };

    let current = required_object(root, "current", "current", &mut problems);
    let status = current.and_then(|c| required_str(c, "status", "current.status", &mut problems));
    let before = if created {
        Some(Before::Created)
    } else {
        match root.get("previous") {
            Some(Value::Object(previous)) => previous_status(previous, &mut problems),
            None | Some(Value::Null) => {
                problems.push(
                    "previous",
                    "is required for updated.deal (v1 sends the whole previous deal)",
                );
                None
            }
            Some(other) => {
                problems.push(
                    "previous",
                    format!("must be an object, not {}", kind(other)),
                );
                None
            }
        }
    };
    let (Some(current), Some(status), Some(before)) = (current, status, before) else {
        return Err(fail(problems));
    };
    if let Some(reason) = not_won_reason(status, before) {
        return Ok(not_won(reason));
    }

    let deal = crm_deal(current, "current", &mut problems);
    let changed_at =
        match optional_str(current, "update_time", "current.update_time", &mut problems) {
            Some(t) => Some(t),
            None => optional_str(current, "add_time", "current.add_time", &mut problems),
        };
    if changed_at.is_none() {
        problems.push(
            "current.update_time",
            "is required to identify the delivery (or current.add_time for added.deal)",
        );
    }
    match (deal, changed_at) {
        (Some(deal), Some(changed_at)) if problems.is_empty() => {
            Ok(PipedriveDecision::Won(PipedriveWon {
                deal_id: deal.deal_id.clone(),
                delivery_id: format!("{}@{changed_at}", deal.deal_id),
                deal,
            }))
        }
        _ => Err(fail(problems)),
    }
}

/// `(action, object)` from `event` (`updated.deal`), else from `meta.action` and
/// `meta.object`.
fn v1_event<'a>(root: &'a Object, problems: &mut ProblemList) -> Option<(&'a str, &'a str)> {
    match root.get("event") {
        Some(Value::String(event)) => match event.split_once('.') {
            Some((action, object)) if !action.is_empty() && !object.is_empty() => {
                Some((action, object))
            }
            _ => {
                problems.push(
                    "event",
                    format!("\"{event}\" is not of the form <action>.<object>, e.g. updated.deal"),
                );
                None
            }
        },
        None | Some(Value::Null) => {
            let Some(Value::Object(meta)) = root.get("meta") else {
                problems.push("event", "is required (e.g. \"updated.deal\")");
                return None;
            };
            let action = required_str(meta, "action", "meta.action", problems);
            let object = required_str(meta, "object", "meta.object", problems);
            Some((action?, object?))
        }
        Some(other) => {
            problems.push("event", format!("must be a string, not {}", kind(other)));
            None
        }
    }
}

fn decide_v2(root: &Object) -> Result<PipedriveDecision, Problems> {
    let mut problems = ProblemList::new();
    let meta = required_object(root, "meta", "meta", &mut problems);
    let entity = meta.and_then(|m| required_str(m, "entity", "meta.entity", &mut problems));
    let action = meta.and_then(|m| required_str(m, "action", "meta.action", &mut problems));
    let (Some(meta), Some(entity), Some(action)) = (meta, entity, action) else {
        return Err(fail(problems));
    };
    if entity != "deal" {
        return Ok(not_won(format!(
            "event {action} {entity} is about a {entity}, not a deal"
        )));
    }
    let created = match action {
        "create" => true,
        "change" => false,
        "delete" => return Ok(not_won("the deal was deleted")),
        other => {
            return Ok(not_won(format!(
                "action {other} does not change a deal's status"
            )))
        }
    };

    let data = required_object(root, "data", "data", &mut problems);
    let status = data.and_then(|d| required_str(d, "status", "data.status", &mut problems));
    let before = if created {
        Some(Before::Created)
    } else {
        match root.get("previous") {
            None | Some(Value::Null) => Some(Before::Unchanged),
            Some(Value::Object(previous)) => previous_status(previous, &mut problems),
            Some(other) => {
                problems.push(
                    "previous",
                    format!("must be an object or null, not {}", kind(other)),
                );
                None
            }
        }
    };
    let (Some(data), Some(status), Some(before)) = (data, status, before) else {
        return Err(fail(problems));
    };
    if let Some(reason) = not_won_reason(status, before) {
        return Ok(not_won(reason));
    }

    let deal = crm_deal(data, "data", &mut problems);
    let delivery_id = required_str(meta, "id", "meta.id", &mut problems);
    if let (Some(deal), Some(entity_id)) = (&deal, meta.get("entity_id")) {
        match id_of(entity_id) {
            Ok(Some(entity_id)) if entity_id != deal.deal_id => problems.push(
                "meta.entity_id",
                format!(
                    "\"{entity_id}\" does not match data.id \"{}\"",
                    deal.deal_id
                ),
            ),
            Ok(_) => {}
            Err(e) => problems.push("meta.entity_id", e),
        }
    }
    match (deal, delivery_id) {
        (Some(deal), Some(delivery_id)) if problems.is_empty() => {
            Ok(PipedriveDecision::Won(PipedriveWon {
                deal_id: deal.deal_id.clone(),
                delivery_id: delivery_id.to_owned(),
                deal,
            }))
        }
        _ => Err(fail(problems)),
    }
}

/// The previous status, from a (full v1, partial v2) `previous` object.
fn previous_status<'a>(previous: &'a Object, problems: &mut ProblemList) -> Option<Before<'a>> {
    match previous.get("status") {
        None => Some(Before::Unchanged),
        Some(Value::Null) => Some(Before::Was(None)),
        Some(Value::String(s)) => Some(Before::Was(Some(s))),
        Some(other) => {
            problems.push(
                "previous.status",
                format!("must be a string, not {}", kind(other)),
            );
            None
        }
    }
}

/// The deal described by `current` (v1) or `data` (v2).
fn crm_deal(deal: &Object, at: &str, problems: &mut ProblemList) -> Option<CrmDeal> {
    let deal_id = optional_id(deal, "id", at, problems);
    if deal_id.is_none() && deal.get("id").is_none_or(|id| id_of(id).is_ok()) {
        problems.push(format!("{at}.id"), "is required");
    }
    let name = optional_str(deal, "title", &format!("{at}.title"), problems);
    let amount = amount(deal, "value", at, problems);
    let currency = optional_str(deal, "currency", &format!("{at}.currency"), problems);
    let created_at = optional_str(deal, "add_time", &format!("{at}.add_time"), problems);
    let close_time = optional_str(deal, "close_time", &format!("{at}.close_time"), problems);
    let won_time = optional_str(deal, "won_time", &format!("{at}.won_time"), problems);
    let owner_id = optional_id(deal, "owner_id", at, problems);
    let user_id = optional_id(deal, "user_id", at, problems);
    let pipeline = optional_id(deal, "pipeline_id", at, problems);
    let stage = optional_id(deal, "stage_id", at, problems);
    let status = optional_str(deal, "status", &format!("{at}.status"), problems);
    let account = account(deal, at, problems);
    Some(CrmDeal {
        system: SYSTEM.to_owned(),
        deal_id: deal_id?,
        name: name.map(str::to_owned),
        amount,
        currency: currency.map(str::to_owned),
        created_at: created_at.map(str::to_owned),
        closed_at: close_time.or(won_time).map(str::to_owned),
        owner_id: owner_id.or(user_id),
        pipeline,
        stage,
        is_won: status.map(|s| s == WON),
        account,
        line_items: Vec::new(),
    })
}

/// The organisation: `org_id` (a number, or v1 API style `{ "value": 23, "name": … }`) and
/// v1's `org_name`.
fn account(deal: &Object, at: &str, problems: &mut ProblemList) -> Option<CrmAccount> {
    let id = optional_id(deal, "org_id", at, problems);
    let mut name = optional_str(deal, "org_name", &format!("{at}.org_name"), problems);
    if let Some(Value::Object(org)) = deal.get("org_id") {
        name = name.or_else(|| org.get("name").and_then(Value::as_str));
    }
    Some(CrmAccount {
        id: id?,
        name: name.filter(|n| !n.is_empty()).map(str::to_owned),
        domain: None,
    })
}

/// `value`: a JSON number, as its decimal text; a string is kept as sent.
fn amount(deal: &Object, key: &str, at: &str, problems: &mut ProblemList) -> Option<String> {
    match deal.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::String(_)) => None,
        Some(other) => {
            problems.push(
                format!("{at}.{key}"),
                format!("must be a number, not {}", kind(other)),
            );
            None
        }
    }
}

/// An id: a whole number or a non-empty string (an object's `value` or `id` in API style);
/// `Ok(None)` when null or empty.
fn id_of(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Value::Number(n) => Err(format!("must be a whole number, not {n}")),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Object(o) => match o.get("value").or_else(|| o.get("id")) {
            None | Some(Value::Null) => Ok(None),
            Some(inner @ (Value::Number(_) | Value::String(_))) => id_of(inner),
            Some(other) => Err(format!(
                "must be an id (number or string), not an object holding {}",
                kind(other)
            )),
        },
        other => Err(format!(
            "must be an id (number or string), not {}",
            kind(other)
        )),
    }
}

fn optional_id(deal: &Object, key: &str, at: &str, problems: &mut ProblemList) -> Option<String> {
    let value = deal.get(key)?;
    match id_of(value) {
        Ok(id) => id,
        Err(e) => {
            problems.push(format!("{at}.{key}"), e);
            None
        }
    }
}

fn required_object<'a>(
    parent: &'a Object,
    key: &str,
    field: &str,
    problems: &mut ProblemList,
) -> Option<&'a Object> {
    match parent.get(key) {
        Some(Value::Object(o)) => Some(o),
        None | Some(Value::Null) => {
            problems.push(field, "is required");
            None
        }
        Some(other) => {
            problems.push(field, format!("must be an object, not {}", kind(other)));
            None
        }
    }
}

fn required_str<'a>(
    parent: &'a Object,
    key: &str,
    field: &str,
    problems: &mut ProblemList,
) -> Option<&'a str> {
    match parent.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            problems.push(field, "is required");
            None
        }
        Some(other) => {
            problems.push(field, format!("must be a string, not {}", kind(other)));
            None
        }
    }
}

/// A string when present and non-empty; null, absent or empty → `None`.
fn optional_str<'a>(
    parent: &'a Object,
    key: &str,
    field: &str,
    problems: &mut ProblemList,
) -> Option<&'a str> {
    match parent.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::String(_)) | None | Some(Value::Null) => None,
        Some(other) => {
            problems.push(field, format!("must be a string, not {}", kind(other)));
            None
        }
    }
}

fn not_won(reason: impl Into<String>) -> PipedriveDecision {
    PipedriveDecision::NotWon {
        reason: reason.into(),
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

/// The recorded problems (never empty when called on a failed path).
fn fail(problems: ProblemList) -> Problems {
    match problems.finish(|| ()) {
        Err(problems) => problems,
        Ok(()) => one("", "is not a usable Pipedrive webhook"),
    }
}
