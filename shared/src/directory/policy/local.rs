//! The local store's policies, in `directory.db` beside its principals, for whatever opens the
//! data directory (a build without the embedded store says so instead).

use std::path::Path;
use std::sync::Arc;

use super::PolicyStore;
use crate::store::StoreError;

/// The policies in `directory.db` in `dir`.
pub fn open(dir: &Path) -> Result<Arc<dyn PolicyStore>, StoreError> {
    #[cfg(feature = "embedded")]
    {
        Ok(Arc::new(super::embedded::EmbeddedPolicies::open(dir)?))
    }
    #[cfg(not(feature = "embedded"))]
    {
        let _ = dir;
        Err(StoreError::Internal(
            "this build has no embedded store".into(),
        ))
    }
}
