//! The directory in the data directory: `directory.db`, SQLite, one row per principal and one
//! per credential lookup. A file of its own beside the approvals: `holdpoint principals …`
//! changes it while the server runs (SQLite serialises the two processes), and the server sees
//! the change when its authentication cache next reads.
//!
//! Names are unique within a tenant ignoring case: a create looks for the name in any case in
//! the transaction that writes it (a check, not an index, so a file holding such twins from
//! before still opens).

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::{Directory, Entry, Lookup};
use crate::store::StoreError;
use crate::store::embedded::sqlite::{self, SqliteFile, failed};

pub const FILE: &str = "directory.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS principals (
    tenant TEXT NOT NULL,
    name   TEXT NOT NULL,
    body   TEXT NOT NULL, -- the entry, as JSON
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credentials (
    lookup TEXT PRIMARY KEY, -- key#{sha256 hex} or arn#{ARN}
    tenant TEXT NOT NULL,
    name   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS credentials_of ON credentials (tenant, name);
";

#[derive(Clone)]
pub struct EmbeddedDirectory {
    file: SqliteFile,
}

fn decode(body: &str) -> Result<Entry, StoreError> {
    sqlite::decode("principal", body)
}

impl EmbeddedDirectory {
    /// Opens (or creates, owner-only) `directory.db` in `dir`.
    pub fn open(dir: &Path) -> Result<EmbeddedDirectory, StoreError> {
        Ok(EmbeddedDirectory {
            file: SqliteFile::open(dir, FILE, SCHEMA)?,
        })
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

fn get(conn: &Connection, tenant: &str, name: &str) -> Result<Option<Entry>, StoreError> {
    conn.prepare_cached("SELECT body FROM principals WHERE tenant = ?1 AND name = ?2")
        .map_err(failed)?
        .query_row(params![tenant, name], |r| r.get::<_, String>(0))
        .optional()
        .map_err(failed)?
        .map(|b| decode(&b))
        .transpose()
}

/// Whether another principal of `entry`'s tenant has its name in another case. SQLite's
/// `lower` folds ASCII only, as [`Entry::folded_name`] does.
fn named_alike(conn: &Connection, entry: &Entry) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT 1 FROM principals WHERE tenant = ?1 AND lower(name) = ?2 AND name != ?3 LIMIT 1",
    )
    .map_err(failed)?
    .query_row(
        params![entry.tenant, entry.folded_name(), entry.name],
        |_| Ok(()),
    )
    .optional()
    .map_err(failed)
    .map(|found| found.is_some())
}

#[async_trait]
impl Directory for EmbeddedDirectory {
    async fn put(&self, entry: &Entry, create: bool) -> Result<(), StoreError> {
        let mut entry = entry.clone();
        self.file.with(move |conn| {
            let tx = conn.transaction().map_err(failed)?;
            let stored = get(&tx, &entry.tenant, &entry.name)?;
            match (&stored, create) {
                (Some(_), true) => return Err(StoreError::AlreadyExists),
                (None, false) => return Err(StoreError::NotFound),
                (None, true) => {
                    if named_alike(&tx, &entry)? {
                        return Err(StoreError::AlreadyExists);
                    }
                    entry.instance = Some(Uuid::new_v4());
                }
                (Some(old), false) => entry.instance = old.instance,
            }
            let body = sqlite::encode(&entry)?;
            tx.execute(
                "DELETE FROM credentials WHERE tenant = ?1 AND name = ?2",
                params![entry.tenant, entry.name],
            )
            .map_err(failed)?;
            for lookup in entry.lookups() {
                let added = tx
                    .execute(
                        "INSERT OR IGNORE INTO credentials (lookup, tenant, name) VALUES (?1, ?2, ?3)",
                        params![lookup, entry.tenant, entry.name],
                    )
                    .map_err(failed)?;
                if added == 0 {
                    // Another principal's credential: nothing is written.
                    return Err(StoreError::AlreadyExists);
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO principals (tenant, name, body) VALUES (?1, ?2, ?3)",
                params![entry.tenant, entry.name, body],
            )
            .map_err(failed)?;
            tx.commit().map_err(failed)
        })
        .await
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Entry>, StoreError> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.file.with(move |conn| get(conn, &tenant, &name)).await
    }

    async fn find(&self, lookup: &Lookup) -> Result<Option<Entry>, StoreError> {
        let id = lookup.id();
        self.file
            .with(move |conn| {
                let owner = conn
                    .prepare_cached("SELECT tenant, name FROM credentials WHERE lookup = ?1")
                    .map_err(failed)?
                    .query_row(params![id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .optional()
                    .map_err(failed)?;
                match owner {
                    Some((tenant, name)) => get(conn, &tenant, &name),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        let tenant = tenant.map(str::to_owned);
        self.file.with(move |conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT body FROM principals WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, name",
                )
                .map_err(failed)?;
            let rows = s
                .query_map(params![tenant], |r| r.get::<_, String>(0))
                .map_err(failed)?;
            rows.map(|b| decode(&b.map_err(failed)?)).collect()
        })
        .await
    }

    async fn remove(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.file
            .with(move |conn| {
                let tx = conn.transaction().map_err(failed)?;
                tx.execute(
                    "DELETE FROM credentials WHERE tenant = ?1 AND name = ?2",
                    params![tenant, name],
                )
                .map_err(failed)?;
                let n = tx
                    .execute(
                        "DELETE FROM principals WHERE tenant = ?1 AND name = ?2",
                        params![tenant, name],
                    )
                    .map_err(failed)?;
                tx.commit().map_err(failed)?;
                Ok(n > 0)
            })
            .await
    }
}
