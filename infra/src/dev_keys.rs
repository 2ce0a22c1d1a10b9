//! Development API keys for a local run without `HOLDPOINT_API_KEYS`.
//!
//! Two identities, not one: the requester may never approve its own request, so trying the
//! product needs an agent and a reviewer. They are generated once into the data directory
//! (readable by the owner only) and reused on every start.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

pub const FILE: &str = "api-keys.json";

/// The keys as `HOLDPOINT_API_KEYS` JSON, creating them on first run, and whether they are new.
pub fn load_or_create(dir: &Path) -> Result<(String, bool), String> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(json) => return Ok((json, false)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("{}: {e}", path.display()));
        }
        Err(_) => {}
    }
    let mut keys = serde_json::Map::new();
    for (name, roles) in [("agent", vec![]), ("reviewer", vec!["reviewer", "admin"])] {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let key = format!("hp_dev_{name}_{}", hex(&bytes));
        keys.insert(
            key,
            serde_json::json!({"tenant": "local", "principal": name, "roles": roles}),
        );
    }
    let json = serde_json::to_string_pretty(&keys).map_err(|e| e.to_string())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(json.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((json, true))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `(principal, key)` pairs of a development key file, for printing.
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
