//! The principals of a first local run, so trying Holdpoint needs no setup.
//!
//! Two, not one: the requester may never approve its own request, so trying the product needs
//! an agent and a reviewer. On the first start (an empty directory, no `dev-keys.json`) they are
//! added to the directory and their keys written once to `dev-keys.json` (owner-only) for you
//! to read. From then on the directory alone says who may call (`holdpoint principals …`): the
//! file is never read again.

use std::io::Write;
use std::path::Path;

use holdpoint::directory::{self, Directory, Entry};
use holdpoint_core::domain::identity::PrincipalKind;

use crate::error::CliError;

/// The keys generated on a first run.
pub const FILE: &str = "dev-keys.json";

/// What a start found: keys to print, and where they came from.
pub enum Start {
    /// Principals were already in the directory.
    Known(usize),
    /// Generated now (JSON of `dev-keys.json`).
    Generated(String),
    /// The directory is empty and was emptied on purpose: nobody can call.
    Empty,
}

pub async fn ensure(dir: &Path, d: &dyn Directory) -> Result<Start, CliError> {
    let known = d.list(None).await?.len();
    if known > 0 {
        return Ok(Start::Known(known));
    }
    if dir.join(FILE).exists() {
        return Ok(Start::Empty);
    }
    let mut file = serde_json::Map::new();
    // The agent is of kind agent, so it can ask but never decide, even when named a reviewer.
    let dev = [
        ("agent", PrincipalKind::Agent, vec![]),
        ("reviewer", PrincipalKind::Human, vec!["reviewer", "admin"]),
    ];
    for (name, kind, roles) in dev {
        let key = format!("hp_dev_{name}_{}", &directory::new_api_key()[3..]);
        let secret = directory::new_webhook_secret();
        let entry = Entry {
            tenant: "local".into(),
            name: name.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            kind,
            email: None,
            webhook: None,
            iam_arns: Vec::new(),
            key_hash: Some(directory::key_hash(&key)),
            slack: None,
            webhook_secret: Some(secret.clone()),
            instance: None,
        };
        match d.put(&entry, true).await {
            // Another instance on the same database added them at the same moment: its stand.
            Err(holdpoint::store::StoreError::AlreadyExists) => {
                return Ok(Start::Known(d.list(None).await?.len()));
            }
            other => other?,
        }
        file.insert(
            key,
            serde_json::json!({"tenant": "local", "principal": name, "roles": roles, "kind": kind, "webhook_secret": secret}),
        );
    }
    let json = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
    let path = dir.join(FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(json.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Start::Generated(json))
}

/// `(principal, key)` pairs of a key file, for printing.
pub fn describe(json: &str) -> Vec<(String, String)> {
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).unwrap_or_default();
    let mut out: Vec<_> = parsed
        .iter()
        .map(|(key, p)| {
            let who = p["principal"].as_str().unwrap_or("?").to_owned();
            (who, key.clone())
        })
        .collect();
    out.sort();
    out
}
