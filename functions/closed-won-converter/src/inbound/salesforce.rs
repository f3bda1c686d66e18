//! Salesforce Outbound Messages (SOAP 1.1) for Opportunities, and the `Ack` answer.
//!
//! The body is a SOAP 1.1 `Envelope` whose `Body` holds one `notifications` element in
//! the namespace [`OUTBOUND_NS`]: `OrganizationId`, `ActionId`, session and API URLs, then
//! up to [`SALESFORCE_NOTIFICATIONS_MAX`] `Notification`s, each with its own `Id` (dedupe
//! on it: Salesforce re-sends unacknowledged notifications for up to 24 h) and an
//! `sObject` (`xsi:type="sf:Opportunity"`) carrying only the fields chosen when the
//! outbound message was set up (fixture: `tests/fixtures/salesforce/`).
//!
//! Mapping onto [`CrmDeal`] (system `salesforce`): `Id` → `deal_id`, `Name`, `Amount` (the
//! decimal text as sent), `CurrencyIsoCode` (multi-currency orgs only), `CreatedDate`,
//! `CloseDate` → `closed_at`, `OwnerId`, `StageName` → `stage`, `IsWon` → `is_won`,
//! `AccountId` → `account`. A field not selected in the setup is simply absent: `None`,
//! not a problem; `IsWon` absent means the notification is not treated as a win
//! (`Notification::is_won == false`, `deal.is_won == None`). `StageName` is an org-specific
//! label and is never used to decide a win. Values are passed through as sent (trimmed of
//! surrounding whitespace); in particular 15- and 18-character ids are not converted into
//! one another, so compare the organisation id with the configured one in the form the
//! outbound message sends.
//!
//! Parsing is hardened: the body must be UTF-8; a DTD (`<!DOCTYPE …>`, hence any entity
//! declaration, internal or external) is refused by roxmltree (`allow_dtd: false`), no
//! external resource is ever read (no entity resolver), and the node count is bounded.
//! Every problem is listed with a path such as `notifications.Notification[1].sObject.Id`.

use handoff_domain::{Problem, ProblemList, Problems};
use handoff_ports::{CrmAccount, CrmDeal};
use roxmltree::{Document, Node, ParsingOptions};

/// `CrmDeal::system` of Salesforce deals.
pub const SYSTEM: &str = "salesforce";
/// The SOAP 1.1 envelope namespace.
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The outbound-messaging namespace of `notifications` and `notificationsResponse`.
pub const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
/// Most notifications Salesforce batches into one message; more is refused.
pub const SALESFORCE_NOTIFICATIONS_MAX: usize = 100;

const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// Bound on XML nodes: 100 notifications of a few hundred fields each fit comfortably.
const XML_NODES_MAX: u32 = 200_000;

/// One outbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// As sent (15 or 18 characters): authenticate it against the expected organisation.
    pub organization_id: String,
    /// The outbound-message action (workflow / flow) that sent it, when present.
    pub action_id: Option<String>,
    pub notifications: Vec<Notification>,
}

/// One Opportunity notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The notification's `Id`: the same on Salesforce's re-sends, dedupe on it.
    pub notification_id: String,
    /// The Opportunity `Id`.
    pub opportunity_id: String,
    /// `IsWon`; `false` when the field is not part of the message.
    pub is_won: bool,
    /// The Opportunity as sent; `line_items` empty.
    pub deal: CrmDeal,
}

