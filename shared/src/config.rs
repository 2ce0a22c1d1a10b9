//! Settings: every `HOLDPOINT_*` variable, read once per process into one [`Settings`] with one
//! error type, by the Lambda functions, `holdpoint serve` and every operator command alike.
//! [`VARIABLES`] lists them with their defaults; the README's configuration table is generated
//! from it (a test holds the two together), and no other module names a `HOLDPOINT_` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use holdpoint_core::domain::request::ExpiryBounds;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

mod variables;
pub use variables::*;

/// Which store a process works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
    /// PostgreSQL at `HOLDPOINT_DATABASE_URL`: several `holdpoint serve` on one database.
    Postgres,
}

impl StoreKind {
    pub fn parse(s: &str) -> Result<StoreKind, ConfigError> {
        match s {
            "embedded" => Ok(StoreKind::Embedded),
            "dynamodb" => Ok(StoreKind::Dynamodb),
            "postgres" => Ok(StoreKind::Postgres),
            other => Err(ConfigError(format!(
                "the store is `embedded`, `dynamodb` or `postgres`, not {other:?}"
            ))),
        }
    }
}

/// Table names and the due index's shard count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub approvals: String,
    pub audit: String,
    pub directory: String,
    pub deliveries: String,
    pub due_shards: u32,
}

/// Every setting of a Holdpoint process.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// `HOLDPOINT_API_KEYS` as given (JSON); unset means the local development keys.
    pub api_keys: Option<String>,
    pub store: StoreKind,
    pub sweep_every: Duration,
    /// How often the local server writes checkpoints.
    pub checkpoint_every: Duration,
    pub checkpoint_kms_key: Option<String>,
    pub checkpoint_retired_kms_keys: Vec<String>,
    pub log: String,
    /// How long authentication trusts what it read from the directory.
    pub auth_cache: Duration,
    pub allow_private_webhooks: bool,
    pub smtp_url: Option<String>,
    pub email_from: Option<String>,
    pub delivery: holdpoint_core::retry::RetryPolicy,
    pub tables: Tables,
    pub public_base_url: Option<String>,
    pub event_bus: String,
    pub signing_secret_id: Option<String>,
    pub key_cache: Duration,
    pub expiry: ExpiryBounds,
    pub server: ServerLimits,
    /// How long a reviewer's inbox session lasts.
    pub session_hours: u32,
    /// Slack's Web API, checked ([`variables::check_slack_api_url`]), ending in `/`.
    pub slack_api_url: String,
    /// The Secrets Manager secret of the tenants' Slack apps; `None`: Slack is off on AWS.
    pub slack_secret_id: Option<String>,
    /// Where the signing keys and the checkpoint key are kept: the data directory unless
    /// `HOLDPOINT_KEYS_DIR` names another (one all instances on one database read).
    pub keys_dir: PathBuf,
    pub database: Database,
}

/// PostgreSQL, for `HOLDPOINT_STORE=postgres`.
#[derive(Clone, PartialEq, Eq)]
pub struct Database {
    /// `postgres://user:password@host:port/db?sslmode=…`; never logged (it may hold a password).
    pub url: Option<String>,
    /// A PEM file of the CA that signed the server's certificate, trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Connections this process keeps open at most.
    pub pool: usize,
    /// How long an instance's claim on a due approval or delivery holds before another instance
    /// may take it over (what a crashed instance leaves is picked up after this).
    pub lease: Duration,
}

/// What the local server takes on at once (on AWS, API Gateway throttling and the functions'
/// reserved concurrency bound the same things).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub requests: usize,
    pub connections: usize,
    pub body_bytes: usize,
}

