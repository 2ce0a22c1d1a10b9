//! Policies in `directory.db`, beside the principals: one row per version.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::{HISTORY_LIMIT, PolicyStore, StoredPolicy};
use crate::directory::embedded::FILE;
use crate::store::StoreError;
use crate::store::embedded::sqlite::{self, SqliteFile, failed};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS policies (
    tenant  TEXT NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL, -- the stored policy, as JSON
    PRIMARY KEY (tenant, version)
) WITHOUT ROWID;
";

#[derive(Clone)]
pub struct EmbeddedPolicies {
    file: SqliteFile,
}

impl EmbeddedPolicies {
    /// Opens (or creates, owner-only) `directory.db` in `dir` and its policies table.
    pub fn open(dir: &Path) -> Result<EmbeddedPolicies, StoreError> {
        Ok(EmbeddedPolicies {
            file: SqliteFile::open(dir, FILE, SCHEMA)?,
        })
    }
}

/// The version already stored (by an edit that came first) is that edit's, not a defect.
fn taken(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::AlreadyExists,
        _ => failed(e),
    }
}

fn decode(body: &str) -> Result<StoredPolicy, StoreError> {
    sqlite::decode("policy", body)
}

#[async_trait]
impl PolicyStore for EmbeddedPolicies {
    async fn put(
        &self,
        tenant: &str,
        text: &str,
        set_by: &str,
        at: DateTime<Utc>,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        let tenant = tenant.to_owned();
        let version = expected_version + 1;
        let body = sqlite::encode(&StoredPolicy {
            version,
            text: text.to_owned(),
            set_by: set_by.to_owned(),
            set_at: at,
        })?;
        let stored = i64::try_from(version).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.file
            .with(move |conn| {
                // Immediate: the write lock is taken before MAX(version) is read, so another
                // process on this file cannot read the same version in between (a deferred
                // transaction would fail its write instead, as a busy file).
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(failed)?;
                let newest: Option<i64> = tx
                    .query_row(
                        "SELECT MAX(version) FROM policies WHERE tenant = ?1",
                        params![tenant],
                        |r| r.get(0),
                    )
                    .map_err(failed)?;
                // Only right after the version its author read: a later one means an edit
                // landed in between.
                if newest.unwrap_or(0) != stored - 1 {
                    return Err(StoreError::AlreadyExists);
                }
                tx.execute(
                    "INSERT INTO policies (tenant, version, body) VALUES (?1, ?2, ?3)",
                    params![tenant, stored, body],
                )
                .map_err(taken)?;
                tx.commit().map_err(failed)?;
                Ok(version)
            })
            .await
    }

    async fn current(&self, tenant: &str) -> Result<Option<StoredPolicy>, StoreError> {
        let tenant = tenant.to_owned();
        self.file
            .with(move |conn| {
                conn.prepare_cached(
                    "SELECT body FROM policies WHERE tenant = ?1 ORDER BY version DESC LIMIT 1",
                )
                .map_err(failed)?
                .query_row(params![tenant], |r| r.get::<_, String>(0))
                .optional()
                .map_err(failed)?
                .map(|b| decode(&b))
                .transpose()
            })
            .await
    }

    async fn history(&self, tenant: &str) -> Result<Vec<StoredPolicy>, StoreError> {
        let tenant = tenant.to_owned();
        self.file
            .with(move |conn| {
                let mut s = conn
                    .prepare_cached(
                        "SELECT body FROM policies WHERE tenant = ?1 ORDER BY version DESC LIMIT ?2",
                    )
                    .map_err(failed)?;
                let rows = s
                    .query_map(params![tenant, HISTORY_LIMIT as i64], |r| {
                        r.get::<_, String>(0)
                    })
                    .map_err(failed)?;
                rows.map(|b| decode(&b.map_err(failed)?)).collect()
            })
            .await
    }
}

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
