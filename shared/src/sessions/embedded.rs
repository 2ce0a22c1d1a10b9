//! Sessions in the data directory: `sessions.db`, SQLite, beside `directory.db` (a file of its
//! own, so `holdpoint principals sign-out` ends sessions while the server runs). Rows past
//! their expiry are never answered and are purged as new ones are written.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::{Counted, Session, SessionStore, SignInLink};
use crate::store::StoreError;
use crate::store::embedded::sqlite::{self, SqliteFile, failed};

pub const FILE: &str = "sessions.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sign_in_requests (
    tenant    TEXT NOT NULL,
    name      TEXT NOT NULL, -- folded
    window_end INTEGER NOT NULL, -- ms
    count     INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sign_in_links (
    hash      TEXT PRIMARY KEY,
    expires   INTEGER NOT NULL, -- ms
    body      TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    tenant    TEXT NOT NULL,
    name      TEXT NOT NULL,
    hash      TEXT NOT NULL,
    expires   INTEGER NOT NULL, -- ms
    body      TEXT NOT NULL,
    PRIMARY KEY (tenant, name, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spent_buttons (
    nonce     TEXT PRIMARY KEY,
    tenant    TEXT NOT NULL,
    expires   INTEGER NOT NULL -- ms
) WITHOUT ROWID;
";

#[derive(Clone)]
pub struct EmbeddedSessions {
    file: SqliteFile,
}

impl EmbeddedSessions {
    /// Opens (or creates, owner-only) `sessions.db` in `dir`.
    pub fn open(dir: &Path) -> Result<EmbeddedSessions, StoreError> {
        Ok(EmbeddedSessions {
            file: SqliteFile::open(dir, FILE, SCHEMA)?,
        })
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

#[async_trait]
impl SessionStore for EmbeddedSessions {
    async fn count_request(
        &self,
        tenant: &str,
        folded_name: &str,
        now: DateTime<Utc>,
        window: TimeDelta,
        limit: u32,
    ) -> Result<Counted, StoreError> {
        let (tenant, name) = (tenant.to_owned(), folded_name.to_owned());
        self.file
            .with(move |conn| {
                let tx = conn.transaction().map_err(failed)?;
                tx.execute(
                    "DELETE FROM sign_in_requests WHERE window_end <= ?1",
                    params![ms(now)],
                )
                .map_err(failed)?;
                let found: Option<(i64, i64)> = tx
                    .query_row(
                        "SELECT window_end, count FROM sign_in_requests WHERE tenant = ?1 AND name = ?2",
                        params![tenant, name],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(failed)?;
                let counted = match found {
                    Some((end, count)) if count >= i64::from(limit) => Counted::Limited {
                        retry_after_seconds: ((end - ms(now)).max(0) as u64).div_ceil(1000).max(1),
                    },
                    Some(_) => {
                        tx.execute(
                            "UPDATE sign_in_requests SET count = count + 1 WHERE tenant = ?1 AND name = ?2",
                            params![tenant, name],
                        )
                        .map_err(failed)?;
                        Counted::Admitted
                    }
                    None => {
                        tx.execute(
                            "INSERT INTO sign_in_requests (tenant, name, window_end, count) VALUES (?1, ?2, ?3, 1)",
                            params![tenant, name, ms(now + window)],
                        )
                        .map_err(failed)?;
                        Counted::Admitted
                    }
                };
                tx.commit().map_err(failed)?;
                Ok(counted)
            })
            .await
    }

    async fn put_link(&self, link: &SignInLink) -> Result<(), StoreError> {
        let link = link.clone();
        self.file
            .with(move |conn| {
                let body = sqlite::encode(&link)?;
                let now = ms(Utc::now());
                conn.execute(
                    "DELETE FROM sign_in_links WHERE expires <= ?1",
                    params![now],
                )
                .map_err(failed)?;
                conn.execute(
                    "INSERT INTO sign_in_links (hash, expires, body) VALUES (?1, ?2, ?3)",
                    params![link.hash, ms(link.expires_at), body],
                )
                .map_err(failed)?;
                Ok(())
            })
            .await
    }

    async fn link(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SignInLink>, StoreError> {
        let hash = hash.to_owned();
        self.file
            .with(move |conn| {
                conn.query_row(
                    "SELECT body FROM sign_in_links WHERE hash = ?1 AND expires > ?2",
                    params![hash, ms(now)],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(failed)?
                .map(|b| sqlite::decode("sign-in link", &b))
                .transpose()
            })
            .await
    }

    async fn take_link(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SignInLink>, StoreError> {
        let hash = hash.to_owned();
        self.file
            .with(move |conn| {
                // One statement: of two takes, only one deletes the row.
                conn.query_row(
                    "DELETE FROM sign_in_links WHERE hash = ?1 AND expires > ?2 RETURNING body",
                    params![hash, ms(now)],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(failed)?
                .map(|b| sqlite::decode("sign-in link", &b))
                .transpose()
            })
            .await
    }

    async fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        let session = session.clone();
        self.file
            .with(move |conn| {
                let body = sqlite::encode(&session)?;
                conn.execute(
                    "DELETE FROM sessions WHERE expires <= ?1",
                    params![ms(Utc::now())],
                )
                .map_err(failed)?;
                conn.execute(
                    "INSERT INTO sessions (tenant, name, hash, expires, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![session.tenant, session.name, session.hash, ms(session.expires_at), body],
                )
                .map_err(failed)?;
                Ok(())
            })
            .await
    }

    async fn session(
        &self,
        tenant: &str,
        name: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let (tenant, name, hash) = (tenant.to_owned(), name.to_owned(), hash.to_owned());
        self.file
            .with(move |conn| {
                conn.query_row(
                    "SELECT body FROM sessions WHERE tenant = ?1 AND name = ?2 AND hash = ?3 AND expires > ?4",
                    params![tenant, name, hash, ms(now)],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(failed)?
                .map(|b| sqlite::decode("session", &b))
                .transpose()
            })
            .await
    }

    async fn remove_session(
        &self,
        tenant: &str,
        name: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let (tenant, name, hash) = (tenant.to_owned(), name.to_owned(), hash.to_owned());
        self.file
            .with(move |conn| {
                let n = conn
                    .execute(
                        "DELETE FROM sessions WHERE tenant = ?1 AND name = ?2 AND hash = ?3",
                        params![tenant, name, hash],
                    )
                    .map_err(failed)?;
                Ok(n > 0)
            })
            .await
    }

    async fn remove_sessions_of(
        &self,
        tenant: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.file
            .with(move |conn| {
                let tx = conn.transaction().map_err(failed)?;
                let live = tx
                    .execute(
                        "DELETE FROM sessions WHERE tenant = ?1 AND name = ?2 AND expires > ?3",
                        params![tenant, name, ms(now)],
                    )
                    .map_err(failed)?;
                tx.execute(
                    "DELETE FROM sessions WHERE tenant = ?1 AND name = ?2",
                    params![tenant, name],
                )
                .map_err(failed)?;
                tx.commit().map_err(failed)?;
                Ok(live)
            })
            .await
    }

    async fn spend(
        &self,
        tenant: &str,
        nonce: Uuid,
        expires: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let tenant = tenant.to_owned();
        self.file
            .with(move |conn| {
                // Rows past their button's end are spent for nothing: the button is refused.
                conn.execute(
                    "DELETE FROM spent_buttons WHERE expires <= ?1",
                    params![ms(Utc::now())],
                )
                .map_err(failed)?;
                // One statement: of two spends, only one inserts the row.
                let n = conn
                    .execute(
                        "INSERT OR IGNORE INTO spent_buttons (nonce, tenant, expires) VALUES (?1, ?2, ?3)",
                        params![nonce.to_string(), tenant, ms(expires)],
                    )
                    .map_err(failed)?;
                Ok(n == 1)
            })
            .await
    }
}
