//! Tenants' Slack apps kept locally: the table `slack_apps` of `directory.db` (owner-only, as
//! the directory's webhook secrets are), written by `holdpoint slack connect` and read by the
//! server at each use, so a connect or disconnect is seen without a restart.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{Connected, SlackConnection, SlackConnections};
use crate::directory::embedded::FILE;
use crate::store::StoreError;
use crate::store::embedded::sqlite::{SqliteFile, failed};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS slack_apps (
    tenant         TEXT PRIMARY KEY,
    team_id        TEXT,
    bot_token      TEXT NOT NULL,
    signing_secret TEXT NOT NULL
) WITHOUT ROWID;
";

#[derive(Clone)]
pub struct EmbeddedSlack {
    file: SqliteFile,
}

impl EmbeddedSlack {
    /// Opens (or creates, owner-only) `directory.db` in `dir` with its `slack_apps` table.
    pub fn open(dir: &Path) -> Result<EmbeddedSlack, StoreError> {
        Ok(EmbeddedSlack {
            file: SqliteFile::open(dir, FILE, SCHEMA)?,
        })
    }

    /// Connects `tenant`, in place of any app it had, each part checked as
    /// [`SlackConnection::from_parts`] does (the signing secret is given as text: kept so, as
    /// Slack shows it).
    pub async fn put(
        &self,
        tenant: &str,
        team_id: Option<&str>,
        bot_token: &str,
        signing_secret: &str,
    ) -> Result<(), StoreError> {
        let c = SlackConnection::from_parts(tenant, team_id, bot_token, signing_secret)
            .map_err(StoreError::Internal)?;
        let secret = signing_secret.trim().to_owned();
        self.file
            .with(move |conn| {
                conn.execute(
                    "INSERT OR REPLACE INTO slack_apps (tenant, team_id, bot_token, signing_secret)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![c.tenant, c.team_id, c.bot_token.expose(), secret],
                )
                .map_err(failed)?;
                Ok(())
            })
            .await
    }

    /// Disconnects `tenant`; answers whether it was connected.
    pub async fn remove(&self, tenant: &str) -> Result<bool, StoreError> {
        let tenant = tenant.to_owned();
        self.file
            .with(move |conn| {
                let n = conn
                    .execute("DELETE FROM slack_apps WHERE tenant = ?1", params![tenant])
                    .map_err(failed)?;
                Ok(n > 0)
            })
            .await
    }

    /// Every connected tenant with its team, by tenant; never a secret.
    pub async fn list(&self) -> Result<Vec<Connected>, StoreError> {
        self.file
            .with(|conn| {
                let mut s = conn
                    .prepare_cached("SELECT tenant, team_id FROM slack_apps ORDER BY tenant")
                    .map_err(failed)?;
                let rows = s
                    .query_map([], |r| {
                        Ok(Connected {
                            tenant: r.get(0)?,
                            team_id: r.get(1)?,
                        })
                    })
                    .map_err(failed)?;
                rows.map(|r| r.map_err(failed)).collect()
            })
            .await
    }
}

#[async_trait]
impl SlackConnections for EmbeddedSlack {
    async fn get(&self, tenant: &str) -> Result<Option<SlackConnection>, StoreError> {
        let tenant = tenant.to_owned();
        self.file
            .with(move |conn| {
                let row = conn
                    .prepare_cached(
                        "SELECT team_id, bot_token, signing_secret FROM slack_apps WHERE tenant = ?1",
                    )
                    .map_err(failed)?
                    .query_row(params![tenant], |r| {
                        Ok((
                            r.get::<_, Option<String>>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    })
                    .optional()
                    .map_err(failed)?;
                let Some((team, token, secret)) = row else {
                    return Ok(None);
                };
                // Written only through `put`, so this is a hand-edited file: refused, not used.
                SlackConnection::from_parts(&tenant, team.as_deref(), &token, &secret)
                    .map(Some)
                    .map_err(|e| {
                        StoreError::Unavailable(format!("the Slack app of tenant {tenant}: {e}"))
                    })
            })
            .await
    }
}
