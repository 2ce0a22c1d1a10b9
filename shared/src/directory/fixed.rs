//! Directories fixed when the process starts: `HOLDPOINT_API_KEYS`' key map, held in memory.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{Directory, Entry, Lookup, key_hash};
use crate::store::StoreError;
use holdpoint_core::domain::identity::Principal;

/// A fixed directory held in memory: what `HOLDPOINT_API_KEYS` gives tests and CI. It cannot
/// be changed while the process runs.
#[derive(Debug, Clone, Default)]
pub struct StaticDirectory {
    entries: Vec<Entry>,
    /// Lookup id → index in `entries`: authentication asks on every request.
    by_lookup: HashMap<String, usize>,
}

impl StaticDirectory {
    pub fn new(entries: Vec<Entry>) -> StaticDirectory {
        let by_lookup = entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.lookups().into_iter().map(move |l| (l, i)))
            .collect();
        StaticDirectory { entries, by_lookup }
    }
}

#[async_trait]
impl Directory for StaticDirectory {
    async fn put(&self, _: &Entry, _: bool) -> Result<(), StoreError> {
        Err(StoreError::Internal(
            "this directory is fixed by HOLDPOINT_API_KEYS".into(),
        ))
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .entries
            .iter()
            .find(|e| e.tenant == tenant && e.name == name)
            .cloned())
    }

    async fn find(&self, lookup: &Lookup) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .by_lookup
            .get(&lookup.id())
            .map(|&i| self.entries[i].clone()))
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        let mut out: Vec<Entry> = self
            .entries
            .iter()
            .filter(|e| tenant.is_none_or(|t| e.tenant == t))
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)));
        Ok(out)
    }

    async fn remove(&self, _: &str, _: &str) -> Result<bool, StoreError> {
        Err(StoreError::Internal(
            "this directory is fixed by HOLDPOINT_API_KEYS".into(),
        ))
    }
}

/// The entries of an API key map `{"<key>": {"tenant", "principal", "roles", "kind"}}` (the
/// format of `HOLDPOINT_API_KEYS` and of the `api-keys.json` of earlier versions; `kind` is
/// `human` when absent). Several keys of one principal are refused: the directory holds one
/// key per principal.
pub fn entries_from_key_map(json: &str) -> Result<Vec<Entry>, String> {
    let keys: HashMap<String, Principal> =
        serde_json::from_str(json).map_err(|e| format!("not valid: {e}"))?;
    if keys.is_empty() {
        return Err("names no key".into());
    }
    let mut entries: Vec<Entry> = Vec::new();
    for (key, p) in keys {
        if key.len() < 16 {
            return Err(format!(
                "API key of {} is shorter than 16 characters",
                p.principal
            ));
        }
        let entry = Entry {
            tenant: p.tenant,
            name: p.principal,
            roles: p.roles,
            kind: p.kind,
            email: None,
            webhook: None,
            iam_arns: Vec::new(),
            key_hash: Some(key_hash(&key)),
            slack: None,
            webhook_secret: None,
            instance: None,
        };
        entry.check()?;
        let twin = |e: &Entry| e.tenant == entry.tenant && e.folded_name() == entry.folded_name();
        if let Some(other) = entries.iter().find(|e| twin(e)) {
            return Err(format!(
                "principals {:?} and {:?} of tenant {} differ only in case",
                other.name, entry.name, entry.tenant
            ));
        }
        entries.push(entry);
    }
    entries.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use holdpoint_core::domain::identity::PrincipalKind;

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
}
