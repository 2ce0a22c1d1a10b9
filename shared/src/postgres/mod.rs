//! PostgreSQL (`HOLDPOINT_STORE=postgres`): approvals and their audit chains, checkpoints, the
//! directory, policies, sessions and deliveries in one database that several `holdpoint serve`
//! share. Every transition is one transaction (compare-and-set on the version, the audit record
//! appended in it); the sweep and the delivery queue claim what they take with a lease
//! ([`Pg::lease`]), so each due approval and each delivery is handled by one instance, and what
//! a crashed instance claimed is taken over once its lease ends.
//!
//! The schema is versioned in `migrations/` and applied at start ([`migrations`]).

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use uuid::Uuid;

use crate::config::Database;
use crate::store::StoreError;

pub mod checkpoints;
pub mod deliveries;
pub mod directory;
mod errors;
pub mod migrations;
pub mod policies;
pub mod sessions;
pub mod slack;
pub mod store;
mod tls;

pub use errors::{failed, is_unique_violation, pool_failed};

/// A pooled connection.
pub type Conn = deadpool_postgres::Object;

/// The driver, for tests and tools that speak to the database directly.
pub use tokio_postgres;

/// How long a request waits for a free connection before the store answers unavailable.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// Each session's limits unless the URL sets `options`: a statement, a wait for a lock, a
/// transaction left idle.
const SESSION_LIMITS: &str =
    "-c statement_timeout=30s -c lock_timeout=10s -c idle_in_transaction_session_timeout=60s";
/// A connection whose peer went silent is found out after this (not the system's two hours).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// How long opening one connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One process's handle on the database: a pool, this instance's id and its claims' lease.
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Pg {
    pool: Pool,
    instance: Uuid,
    lease: TimeDelta,
}

/// This process's id in claims: every store opened in one process is one instance (a process's
/// own claims never hide rows from itself).
fn process_instance() -> Uuid {
    static ID: OnceLock<Uuid> = OnceLock::new();
    *ID.get_or_init(Uuid::new_v4)
}

/// Whether opening the database may change its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrate {
    /// Apply what is missing (a serving process, `holdpoint db migrate`).
    Apply,
    /// Change nothing; refuse a database whose schema is not this build's.
    Check,
    /// Change and check nothing (`holdpoint db status` shows what is there).
    Leave,
}

impl Pg {
    /// Connects to `database.url` (checking the server's certificate when TLS is asked for) and
    /// brings its schema up to date or checks it, as `migrate` says.
    pub async fn connect(database: &Database, migrate: Migrate) -> Result<Pg, StoreError> {
        let url = database.url.as_deref().ok_or_else(|| {
            StoreError::Internal(format!("no database URL ({})", crate::config::DATABASE_URL))
        })?;
        // Never quote the URL: it may hold a password.
        let mut config: tokio_postgres::Config = tls::libpq_modes(url).parse().map_err(|e| {
            StoreError::Internal(format!(
                "{} is not a PostgreSQL URL: {e}",
                crate::config::DATABASE_URL
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if !url.contains("sslmode=") {
            config.ssl_mode(tls::default_mode(config.get_hosts()));
        }
        if config.get_options().is_none() {
            // A lock held elsewhere (an operator's open transaction) or a statement gone astray
            // must not hold a pooled connection for ever: each gives up, and the store answers
            // unavailable.
            config.options(SESSION_LIMITS);
        }
        config.keepalives_idle(KEEPALIVE_IDLE);
        if config.get_application_name().is_none() {
            config.application_name("holdpoint");
        }
        let tls = tls::connector(database.ca_file.as_deref())?;
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(database.pool)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Internal(format!("postgres pool: {e}")))?;
        let pg = Pg {
            pool,
            instance: process_instance(),
            lease: TimeDelta::from_std(database.lease).unwrap_or(TimeDelta::seconds(60)),
        };
        let mut conn = pg.conn().await?;
        match migrate {
            Migrate::Apply => {
                migrations::apply(&mut conn).await?;
            }
            Migrate::Check => migrations::check(&conn).await?,
            Migrate::Leave => {}
        }
        Ok(pg)
    }

    /// A connection from the pool.
    pub async fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().await.map_err(pool_failed)
    }

    /// This instance's id, written on the rows it claims.
    pub fn instance(&self) -> Uuid {
        self.instance
    }

    /// How long a claim holds.
    pub fn lease(&self) -> TimeDelta {
        self.lease
    }

    /// The same pool, claiming as another instance (tests play several processes in one).
    pub fn as_instance(&self, instance: Uuid) -> Pg {
        Pg {
            instance,
            ..self.clone()
        }
    }

    /// The same pool and instance with claims of `lease`.
    pub fn with_lease(&self, lease: TimeDelta) -> Pg {
        Pg {
            lease,
            ..self.clone()
        }
    }
}

/// A stored JSON body, read back.
pub fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Internal(format!("stored {what}: {e}")))
}

/// A JSON body to store: kept as `text`, byte for byte (`jsonb` would rewrite numbers and key
/// order, and the audit chain hashes what was stored).
pub fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A time as stored: Unix milliseconds in a `bigint`, as the embedded store keeps them.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored time read back.
pub fn from_ms(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Internal(format!("stored time {ms} is out of range")))
}
