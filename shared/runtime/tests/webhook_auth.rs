//! Webhook authentication through the public API: the generic `Handoff-Signature`,
//! HubSpot v3, HTTP Basic (Pipedrive) and Salesforce outbound messages.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use handoff_runtime::error::Failure;
use handoff_runtime::webhook_auth::*;
use proptest::prelude::*;

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::new(s).unwrap()
}

const NOW: i64 = 1_764_158_400; // 2025-11-26T12:00:00Z
const BODY: &[u8] = br#"{"crm":{"system":"generic","deal_id":"D-1"}}"#;

fn verify(header: &str, body: &[u8], secrets: &[WebhookSecret], now: i64) -> Result<(), AuthError> {
    verify_handoff_signature(Some(header), body, secrets, now)
}

fn malformed(result: Result<(), AuthError>) -> bool {
    matches!(result, Err(AuthError::Malformed(_)))
}

// ---------------------------------------------------------------------------------------
// WebhookSecret and AuthError
// ---------------------------------------------------------------------------------------

#[test]
fn secrets_never_print_and_cannot_be_empty() {
    let s = secret("super-secret-value");
    assert_eq!(
        format!("{s:?} {s} {s:#?}"),
        "[redacted] [redacted] [redacted]"
    );
    let in_struct = format!("{:?}", Some(vec![s.clone()]));
    assert!(!in_struct.contains("super"), "{in_struct}");
    assert_eq!(s.expose(), "super-secret-value");
    assert!(WebhookSecret::new(String::new()).is_err());
    assert_eq!(s, secret("super-secret-value"));
    assert_ne!(s, secret("super-secret-valuE"));
    assert_ne!(s, secret("super"));
}

#[test]
fn auth_errors_are_401_unauthorized_and_not_retryable() {
    for e in [
        AuthError::Missing("Handoff-Signature header"),
        AuthError::Malformed("Handoff-Signature t"),
        AuthError::Stale,
        AuthError::FromTheFuture,
        AuthError::Mismatch,
    ] {
        assert_eq!(e.http_status(), 401);
        assert_eq!(e.code(), "unauthorized");
        assert!(!e.is_retryable());
    }
    assert_eq!(
        AuthError::Missing("Handoff-Signature header").to_string(),
        "missing Handoff-Signature header"
    );
    assert!(AuthError::Stale.to_string().contains("stale timestamp"));
}