/// Parses an Opportunity outbound message; `Err` lists every problem.
pub fn parse(body: &[u8]) -> Result<OutboundMessage, Problems> {
    let text = std::str::from_utf8(body).map_err(|e| one("", format!("is not UTF-8 text: {e}")))?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: XML_NODES_MAX,
        entity_resolver: None,
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| {
        one(
            "",
            format!("is not well-formed XML (DTDs are refused): {e}"),
        )
    })?;

    let envelope = doc.root_element();
    if !is(envelope, SOAP_ENV_NS, "Envelope") {
        return Err(one(
            "",
            format!(
                "is not a SOAP 1.1 message: the root element is {}, expected Envelope in {SOAP_ENV_NS}",
                describe(envelope)
            ),
        ));
    }
    let mut problems = ProblemList::new();
    let Some(body) = child(envelope, SOAP_ENV_NS, "Body", "Body", &mut problems) else {
        return Err(fail(problems));
    };
    let Some(notifications) = body.children().find(|n| n.is_element()) else {
        return Err(one("Body", "is empty; expected notifications"));
    };
    if !is(notifications, OUTBOUND_NS, "notifications") {
        return Err(one(
            "Body",
            format!(
                "holds {}, expected notifications in {OUTBOUND_NS}",
                describe(notifications)
            ),
        ));
    }

    let organization_id = required_text(
        notifications,
        "OrganizationId",
        "notifications.OrganizationId",
        &mut problems,
    );
    match &organization_id {
        None => {}
        Some(id) if !is_salesforce_id(id) => problems.push(
            "notifications.OrganizationId",
            format!("\"{id}\" is not a 15- or 18-character Salesforce id"),
        ),
        Some(_) => {}
    }
    let action_id = optional_child(
        notifications,
        OUTBOUND_NS,
        "ActionId",
        "notifications.ActionId",
        &mut problems,
    )
    .and_then(text_of);

    let elements: Vec<Node> = notifications
        .children()
        .filter(|n| is(*n, OUTBOUND_NS, "Notification"))
        .collect();
    if elements.is_empty() {
        problems.push("notifications.Notification", "at least one is required");
    } else if elements.len() > SALESFORCE_NOTIFICATIONS_MAX {
        problems.push(
            "notifications.Notification",
            format!(
                "{} notifications; Salesforce sends at most {SALESFORCE_NOTIFICATIONS_MAX} per message",
                elements.len()
            ),
        );
    }
    let parsed: Vec<Option<Notification>> = elements
        .iter()
        .take(SALESFORCE_NOTIFICATIONS_MAX)
        .enumerate()
        .map(|(i, n)| {
            notification(
                *n,
                &format!("notifications.Notification[{i}]"),
                &mut problems,
            )
        })
        .collect();

    match organization_id {
        Some(organization_id) if problems.is_empty() => Ok(OutboundMessage {
            organization_id,
            action_id,
            notifications: parsed.into_iter().flatten().collect(),
        }),
        _ => Err(fail(problems)),
    }
}

fn notification(node: Node, at: &str, problems: &mut ProblemList) -> Option<Notification> {
    let notification_id = required_text(node, "Id", &format!("{at}.Id"), problems);
    let object_at = format!("{at}.sObject");
    let object = child(node, OUTBOUND_NS, "sObject", &object_at, problems);
    let deal = object.and_then(|o| opportunity(o, &object_at, problems));
    let (notification_id, deal) = (notification_id?, deal?);
    Some(Notification {
        notification_id,
        opportunity_id: deal.deal_id.clone(),
        is_won: deal.is_won.unwrap_or(false),
        deal,
    })
}

