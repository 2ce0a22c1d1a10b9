//! The checkpoint signing keys ([`holdpoint_core::audit::checkpoint`]): the key that signs
//! checkpoints now, and the set of every public key that may have signed one (published at
//! `/.well-known/holdpoint/audit-keys`). Locally a key file in the data directory; on AWS a KMS
//! asymmetric key (with the `aws` feature). A rotated key stays published, so the checkpoints it
//! signed still verify.

#[cfg(feature = "aws")]
pub mod kms;
pub mod local;

use std::sync::Arc;

use holdpoint_core::audit::checkpoint::{CheckpointSigner, Jwk, Jwks, LocalSigner};

/// The signer to use now, and the published keys (the signer's among them).
#[derive(Clone)]
pub struct CheckpointKeys {
    signer: Arc<dyn CheckpointSigner>,
    published: Jwks,
}

impl std::fmt::Debug for CheckpointKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointKeys")
            .field("key_id", &self.signer.key_id())
            .field("published", &self.published)
            .finish()
    }
}

impl CheckpointKeys {
    /// `signer`, publishing `published` and the signer's own key (`public`, under its key id).
    fn of(signer: Arc<dyn CheckpointSigner>, public: Jwk, mut published: Jwks) -> CheckpointKeys {
        published.add(public);
        CheckpointKeys { signer, published }
    }

    /// One key held in memory, publishing only itself: for tests and throwaway servers.
    pub fn in_memory(signer: LocalSigner) -> CheckpointKeys {
        let public = Jwk::of(&signer.verifying_key(), &signer.key_id());
        CheckpointKeys::of(Arc::new(signer), public, Jwks::default())
    }

    /// What signs checkpoints now.
    pub fn signer(&self) -> Arc<dyn CheckpointSigner> {
        self.signer.clone()
    }

    /// The id of the key that signs now, as checkpoints name it.
    pub fn key_id(&self) -> String {
        self.signer.key_id()
    }

    /// Every public key that may have signed a checkpoint: current and retired.
    pub fn published(&self) -> &Jwks {
        &self.published
    }
}