#[test]
fn error_messages_carry_no_secret_or_signature() {
    let key = secret("the-secret-0001");
    let header = sign_handoff(&key, NOW, BODY);
    let mac = header.split("v1=").nth(1).unwrap().to_owned();
    let errors = [
        verify(&header, b"{}", std::slice::from_ref(&key), NOW),
        verify(&header, BODY, std::slice::from_ref(&key), NOW + 1000),
        verify(
            &format!("t={NOW},v1={}", &mac[..10]),
            BODY,
            std::slice::from_ref(&key),
            NOW,
        ),
        verify_basic(Some("Basic dXNlcjp3cm9uZw=="), "user", &key),
        verify_salesforce("00Dd0000000dtDq", "00Dd0000000dtDX", Some("nope"), &key),
    ];
    for e in errors {
        let text = e.unwrap_err().to_string();
        assert!(
            !text.contains("the-secret") && !text.contains(&mac[..10]),
            "{text}"
        );
        assert!(!text.contains("00Dd0000000dtD"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Generic Handoff-Signature
// ---------------------------------------------------------------------------------------

/// Known answer computed independently with python3:
/// `hmac.new(b"whsec_test_0001", b'1764158400.{"crm":{"system":"generic","deal_id":"D-1"}}', hashlib.sha256).hexdigest()`
#[test]
fn handoff_signature_known_answer() {
    let header = sign_handoff(&secret("whsec_test_0001"), NOW, BODY);
    assert_eq!(
        header,
        "t=1764158400,v1=e93f24d4cc40ce4d89cbe544e9d55fb1b673880004ae864f9d7b9844c4478993"
    );
}

#[test]
fn handoff_signature_valid_passes_within_tolerance_both_ways() {
    let key = secret("the-secret-0001");
    let header = sign_handoff(&key, NOW, BODY);
    let keys = [key];
    assert_eq!(verify(&header, BODY, &keys, NOW), Ok(()));
    assert_eq!(
        verify(&header, BODY, &keys, NOW + HANDOFF_SIGNATURE_TOLERANCE_S),
        Ok(())
    );
    assert_eq!(
        verify(&header, BODY, &keys, NOW - HANDOFF_SIGNATURE_TOLERANCE_S),
        Ok(())
    );
    let upper = header.replace(
        header.split("v1=").nth(1).unwrap(),
        &header.split("v1=").nth(1).unwrap().to_uppercase(),
    );
    assert_eq!(
        verify(&upper, BODY, &keys, NOW),
        Ok(()),
        "hex in either case"
    );
    assert_eq!(verify(&header, b"", &keys, NOW), Err(AuthError::Mismatch));
}

#[test]
fn handoff_signature_rejects_a_tampered_body() {
    let key = secret("the-secret-0001");
    let header = sign_handoff(&key, NOW, BODY);
    let tampered = br#"{"crm":{"system":"generic","deal_id":"D-2"}}"#;
    assert_eq!(
        verify(&header, tampered, std::slice::from_ref(&key), NOW),
        Err(AuthError::Mismatch)
    );
    let mut extended = BODY.to_vec();
    extended.push(b'\n');
    assert_eq!(
        verify(&header, &extended, &[key], NOW),
        Err(AuthError::Mismatch)
    );
}

#[test]
fn handoff_signature_rejects_a_wrong_secret_and_no_secrets() {
    let header = sign_handoff(&secret("the-secret-0001"), NOW, BODY);
    assert_eq!(
        verify(&header, BODY, &[secret("the-secret-0002")], NOW),
        Err(AuthError::Mismatch)
    );
    assert_eq!(verify(&header, BODY, &[], NOW), Err(AuthError::Mismatch));
}

#[test]
fn handoff_signature_covers_the_timestamp() {
    let key = secret("the-secret-0001");
    let header = sign_handoff(&key, NOW, BODY);
    let moved = header.replacen(&format!("t={NOW}"), &format!("t={}", NOW + 1), 1);
    assert_eq!(
        verify(&moved, BODY, std::slice::from_ref(&key), NOW),
        Err(AuthError::Mismatch)
    );
    let padded = header.replacen(&format!("t={NOW}"), &format!("t=0{NOW}"), 1);
    assert_eq!(
        verify(&padded, BODY, &[key], NOW),
        Err(AuthError::Mismatch),
        "signed as text"
    );
}

#[test]
fn handoff_signature_rejects_a_stale_timestamp() {
    let key = secret("the-secret-0001");
    let header = sign_handoff(&key, NOW - HANDOFF_SIGNATURE_TOLERANCE_S - 1, BODY);
    assert_eq!(
        verify(&header, BODY, std::slice::from_ref(&key), NOW),
        Err(AuthError::Stale)
    );
    let ancient = sign_handoff(&key, 0, BODY);
    assert_eq!(verify(&ancient, BODY, &[key], NOW), Err(AuthError::Stale));
}

#[test]
fn handoff_signature_rejects_a_future_timestamp() {
    let key = secret("the-secret-0001");
    let header = sign_handoff(&key, NOW + HANDOFF_SIGNATURE_TOLERANCE_S + 1, BODY);
    assert_eq!(
        verify(&header, BODY, std::slice::from_ref(&key), NOW),
        Err(AuthError::FromTheFuture)
    );
    let far = format!("t={},v1={}", i64::MAX, "0".repeat(64));
    assert_eq!(
        verify(&far, BODY, &[key], NOW),
        Err(AuthError::FromTheFuture)
    );
}

#[test]
fn handoff_signature_missing_header() {
    assert_eq!(
        verify_handoff_signature(None, BODY, &[secret("k")], NOW),
        Err(AuthError::Missing("Handoff-Signature header"))
    );
}

#[test]
fn handoff_signature_rejects_malformed_headers() {
    let key = [secret("the-secret-0001")];
    let mac = "a".repeat(64);
    for bad in [
        String::new(),
        " , ".to_owned(),
        "garbage".to_owned(),
        format!("v1={mac}"),          // no t
        format!("t={NOW}"),           // no v1
        format!("t=now,v1={mac}"),    // non-numeric t
        format!("t=-{NOW},v1={mac}"), // signed t
        format!("t=+{NOW},v1={mac}"),
        format!("t=1.5,v1={mac}"),
        format!("t=99999999999999999999,v1={mac}"), // overflows i64
        format!("t=,v1={mac}"),
        format!("t={NOW},t={NOW},v1={mac}"),      // repeated t
        format!("t={NOW},v1={}", "z".repeat(64)), // bad hex
        format!("t={NOW},v1={}", &mac[..63]),     // odd length
        format!("t={NOW},v1={}", &mac[..62]),     // too short
        format!("t={NOW},v1={mac}00"),            // too long
        format!("t={NOW},v1="),
        format!("t={NOW},v1={mac},junk"),
    ] {
        assert!(malformed(verify(&bad, BODY, &key, NOW)), "{bad:?}");
    }
}

#[test]
fn handoff_signature_bounds_the_header() {
    let key = secret("the-secret-0001");
    let header = sign_handoff(&key, NOW, BODY);
    let padding = SIGNATURE_HEADER_BYTES_MAX - header.len() - ",x=".len();
    let at_limit = format!("{header},x={}", "a".repeat(padding));
    assert_eq!(at_limit.len(), SIGNATURE_HEADER_BYTES_MAX);
    assert_eq!(
        verify(&at_limit, BODY, std::slice::from_ref(&key), NOW),
        Ok(())
    );
    let over = format!("{at_limit}a");
    assert!(malformed(verify(
        &over,
        BODY,
        std::slice::from_ref(&key),
        NOW
    )));

    let wrong = format!(",v1={}", "0".repeat(64));
    let eight = format!("{header}{}", wrong.repeat(SIGNATURES_PER_HEADER_MAX - 1));
    assert_eq!(
        verify(&eight, BODY, std::slice::from_ref(&key), NOW),
        Ok(())
    );
    let nine = format!("{eight}{wrong}");
    assert!(malformed(verify(&nine, BODY, &[key], NOW)));
}

#[test]
fn handoff_signature_tolerates_whitespace_and_unknown_parts() {
    let key = secret("the-secret-0001");
    let header = sign_handoff(&key, NOW, BODY);
    let spaced = format!("  {} ", header.replace(',', " ,\t").replace('=', " = "));
    assert_eq!(
        verify(&spaced, BODY, std::slice::from_ref(&key), NOW),
        Ok(())
    );
    let extended = format!("v0=abc,{header},v2=future-scheme,x=,trailing=1,");
    assert_eq!(verify(&extended, BODY, &[key], NOW), Ok(()));
}

#[test]
fn handoff_signature_rotation_accepts_old_and_new_secrets() {
    let (old, new) = (secret("old-secret-0001"), secret("new-secret-0002"));
    let both = [old.clone(), new.clone()];
    assert_eq!(
        verify(&sign_handoff(&old, NOW, BODY), BODY, &both, NOW),
        Ok(())
    );
    assert_eq!(
        verify(&sign_handoff(&new, NOW, BODY), BODY, &both, NOW),
        Ok(())
    );
    // After the old secret is retired, its signatures fail.
    assert_eq!(
        verify(&sign_handoff(&old, NOW, BODY), BODY, &[new], NOW),
        Err(AuthError::Mismatch)
    );
}

#[test]
fn handoff_signature_rotation_accepts_any_of_several_v1_values() {
    let (old, new) = (secret("old-secret-0001"), secret("new-secret-0002"));
    let by_old = sign_handoff(&old, NOW, BODY);
    let by_new = sign_handoff(&new, NOW, BODY);
    let v1_new = by_new.split("v1=").nth(1).unwrap();
    let two = format!("{by_old},v1={v1_new}");
    assert_eq!(verify(&two, BODY, std::slice::from_ref(&old), NOW), Ok(()));
    assert_eq!(verify(&two, BODY, std::slice::from_ref(&new), NOW), Ok(()));
    assert_eq!(
        verify(&two, BODY, &[secret("third-secret")], NOW),
        Err(AuthError::Mismatch)
    );
    // Two signatures by one sender for the same t, in either order.
    let reversed = format!(
        "t={NOW},v1={v1_new},v1={}",
        by_old.split("v1=").nth(1).unwrap()
    );
    assert_eq!(verify(&reversed, BODY, &[old], NOW), Ok(()));
}

// ---------------------------------------------------------------------------------------
// HubSpot v3
// ---------------------------------------------------------------------------------------

const HS_SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
const HS_TS: &str = "1764158400123";
const HS_NOW: i64 = 1_764_158_400_123;
const HS_URI: &str =
    "https://handoff.example.com/webhooks/hubspot?note=a%20b&at=12%3a30&list=x%2Cy";
const HS_BODY: &[u8] = br#"[{"objectId":1246965,"subscriptionType":"deal.propertyChange","propertyName":"dealstage","propertyValue":"closedwon","occurredAt":1764158399000}]"#;

fn hubspot(
    method: &str,
    uri: &str,
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    now: i64,
) -> Result<(), AuthError> {
    verify_hubspot_v3(
        method,
        uri,
        body,
        signature,
        timestamp,
        &secret(HS_SECRET),
        now,
    )
}

/// Known answers computed independently with python3's hmac/hashlib/base64:
/// `base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest())` where msg is the
/// method + the URI with `%3a` and `%2C` decoded (`%20` kept) + body + timestamp, i.e.
/// `b"POSThttps://handoff.example.com/webhooks/hubspot?note=a%20b&at=12:30&list=x,y" + body + b"1764158400123"`,
/// and `b"POSThttps://hooks.example.com/webhooks/hubspot?portal=33&x=a:b/c" + b"[]" + b"1764158400000"`
/// keyed with `b"hubspot-secret"`.
#[test]
fn hubspot_v3_known_answers() {
    let expected = "1inZxKwrG05iuNZeVzC3w5y0OBCknMSc3SaCE8C4U8c=";
    assert_eq!(
        sign_hubspot_v3("POST", HS_URI, HS_BODY, HS_TS, &secret(HS_SECRET)),
        expected
    );
    assert_eq!(
        hubspot("POST", HS_URI, HS_BODY, Some(expected), Some(HS_TS), HS_NOW),
        Ok(())
    );

    let uri = "https://hooks.example.com/webhooks/hubspot?portal=33&x=a%3Ab%2Fc";
    let key = secret("hubspot-secret");
    let expected = "bQQ9JWNgqX1jHywDVN6Adcrd/R7TJTISS5GPyiZSnww=";
    assert_eq!(
        sign_hubspot_v3("POST", uri, b"[]", "1764158400000", &key),
        expected
    );
    assert_eq!(
        verify_hubspot_v3(
            "POST",
            uri,
            b"[]",
            Some(expected),
            Some("1764158400000"),
            &key,
            1_764_158_400_000
        ),
        Ok(())
    );
}

#[test]
fn hubspot_v3_signs_listed_escapes_decoded_and_others_encoded() {
    let key = secret(HS_SECRET);
    let sign = |uri: &str| sign_hubspot_v3("POST", uri, b"[]", HS_TS, &key);
    // %3A and %2F are signed decoded: the encoded and decoded forms sign the same.
    assert_eq!(
        sign("https://h.example.com/hook?next=https%3A%2F%2Fx.example.com%2Fa"),
        sign("https://h.example.com/hook?next=https://x.example.com/a")
    );
    assert_eq!(
        sign("https://h.example.com/hook?a=%3a%2f"),
        sign("https://h.example.com/hook?a=:/")
    );
    // %20 stays encoded: it does not sign like a space or a '+'.
    let encoded = sign("https://h.example.com/hook?q=a%20b");
    assert_ne!(encoded, sign("https://h.example.com/hook?q=a b"));
    assert_ne!(encoded, sign("https://h.example.com/hook?q=a+b"));
    // A sender that decoded everything would not match.
    assert_ne!(
        sign("https://h.example.com/hook?q=%25"),
        sign("https://h.example.com/hook?q=%")
    );
}

#[test]
fn hubspot_v3_rejects_tampering() {
    let sig = sign_hubspot_v3("POST", HS_URI, HS_BODY, HS_TS, &secret(HS_SECRET));
    let check = |m: &str, u: &str, b: &[u8]| hubspot(m, u, b, Some(&sig), Some(HS_TS), HS_NOW);
    assert_eq!(check("POST", HS_URI, HS_BODY), Ok(()));
    assert_eq!(
        check("POST", HS_URI, b"[]"),
        Err(AuthError::Mismatch),
        "body"
    );
    assert_eq!(
        check("PUT", HS_URI, HS_BODY),
        Err(AuthError::Mismatch),
        "method"
    );
    assert_eq!(
        check("post", HS_URI, HS_BODY),
        Err(AuthError::Mismatch),
        "method case"
    );
    for uri in [
        "https://evil.example.com/webhooks/hubspot?note=a%20b&at=12%3a30&list=x%2Cy",
        "http://handoff.example.com/webhooks/hubspot?note=a%20b&at=12%3a30&list=x%2Cy",
        "https://handoff.example.com/webhooks/hubspot?note=a%20c&at=12%3a30&list=x%2Cy",
        "https://handoff.example.com/webhooks/hubspot?note=a b&at=12:30&list=x,y",
        "/webhooks/hubspot?note=a%20b&at=12%3a30&list=x%2Cy",
    ] {
        assert_eq!(
            check("POST", uri, HS_BODY),
            Err(AuthError::Mismatch),
            "{uri}"
        );
    }
    let other_ts = "1764158400124";
    assert_eq!(
        hubspot("POST", HS_URI, HS_BODY, Some(&sig), Some(other_ts), HS_NOW),
        Err(AuthError::Mismatch),
        "timestamp is signed"
    );
    assert_eq!(
        verify_hubspot_v3(
            "POST",
            HS_URI,
            HS_BODY,
            Some(&sig),
            Some(HS_TS),
            &secret("wrong"),
            HS_NOW
        ),
        Err(AuthError::Mismatch)
    );
}

#[test]
fn hubspot_v3_rejects_stale_and_future_timestamps() {
    let sig = sign_hubspot_v3("POST", HS_URI, HS_BODY, HS_TS, &secret(HS_SECRET));
    let at = |now: i64| hubspot("POST", HS_URI, HS_BODY, Some(&sig), Some(HS_TS), now);
    assert_eq!(at(HS_NOW + HUBSPOT_TIMESTAMP_TOLERANCE_MS), Ok(()));
    assert_eq!(at(HS_NOW - HUBSPOT_TIMESTAMP_TOLERANCE_MS), Ok(()));
    assert_eq!(
        at(HS_NOW + HUBSPOT_TIMESTAMP_TOLERANCE_MS + 1),
        Err(AuthError::Stale)
    );
    assert_eq!(
        at(HS_NOW - HUBSPOT_TIMESTAMP_TOLERANCE_MS - 1),
        Err(AuthError::FromTheFuture)
    );
    // A timestamp in seconds instead of milliseconds is ~55 years stale.
    assert_eq!(
        hubspot(
            "POST",
            HS_URI,
            HS_BODY,
            Some(&sig),
            Some("1764158400"),
            HS_NOW
        ),
        Err(AuthError::Stale)
    );
}

#[test]
fn hubspot_v3_missing_headers_are_named() {
    let sig = sign_hubspot_v3("POST", HS_URI, HS_BODY, HS_TS, &secret(HS_SECRET));
    assert_eq!(
        hubspot("POST", HS_URI, HS_BODY, None, Some(HS_TS), HS_NOW),
        Err(AuthError::Missing("X-HubSpot-Signature-v3 header"))
    );
    assert_eq!(
        hubspot("POST", HS_URI, HS_BODY, Some(&sig), None, HS_NOW),
        Err(AuthError::Missing("X-HubSpot-Request-Timestamp header"))
    );
    let text = AuthError::Missing("X-HubSpot-Request-Timestamp header").to_string();
    assert!(text.contains("X-HubSpot-Request-Timestamp"));
}

#[test]
fn hubspot_v3_rejects_malformed_headers() {
    let sig = sign_hubspot_v3("POST", HS_URI, HS_BODY, HS_TS, &secret(HS_SECRET));
    let check = |s: &str, t: &str| hubspot("POST", HS_URI, HS_BODY, Some(s), Some(t), HS_NOW);
    assert!(malformed(check("***", HS_TS)));
    assert!(
        malformed(check(&sig.replace('=', ""), HS_TS)),
        "padding required"
    );
    assert!(malformed(check(
        &"A".repeat(SIGNATURE_HEADER_BYTES_MAX + 4),
        HS_TS
    )));
    for ts in [
        "",
        "soon",
        "-1764158400123",
        "1764158400.123",
        "99999999999999999999",
    ] {
        assert!(malformed(check(&sig, ts)), "{ts:?}");
    }
    // Well-formed base64 of the wrong length is simply a mismatch.
    assert_eq!(check("AAAA", HS_TS), Err(AuthError::Mismatch));
    // Surrounding whitespace (as a proxy may leave it) is tolerated.
    assert_eq!(check(&format!(" {sig} "), &format!(" {HS_TS} ")), Ok(()));
}

// ---------------------------------------------------------------------------------------
// HTTP Basic (Pipedrive)
// ---------------------------------------------------------------------------------------

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
}

#[test]
fn basic_accepts_the_right_credentials() {
    let password = secret("s3cret:pass");
    assert_eq!(
        verify_basic(Some(&basic("handoff", "s3cret:pass")), "handoff", &password),
        Ok(())
    );
    let lower = basic("handoff", "s3cret:pass").replace("Basic", "bAsIc");
    assert_eq!(
        verify_basic(Some(&lower), "handoff", &password),
        Ok(()),
        "scheme any case"
    );
    // Known answer from RFC 7617 §2.
    assert_eq!(
        verify_basic(
            Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            "Aladdin",
            &secret("open sesame")
        ),
        Ok(())
    );
}

#[test]
fn basic_rejects_a_wrong_password() {
    let password = secret("s3cret-pass");
    for wrong in ["wrong", "s3cret-pas", "s3cret-pass2", "S3CRET-PASS", ""] {
        assert_eq!(
            verify_basic(Some(&basic("handoff", wrong)), "handoff", &password),
            Err(AuthError::Mismatch),
            "{wrong:?}"
        );
    }
}

#[test]
fn basic_rejects_a_wrong_user() {
    let password = secret("s3cret-pass");
    for user in ["someone", "Handoff", "handof", ""] {
        assert_eq!(
            verify_basic(Some(&basic(user, "s3cret-pass")), "handoff", &password),
            Err(AuthError::Mismatch),
            "{user:?}"
        );
    }
    assert_eq!(
        verify_basic(Some(&basic("x", "y")), "handoff", &password),
        Err(AuthError::Mismatch),
        "both wrong"
    );
}

#[test]
fn basic_rejects_other_schemes_and_bad_base64() {
    let password = secret("s3cret-pass");
    let check = |h: &str| verify_basic(Some(h), "handoff", &password);
    assert!(malformed(check("Bearer aGFuZG9mZjpzM2NyZXQtcGFzcw==")));
    assert!(malformed(check("Basic")));
    assert!(malformed(check("aGFuZG9mZjpzM2NyZXQtcGFzcw==")));
    assert!(malformed(check("Basic !!!")));
    assert!(
        malformed(check("Basic aGFuZG9mZjpzM2NyZXQtcGFzcw")),
        "unpadded"
    );
    assert!(malformed(check(&format!(
        "Basic {}",
        BASE64.encode("no-colon")
    ))));
    assert!(malformed(check(&format!(
        "Basic {}",
        "A".repeat(SIGNATURE_HEADER_BYTES_MAX)
    ))));
    assert_eq!(
        verify_basic(None, "handoff", &password),
        Err(AuthError::Missing("Authorization header"))
    );
}

// ---------------------------------------------------------------------------------------
// Salesforce outbound messages
// ---------------------------------------------------------------------------------------

const ORG_18: &str = "00Dd0000000dtDqEAI"; // from the outbound message fixture
const ORG_15: &str = "00Dd0000000dtDq";
const TOKEN: &str = "path-token-0123456789";

fn salesforce(org: &str, expected: &str) -> Result<(), AuthError> {
    verify_salesforce(org, expected, Some(TOKEN), &secret(TOKEN))
}

#[test]
fn salesforce_accepts_15_and_18_character_forms_both_ways() {
    assert_eq!(salesforce(ORG_18, ORG_18), Ok(()));
    assert_eq!(salesforce(ORG_15, ORG_15), Ok(()));
    assert_eq!(salesforce(ORG_18, ORG_15), Ok(()));
    assert_eq!(salesforce(ORG_15, ORG_18), Ok(()));
    assert_eq!(
        salesforce("00Dd0000000dtDqeai", ORG_18),
        Ok(()),
        "suffix any case"
    );
    assert_eq!(salesforce(ORG_18, "00Dd0000000dtDqeAi"), Ok(()));
}

#[test]
fn salesforce_rejects_another_org() {
    // The first 15 characters are case-sensitive: these are different orgs.
    assert_eq!(
        salesforce("00Dd0000000dtDQ", ORG_15),
        Err(AuthError::Mismatch)
    );
    assert_eq!(
        salesforce("00Dd0000000DTDq", ORG_18),
        Err(AuthError::Mismatch)
    );
    assert_eq!(
        salesforce("00Dd0000000dtDr", ORG_15),
        Err(AuthError::Mismatch)
    );
    assert_eq!(
        salesforce("00Dd0000000dtDrEAI", ORG_18),
        Err(AuthError::Mismatch)
    );
    assert_eq!(
        salesforce("001D000000IqhSLIAZ", ORG_18),
        Err(AuthError::Mismatch)
    );
}

#[test]
fn salesforce_rejects_malformed_org_ids() {
    for bad in [
        "",
        "00Dd",
        "00Dd0000000dtD",      // 14
        "00Dd0000000dtDqE",    // 16
        "00Dd0000000dtDqEA",   // 17
        "00Dd0000000dtDqEAIX", // 19
        "00Dd0000000dtDqAAA",  // wrong checksum
        "00Dd0000000dt-q",     // not alphanumeric
        "00Dd0000000dtDé",     // 15 bytes, not ASCII
        "00Dd0000000dtDqEé",   // 18 bytes, not ASCII
        "00Dd0000000dtD\u{e9}AI",
    ] {
        assert!(malformed(salesforce(bad, ORG_18)), "{bad:?}");
    }
    assert!(
        malformed(salesforce(ORG_18, "not-an-org-id")),
        "misconfigured expectation"
    );
}

#[test]
fn salesforce_rejects_a_wrong_token() {
    let token = secret(TOKEN);
    for wrong in [
        "nope",
        "path-token-012345678",
        "path-token-01234567890",
        "PATH-TOKEN-0123456789",
        "",
    ] {
        assert_eq!(
            verify_salesforce(ORG_18, ORG_18, Some(wrong), &token),
            Err(AuthError::Mismatch),
            "{wrong:?}"
        );
    }
}

#[test]
fn salesforce_rejects_a_missing_token() {
    assert_eq!(
        verify_salesforce(ORG_18, ORG_18, None, &secret(TOKEN)),
        Err(AuthError::Missing("path token"))
    );
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn any_single_byte_change_to_the_body_fails(
        body in prop::collection::vec(any::<u8>(), 1..512),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        t_offset in -HANDOFF_SIGNATURE_TOLERANCE_S..=HANDOFF_SIGNATURE_TOLERANCE_S,
    ) {
        let key = secret("prop-secret");
        let header = sign_handoff(&key, NOW + t_offset, &body);
        let keys = std::slice::from_ref(&key);
        prop_assert_eq!(verify(&header, &body, keys, NOW), Ok(()));
        let mut tampered = body.clone();
        tampered[index.index(body.len())] ^= flip;
        prop_assert_eq!(verify(&header, &tampered, keys, NOW), Err(AuthError::Mismatch));
    }

    #[test]
    fn any_single_byte_change_to_a_hubspot_body_fails(
        body in prop::collection::vec(any::<u8>(), 1..512),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let sig = sign_hubspot_v3("POST", HS_URI, &body, HS_TS, &secret(HS_SECRET));
        prop_assert_eq!(hubspot("POST", HS_URI, &body, Some(&sig), Some(HS_TS), HS_NOW), Ok(()));
        let mut tampered = body.clone();
        tampered[index.index(body.len())] ^= flip;
        prop_assert_eq!(
            hubspot("POST", HS_URI, &tampered, Some(&sig), Some(HS_TS), HS_NOW),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn arbitrary_headers_never_panic(header in ".{0,300}", body in prop::collection::vec(any::<u8>(), 0..64)) {
        let key = secret("prop-secret");
        prop_assert!(verify(&header, &body, std::slice::from_ref(&key), NOW).is_err());
        prop_assert!(hubspot("POST", &header, &body, Some(&header), Some(&header), HS_NOW).is_err());
        prop_assert!(verify_basic(Some(&header), "u", &key).is_err());
        let _ = verify_salesforce(&header, ORG_18, Some(&header), &key);
    }
}
