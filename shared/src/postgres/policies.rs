//! Policies in PostgreSQL, beside the principals: one row per version of a tenant's policy.
//!
//! A new version is one statement: inserted only when the newest stored is the one its author
//! read, and the primary key `(tenant, version)` refuses the second of two edits from the same
//! version (under READ COMMITTED the second waits for the first to commit, then fails on the
//! key). Nothing is read and then written.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::directory::unstorable;
use super::{Pg, decode, encode, failed, is_unique_violation};
use crate::directory::policy::{HISTORY_LIMIT, PolicyStore, StoredPolicy};
use crate::store::StoreError;

#[derive(Clone)]
pub struct PgPolicies {
    pg: Pg,
}

impl PgPolicies {
    pub fn new(pg: Pg) -> PgPolicies {
        PgPolicies { pg }
    }
}

/// A version's row read back: its body must be the version its key names.
fn policy_of(tenant: &str, row: &tokio_postgres::Row) -> Result<StoredPolicy, StoreError> {
    let version: i64 = row.get(0);
    let policy: StoredPolicy = decode("policy", row.get(1))?;
    if i64::try_from(policy.version).ok() != Some(version) {
        return Err(StoreError::Internal(format!(
            "stored policy version {version} of tenant {tenant} says it is version {}",
            policy.version
        )));
    }
    Ok(policy)
}

#[async_trait]
impl PolicyStore for PgPolicies {
    async fn put(
        &self,
        tenant: &str,
        text: &str,
        set_by: &str,
        at: DateTime<Utc>,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        // A version past what can be stored was never read from here: someone else's, or none.
        let Some(version) = expected_version
            .checked_add(1)
            .filter(|v| i64::try_from(*v).is_ok())
        else {
            return Err(StoreError::AlreadyExists);
        };
        let stored = version as i64;
        let body = encode(&StoredPolicy {
            version,
            text: text.to_owned(),
            set_by: set_by.to_owned(),
            set_at: at,
        })?;
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "INSERT INTO policies (tenant, version, body)
                 SELECT $1::text, $2::bigint, $3::text
                 WHERE COALESCE((SELECT max(version) FROM policies WHERE tenant = $1), 0)
                     = $2::bigint - 1",
            )
            .await
            .map_err(failed)?;
        match conn.execute(&s, &[&tenant, &stored, &body]).await {
            Ok(1) => Ok(version),
            // A later version is stored: an edit landed after the one its author read.
            Ok(_) => Err(StoreError::AlreadyExists),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(failed(e)),
        }
    }

    async fn current(&self, tenant: &str) -> Result<Option<StoredPolicy>, StoreError> {
        if unstorable(&[tenant]) {
            return Ok(None);
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "SELECT version, body FROM policies WHERE tenant = $1 ORDER BY version DESC LIMIT 1",
            )
            .await
            .map_err(failed)?;
        conn.query_opt(&s, &[&tenant])
            .await
            .map_err(failed)?
            .map(|r| policy_of(tenant, &r))
            .transpose()
    }

    async fn history(&self, tenant: &str) -> Result<Vec<StoredPolicy>, StoreError> {
        if unstorable(&[tenant]) {
            return Ok(Vec::new());
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "SELECT version, body FROM policies WHERE tenant = $1 ORDER BY version DESC LIMIT $2",
            )
            .await
            .map_err(failed)?;
        let rows = conn
            .query(&s, &[&tenant, &(HISTORY_LIMIT as i64)])
            .await
            .map_err(failed)?;
        rows.iter().map(|r| policy_of(tenant, r)).collect()
    }
}
