//! Salesforce Opportunity outbound messages and the SOAP acknowledgement, against the
//! fixtures and synthesised variants.

use closed_won_converter::inbound::salesforce::{
    ack_response, parse, Notification, SALESFORCE_NOTIFICATIONS_MAX,
};
use handoff_domain::Problems;
use handoff_ports::{CrmAccount, CrmDeal};

const CLOSED_WON: &str =
    include_str!("fixtures/salesforce/salesforce_outbound_message_opportunity_closed_won.xml");
const ACK: &str = include_str!("fixtures/salesforce/salesforce_outbound_message_ack_response.xml");

fn fields(problems: &Problems) -> Vec<&str> {
    problems.0.iter().map(|p| p.field.as_str()).collect()
}

/// An outbound message shaped like the fixture, with these notifications.
fn message(organization_id: Option<&str>, notifications: &[String]) -> String {
    let organization = organization_id
        .map(|id| format!("<OrganizationId>{id}</OrganizationId>"))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   {organization}
   <ActionId>04kd0000000PCgvAAG</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://na14.salesforce.com/services/Soap/c/32.0/00Dd0000000dtDq</EnterpriseUrl>
   <PartnerUrl>https://na14.salesforce.com/services/Soap/u/32.0/00Dd0000000dtDq</PartnerUrl>
   {}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>
"#,
        notifications.concat()
    )
}

fn notification(id: &str, fields: &str) -> String {
    format!(
        r#"<Notification>
     <Id>{id}</Id>
     <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
       {fields}
     </sObject>
   </Notification>"#
    )
}

const FULL_FIELDS: &str = r#"<sf:Id>006w000000f7O5ZAAU</sf:Id>
       <sf:AccountId>001w000001ABCDEAA4</sf:AccountId>
       <sf:Amount>150000.50</sf:Amount>
       <sf:CloseDate>2026-03-31</sf:CloseDate>
       <sf:CreatedDate>2026-01-15T09:30:00.000Z</sf:CreatedDate>
       <sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode>
       <sf:IsWon>true</sf:IsWon>
       <sf:Name>Acme rollout</sf:Name>
       <sf:OwnerId>005w000000AbCdEAAZ</sf:OwnerId>
       <sf:StageName>Gewonnen</sf:StageName>"#;

#[test]
fn fixture_is_parsed_with_absent_fields_as_none() {
    let message = parse(CLOSED_WON.as_bytes()).unwrap();
    assert_eq!(message.organization_id, "00Dd0000000dtDqEAI");
    assert_eq!(message.action_id.as_deref(), Some("04kd0000000PCgvAAG"));
    assert_eq!(
        message.notifications,
        vec![Notification {
            notification_id: "null".into(),
            opportunity_id: "006w000000f7O5ZAAU".into(),
            // IsWon is not among the fixture's selected fields: not a win, whatever the
            // StageName label says.
            is_won: false,
            deal: CrmDeal {
                system: "salesforce".into(),
                deal_id: "006w000000f7O5ZAAU".into(),
                name: Some("sfdc2sfdc-bidirectional-opportunity-sync".into()),
                amount: Some("150000".into()),
                currency: None,
                created_at: None,
                closed_at: Some("2011-08-04".into()),
                owner_id: None,
                pipeline: None,
                stage: Some("Closed Won".into()),
                is_won: None,
                account: None,
                line_items: vec![],
            },
        }]
    );
}

#[test]
fn every_selected_field_is_mapped() {
    let body = message(
        Some("00Dd0000000dtDqEAI"),
        &[notification("04lw000000AbCdEAAZ", FULL_FIELDS)],
    );
    let message = parse(body.as_bytes()).unwrap();
    let n = &message.notifications[0];
    assert_eq!(n.notification_id, "04lw000000AbCdEAAZ");
    assert!(n.is_won);
    assert_eq!(
        n.deal,
        CrmDeal {
            system: "salesforce".into(),
            deal_id: "006w000000f7O5ZAAU".into(),
            name: Some("Acme rollout".into()),
            amount: Some("150000.50".into()),
            currency: Some("EUR".into()),
            created_at: Some("2026-01-15T09:30:00.000Z".into()),
            closed_at: Some("2026-03-31".into()),
            owner_id: Some("005w000000AbCdEAAZ".into()),
            pipeline: None,
            stage: Some("Gewonnen".into()),
            is_won: Some(true),
            account: Some(CrmAccount {
                id: "001w000001ABCDEAA4".into(),
                name: None,
                domain: None,
            }),
            line_items: vec![],
        }
    );
}

