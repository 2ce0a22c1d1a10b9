//! The schema, versioned: each file in `migrations/` is applied once, in order, in one
//! transaction under an advisory lock (instances starting together apply it once), and recorded
//! in `holdpoint_migrations`. A database migrated by a later Holdpoint is refused, not guessed at.

use super::errors::failed;

/// A pooled connection (as `super::Conn`).
type Conn = deadpool_postgres::Object;
use crate::store::StoreError;

/// Every migration: its version, its name and its SQL. Never edit one that has shipped: add
/// the next.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "approvals",
        include_str!("migrations/0001_approvals.sql"),
    ),
    (
        2,
        "directory",
        include_str!("migrations/0002_directory.sql"),
    ),
    (
        3,
        "deliveries",
        include_str!("migrations/0003_deliveries.sql"),
    ),
];

/// The key of the advisory lock migrations hold (any constant; this one spells "hold").
const LOCK: i64 = 0x686f_6c64;

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS holdpoint_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies the migrations the database lacks; answers the versions it applied.
pub async fn apply(conn: &mut Conn) -> Result<Vec<i32>, StoreError> {
    let tx = conn.transaction().await.map_err(failed)?;
    // A migration may wait for another instance's, and rewrite a large table: neither is
    // bound by the session's limits.
    tx.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")
        .await
        .map_err(failed)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .await
        .map_err(failed)?;
    let applied = applied(&tx).await?;
    refuse_later(&applied)?;
    if applied.len() == MIGRATIONS.len() {
        // Nothing to apply: no DDL either, so an instance may run as a role that owns nothing
        // ([`GRANTS`]) once the owner has migrated.
        tx.commit().await.map_err(failed)?;
        return Ok(Vec::new());
    }
    tx.batch_execute(LEDGER).await.map_err(failed)?;
    let mut done = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Internal(format!("migration {version} ({name}): {}", failed(e)))
        })?;
        tx.execute(
            "INSERT INTO holdpoint_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await
        .map_err(failed)?;
        done.push(*version);
    }
    tx.commit().await.map_err(failed)?;
    Ok(done)
}

/// What the role instances run as may do, once the tables' owner has migrated: read and write
/// what the service writes, and only add to the audit records, checkpoints, policies and
/// idempotency keys. Owning nothing, it cannot switch off the append-only triggers, alter a
/// table or truncate one; nor create anything in `public` (which PostgreSQL 14 and older let
/// every role do: a function planted there could run as the owner at its next migration). `{role}` is the role, checked by [`grant`].
pub const GRANTS: &str = "
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT ON holdpoint_migrations TO {role};
GRANT SELECT, INSERT, UPDATE ON approvals TO {role};
GRANT SELECT, INSERT ON reviewers, idempotency, audit, checkpoints, checkpoint_heads, policies TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON principals, credentials, sign_in_requests, sign_in_links,
    sessions, spent_buttons, slack_apps, deliveries TO {role};
";

/// Grants [`GRANTS`] to `role` (lower-case letters, digits and `_`: an identifier needing no
/// quoting, so nothing else can ride along).
pub async fn grant(conn: &Conn, role: &str) -> Result<(), StoreError> {
    let plain = !role.is_empty()
        && role.len() <= 63
        && !role.starts_with(|c: char| c.is_ascii_digit())
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !plain {
        return Err(StoreError::Internal(
            "a role is lower-case letters, digits and _ (at most 63, not starting with a digit)"
                .into(),
        ));
    }
    conn.batch_execute(&GRANTS.replace("{role}", role))
        .await
        .map_err(failed)
}

/// Refuses a database that is not at this build's schema, changing nothing.
pub async fn check(conn: &Conn) -> Result<(), StoreError> {
    let applied = applied(conn).await?;
    refuse_later(&applied)?;
    let missing: Vec<i32> = MIGRATIONS
        .iter()
        .map(|m| m.0)
        .filter(|v| !applied.contains(v))
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::Internal(format!(
            "the database lacks migrations {missing:?}: run `holdpoint db migrate` or start `holdpoint serve`"
        )));
    }
    Ok(())
}

/// The versions applied, in order (none in a database Holdpoint never migrated).
pub async fn applied(conn: &impl deadpool_postgres::GenericClient) -> Result<Vec<i32>, StoreError> {
    let ledger: Option<String> = conn
        .query_one("SELECT to_regclass('holdpoint_migrations')::text", &[])
        .await
        .map_err(failed)?
        .get(0);
    if ledger.is_none() {
        return Ok(Vec::new());
    }
    let rows = conn
        .query(
            "SELECT version FROM holdpoint_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(failed)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn refuse_later(applied: &[i32]) -> Result<(), StoreError> {
    match applied.iter().max() {
        Some(v) if *v > latest() => Err(StoreError::Internal(format!(
            "the database is at schema version {v}, from a later Holdpoint than this one (version {})",
            latest()
        ))),
        _ => Ok(()),
    }
}