fn opportunity(object: Node, at: &str, problems: &mut ProblemList) -> Option<CrmDeal> {
    if let Some(xsi_type) = object.attribute((XSI_NS, "type")) {
        let type_name = xsi_type.rsplit(':').next().unwrap_or(xsi_type);
        if type_name != "Opportunity" {
            problems.push(
                at,
                format!("is a {xsi_type}, expected an Opportunity (sf:Opportunity)"),
            );
            return None;
        }
    }
    let mut field = |name: &str| -> Option<String> {
        // sObject fields are in the enterprise namespace (`sf:`); match on the local name so
        // a different prefix or namespace spelling cannot hide a field.
        let mut found = object
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == name);
        let first = found.next();
        if found.next().is_some() {
            problems.push(format!("{at}.{name}"), "appears more than once");
            return None;
        }
        first.and_then(text_of)
    };
    let id = field("Id");
    let name = field("Name");
    let amount = field("Amount");
    let currency = field("CurrencyIsoCode");
    let created_at = field("CreatedDate");
    let closed_at = field("CloseDate");
    let owner_id = field("OwnerId");
    let stage = field("StageName");
    let is_won = field("IsWon");
    let account_id = field("AccountId");

    let is_won = match is_won.as_deref() {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(other) => {
            problems.push(
                format!("{at}.IsWon"),
                format!("\"{other}\" is not a boolean (true or false)"),
            );
            return None;
        }
    };
    let Some(id) = id else {
        problems.push(format!("{at}.Id"), "is required");
        return None;
    };
    Some(CrmDeal {
        system: SYSTEM.to_owned(),
        deal_id: id,
        name,
        amount,
        currency,
        created_at,
        closed_at,
        owner_id,
        pipeline: None,
        stage,
        is_won,
        account: account_id.map(|id| CrmAccount {
            id,
            name: None,
            domain: None,
        }),
        line_items: Vec::new(),
    })
}

/// The SOAP answer Salesforce expects; `true` acknowledges every notification of the
/// message, `false` (or any non-2xx answer) makes Salesforce re-send them later.
pub fn ack_response(ack: bool) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}">
  <soapenv:Body>
    <notificationsResponse xmlns="{OUTBOUND_NS}">
      <Ack>{ack}</Ack>
    </notificationsResponse>
  </soapenv:Body>
</soapenv:Envelope>
"#
    )
}

fn is(node: Node, namespace: &str, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(namespace)
}

fn describe(node: Node) -> String {
    match node.tag_name().namespace() {
        Some(ns) => format!("{} in {ns}", node.tag_name().name()),
        None => format!("{} (no namespace)", node.tag_name().name()),
    }
}

/// The only child element `namespace:name`, if any; a second one is a problem.
fn optional_child<'a, 'input>(
    parent: Node<'a, 'input>,
    namespace: &str,
    name: &str,
    field: &str,
    problems: &mut ProblemList,
) -> Option<Node<'a, 'input>> {
    let mut found = parent.children().filter(|n| is(*n, namespace, name));
    let first = found.next();
    if found.next().is_some() {
        problems.push(field, "appears more than once");
        return None;
    }
    first
}

/// The only child element `namespace:name`; absent or repeated is a problem.
fn child<'a, 'input>(
    parent: Node<'a, 'input>,
    namespace: &str,
    name: &str,
    field: &str,
    problems: &mut ProblemList,
) -> Option<Node<'a, 'input>> {
    let mut found = parent.children().filter(|n| is(*n, namespace, name));
    let Some(first) = found.next() else {
        problems.push(field, "is required");
        return None;
    };
    if found.next().is_some() {
        problems.push(field, "appears more than once");
        return None;
    }
    Some(first)
}

/// The non-empty text of the only child element `name` in [`OUTBOUND_NS`].
fn required_text(
    parent: Node,
    name: &str,
    field: &str,
    problems: &mut ProblemList,
) -> Option<String> {
    let node = child(parent, OUTBOUND_NS, name, field, problems)?;
    let text = text_of(node);
    if text.is_none() {
        problems.push(field, "must not be empty");
    }
    text
}

/// The element's trimmed text; `None` when empty or `xsi:nil="true"`.
fn text_of(node: Node) -> Option<String> {
    if matches!(node.attribute((XSI_NS, "nil")), Some("true" | "1")) {
        return None;
    }
    let text: String = node
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// 15 (case-sensitive) or 18 (case-insensitive) alphanumeric characters.
fn is_salesforce_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn one(field: &str, problem: impl Into<String>) -> Problems {
    Problems(vec![Problem::new(field, problem)])
}

/// The recorded problems (never empty when called on a failed path).
fn fail(problems: ProblemList) -> Problems {
    match problems.finish(|| ()) {
        Err(problems) => problems,
        Ok(()) => one("", "is not a usable Salesforce outbound message"),
    }
}