#[test]
fn is_won_false_is_not_won() {
    let fields = FULL_FIELDS.replace("<sf:IsWon>true</sf:IsWon>", "<sf:IsWon>false</sf:IsWon>");
    let body = message(
        Some("00Dd0000000dtDqEAI"),
        &[notification("04l000000000001", &fields)],
    );
    let n = &parse(body.as_bytes()).unwrap().notifications[0];
    assert!(!n.is_won);
    assert_eq!(n.deal.is_won, Some(false));
}

#[test]
fn two_notifications_in_order() {
    let second = FULL_FIELDS.replace("006w000000f7O5ZAAU", "006w000000f7O6ZAAU");
    let body = message(
        Some("00Dd0000000dtDqEAI"),
        &[
            notification("04l000000000001", FULL_FIELDS),
            notification("04l000000000002", &second),
        ],
    );
    let message = parse(body.as_bytes()).unwrap();
    let ids: Vec<(&str, &str)> = message
        .notifications
        .iter()
        .map(|n| (n.notification_id.as_str(), n.opportunity_id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("04l000000000001", "006w000000f7O5ZAAU"),
            ("04l000000000002", "006w000000f7O6ZAAU")
        ]
    );
}

#[test]
fn organization_ids_of_15_and_18_characters_pass_through_as_sent() {
    for id in [
        "00Dd0000000dtDq",
        "00Dd0000000dtDqEAI",
        "00dD0000000DTdQeai",
    ] {
        let body = message(Some(id), &[notification("1", FULL_FIELDS)]);
        assert_eq!(parse(body.as_bytes()).unwrap().organization_id, id);
    }
    for bad in ["00Dd0000000dtD", "00Dd0000000dtDqE", "00Dd0000000dtD-EAI"] {
        let body = message(Some(bad), &[notification("1", FULL_FIELDS)]);
        assert_eq!(
            fields(&parse(body.as_bytes()).unwrap_err()),
            ["notifications.OrganizationId"]
        );
    }
}

#[test]
fn a_missing_organization_id_is_a_problem() {
    let body = message(None, &[notification("1", FULL_FIELDS)]);
    let err = parse(body.as_bytes()).unwrap_err();
    assert_eq!(fields(&err), ["notifications.OrganizationId"]);
    assert_eq!(err.0[0].problem, "is required");

    let body = message(Some(""), &[notification("1", FULL_FIELDS)]);
    assert_eq!(
        fields(&parse(body.as_bytes()).unwrap_err()),
        ["notifications.OrganizationId"]
    );
}

#[test]
fn every_problem_is_listed_with_its_path() {
    let no_id = FULL_FIELDS.replace("<sf:Id>006w000000f7O5ZAAU</sf:Id>", "");
    let bad_flag = FULL_FIELDS.replace("<sf:IsWon>true</sf:IsWon>", "<sf:IsWon>yes</sf:IsWon>");
    let twice = format!("{FULL_FIELDS}<sf:Amount>1</sf:Amount>");
    let no_object = "<Notification><Id>4</Id></Notification>".to_owned();
    let account = notification("5", FULL_FIELDS).replace("sf:Opportunity", "sf:Account");
    let body = message(
        None,
        &[
            notification("", &no_id),
            notification("2", &bad_flag),
            notification("3", &twice),
            no_object,
            account,
        ],
    );
    let err = parse(body.as_bytes()).unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "notifications.OrganizationId",
            "notifications.Notification[0].Id",
            "notifications.Notification[0].sObject.Id",
            "notifications.Notification[1].sObject.IsWon",
            "notifications.Notification[2].sObject.Amount",
            "notifications.Notification[3].sObject",
            "notifications.Notification[4].sObject",
        ],
        "{err}"
    );
}

#[test]
fn nil_and_empty_fields_are_absent() {
    let fields = FULL_FIELDS
        .replace(
            "<sf:AccountId>001w000001ABCDEAA4</sf:AccountId>",
            r#"<sf:AccountId xsi:nil="true"/>"#,
        )
        .replace("<sf:Name>Acme rollout</sf:Name>", "<sf:Name>  </sf:Name>");
    let body = message(Some("00Dd0000000dtDqEAI"), &[notification("1", &fields)]);
    let deal = &parse(body.as_bytes()).unwrap().notifications[0].deal;
    assert_eq!((deal.account.as_ref(), deal.name.as_ref()), (None, None));
}