impl Settings {
    /// The settings of this process, from its environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings `get` gives (a variable's value by name; `None` when unset). A variable set
    /// to nothing but spaces counts as unset (a template parameter left empty).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let text = |name: &str, default: &str| get(name).unwrap_or_else(|| default.to_owned());
        let number = |name: &str, default: u32| -> Result<u32, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| ConfigError(format!("{name} must be a whole number, not {v:?}"))),
            }
        };
        let addr_text = text(ADDR, "127.0.0.1:8004");
        let addr = addr_text.parse().map_err(|_| {
            ConfigError(format!(
                "{ADDR} must be an address such as 127.0.0.1:8004, not {addr_text:?}"
            ))
        })?;
        let store = StoreKind::parse(&text(STORE, "embedded"))
            .map_err(|e| ConfigError(format!("{STORE}: {}", e.0)))?;
        let due_shards = number(DUE_SHARDS, 8)?;
        if !(1..=64).contains(&due_shards) {
            return Err(ConfigError(format!(
                "{DUE_SHARDS} must be 1 to 64, not {due_shards}"
            )));
        }
        let public_base_url = get(PUBLIC_BASE_URL);
        if let Some(url) = &public_base_url {
            check_base_url(url)?;
        }
        let d = ExpiryBounds::default();
        let expiry = ExpiryBounds {
            default_seconds: number(DEFAULT_EXPIRY_SECONDS, d.default_seconds)?,
            min_seconds: number(MIN_EXPIRY_SECONDS, d.min_seconds)?,
            max_seconds: number(MAX_EXPIRY_SECONDS, d.max_seconds)?,
            remind_at: match get(REMIND_AT) {
                None => d.remind_at,
                Some(v) => holdpoint_core::domain::reminder::RemindAt::parse(&v)
                    .map_err(|e| ConfigError(format!("{REMIND_AT} {e}")))?,
            },
        };
        if !(1..=expiry.default_seconds).contains(&expiry.min_seconds)
            || expiry.default_seconds > expiry.max_seconds
        {
            return Err(ConfigError(format!(
                "expiry bounds must satisfy 1 <= min ({}) <= default ({}) <= max ({})",
                expiry.min_seconds, expiry.default_seconds, expiry.max_seconds
            )));
        }
        let at_least_one = |name: &str, default: u32| match number(name, default)? {
            0 => Err(ConfigError(format!("{name} must be at least 1"))),
            n => Ok(n as usize),
        };
        let server = ServerLimits {
            requests: at_least_one(MAX_REQUESTS, 32)?,
            connections: at_least_one(MAX_CONNECTIONS, 512)?,
            body_bytes: at_least_one(BODY_BUDGET_MIB, 16)?.saturating_mul(1024 * 1024),
        };
        let data_dir = PathBuf::from(text(DATA_DIR, "./.holdpoint"));
        let database = Database {
            url: get(DATABASE_URL).map(|u| u.trim().to_owned()),
            ca_file: get(DATABASE_CA_FILE).map(PathBuf::from),
            pool: at_least_one(DATABASE_POOL, 16)?,
            lease: Duration::from_secs(at_least_one(CLAIM_LEASE_SECONDS, 60)? as u64),
        };
        if store == StoreKind::Postgres && database.url.is_none() {
            return Err(ConfigError(format!(
                "{STORE}=postgres needs {DATABASE_URL} (postgres://user@host:port/database)"
            )));
        }
        let session_hours = number(SESSION_HOURS, 12)?;
        if !(1..=720).contains(&session_hours) {
            return Err(ConfigError(format!(
                "{SESSION_HOURS} must be 1 to 720, not {session_hours}"
            )));
        }
        Ok(Settings {
            addr,
            keys_dir: get(KEYS_DIR).map_or_else(|| data_dir.clone(), PathBuf::from),
            data_dir,
            api_keys: get(API_KEYS),
            store,
            sweep_every: Duration::from_secs(u64::from(number(SWEEP_SECONDS, 5)?.max(1))),
            checkpoint_every: Duration::from_secs(u64::from(
                number(CHECKPOINT_SECONDS, 60)?.max(1),
            )),
            checkpoint_kms_key: get(CHECKPOINT_KMS_KEY).map(|k| k.trim().to_owned()),
            checkpoint_retired_kms_keys: get(CHECKPOINT_RETIRED_KMS_KEYS)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            log: text(LOG, "info"),
            auth_cache: Duration::from_secs(u64::from(number(AUTH_CACHE_SECONDS, 5)?)),
            allow_private_webhooks: match get(ALLOW_PRIVATE_WEBHOOKS).as_deref().map(str::trim) {
                None | Some("0") => false,
                Some("1") => true,
                Some(v) => {
                    return Err(ConfigError(format!(
                        "{ALLOW_PRIVATE_WEBHOOKS} must be 1 or 0, not {v:?}"
                    )));
                }
            },
            smtp_url: get(SMTP_URL),
            email_from: get(EMAIL_FROM),
            delivery: holdpoint_core::retry::RetryPolicy {
                attempts: number(DELIVERY_ATTEMPTS, 8)?.clamp(1, 50),
                base: Duration::from_millis(u64::from(number(DELIVERY_BACKOFF_MS, 1000)?.max(1))),
                cap: Duration::from_secs(300),
            },
            tables: Tables {
                approvals: text(APPROVALS_TABLE, "holdpoint-approvals"),
                audit: text(AUDIT_TABLE, "holdpoint-audit"),
                directory: text(DIRECTORY_TABLE, "holdpoint-directory"),
                deliveries: text(DELIVERIES_TABLE, "holdpoint-deliveries"),
                due_shards,
            },
            public_base_url,
            event_bus: text(EVENT_BUS, "default"),
            signing_secret_id: get(SIGNING_SECRET_ID),
            key_cache: Duration::from_secs(u64::from(number(KEY_CACHE_SECONDS, 300)?)),
            expiry,
            server,
            session_hours,
            slack_api_url: variables::check_slack_api_url(&text(
                SLACK_API_URL,
                "https://slack.com/api/",
            ))
            .map_err(ConfigError)?,
            slack_secret_id: get(SLACK_SECRET_ID).map(|s| s.trim().to_owned()),
            database,
        })
    }

    /// The base URL of review links: the configured one, else `http://{local}`.
    pub fn base_url_or(&self, local: SocketAddr) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}"))
    }

    /// A required setting, or the error that names it.
    pub fn required<'a>(
        value: &'a Option<String>,
        name: &str,
        why: &str,
    ) -> Result<&'a str, ConfigError> {
        value
            .as_deref()
            .ok_or_else(|| ConfigError(format!("{name} is not set: {why}")))
    }
}

/// Never the URL: it may hold a password.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.url.as_ref().map(|_| ".."))
            .field("ca_file", &self.ca_file)
            .field("pool", &self.pool)
            .field("lease", &self.lease)
            .finish()
    }
}

/// A review link base URL is http(s), so a link is always something a browser opens.
pub fn check_base_url(url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{PUBLIC_BASE_URL} must be the http(s) base URL of the review links, not {url:?}"
        )))
    }
}

#[cfg(test)]
mod tests;
