//! The directory in PostgreSQL: one row per principal (`principals`) and one per lookup it is
//! found by (`credentials`: `key#…`, `arn#…`, `slack#{tenant}/{user}`), as the embedded
//! `directory.db` keeps them.
//!
//! Every rule is a key, so it holds between instances without a lock held across statements:
//! the primary key of `credentials` keeps a lookup to one principal, the unique
//! `(tenant, folded)` keeps a name to one principal of its tenant ignoring case, and a change
//! locks its principal's row (`FOR UPDATE`) before it replaces the lookups. A put is one
//! transaction: a lookup held by another principal rolls back all of it.

use async_trait::async_trait;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Pg, decode, encode, failed, is_unique_violation};
use crate::directory::{Directory, Entry, Lookup};
use crate::store::StoreError;

#[derive(Clone)]
pub struct PgDirectory {
    pg: Pg,
}

impl PgDirectory {
    pub fn new(pg: Pg) -> PgDirectory {
        PgDirectory { pg }
    }
}

/// A principal's row read back: its body must be the principal its key names (a body moved
/// under another key, by hand, is refused rather than answered for that key).
fn entry_of(row: &Row) -> Result<Entry, StoreError> {
    let (tenant, name): (&str, &str) = (row.get("tenant"), row.get("name"));
    let entry: Entry = decode("principal", row.get("body"))?;
    if entry.tenant != tenant || entry.name != name {
        return Err(StoreError::Internal(format!(
            "stored principal {tenant}/{name} holds the body of {}/{}",
            entry.tenant, entry.name
        )));
    }
    Ok(entry)
}

/// A unique key another principal holds (its name in any case, or a credential): the put's
/// "already there"; anything else as the store reports it.
fn taken(e: tokio_postgres::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::AlreadyExists
    } else {
        failed(e)
    }
}

/// Whether any of `parts` holds a NUL, which PostgreSQL text cannot: such a name was never
/// stored, so asking for it finds nothing (rather than failing in the database).
pub(super) fn unstorable(parts: &[&str]) -> bool {
    parts.iter().any(|p| p.contains('\0'))
}

const SELECT: &str = "SELECT tenant, name, body FROM principals";

#[async_trait]
impl Directory for PgDirectory {
    async fn put(&self, entry: &Entry, create: bool) -> Result<(), StoreError> {
        let mut entry = entry.clone();
        let mut conn = self.pg.conn().await?;
        let tx = conn.transaction().await.map_err(failed)?;
        if create {
            // Whatever the caller sent, a create is a new life of the name.
            entry.instance = Some(Uuid::new_v4());
            let body = encode(&entry)?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO principals (tenant, name, folded, body) VALUES ($1, $2, $3, $4)",
                )
                .await
                .map_err(failed)?;
            // The primary key refuses the name, `principals_folded` the name in another case;
            // a racing create of either waits here for the first to commit, then is refused.
            tx.execute(
                &insert,
                &[&entry.tenant, &entry.name, &entry.folded_name(), &body],
            )
            .await
            .map_err(taken)?;
        } else {
            // Locked: a concurrent change or remove of this principal waits for this one.
            let lock = tx
                .prepare_cached(
                    "SELECT tenant, name, body FROM principals WHERE tenant = $1 AND name = $2 FOR UPDATE",
                )
                .await
                .map_err(failed)?;
            let old = tx
                .query_opt(&lock, &[&entry.tenant, &entry.name])
                .await
                .map_err(failed)?
                .ok_or(StoreError::NotFound)?;
            entry.instance = entry_of(&old)?.instance;
            let body = encode(&entry)?;
            let update = tx
                .prepare_cached("UPDATE principals SET body = $3 WHERE tenant = $1 AND name = $2")
                .await
                .map_err(failed)?;
            tx.execute(&update, &[&entry.tenant, &entry.name, &body])
                .await
                .map_err(failed)?;
            let clear = tx
                .prepare_cached("DELETE FROM credentials WHERE tenant = $1 AND name = $2")
                .await
                .map_err(failed)?;
            tx.execute(&clear, &[&entry.tenant, &entry.name])
                .await
                .map_err(failed)?;
        }
        let add = tx
            .prepare_cached(
                "INSERT INTO credentials (lookup, tenant, name) VALUES ($1, $2, $3)
                 ON CONFLICT (lookup) DO NOTHING",
            )
            .await
            .map_err(failed)?;
        for lookup in entry.lookups() {
            let added = tx
                .execute(&add, &[&lookup, &entry.tenant, &entry.name])
                .await
                .map_err(failed)?;
            if added == 0 {
                // Another principal's (or named twice): dropping `tx` rolls everything back.
                return Err(StoreError::AlreadyExists);
            }
        }
        tx.commit().await.map_err(failed)
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Entry>, StoreError> {
        if unstorable(&[tenant, name]) {
            return Ok(None);
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(&format!("{SELECT} WHERE tenant = $1 AND name = $2"))
            .await
            .map_err(failed)?;
        conn.query_opt(&s, &[&tenant, &name])
            .await
            .map_err(failed)?
            .map(|r| entry_of(&r))
            .transpose()
    }

    async fn find(&self, lookup: &Lookup) -> Result<Option<Entry>, StoreError> {
        let id = lookup.id();
        if unstorable(&[&id]) {
            return Ok(None);
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "SELECT p.tenant, p.name, p.body FROM credentials c
                 JOIN principals p ON p.tenant = c.tenant AND p.name = c.name
                 WHERE c.lookup = $1",
            )
            .await
            .map_err(failed)?;
        let Some(row) = conn.query_opt(&s, &[&id]).await.map_err(failed)? else {
            return Ok(None);
        };
        // A lookup row its principal does not name (never written so) finds nobody.
        Ok(Some(entry_of(&row)?).filter(|e| e.lookups().contains(&id)))
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        if unstorable(&[tenant.unwrap_or_default()]) {
            return Ok(Vec::new());
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(&format!(
                "{SELECT} WHERE $1::text IS NULL OR tenant = $1 ORDER BY tenant, name"
            ))
            .await
            .map_err(failed)?;
        let rows = conn.query(&s, &[&tenant]).await.map_err(failed)?;
        rows.iter().map(entry_of).collect()
    }

    async fn members(&self, tenant: &str, role: &str) -> Result<Vec<Entry>, StoreError> {
        if unstorable(&[tenant, role]) {
            return Ok(Vec::new());
        }
        let conn = self.pg.conn().await?;
        // The role is looked for in the stored body, then checked again on the entry read.
        let s = conn
            .prepare_cached(&format!(
                "{SELECT} WHERE tenant = $1 AND (body::jsonb -> 'roles') ? $2 ORDER BY name"
            ))
            .await
            .map_err(failed)?;
        let rows = conn.query(&s, &[&tenant, &role]).await.map_err(failed)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let entry = entry_of(row)?;
            if entry.tenant == tenant && entry.roles.iter().any(|r| r == role) {
                out.push(entry);
            }
        }
        Ok(out)
    }

    async fn remove(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        if unstorable(&[tenant, name]) {
            return Ok(false);
        }
        let conn = self.pg.conn().await?;
        // One statement: its lookups go with it (ON DELETE CASCADE).
        let s = conn
            .prepare_cached("DELETE FROM principals WHERE tenant = $1 AND name = $2")
            .await
            .map_err(failed)?;
        let n = conn.execute(&s, &[&tenant, &name]).await.map_err(failed)?;
        Ok(n > 0)
    }
}
