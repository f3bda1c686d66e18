//! The README's main command, run as a user runs it: the real binary, the real seed.

use std::process::Command;

#[test]
fn demo_converts_every_sample_once_and_writes_artifacts() {
    let out = std::env::temp_dir().join(format!("handoff-demo-{}", std::process::id()));
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../seed");
    let output = Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(["demo", "--seed", seed, "--out"])
        .arg(&out)
        .output()
        .expect("run handoff demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("4 ProjectConverted event(s) for 4 project(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("change_requested"),
        "the amended deal raises a change request: {stdout}"
    );
    assert!(
        stdout.contains("forged signature         -> 401"),
        "{stdout}"
    );
    assert!(
        stdout.contains("scope clarity 10/100"),
        "the deal with gaps is scored low: {stdout}"
    );
    let projects = std::fs::read_dir(out.join("projects"))
        .expect("projects folder")
        .count();
    assert_eq!(projects, 4);
    assert_eq!(
        std::fs::read_dir(out.join("staffing"))
            .expect("staffing folder")
            .count(),
        4
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.as_array().unwrap().len(), 4);
    // Billing: the schedule's run, finance's approval, the retainer blocked, a credit note.
    for expected in [
        "Globex data platform         issued             INV-2026-000001",
        "POST /invoices/{id}/issue -> INV-2026-000002",
        "Initech support retainer     failed             the customer has no tax jurisdiction",
        "tax S 7.25% on 14532.55 USD                                 1053.61 USD",
        "total                                                      15586.16 USD",
        "CN-2026-000001 credits INV-2026-000001: net 14070.00 USD + tax 1020.08 USD = 15090.08 USD",
        "-> 400 validation_failed: line 0 was already credited by CN-2026-000001",
        "accounting-outbox: 3 event(s): InvoiceIssued, InvoiceIssued, CreditNoteIssued",
        "accounts receivable 11165.83 = Σ open invoices 11165.83 (agree)",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in: {stdout}"
        );
    }
    for file in [
        "invoices/INV-2026-000001.json",
        "invoices/INV-2026-000001.xml",
        "invoices/INV-2026-000002.xml",
        "invoices/CN-2026-000001.json",
        "invoices/CN-2026-000001.xml",
        "journal.hledger",
        "journal.csv",
        "journal.json",
    ] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    let invoice: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("invoices/INV-2026-000001.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(invoice["status"], "partly_credited");
    assert_eq!(invoice["open_amount"]["amount"], "496.08");
    assert_eq!(invoice["lines"][0]["annex"].as_array().unwrap().len(), 13);
    // The UBL credit note names the invoice it credits, and its buyer by e-mail address.
    let credit_note = std::fs::read_to_string(out.join("invoices/CN-2026-000001.xml")).unwrap();
    assert!(credit_note.contains("<CreditNote "), "{credit_note}");
    assert!(
        credit_note.contains("<cac:InvoiceDocumentReference><cbc:ID>INV-2026-000001</cbc:ID>"),
        "{credit_note}"
    );
    assert!(
        credit_note.contains("<cbc:EndpointID schemeID=\"EM\">"),
        "{credit_note}"
    );
    hledger_accepts(&out.join("journal.hledger"));
    std::fs::remove_dir_all(&out).ok();
}

/// `hledger -f DIR/journal.hledger check` succeeds and the balance of all accounts is zero.
/// Runs when hledger is installed; the test command installs it and sets
/// HANDOFF_REQUIRE_HLEDGER=1, so there a missing hledger fails instead of skipping.
fn hledger_accepts(journal: &std::path::Path) {
    if Command::new("hledger").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("HANDOFF_REQUIRE_HLEDGER").is_none(),
            "HANDOFF_REQUIRE_HLEDGER is set but hledger is not installed (apt-get install hledger)"
        );
        eprintln!("hledger is not installed: skipping the hledger check of the demo journal");
        return;
    }
    let check = Command::new("hledger")
        .arg("-f")
        .arg(journal)
        .arg("check")
        .output()
        .expect("run hledger check");
    assert!(
        check.status.success(),
        "hledger check: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let balance = Command::new("hledger")
        .arg("-f")
        .arg(journal)
        .args(["balance", "--no-elide", "-O", "csv"])
        .output()
        .expect("run hledger balance");
    let text = String::from_utf8_lossy(&balance.stdout);
    let total = text.lines().last().unwrap_or_default();
    assert!(
        total == "\"total\",\"0\"",
        "the trial balance is zero: {text}"
    );
}
