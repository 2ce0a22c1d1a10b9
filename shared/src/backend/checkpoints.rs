//! Signed checkpoints as a process keeps them: where they are stored, and the key that signs
//! them (KMS, or a key file in the keys directory).

use super::{Access, Backend, BackendError};
use crate::keys::checkpoint::CheckpointKeys;
use crate::store::checkpoints::Checkpoints;
use holdpoint_core::keys::KeyError;

impl Backend {
    /// Where checkpoints are kept and their keys: the KMS key named by
    /// `HOLDPOINT_CHECKPOINT_KMS_KEY`, else `checkpoint-key.pem` in the data directory (created
    /// by the local server; an operator beside it only reads the published keys, and signs
    /// nothing). A Lambda function with no KMS key named keeps no checkpoints.
    pub async fn checkpoints(&self) -> Result<Option<Checkpoints>, BackendError> {
        let log = self.approvals().await?.checkpoints;
        let s = &self.settings;
        let (signer, keys) = match (&s.checkpoint_kms_key, self.access) {
            (Some(current), _) => {
                let keys =
                    CheckpointKeys::kms(self.sdk().await, current, &s.checkpoint_retired_kms_keys)
                        .await?;
                (Some(keys.signer()), keys.published().clone())
            }
            (None, Access::Function) => return Ok(None),
            (None, Access::Serve) => {
                let keys = CheckpointKeys::local(self.keys_dir())?;
                (Some(keys.signer()), keys.published().clone())
            }
            // Beside a server that has never written one: nothing to check against yet.
            (None, Access::Inspect) => match CheckpointKeys::local_published(self.keys_dir()) {
                Ok(keys) => (None, keys),
                Err(KeyError::Unavailable(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        Ok(Some(Checkpoints { log, signer, keys }))
    }
}
