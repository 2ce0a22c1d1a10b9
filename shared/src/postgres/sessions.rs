//! Sign-in links, sessions, sign-in request counts and spent Slack buttons in PostgreSQL, as
//! the embedded `sessions.db` keeps them. Each change that must happen once is one statement
//! on a key (a count is an upsert whose condition is checked on the locked row, a take is a
//! `DELETE … RETURNING`, a spend an `INSERT … ON CONFLICT DO NOTHING`), so instances sharing
//! the database never both pass.
//!
//! Rows past their end are never answered and are purged as new ones are written, by the wall
//! clock (never a caller's `now`, which a test may set anywhere).

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::directory::unstorable;
use super::{Conn, Pg, decode, encode, failed, is_unique_violation, ms};
use crate::sessions::{Counted, Session, SessionStore, SignInLink};
use crate::store::StoreError;

#[derive(Clone)]
pub struct PgSessions {
    pg: Pg,
}

impl PgSessions {
    pub fn new(pg: Pg) -> PgSessions {
        PgSessions { pg }
    }
}

/// Runs `sql`, a delete of the rows that ended by `$1`: `now` or the wall clock, whichever is
/// earlier (a caller whose clock is behind the wall's keeps its own rows).
async fn purge(conn: &Conn, sql: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let s = conn.prepare_cached(sql).await.map_err(failed)?;
    let end = ms(now.min(Utc::now()));
    conn.execute(&s, &[&end]).await.map_err(failed)?;
    Ok(())
}

fn link_of(hash: &str, body: &str) -> Result<SignInLink, StoreError> {
    let link: SignInLink = decode("sign-in link", body)?;
    if link.hash != hash {
        return Err(StoreError::Internal(
            "a stored sign-in link is kept under another's hash".into(),
        ));
    }
    Ok(link)
}

#[async_trait]
impl SessionStore for PgSessions {
    async fn count_request(
        &self,
        tenant: &str,
        folded_name: &str,
        now: DateTime<Utc>,
        window: TimeDelta,
        limit: u32,
    ) -> Result<Counted, StoreError> {
        // A name PostgreSQL text cannot hold is counted under one it can (never a principal's).
        let (tenant, folded_name) = (&*storable(tenant), &*storable(folded_name));
        let conn = self.pg.conn().await?;
        // The tenant's ended windows only: tenants' callers may keep clocks of their own.
        let s = conn
            .prepare_cached("DELETE FROM sign_in_requests WHERE tenant = $1 AND window_end <= $2")
            .await
            .map_err(failed)?;
        conn.execute(&s, &[&tenant, &ms(now.min(Utc::now()))])
            .await
            .map_err(failed)?;
        // One statement: a new name opens a window; an ended window starts again; otherwise
        // the count grows only while under the limit. ON CONFLICT locks the row and checks
        // the condition on its newest version, so concurrent requests are counted one by one.
        let s = conn
            .prepare_cached(
                "INSERT INTO sign_in_requests AS r (tenant, name, window_end, count)
                 VALUES ($1, $2, $4, 1)
                 ON CONFLICT (tenant, name) DO UPDATE SET
                     window_end = CASE WHEN r.window_end <= $3 THEN $4 ELSE r.window_end END,
                     count = CASE WHEN r.window_end <= $3 THEN 1 ELSE r.count + 1 END
                 WHERE r.window_end <= $3 OR r.count < $5
                 RETURNING count",
            )
            .await
            .map_err(failed)?;
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let counted = conn
            .query_opt(
                &s,
                &[&tenant, &folded_name, &ms(now), &ms(now + window), &limit],
            )
            .await
            .map_err(failed)?;
        if counted.is_some() {
            return Ok(Counted::Admitted);
        }
        let s = conn
            .prepare_cached(
                "SELECT window_end FROM sign_in_requests WHERE tenant = $1 AND name = $2",
            )
            .await
            .map_err(failed)?;
        let end: i64 = conn
            .query_opt(&s, &[&tenant, &folded_name])
            .await
            .map_err(failed)?
            .map_or(ms(now + window), |r| r.get(0));
        Ok(Counted::Limited {
            retry_after_seconds: ((end - ms(now)).max(0) as u64).div_ceil(1000).max(1),
        })
    }

    async fn put_link(&self, link: &SignInLink) -> Result<(), StoreError> {
        let conn = self.pg.conn().await?;
        purge(
            &conn,
            "DELETE FROM sign_in_links WHERE expires <= $1",
            Utc::now(),
        )
        .await?;
        let s = conn
            .prepare_cached("INSERT INTO sign_in_links (hash, expires, body) VALUES ($1, $2, $3)")
            .await
            .map_err(failed)?;
        conn.execute(&s, &[&link.hash, &ms(link.expires_at), &encode(link)?])
            .await
            .map_err(|e| stored_once(e, "sign-in link"))?;
        Ok(())
    }

