//! The checkpoint key in the data directory: `checkpoint-key.pem` (PKCS#8 PEM, readable by its
//! owner only, generated on first use) and `checkpoint-keys.jwks` (public: every key that ever
//! signed here). A key's public half is published before the key file names it, so a crash in
//! between leaves at worst an unused key listed, never a signer whose key is not published.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use holdpoint_core::audit::checkpoint::{CheckpointSigner, Jwk, Jwks, LocalSigner, key_id_of};
use holdpoint_core::keys::KeyError;

use super::CheckpointKeys;
use crate::keys::local::{create_once, unique_tmp};

/// The private key, in the data directory.
pub const KEY_FILE: &str = "checkpoint-key.pem";
/// The published keys, in the data directory.
pub const JWKS_FILE: &str = "checkpoint-keys.jwks";

/// Whether a key file others can read is refused (serving) or taken (rotating it away).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    OwnerOnly,
    Any,
}

fn unavailable(path: &Path, e: std::io::Error) -> KeyError {
    KeyError::Unavailable(format!("{}: {e}", path.display()))
}

/// The key in `path`, or `None` when there is none. Errors never quote the file.
fn read_key(path: &Path, mode: Mode) -> Result<Option<LocalSigner>, KeyError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unavailable(path, e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let bits = meta.permissions().mode() & 0o777;
        if mode == Mode::OwnerOnly && bits & 0o077 != 0 {
            return Err(KeyError::Unusable(format!(
                "{} can be read by others than its owner (mode {bits:o}): `chmod 600` it, \
                 and rotate the key if others may have read it",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (meta, mode);
    let pem = std::fs::read_to_string(path).map_err(|e| unavailable(path, e))?;
    LocalSigner::from_pem(&pem)
        .map(Some)
        .map_err(|_| KeyError::Unusable(format!("{}: not a PKCS#8 PEM P-256 key", path.display())))
}

/// Writes `bytes` to `path` through a temporary file renamed over it, so a reader sees the old
/// content or the new, whole; `private` files are created readable by their owner only. The
/// temporary name is this writer's own: instances sharing the directory may write at once.
fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeyError> {
    let tmp = unique_tmp(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if private { 0o600 } else { 0o644 });
    #[cfg(not(unix))]
    let _ = private;
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|e| unavailable(path, e))
}

/// The published keys in `path`, each a usable P-256 key listed under its own id.
fn read_jwks(path: &Path) -> Result<Option<Jwks>, KeyError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unavailable(path, e)),
    };
    let unusable = |why: String| KeyError::Unusable(format!("{}: {why}", path.display()));
    let jwks: Jwks = serde_json::from_slice(&bytes).map_err(|e| unusable(e.to_string()))?;
    for jwk in &jwks.keys {
        let key = jwk.verifying_key().map_err(|e| unusable(e.to_string()))?;
        if key_id_of(&key) != jwk.kid {
            return Err(unusable(format!(
                "key {:?} is not listed under its own id",
                jwk.kid
            )));
        }
    }
    Ok(Some(jwks))
}

fn public_of(signer: &LocalSigner) -> Jwk {
    Jwk::of(&signer.verifying_key(), &signer.key_id())
}

/// The published keys in `dir`, with `signer`'s added (and written) when missing.
fn publish(dir: &Path, signer: &LocalSigner) -> Result<Jwks, KeyError> {
    let path = dir.join(JWKS_FILE);
    let mut jwks = read_jwks(&path)?.unwrap_or_default();
    let public = public_of(signer);
    // Ids are derived from the key and checked on reading, so a listed id is this very key.
    if !jwks.keys.iter().any(|k| k.kid == public.kid) {
        jwks.add(public);
        let mut json = serde_json::to_vec_pretty(&jwks)
            .map_err(|e| KeyError::Unusable(format!("{}: {e}", path.display())))?;
        json.push(b'\n');
        write_atomic(&path, &json, false)?;
    }
    Ok(jwks)
}

fn create_dir(dir: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir).map_err(|e| unavailable(dir, e))
}

/// Publishes `signer`, then makes it the key in `dir`.
fn install(dir: &Path, signer: &LocalSigner) -> Result<(), KeyError> {
    publish(dir, signer)?;
    write_atomic(&dir.join(KEY_FILE), signer.to_pem().as_bytes(), true)
}

impl CheckpointKeys {
    /// The key in the data directory `dir`, generated (and published) on first use. A key file
    /// others can read, or one that is not a P-256 key, is refused: never a silent new key.
    pub fn local(dir: &Path) -> Result<CheckpointKeys, KeyError> {
        let path = dir.join(KEY_FILE);
        let signer = match read_key(&path, Mode::OwnerOnly)? {
            Some(signer) => signer,
            None => {
                create_dir(dir)?;
                let signer = LocalSigner::generate();
                publish(dir, &signer)?;
                let created = create_once(&path, signer.to_pem().as_bytes(), 0o600)
                    .map_err(|e| unavailable(&path, e))?;
                if created {
                    signer
                } else {
                    // Another instance created it meanwhile: its key is the one (ours stays
                    // listed, unused).
                    read_key(&path, Mode::OwnerOnly)?.ok_or_else(|| {
                        KeyError::Unavailable(format!("{}: gone after creation", path.display()))
                    })?
                }
            }
        };
        // Also after creation: instances publishing at once may each have written the key set
        // without the others' keys; each adding the key in use again leaves it listed.
        let published = publish(dir, &signer)?;
        let public = public_of(&signer);
        Ok(CheckpointKeys::of(Arc::new(signer), public, published))
    }

    /// A new key in `dir` becomes current; the one before stays published, so what it signed
    /// still verifies. A key file others could read is rotated away too (that is the remedy).
    pub fn rotate_local(dir: &Path) -> Result<CheckpointKeys, KeyError> {
        create_dir(dir)?;
        if let Some(old) = read_key(&dir.join(KEY_FILE), Mode::Any)? {
            publish(dir, &old)?;
        }
        install(dir, &LocalSigner::generate())?;
        CheckpointKeys::local(dir)
    }

    /// The keys published in `dir`, without the private key and never creating one (for
    /// verifying beside a server, or serving the key set read-only).
    pub fn local_published(dir: &Path) -> Result<Jwks, KeyError> {
        let path = dir.join(JWKS_FILE);
        read_jwks(&path)?.ok_or_else(|| {
            KeyError::Unavailable(format!("{}: no checkpoint keys published", path.display()))
        })
    }
}