#[test]
fn at_least_one_and_at_most_a_hundred_notifications() {
    let body = message(Some("00Dd0000000dtDqEAI"), &[]);
    assert_eq!(
        fields(&parse(body.as_bytes()).unwrap_err()),
        ["notifications.Notification"]
    );

    let hundred: Vec<String> = (0..SALESFORCE_NOTIFICATIONS_MAX)
        .map(|i| notification(&i.to_string(), FULL_FIELDS))
        .collect();
    let body = message(Some("00Dd0000000dtDqEAI"), &hundred);
    assert_eq!(parse(body.as_bytes()).unwrap().notifications.len(), 100);

    let mut too_many = hundred;
    too_many.push(notification("100", FULL_FIELDS));
    let body = message(Some("00Dd0000000dtDqEAI"), &too_many);
    let err = parse(body.as_bytes()).unwrap_err();
    assert_eq!(fields(&err), ["notifications.Notification"]);
    assert!(err.0[0].problem.contains("101"), "{err}");
}

#[test]
fn non_soap_bodies_are_refused() {
    let json = r#"{"OrganizationId": "00Dd0000000dtDqEAI"}"#.to_owned();
    let plain_xml = "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\"/>".to_owned();
    let soap12 = CLOSED_WON.replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    let wrong_namespace = CLOSED_WON.replace(
        "http://soap.sforce.com/2005/09/outbound",
        "http://example.com/outbound",
    );
    let no_namespace = CLOSED_WON.replace(" xmlns=\"http://soap.sforce.com/2005/09/outbound\"", "");
    let empty_body = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body/></soapenv:Envelope>".to_owned();
    let no_body = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"/>"
        .to_owned();
    let truncated = CLOSED_WON[..CLOSED_WON.len() / 2].to_owned();
    for (body, field) in [
        (json, ""),
        (plain_xml, ""),
        (soap12, ""),
        (wrong_namespace, "Body"),
        (no_namespace, "Body"),
        (empty_body, "Body"),
        (no_body, "Body"),
        (truncated, ""),
        (String::new(), ""),
    ] {
        let err = parse(body.as_bytes()).unwrap_err();
        assert_eq!(fields(&err), [field], "{body}: {err}");
    }
    assert_eq!(fields(&parse(b"<a>\xff</a>").unwrap_err()), [""]);
}

#[test]
fn a_doctype_is_refused_so_no_entity_is_expanded() {
    let external = CLOSED_WON.replacen(
        "<soapenv:Envelope",
        "<!DOCTYPE soapenv:Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<soapenv:Envelope",
        1,
    )
    .replace("<sf:Name>sfdc2sfdc-bidirectional-opportunity-sync</sf:Name>", "<sf:Name>&xxe;</sf:Name>");
    let laughs = CLOSED_WON.replacen(
        "<soapenv:Envelope",
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\n<soapenv:Envelope",
        1,
    )
    .replace("<sf:Name>sfdc2sfdc-bidirectional-opportunity-sync</sf:Name>", "<sf:Name>&lol3;</sf:Name>");
    let internal_only = CLOSED_WON.replacen(
        "<soapenv:Envelope",
        "<!DOCTYPE x [<!ENTITY org \"00Dd0000000dtDqEAI\">]>\n<soapenv:Envelope",
        1,
    );
    for body in [external, laughs, internal_only] {
        let err = parse(body.as_bytes()).unwrap_err();
        assert_eq!(fields(&err), [""], "{err}");
        assert!(err.0[0].problem.ends_with("XML with DTD detected"), "{err}");
    }
}

/// Whitespace between tags is not significant in the acknowledgement.
fn squeeze(xml: &str) -> String {
    let mut out = String::new();
    for (i, part) in xml.trim().split('<').enumerate() {
        if i > 0 {
            out.push('<');
        }
        match part.split_once('>') {
            Some((tag, text)) => {
                out.push_str(tag);
                out.push('>');
                if !text.trim().is_empty() {
                    out.push_str(text);
                }
            }
            None => out.push_str(part),
        }
    }
    out
}

#[test]
fn ack_response_has_the_shape_salesforce_expects() {
    assert_eq!(squeeze(&ack_response(true)), squeeze(ACK));
    // And in fact byte for byte.
    assert_eq!(ack_response(true), ACK);
    let nack = ack_response(false);
    assert_eq!(
        squeeze(&nack),
        squeeze(&ACK.replace("<Ack>true</Ack>", "<Ack>false</Ack>"))
    );
}

#[test]
fn ack_response_is_well_formed_xml_in_the_right_namespaces() {
    let xml = ack_response(true);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let ack = doc
        .descendants()
        .find(|n| n.has_tag_name(("http://soap.sforce.com/2005/09/outbound", "Ack")))
        .unwrap();
    assert_eq!(ack.text(), Some("true"));
    assert_eq!(
        ack.parent().unwrap().tag_name().name(),
        "notificationsResponse"
    );
    assert_eq!(
        doc.root_element().tag_name().namespace(),
        Some("http://schemas.xmlsoap.org/soap/envelope/")
    );
}
