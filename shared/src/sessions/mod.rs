//! Where reviewers' sign-in links and browser sessions are kept (issue 25): only the SHA-256 of
//! each secret, never the secret, so nothing read from the store signs anyone in. Beside the
//! directory: `sessions.db` locally, items of the directory table with a TTL on AWS.
//!
//! Sign-in requests are counted here per principal name (of any name asked for, whether or not
//! a principal has it: the answer must not tell), so the limit holds across Lambda instances.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::StoreError;
use holdpoint_core::time::rfc3339;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod peers;

/// How long a sign-in link works, and the window the per-name limit counts in.
pub const LINK_MINUTES: i64 = 15;

/// A sign-in link as kept: whom it signs in (the directory instance it was sent to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInLink {
    /// SHA-256 (hex) of the token.
    pub hash: String,
    pub tenant: String,
    pub name: String,
    #[serde(default)]
    pub instance: Option<Uuid>,
    #[serde(with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
}

/// A session as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 (hex) of the session secret.
    pub hash: String,
    pub tenant: String,
    pub name: String,
    /// The directory instance signed in: a principal removed and added again is another.
    #[serde(default)]
    pub instance: Option<Uuid>,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
}

/// Whether one more sign-in request of a name is let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Admitted,
    /// Over the limit: the window ends in this many seconds.
    Limited {
        retry_after_seconds: u64,
    },
}

/// The SHA-256 (hex) a secret is kept and found by.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Counts one sign-in request of `tenant`/`folded_name` at `now`: at most `limit` in a
    /// window of `window` from the first, atomically (concurrent requests cannot all pass).
    async fn count_request(
        &self,
        tenant: &str,
        folded_name: &str,
        now: DateTime<Utc>,
        window: TimeDelta,
        limit: u32,
    ) -> Result<Counted, StoreError>;

    /// Keeps a sign-in link (its hash is new: drawn from 256 random bits).
    async fn put_link(&self, link: &SignInLink) -> Result<(), StoreError>;

    /// The link of `hash`, if kept and not yet past its expiry at `now`.
    async fn link(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SignInLink>, StoreError>;

    /// Removes the link of `hash` and answers it, if it was kept and not past its expiry: of two
    /// concurrent takes only one gets it.
    async fn take_link(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SignInLink>, StoreError>;

    async fn put_session(&self, session: &Session) -> Result<(), StoreError>;

    /// The session of `tenant`/`name` with `hash`, if kept and not past its expiry at `now`.
    async fn session(
        &self,
        tenant: &str,
        name: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError>;

    /// Ends one session; answers whether there was one.
    async fn remove_session(
        &self,
        tenant: &str,
        name: &str,
        hash: &str,
    ) -> Result<bool, StoreError>;

    /// Ends every session of `tenant`/`name`; answers how many were still live at `now`.
    async fn remove_sessions_of(
        &self,
        tenant: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    /// Spends `nonce` (a Slack button's, see [`crate::slack::button`]), kept until `expires`
    /// (the button's own end: past it the button is refused anyway): true the first time, false
    /// ever after. Of two concurrent spends one wins.
    async fn spend(
        &self,
        tenant: &str,
        nonce: Uuid,
        expires: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
