//! The fixture bundles both verifiers are checked against (`tests/fixtures/bundles`, with a
//! manifest of what each must say): one good, one edited per part, a rollback, a rotation.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::*;

/// Each fixture: its file, its bundle, the keys it is checked with, and the failure it must name (`None`:
/// it verifies).
type Case<T> = (&'static str, T, &'static str, Option<&'static str>);

/// Each fixture as text, and whether it is refused unread (then `expected` is in the error).
type TextCase = (
    &'static str,
    String,
    &'static str,
    Option<&'static str>,
    bool,
);

/// The fixtures as text.
fn cases() -> Vec<TextCase> {
    let mut cases: Vec<_> = bundles()
        .into_iter()
        .map(|(file, bundle, keys, expected)| (file, pretty(&bundle), keys, expected, false))
        .collect();
    // A member no verifier checks, which a reader could take for checked.
    let good = cases[0].1.clone();
    let added = good.replacen(
        "\"actor\": \"alice\",",
        "\"actor\": \"alice\",\n      \"note\": \"reviewed by the CEO\",",
        1,
    );
    assert_ne!(added, good);
    cases.push((
        "tampered-added-member.json",
        added,
        "jwks.json",
        Some("bundle: records.1.note is not as this format writes it"),
        false,
    ));
    // Nested deep enough to overflow a recursive parser's stack: refused unread, by both.
    let levels = 20_000;
    let nested = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    let deep = good.replacen(
        r#""instance":"i-123""#,
        &format!(r#""instance":{nested}"#),
        1,
    );
    assert_ne!(deep, good);
    cases.push((
        "deep-nesting.json",
        deep,
        "jwks.json",
        Some("nests deeper than 127 levels"),
        true,
    ));
    cases
}

fn bundles() -> Vec<Case<EvidenceBundle>> {
    let s = story();
    let mut good = s.bundle();
    good.checkpoints = s.checkpoints.clone();
    good.key_ids = vec![key_a().key_id(), key_b().key_id()];
    good.key_ids.sort();
    let edit = |f: &dyn Fn(&mut EvidenceBundle)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let all = "jwks.json";
    vec![
        ("good.json", good.clone(), all, None),
        (
            "good.json",
            good.clone(),
            "jwks-b-only.json",
            Some("checkpoint 1: signed with unknown key"),
        ),
        (
            "not-yet-checkpointed.json",
            EvidenceBundle::new(
                s.decided.clone(),
                s.records.clone(),
                s.checkpoints[..1].to_vec(),
            ),
            all,
            None,
        ),
        (
            "tampered-record-payload.json",
            edit(&|b| {
                b.records[0].payload =
                    crate::json::document::Document::from_text(r#"{"x":1}"#).unwrap()
            }),
            all,
            Some("record 1: payload does not match its digest"),
        ),
        (
            "tampered-record-actor.json",
            edit(&|b| b.records[1].actor = "mallory".into()),
            all,
            Some("record 2: hash does not match its content"),
        ),
        (
            "tampered-record-prev-hash.json",
            edit(&|b| {
                b.records[1].prev_hash = GENESIS_HASH.into();
                b.records[1].hash = b.records[1].computed_hash();
            }),
            all,
            Some("record 2: prev_hash does not link to the record before"),
        ),
        (
            "tampered-approval-state.json",
            edit(&|b| b.approval.decision.as_mut().unwrap().by = "mallory".into()),
            all,
            Some("approval: state does not match the digest record 2 signed (fields: decision)"),
        ),
        (
            "tampered-checkpoint-head.json",
            edit(&|b| b.checkpoints[1].heads[0].hash = "cd".repeat(32)),
            all,
            Some("checkpoint 2: hash does not match its content"),
        ),
        (
            "tampered-checkpoint-signature.json",
            edit(&|b| {
                let mut der = STANDARD.decode(&b.checkpoints[0].signature).unwrap();
                der[10] ^= 1;
                b.checkpoints[0].signature = STANDARD.encode(der);
            }),
            all,
            Some("checkpoint 1: signature does not verify"),
        ),
        (
            "tampered-checkpoint-prev-hash.json",
            edit(&|b| {
                let c = &mut b.checkpoints[1];
                c.prev_hash = GENESIS_HASH.into();
                c.hash = c.computed_hash();
                c.signature = STANDARD.encode(key_b().sign_now(c.hash.as_bytes()));
            }),
            all,
            Some("checkpoint 2: prev_hash does not link to checkpoint 1"),
        ),
        (
            // Restored from a backup taken before the decision: row and records agree.
            "rollback.json",
            EvidenceBundle::new(
                s.created.clone(),
                s.records[..1].to_vec(),
                s.checkpoints.clone(),
            ),
            all,
            Some("approval: rollback: checkpoint 2 recorded its head at sequence 2"),
        ),
        (
            "rewritten-after-checkpoint.json",
            super::forgery::rewritten_after_checkpoint(),
            all,
            Some("approval: rewritten: checkpoint 2 recorded another hash for record 2"),
        ),
        (
            "forged-dropped-checkpoints.json",
            super::forgery::forged_dropping_checkpoints(),
            all,
            Some("approval: the bundle leaves out the checkpoints that would record this approval"),
        ),
    ]
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundles")
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

#[test]
fn each_case_fails_as_its_manifest_says() {
    let keys = |name: &str| match name {
        "jwks.json" => jwks(&[key_a(), key_b()]),
        _ => jwks(&[key_b()]),
    };
    for (file, text, with, expected, refused) in cases() {
        if refused {
            let error = verify_bundle_text(&text, &keys(with)).unwrap_err();
            assert!(error.contains(expected.unwrap()), "{file}: {error}");
            continue;
        }
        let report = verify_bundle_text(&text, &keys(with)).unwrap();
        let found: Vec<String> = report.failures.iter().map(|f| f.to_string()).collect();
        match expected {
            None => assert!(found.is_empty(), "{file}: {found:?}"),
            Some(e) => assert!(
                found.iter().any(|f| f.contains(e)),
                "{file} with {with}: expected {e:?}, found {found:?}"
            ),
        }
    }
}

/// The fixtures on disk are what this code makes (ECDSA per RFC 6979 is deterministic); a stale
/// one is rewritten and the test fails once, so the change is seen and committed.
#[test]
fn the_fixtures_are_current() {
    let mut files = vec![
        ("jwks.json".to_owned(), pretty(&jwks(&[key_a(), key_b()]))),
        ("jwks-b-only.json".to_owned(), pretty(&jwks(&[key_b()]))),
    ];
    let mut manifest = Vec::new();
    for (file, text, keys, expected, refused) in cases() {
        manifest
            .push(json!({"bundle": file, "keys": keys, "expect": expected, "refused": refused}));
        if !files.iter().any(|(f, _)| f == file) {
            files.push((file.to_owned(), text));
        }
    }
    files.push(("manifest.json".to_owned(), pretty(&manifest)));
    std::fs::create_dir_all(dir()).unwrap();
    let mut stale = Vec::new();
    for (file, text) in files {
        let path = dir().join(&file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).unwrap();
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "rewrote stale fixtures {stale:?}: commit them"
    );
}
