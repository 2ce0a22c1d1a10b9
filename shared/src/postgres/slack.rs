//! Tenants' Slack apps in PostgreSQL: the table `slack_apps`, one row per tenant, as the
//! embedded `directory.db` keeps them. Written by `holdpoint slack connect`, read at each use by
//! every instance, so a connect or disconnect is seen without a restart. Neither secret is ever
//! shown: [`Connected`] carries none, and [`SlackConnection`]'s `Debug` hides both.

use async_trait::async_trait;

use super::directory::unstorable;
use super::{Pg, failed};
use crate::slack::connection::{Connected, SlackConnection, SlackConnections};
use crate::store::StoreError;

#[derive(Clone)]
pub struct PgSlack {
    pg: Pg,
}

impl PgSlack {
    pub fn new(pg: Pg) -> PgSlack {
        PgSlack { pg }
    }

    /// Connects `tenant`, in place of any app it had, each part checked as
    /// [`SlackConnection::from_parts`] does (the signing secret is kept as text, as Slack shows
    /// it). The error names the part, never a secret.
    pub async fn put(
        &self,
        tenant: &str,
        team_id: Option<&str>,
        bot_token: &str,
        signing_secret: &str,
    ) -> Result<(), StoreError> {
        let c = SlackConnection::from_parts(tenant, team_id, bot_token, signing_secret)
            .map_err(StoreError::Internal)?;
        let secret = signing_secret.trim();
        if unstorable(&[secret]) {
            return Err(StoreError::Internal(
                "the signing secret holds a NUL character".into(),
            ));
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "INSERT INTO slack_apps (tenant, team_id, bot_token, signing_secret)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant) DO UPDATE SET team_id = EXCLUDED.team_id,
                     bot_token = EXCLUDED.bot_token, signing_secret = EXCLUDED.signing_secret",
            )
            .await
            .map_err(failed)?;
        conn.execute(&s, &[&c.tenant, &c.team_id, &c.bot_token.expose(), &secret])
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Disconnects `tenant`; answers whether it was connected.
    pub async fn remove(&self, tenant: &str) -> Result<bool, StoreError> {
        if unstorable(&[tenant]) {
            return Ok(false);
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached("DELETE FROM slack_apps WHERE tenant = $1")
            .await
            .map_err(failed)?;
        Ok(conn.execute(&s, &[&tenant]).await.map_err(failed)? > 0)
    }

    /// Every connected tenant with its team, by tenant; never a secret.
    pub async fn list(&self) -> Result<Vec<Connected>, StoreError> {
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached("SELECT tenant, team_id FROM slack_apps ORDER BY tenant")
            .await
            .map_err(failed)?;
        let rows = conn.query(&s, &[]).await.map_err(failed)?;
        Ok(rows
            .iter()
            .map(|r| Connected {
                tenant: r.get(0),
                team_id: r.get(1),
            })
            .collect())
    }
}

#[async_trait]
impl SlackConnections for PgSlack {
    async fn get(&self, tenant: &str) -> Result<Option<SlackConnection>, StoreError> {
        if unstorable(&[tenant]) {
            return Ok(None);
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "SELECT team_id, bot_token, signing_secret FROM slack_apps WHERE tenant = $1",
            )
            .await
            .map_err(failed)?;
        let Some(row) = conn.query_opt(&s, &[&tenant]).await.map_err(failed)? else {
            return Ok(None);
        };
        let (team, token, secret): (Option<&str>, &str, &str) =
            (row.get(0), row.get(1), row.get(2));
        // Written only through `put`, so this is a hand-edited row: refused, not used.
        SlackConnection::from_parts(tenant, team, token, secret)
            .map(Some)
            .map_err(|e| StoreError::Unavailable(format!("the Slack app of tenant {tenant}: {e}")))
    }
}
