use super::*;

#[test]
fn names_are_plain_and_bounded() {
    assert!(check_name("n", "ops-bot_1.a@x").is_ok());
    for bad in ["", "a/b", "a#b", "a b", "é", &"x".repeat(65)] {
        assert!(check_name("n", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn slack_users_are_slack_shaped() {
    for good in [
        "U0123ABCD",
        "W012A3CDE",
        "UAB",
        &format!("U{}", "9".repeat(20)),
    ] {
        assert!(check_slack_user(good).is_ok(), "{good:?}");
    }
    for bad in [
        "",
        "U",
        "U1",
        "u0123abcd",
        "U0123abcd",
        "U0123 ABCD",
        " U0123ABCD",
        "<!channel>",
        "<@U0123ABCD>",
        "C0123ABCD",
        "T0TEAM",
        "U0123ABCD\n",
        "Ü0123ABCD",
        &format!("U{}", "9".repeat(21)),
    ] {
        let err = check_slack_user(bad).unwrap_err();
        assert!(err.contains("not a Slack user id"), "{bad:?}: {err}");
    }
    let entry = Entry {
        tenant: "t".into(),
        name: "ann".into(),
        slack: Some("<!channel>".into()),
        ..Entry::default()
    };
    assert!(entry.check().is_err());
    let entry = Entry {
        slack: Some("U0123ABCD".into()),
        ..entry
    };
    assert!(entry.check().is_ok());
    assert_eq!(entry.public()["slack"], "U0123ABCD");
    assert!(entry.lookups().contains(&"slack#t/U0123ABCD".to_owned()));
}

#[test]
fn secrets_are_random_and_shaped() {
    let (a, b) = (new_api_key(), new_api_key());
    assert_ne!(a, b);
    assert!(a.starts_with("hp_") && a.len() == 51);
    let s = new_webhook_secret();
    assert!(s.starts_with("whsec_"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&s["whsec_".len()..])
        .unwrap();
    assert_eq!(raw.len(), 32);
}

#[test]
fn an_entry_stored_before_kinds_reads_human() {
    let old: Entry = serde_json::from_str(
        r#"{"tenant": "t", "name": "ann", "roles": ["sre"], "key_hash": "ab"}"#,
    )
    .unwrap();
    assert_eq!((old.kind, old.instance), (PrincipalKind::Human, None));
    let stored = serde_json::to_string(&old).unwrap();
    assert!(!stored.contains("kind") && !stored.contains("instance"));
}

#[test]
fn key_maps_become_entries() {
    let entries = entries_from_key_map(
        r#"{"0123456789abcdef": {"tenant": "t", "principal": "p", "roles": ["r"]}}"#,
    )
    .unwrap();
    assert_eq!(
        entries[0].key_hash.as_deref(),
        Some(&*key_hash("0123456789abcdef"))
    );
    assert!(entries_from_key_map("{}").is_err());
    assert!(entries_from_key_map(r#"{"short": {"tenant": "t", "principal": "p"}}"#).is_err());
    assert!(entries_from_key_map("not json").is_err());
}

#[test]
fn key_maps_refuse_names_alike_ignoring_case_and_the_system_names() {
    let twins = r#"{"0123456789abcdef": {"tenant": "t", "principal": "alice"},
                    "fedcba9876543210": {"tenant": "t", "principal": "Alice"}}"#;
    let err = entries_from_key_map(twins).unwrap_err();
    assert!(err.contains("differ only in case"), "{err}");
    let apart = r#"{"0123456789abcdef": {"tenant": "t", "principal": "alice"},
                    "fedcba9876543210": {"tenant": "u", "principal": "Alice"}}"#;
    assert_eq!(entries_from_key_map(apart).unwrap().len(), 2);
    for reserved in ["holdpoint", "SYSTEM"] {
        let map =
            format!(r#"{{"0123456789abcdef": {{"tenant": "t", "principal": "{reserved}"}}}}"#);
        let err = entries_from_key_map(&map).unwrap_err();
        assert!(err.contains("keeps for itself"), "{err}");
    }
}

#[test]
fn key_maps_give_kinds_human_when_absent() {
    let entries = entries_from_key_map(
        r#"{"0123456789abcdef": {"tenant": "t", "principal": "bot", "kind": "agent"},
            "fedcba9876543210": {"tenant": "t", "principal": "ann"}}"#,
    )
    .unwrap();
    let kinds: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(
        kinds,
        [("ann", PrincipalKind::Human), ("bot", PrincipalKind::Agent)]
    );
    assert!(entries[1].principal().is_agent());
    assert_eq!(entries[1].public()["kind"], "agent");
    assert_eq!(entries[0].public()["kind"], "human");
    let unknown = r#"{"0123456789abcdef": {"tenant": "t", "principal": "p", "kind": "bot"}}"#;
    assert!(entries_from_key_map(unknown).is_err());
}
