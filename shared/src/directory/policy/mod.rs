//! Each tenant's approval policy, kept beside the directory (`directory.db` locally, the
//! directory table on AWS): every version is kept with who set it and when, and a new version
//! is written only after the one its author read, so two admins editing at once never lose an
//! edit without knowing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod local;

/// The most versions [`PolicyStore::history`] answers.
pub const HISTORY_LIMIT: usize = 100;

/// One version of a tenant's policy, as its admin sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// 1 for the first policy, one more for each edit.
    pub version: u64,
    /// The YAML or JSON document, as sent (parsed again when read).
    pub text: String,
    pub set_by: String,
    #[serde(with = "holdpoint_core::time::rfc3339")]
    pub set_at: DateTime<Utc>,
}

#[async_trait]
pub trait PolicyStore: Send + Sync + 'static {
    /// Stores `text` as version `expected_version + 1` of `tenant`'s policy (`0`: none yet).
    /// `AlreadyExists` when that version is taken: someone else's edit came first, and nothing
    /// is written.
    async fn put(
        &self,
        tenant: &str,
        text: &str,
        set_by: &str,
        at: DateTime<Utc>,
        expected_version: u64,
    ) -> Result<u64, StoreError>;

    /// The policy in force: the newest version.
    async fn current(&self, tenant: &str) -> Result<Option<StoredPolicy>, StoreError>;

    /// The newest [`HISTORY_LIMIT`] versions, newest first.
    async fn history(&self, tenant: &str) -> Result<Vec<StoredPolicy>, StoreError>;
}
