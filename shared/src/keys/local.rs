//! Keys kept in the data directory (`signing-keys.json`, readable by its owner only), generated
//! on first run. `rotate` adds a key and makes it current; older keys stay for verification.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use holdpoint_core::keys::{Key, KeyError, KeyProvider};

pub const FILE: &str = "signing-keys.json";

#[derive(Serialize, Deserialize)]
struct KeyFile {
    current: String,
    /// key id → base64 secret
    keys: BTreeMap<String, String>,
}

pub struct LocalKeys {
    path: PathBuf,
    keys: RwLock<(Key, BTreeMap<String, Key>)>,
}

fn new_key() -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let mut id = [0u8; 4];
    rand::rng().fill_bytes(&mut id);
    (
        format!("local-{}", hex::encode(id)),
        STANDARD.encode(secret),
    )
}

/// A temporary name beside `path` that no other process or thread picks (several instances
/// sharing a keys directory may write at the same moment).
pub(crate) fn unique_tmp(path: &Path) -> PathBuf {
    let mut tag = [0u8; 8];
    rand::rng().fill_bytes(&mut tag);
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.{}.tmp", std::process::id(), hex::encode(tag)));
    path.with_file_name(name)
}

/// Writes `bytes` to a new temporary file, whole and synced (created with `mode` on Unix).
fn write_tmp(tmp: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options.open(tmp)?;
    f.write_all(bytes).and_then(|()| f.sync_all())
}

/// Puts `bytes` at `path` unless a file is there already; answers whether this call put it.
/// The file is written whole under a name of its own, then hard-linked into place: linking
/// fails if the name exists, so of several processes creating at once exactly one wins and
/// the others read the winner's file, never a half-written one.
pub(crate) fn create_once(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<bool> {
    let tmp = unique_tmp(path);
    let linked = write_tmp(&tmp, bytes, mode).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

fn to_json(file: &KeyFile) -> Result<Vec<u8>, KeyError> {
    serde_json::to_vec_pretty(file).map_err(|e| KeyError::Unusable(e.to_string()))
}

/// Replaces the key file (rotating) through a temporary file renamed over it.
fn write_private(path: &Path, file: &KeyFile) -> Result<(), KeyError> {
    let err = |e: std::io::Error| KeyError::Unavailable(format!("{}: {e}", path.display()));
    let tmp = unique_tmp(path);
    let written =
        write_tmp(&tmp, &to_json(file)?, 0o600).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(err)
}

fn read_file(path: &Path) -> Result<KeyFile, KeyError> {
    let bytes = std::fs::read(path)
        .map_err(|e| KeyError::Unavailable(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| KeyError::Unusable(format!("{}: {e}", path.display())))
}

fn parse(file: &KeyFile, path: &Path) -> Result<(Key, BTreeMap<String, Key>), KeyError> {
    let mut keys = BTreeMap::new();
    for (id, secret) in &file.keys {
        let bytes = STANDARD.decode(secret).map_err(|_| {
            KeyError::Unusable(format!("{}: key {id} is not base64", path.display()))
        })?;
        keys.insert(id.clone(), Key::new(id.clone(), bytes)?);
    }
    let current = keys.get(&file.current).cloned().ok_or_else(|| {
        KeyError::Unusable(format!(
            "{}: the current key {} is missing",
            path.display(),
            file.current
        ))
    })?;
    Ok((current, keys))
}

impl LocalKeys {
    /// Opens the keys in `dir`, generating the first key if there is none. A file that exists
    /// but cannot be read or used is an error: never a silent new key.
    pub fn open_or_create(dir: &Path) -> Result<LocalKeys, KeyError> {
        let path = dir.join(FILE);
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<KeyFile>(&bytes)
                .map_err(|e| KeyError::Unusable(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| KeyError::Unavailable(format!("{}: {e}", dir.display())))?;
                let (id, secret) = new_key();
                let file = KeyFile {
                    current: id.clone(),
                    keys: BTreeMap::from([(id, secret)]),
                };
                let created = create_once(&path, &to_json(&file)?, 0o600)
                    .map_err(|e| KeyError::Unavailable(format!("{}: {e}", path.display())))?;
                // Another instance created it meanwhile: its key is the one.
                if created { file } else { read_file(&path)? }
            }
            Err(e) => return Err(KeyError::Unavailable(format!("{}: {e}", path.display()))),
        };
        let keys = parse(&file, &path)?;
        Ok(LocalKeys {
            path,
            keys: RwLock::new(keys),
        })
    }

    /// Opens the keys in `dir`; a missing file is an error (for verifying: never a new key).
    pub fn open(dir: &Path) -> Result<LocalKeys, KeyError> {
        let path = dir.join(FILE);
        let file = read_file(&path)?;
        let keys = parse(&file, &path)?;
        Ok(LocalKeys {
            path,
            keys: RwLock::new(keys),
        })
    }

    /// Adds a new key and makes it current; answers its id.
    pub fn rotate(&self) -> Result<String, KeyError> {
        let mut file = read_file(&self.path)?;
        let (id, secret) = new_key();
        file.keys.insert(id.clone(), secret);
        file.current = id.clone();
        write_private(&self.path, &file)?;
        let parsed = parse(&file, &self.path)?;
        if let Ok(mut keys) = self.keys.write() {
            *keys = parsed;
        }
        Ok(id)
    }
}

#[async_trait]
impl KeyProvider for LocalKeys {
    async fn current(&self) -> Result<Key, KeyError> {
        self.keys
            .read()
            .map(|k| k.0.clone())
            .map_err(|_| KeyError::Unavailable("key lock poisoned".into()))
    }

    async fn by_id(&self, id: &str) -> Result<Option<Key>, KeyError> {
        self.keys
            .read()
            .map(|k| k.1.get(id).cloned())
            .map_err(|_| KeyError::Unavailable("key lock poisoned".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn created_once_private_and_rotated_without_forgetting() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            LocalKeys::open(dir.path()).is_err(),
            "no file, no key for verifying"
        );
        let keys = LocalKeys::open_or_create(dir.path()).unwrap();
        let first = keys.current().await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
        }
        let again = LocalKeys::open_or_create(dir.path()).unwrap();
        assert_eq!(
            again.current().await.unwrap().id,
            first.id,
            "reused, not regenerated"
        );
        let second = keys.rotate().unwrap();
        assert_ne!(second, first.id);
        let reopened = LocalKeys::open(dir.path()).unwrap();
        assert_eq!(reopened.current().await.unwrap().id, second);
        assert!(
            reopened.by_id(&first.id).await.unwrap().is_some(),
            "the old key still verifies"
        );
    }

    #[test]
    fn an_unusable_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "not json").unwrap();
        assert!(LocalKeys::open_or_create(dir.path()).is_err());
        std::fs::write(
            dir.path().join(FILE),
            r#"{"current": "k", "keys": {"k": "c2hvcnQ="}}"#,
        )
        .unwrap();
        assert!(
            LocalKeys::open_or_create(dir.path()).is_err(),
            "a short key is refused"
        );
    }
}
