//! Both verifiers against the fixture bundles (`tests/fixtures/bundles`, written by the core's
//! own tests): each says what the manifest expects, and they name the very same failures.
//! The Python one (`tools/verify_bundle.py`) needs python3 with `cryptography`; without it this
//! test fails under CI and only checks the Rust verifier elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use holdpoint_core::audit::checkpoint::Jwks;
use holdpoint_core::evidence::verify_bundle_text;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    bundle: String,
    keys: String,
    expect: Option<String>,
    /// Refused unread (the Rust verifier's `Err`, the Python one's exit code 2), with `expect`
    /// in the message.
    #[serde(default)]
    refused: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundles")
}

fn read<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn python_ready() -> bool {
    let ready = Command::new(python_bin())
        .args(["-c", "import cryptography.hazmat.primitives.asymmetric.ec"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with the `cryptography` package is needed to check tools/verify_bundle.py"
        );
        eprintln!("python3 with `cryptography` missing: only the Rust verifier is checked");
    }
    ready
}

#[test]
fn both_verifiers_say_what_the_manifest_expects_and_name_the_same_failures() {
    let cases: Vec<Case> = read("manifest.json");
    assert!(cases.len() >= 10, "the manifest lists every fixture");
    let python = python_ready();
    for case in cases {
        let text = std::fs::read_to_string(fixtures().join(&case.bundle)).unwrap();
        let keys: Jwks = read(&case.keys);
        let name = format!("{} with {}", case.bundle, case.keys);
        if case.refused {
            refused_by_both(&case, &text, &keys, python);
            continue;
        }
        let report = verify_bundle_text(&text, &keys).unwrap();
        let rust: Vec<String> = report.failures.iter().map(|f| f.to_string()).collect();
        match &case.expect {
            None => assert!(rust.is_empty(), "{name}: {rust:?}"),
            Some(e) => assert!(rust.iter().any(|f| f.contains(e)), "{name}: {rust:?}"),
        }
        if !python {
            continue;
        }
        let out = run_python(&case);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let code = out.status.code();
        assert_eq!(
            code,
            Some(if case.expect.is_some() { 1 } else { 0 }),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let named: Vec<String> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("FAIL "))
            .map(str::to_owned)
            .collect();
        assert_eq!(named, rust, "{name}: the two verifiers disagree");
        let warnings = stdout.lines().filter(|l| l.starts_with("WARN ")).count();
        assert_eq!(warnings, report.warnings.len(), "{name}: {stdout}");
    }
}

/// Both verifiers refuse `case` unread, naming why, without a crash.
fn refused_by_both(case: &Case, text: &str, keys: &Jwks, python: bool) {
    let expected = case.expect.as_deref().expect("a refused case names why");
    let name = &case.bundle;
    let error = verify_bundle_text(text, keys).expect_err(name);
    assert!(error.contains(expected), "{name}: {error}");
    if !python {
        return;
    }
    let out = run_python(case);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    assert!(out.stdout.is_empty(), "{name}");
    assert!(
        stderr.contains(expected) && stderr.lines().count() == 1,
        "{name}: {stderr}"
    );
}

fn run_python(case: &Case) -> std::process::Output {
    Command::new(python_bin())
        .arg(root().join("tools/verify_bundle.py"))
        .arg(fixtures().join(&case.bundle))
        .arg("--keys")
        .arg(fixtures().join(&case.keys))
        .output()
        .unwrap()
}

/// The Python that runs the verifier: the test command's virtual environment, else `python3`.
fn python_bin() -> String {
    std::env::var("HOLDPOINT_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
