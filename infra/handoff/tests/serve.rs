//! `handoff serve` as a user runs it: the real binary on a free loopback port, called over
//! HTTP — a signed webhook converts a deal, a dry billing run is planned and completed by
//! the pumped queue, the journal exports, bad input gets a JSON 4xx.

use handoff_runtime::webhook_auth::{sign_handoff, WebhookSecret};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The local server's CRM webhook secret (printed by `handoff serve`).
const LOCAL_CRM_SECRET: &str = "demo-crm-webhook-secret";

/// Stops the server when the test ends, also on a failed assertion.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> (Server, String) {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../seed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(["serve", "--port", "0", "--seed", seed])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start handoff serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a first line").expect("readable");
    // Keep reading what the server prints: a closed pipe would fail its later lines.
    std::thread::spawn(move || lines.for_each(drop));
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    (Server(child), base)
}

#[tokio::test]
async fn serve_answers_every_route_over_http() {
    let (_server, base) = start();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    // A signed canonical deal → 202 converted.
    let deal = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../seed/deals/acme-website.json"
    ))
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let secret = WebhookSecret::new(LOCAL_CRM_SECRET.to_owned()).unwrap();
    let converted = client
        .post(format!("{base}/webhooks/crm"))
        .header("content-type", "application/json")
        .header(
            "handoff-signature",
            sign_handoff(&secret, now, deal.as_bytes()),
        )
        .body(deal.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(converted.status(), 202);
    let answer: Value = converted.json().await.unwrap();
    assert_eq!(answer["results"][0]["status"], "converted", "{answer}");

    // Unsigned → 401 with a JSON error.
    let unsigned = client
        .post(format!("{base}/webhooks/crm"))
        .body(deal)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    // A dry billing run for today: the converted contract bills on milestone acceptance,
    // so it is due every day; the pumped jobs queue completes the run.
    let today = chrono::Utc::now().date_naive().to_string();
    let planned: Value = client
        .post(format!("{base}/billing-runs"))
        .body(format!(r#"{{"as_of": "{today}", "dry_run": true}}"#))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(planned["contracts_due"], 1, "{planned}");
    let run = planned["run_id"].as_str().unwrap().to_owned();
    let mut report = Value::Null;
    for _ in 0..50 {
        report = client
            .get(format!("{base}/billing-runs/{run}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if report["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(report["jobs"][0]["status"], "dry_run", "{report}");

    // Every problem of a bad body, listed by field.
    let bad = client
        .post(format!("{base}/billing-runs"))
        .body(r#"{"as_of": "someday", "dryrun": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(
        body["error"]["details"].as_array().unwrap().len(),
        2,
        "{body}"
    );

    // The journal exports (the converter posts nothing yet: just the header).
    let csv = client
        .get(format!("{base}/ledger/journal?format=csv&from=2026-01-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv
        .text()
        .await
        .unwrap()
        .starts_with("date,entry,description"));

    let missing = client.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}
