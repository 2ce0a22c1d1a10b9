//! Who signs checkpoints, and how a signature is checked: ECDSA P-256 with SHA-256, the DER
//! signature AWS KMS `Sign` returns for `ECDSA_SHA_256` with `MessageType RAW` (KMS hashes the
//! message itself). A key in KMS and a local key file sign alike, so one verifier serves both.

use async_trait::async_trait;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

use super::jwks::{Jwk, key_id_of};
use crate::keys::KeyError;

/// What signs checkpoints: the local key file, or (in the server crate) a KMS key.
#[async_trait]
pub trait CheckpointSigner: Send + Sync + 'static {
    /// The id the checkpoint names and the JWKS lists the public key under.
    fn key_id(&self) -> String;

    /// The DER-encoded ECDSA P-256 signature of `message`, hashed with SHA-256 by the signer.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;

    /// The public key, as published in the JWKS.
    async fn public_key(&self) -> Result<Jwk, KeyError>;
}

/// A P-256 key held in this process (the local key file).
#[derive(Clone)]
pub struct LocalSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl LocalSigner {
    /// A new random key.
    pub fn generate() -> LocalSigner {
        loop {
            // rand's generator is not the rand_core p256 takes; 32 random bytes make a key
            // unless they are zero or past the group order (about 2^-32).
            let bytes: [u8; 32] = rand::random();
            if let Ok(signer) = LocalSigner::from_secret_bytes(&bytes) {
                return signer;
            }
        }
    }

    /// The key whose secret scalar is `bytes` (big-endian); for fixed test keys.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<LocalSigner, KeyError> {
        let key = SigningKey::from_slice(bytes)
            .map_err(|_| KeyError::Unusable("not a P-256 secret scalar".into()))?;
        Ok(LocalSigner::of(key))
    }

    /// The key in a PKCS#8 PEM text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<LocalSigner, KeyError> {
        let key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|_| KeyError::Unusable("not a PKCS#8 PEM P-256 private key".into()))?;
        Ok(LocalSigner::of(key))
    }

    /// The key as PKCS#8 PEM, for the key file.
    pub fn to_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a P-256 key encodes")
            .to_string()
    }

    fn of(key: SigningKey) -> LocalSigner {
        let key_id = key_id_of(key.verifying_key());
        LocalSigner { key, key_id }
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }

    /// The DER signature of `message`, at once (RFC 6979: the same message, the same signature).
    pub fn sign_now(&self, message: &[u8]) -> Vec<u8> {
        let sig: DerSignature = self.key.sign(message);
        sig.as_bytes().to_vec()
    }
}

#[async_trait]
impl CheckpointSigner for LocalSigner {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(self.sign_now(message))
    }

    async fn public_key(&self) -> Result<Jwk, KeyError> {
        Ok(Jwk::of(&self.verifying_key(), &self.key_id))
    }
}
