//! The `leadgraph` binary, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn leadgraph(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_leadgraph"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env_remove("LEADGRAPH_ID_ALPHABET")
        .output()
        .expect("run leadgraph")
}

#[test]
fn tenant_create_prints_the_tenant_owner_and_both_keys_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let out = leadgraph(
        &url,
        &[
            "tenant",
            "create",
            "--name",
            "Acme",
            "--plan",
            "pro",
            "--markets",
            "US,IN",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["tenant"]["name"], "Acme");
    assert_eq!(json["tenant"]["id"].as_str().map(str::len), Some(16));
    assert_eq!(json["owner"]["id"].as_str().map(str::len), Some(16));
    assert!(
        json["keys"]["live"]
            .as_str()
            .unwrap()
            .starts_with("lg_live_sk_")
    );
    assert!(
        json["keys"]["sandbox"]
            .as_str()
            .unwrap()
            .starts_with("lg_sandbox_sk_")
    );
}

#[test]
fn tenant_create_refuses_an_unknown_plan() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let out = leadgraph(
        &url,
        &[
            "tenant", "create", "--name", "Acme", "--plan", "platinum", "--json",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("plan must be one of"));
    assert!(out.stdout.is_empty());
}

#[test]
fn migrate_runs_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let out = leadgraph(&url, &["migrate"]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("cli.db").exists());
}
