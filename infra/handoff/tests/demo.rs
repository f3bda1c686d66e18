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
    std::fs::remove_dir_all(&out).ok();
}
