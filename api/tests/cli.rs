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

/// A `leadgraph serve` child on a free port with a fresh SQLite file, and the
/// full-scope key it printed; killed when dropped. Its logs reach stderr only
/// with `TEST_LOG`.
struct Server {
    child: std::process::Child,
    url: String,
    key: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadgraph"))
            .arg("serve")
            .env("DATABASE_URL", &db)
            .env("LEADGRAPH_BIND", format!("127.0.0.1:{port}"))
            .env_remove("LEADGRAPH_ID_ALPHABET")
            .env_remove("REDIS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start leadgraph serve");
        // The key is printed once on stdout, indented on its own line; the
        // reader keeps draining so the server never writes into a closed pipe.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim().starts_with("lg_live_sk_") {
                    let _ = tx.send(line.trim().to_owned());
                }
            }
        });
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            key: String::new(),
            _dir: dir,
        };
        server.key = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server prints its bootstrap key");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !healthy(port) {
            assert!(
                std::time::Instant::now() < deadline,
                "the server is not healthy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `leadgraph import FILE` against this server.
    fn import(&self, file: &std::path::Path, extra: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_leadgraph"))
            .arg("import")
            .arg(file)
            .args(["--api-url", &self.url, "--api-key", &self.key])
            .args(extra)
            .env_remove("LEADGRAPH_API_URL")
            .env_remove("LEADGRAPH_API_KEY")
            .output()
            .expect("run leadgraph import")
    }

    /// How many leads the server holds (counted through `leadgraph export`).
    fn lead_count(&self) -> usize {
        let out = Command::new(env!("CARGO_BIN_EXE_leadgraph"))
            .args(["export", "--format", "jsonl"])
            .args(["--api-url", &self.url, "--api-key", &self.key])
            .output()
            .expect("run leadgraph export");
        assert!(
            out.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /healthz` answers 200.
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.1 200")
}

const GOOD_ROWS: &str = "\
ada@example.com,Ada,Lovelace,Analytical Engines
grace@example.com,Grace,Hopper,US Navy
alan@example.com,Alan,Turing,Bletchley Park
";

/// A CSV file `name` in `dir` with a header and `rows`.
fn csv_file(dir: &std::path::Path, name: &str, rows: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("email,firstName,lastName,company\n{rows}")).unwrap();
    path
}

fn mixed_rows() -> String {
    // Two bad rows between the good ones: an invalid email, a missing last name.
    let mut good = GOOD_ROWS.lines();
    format!(
        "{}\nnot-an-email,Bad,Email,Nowhere\n{}\nlinus@example.com,Linus,,Kernel\n{}\n",
        good.next().unwrap(),
        good.next().unwrap(),
        good.next().unwrap()
    )
}

#[test]
fn import_reports_failed_rows_and_writes_them_to_an_errors_file() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = csv_file(dir.path(), "leads.csv", &mixed_rows());

    let out = server.import(&file, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("COMPLETED: 5 rows, 3 created, 0 updated, 0 skipped, 2 failed"),
        "stdout: {stdout}"
    );
    let errors = dir.path().join("leads.csv.errors.csv");
    assert!(
        stdout.contains(&format!("failed rows written to {}", errors.display())),
        "stdout: {stdout}"
    );

    let mut reader = csv::Reader::from_path(&errors).expect("the errors file exists");
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        ["email", "firstName", "lastName", "company", "errors"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][0], "not-an-email");
    assert_eq!(&rows[1][0], "linus@example.com");
    assert!(rows.iter().all(|r| !r[4].trim().is_empty()));
    assert_eq!(server.lead_count(), 3);
}

#[test]
fn a_clean_import_exits_zero_and_writes_no_errors_file() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = csv_file(dir.path(), "clean.csv", GOOD_ROWS);

    let out = server.import(&file, &["--on-duplicate", "skip"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("COMPLETED: 3 rows, 3 created, 0 updated, 0 skipped, 0 failed"),
        "stdout: {stdout}"
    );
    assert!(!stdout.contains("failed rows written"));
    assert!(!dir.path().join("clean.csv.errors.csv").exists());
    assert_eq!(server.lead_count(), 3);
}

#[test]
fn a_dry_run_import_counts_rows_but_creates_nothing() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();

    let clean = csv_file(dir.path(), "clean.csv", GOOD_ROWS);
    let out = server.import(&clean, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("COMPLETED: 3 rows, 3 created, 0 updated, 0 skipped, 0 failed (dry run)"),
        "stdout: {stdout}"
    );

    let mixed = csv_file(dir.path(), "mixed.csv", &mixed_rows());
    let out = server.import(&mixed, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}");
    assert!(stdout.contains("2 failed (dry run)"), "stdout: {stdout}");

    assert_eq!(server.lead_count(), 0);
}

#[test]
fn an_import_with_a_bad_api_key_fails_with_the_servers_message() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = csv_file(dir.path(), "leads.csv", GOOD_ROWS);

    let out = Command::new(env!("CARGO_BIN_EXE_leadgraph"))
        .arg("import")
        .arg(&file)
        .args([
            "--api-url",
            &server.url,
            "--api-key",
            "lg_live_sk_not_a_real_key",
        ])
        .env_remove("LEADGRAPH_API_URL")
        .env_remove("LEADGRAPH_API_KEY")
        .output()
        .expect("run leadgraph import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("401"), "stderr: {stderr}");
    assert!(stderr.contains("API key"), "stderr: {stderr}");
    assert!(out.stdout.is_empty());
    assert!(!dir.path().join("leads.csv.errors.csv").exists());
    assert_eq!(server.lead_count(), 0);
}