    async fn link(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SignInLink>, StoreError> {
        if unstorable(&[hash]) {
            return Ok(None);
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached("SELECT body FROM sign_in_links WHERE hash = $1 AND expires > $2")
            .await
            .map_err(failed)?;
        conn.query_opt(&s, &[&hash, &ms(now)])
            .await
            .map_err(failed)?
            .map(|r| link_of(hash, r.get(0)))
            .transpose()
    }

    async fn take_link(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SignInLink>, StoreError> {
        if unstorable(&[hash]) {
            return Ok(None);
        }
        let conn = self.pg.conn().await?;
        // One statement: of two takes, the second waits for the first's delete and then finds
        // no row.
        let s = conn
            .prepare_cached(
                "DELETE FROM sign_in_links WHERE hash = $1 AND expires > $2 RETURNING body",
            )
            .await
            .map_err(failed)?;
        conn.query_opt(&s, &[&hash, &ms(now)])
            .await
            .map_err(failed)?
            .map(|r| link_of(hash, r.get(0)))
            .transpose()
    }

    async fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        let conn = self.pg.conn().await?;
        purge(
            &conn,
            "DELETE FROM sessions WHERE expires <= $1",
            Utc::now(),
        )
        .await?;
        let s = conn
            .prepare_cached(
                "INSERT INTO sessions (tenant, name, hash, expires, body) VALUES ($1, $2, $3, $4, $5)",
            )
            .await
            .map_err(failed)?;
        let body = encode(session)?;
        conn.execute(
            &s,
            &[
                &session.tenant,
                &session.name,
                &session.hash,
                &ms(session.expires_at),
                &body,
            ],
        )
        .await
        .map_err(|e| stored_once(e, "session"))?;
        Ok(())
    }

    async fn session(
        &self,
        tenant: &str,
        name: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        if unstorable(&[tenant, name, hash]) {
            return Ok(None);
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "SELECT body FROM sessions WHERE tenant = $1 AND name = $2 AND hash = $3 AND expires > $4",
            )
            .await
            .map_err(failed)?;
        let Some(row) = conn
            .query_opt(&s, &[&tenant, &name, &hash, &ms(now)])
            .await
            .map_err(failed)?
        else {
            return Ok(None);
        };
        let session: Session = decode("session", row.get(0))?;
        // Its body must be the session its key names: never another principal's.
        if (
            session.tenant.as_str(),
            session.name.as_str(),
            session.hash.as_str(),
        ) != (tenant, name, hash)
        {
            return Err(StoreError::Internal(format!(
                "a stored session of {tenant}/{name} is another principal's"
            )));
        }
        Ok(Some(session))
    }

    async fn remove_session(
        &self,
        tenant: &str,
        name: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        if unstorable(&[tenant, name, hash]) {
            return Ok(false);
        }
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached("DELETE FROM sessions WHERE tenant = $1 AND name = $2 AND hash = $3")
            .await
            .map_err(failed)?;
        let n = conn
            .execute(&s, &[&tenant, &name, &hash])
            .await
            .map_err(failed)?;
        Ok(n > 0)
    }

    async fn remove_sessions_of(
        &self,
        tenant: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        if unstorable(&[tenant, name]) {
            return Ok(0);
        }
        let conn = self.pg.conn().await?;
        // One statement removes them all and counts the live ones among them.
        let s = conn
            .prepare_cached(
                "WITH gone AS (DELETE FROM sessions WHERE tenant = $1 AND name = $2 RETURNING expires)
                 SELECT count(*) FROM gone WHERE expires > $3",
            )
            .await
            .map_err(failed)?;
        let live: i64 = conn
            .query_one(&s, &[&tenant, &name, &ms(now)])
            .await
            .map_err(failed)?
            .get(0);
        Ok(usize::try_from(live).unwrap_or(0))
    }

    async fn spend(
        &self,
        tenant: &str,
        nonce: Uuid,
        expires: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let conn = self.pg.conn().await?;
        // Rows past their button's end are spent for nothing: the button is refused.
        purge(
            &conn,
            "DELETE FROM spent_buttons WHERE expires <= $1",
            Utc::now(),
        )
        .await?;
        // One statement: of two spends, the second waits for the first's insert and then
        // inserts nothing. The nonce is the key whatever the tenant.
        let s = conn
            .prepare_cached(
                "INSERT INTO spent_buttons (nonce, tenant, expires) VALUES ($1, $2, $3)
                 ON CONFLICT (nonce) DO NOTHING",
            )
            .await
            .map_err(failed)?;
        let n = conn
            .execute(&s, &[&nonce.to_string(), &tenant, &ms(expires)])
            .await
            .map_err(failed)?;
        Ok(n == 1)
    }
}

/// `s` with each NUL (which PostgreSQL text cannot hold) as U+FFFD.
fn storable(s: &str) -> std::borrow::Cow<'_, str> {
    if unstorable(&[s]) {
        s.replace('\0', "\u{FFFD}").into()
    } else {
        s.into()
    }
}

/// A link's or session's hash is drawn from 256 random bits: one stored already is not
/// overwritten, and is no defect of the database.
fn stored_once(e: tokio_postgres::Error, what: &str) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Internal(format!("this {what} is already kept"))
    } else {
        failed(e)
    }
}
