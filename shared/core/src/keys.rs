//! The HMAC key that signs audit records and review links, and the contract of whatever provides
//! it (the server's local file and Secrets Manager). The current key signs; any known key id
//! verifies, so a rotation never invalidates what was signed before it. No key, no service.

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Keys shorter than this are refused.
pub const MIN_KEY_BYTES: usize = 32;

/// A signing key. Its secret never appears in `Debug`, logs or errors.
#[derive(Clone)]
pub struct Key {
    pub id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Key {
    pub fn new(id: impl Into<String>, secret: Vec<u8>) -> Result<Key, KeyError> {
        let id = id.into();
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::Unusable(format!(
                "key {id} is shorter than {MIN_KEY_BYTES} bytes"
            )));
        }
        Ok(Key { id, secret })
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    /// Lowercase hex HMAC-SHA256 of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` (hex) is this key's HMAC of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(message);
        mac.verify_slice(&bytes).is_ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key source cannot be reached or read now.
    #[error("signing key unavailable: {0}")]
    Unavailable(String),
    /// The key material is there but cannot be used (too short, malformed).
    #[error("signing key unusable: {0}")]
    Unusable(String),
}

#[async_trait]
pub trait KeyProvider: Send + Sync + 'static {
    /// The key that signs now.
    async fn current(&self) -> Result<Key, KeyError>;

    /// The key with this id, if it is known (current, previous or older, while it exists).
    async fn by_id(&self, id: &str) -> Result<Option<Key>, KeyError>;
}

/// A fixed set of keys: the current one signs, all of them verify.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: Key,
    all: Vec<Key>,
}

impl KeyRing {
    pub fn new(current: Key, older: Vec<Key>) -> KeyRing {
        let mut all = older;
        all.push(current.clone());
        KeyRing { current, all }
    }
}

#[async_trait]
impl KeyProvider for KeyRing {
    async fn current(&self) -> Result<Key, KeyError> {
        Ok(self.current.clone())
    }

    async fn by_id(&self, id: &str) -> Result<Option<Key>, KeyError> {
        Ok(self.all.iter().find(|k| k.id == id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_in_constant_time_and_never_shows_the_secret() {
        let k = Key::new("k1", vec![7; 32]).unwrap();
        let sig = k.sign(b"message");
        assert!(k.verify(b"message", &sig));
        assert!(!k.verify(b"messagE", &sig));
        assert!(!k.verify(b"message", "zz"));
        let other = Key::new("k2", vec![8; 32]).unwrap();
        assert!(!other.verify(b"message", &sig));
        assert!(!format!("{k:?}").contains("7, 7"));
        assert!(Key::new("short", vec![1; 31]).is_err());
    }
}
