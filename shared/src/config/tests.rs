use super::*;
use std::collections::HashMap;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn defaults_when_nothing_is_set() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.addr.to_string(), "127.0.0.1:8004");
    assert_eq!(s.store, StoreKind::Embedded);
    assert_eq!(s.tables.approvals, "holdpoint-approvals");
    assert_eq!(s.tables.due_shards, 8);
    assert_eq!(s.key_cache, Duration::from_secs(300));
    assert_eq!(s.expiry, ExpiryBounds::default());
    assert_eq!((s.server.requests, s.server.connections), (32, 512));
    assert_eq!(s.server.body_bytes, 16 << 20);
    assert_eq!(s.checkpoint_every, Duration::from_secs(60));
    assert_eq!(s.checkpoint_kms_key, None);
    assert!(s.checkpoint_retired_kms_keys.is_empty());
    assert_eq!(s.base_url_or(s.addr), "http://127.0.0.1:8004");
}

#[test]
fn every_bad_value_is_one_clear_error_naming_its_variable() {
    for (name, value) in [
        (DUE_SHARDS, "0"),
        (DUE_SHARDS, "65"),
        (KEY_CACHE_SECONDS, "soon"),
        (ADDR, "localhost"),
        (STORE, "postgres"),
        (PUBLIC_BASE_URL, "ftp://x"),
        (MIN_EXPIRY_SECONDS, "0"),
        (DEFAULT_EXPIRY_SECONDS, "99999999"),
        (MAX_REQUESTS, "0"),
        (MAX_CONNECTIONS, "many"),
        (BODY_BUDGET_MIB, "0"),
    ] {
        let e = settings(&[(name, value)]).unwrap_err();
        let named = e.0.contains(name) || e.0.contains("expiry bounds");
        assert!(named, "{name}={value}: {e}");
    }
}

#[test]
fn checkpoint_keys_are_named_and_retired_ones_listed() {
    let s = Settings::from_lookup(|name| match name {
        CHECKPOINT_KMS_KEY => Some(" alias/holdpoint-checkpoints ".into()),
        CHECKPOINT_RETIRED_KMS_KEYS => Some(" key-a, ,key-b ".into()),
        CHECKPOINT_SECONDS => Some("0".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        s.checkpoint_kms_key.as_deref(),
        Some("alias/holdpoint-checkpoints")
    );
    assert_eq!(s.checkpoint_retired_kms_keys, ["key-a", "key-b"]);
    assert_eq!(
        s.checkpoint_every,
        Duration::from_secs(1),
        "at least a second"
    );
}

#[test]
fn the_database_url_never_shows_in_debug_output() {
    let s = Settings::from_lookup(|name| match name {
        STORE => Some("postgres".into()),
        DATABASE_URL => Some("postgres://u:hunter2-secret@db/h".into()),
        _ => None,
    })
    .unwrap();
    assert!(!format!("{s:?}").contains("hunter2"), "{s:?}");
    assert!(
        Settings::from_lookup(|name| (name == STORE).then(|| "postgres".into())).is_err(),
        "postgres without a URL"
    );
}
