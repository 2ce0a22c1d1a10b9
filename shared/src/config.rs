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

/// One environment variable: its name, default, where it is read and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub used_by: &'static str,
    pub meaning: &'static str,
}

const fn var(
    name: &'static str,
    default: &'static str,
    used_by: &'static str,
    meaning: &'static str,
) -> Variable {
    Variable {
        name,
        default,
        used_by,
        meaning,
    }
}

pub const ADDR: &str = "HOLDPOINT_ADDR";
pub const DATA_DIR: &str = "HOLDPOINT_DATA_DIR";
pub const API_KEYS: &str = "HOLDPOINT_API_KEYS";
pub const STORE: &str = "HOLDPOINT_STORE";
pub const SWEEP_SECONDS: &str = "HOLDPOINT_SWEEP_SECONDS";
pub const LOG: &str = "HOLDPOINT_LOG";
pub const DIRECTORY_TABLE: &str = "HOLDPOINT_DIRECTORY_TABLE";
pub const DELIVERIES_TABLE: &str = "HOLDPOINT_DELIVERIES_TABLE";
pub const AUTH_CACHE_SECONDS: &str = "HOLDPOINT_AUTH_CACHE_SECONDS";
pub const ALLOW_PRIVATE_WEBHOOKS: &str = "HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS";
pub const SMTP_URL: &str = "HOLDPOINT_SMTP_URL";
pub const EMAIL_FROM: &str = "HOLDPOINT_EMAIL_FROM";
pub const DELIVERY_ATTEMPTS: &str = "HOLDPOINT_DELIVERY_ATTEMPTS";
pub const DELIVERY_BACKOFF_MS: &str = "HOLDPOINT_DELIVERY_BACKOFF_MS";
pub const APPROVALS_TABLE: &str = "HOLDPOINT_APPROVALS_TABLE";
pub const AUDIT_TABLE: &str = "HOLDPOINT_AUDIT_TABLE";
pub const DUE_SHARDS: &str = "HOLDPOINT_DUE_SHARDS";
pub const PUBLIC_BASE_URL: &str = "HOLDPOINT_PUBLIC_BASE_URL";
pub const EVENT_BUS: &str = "HOLDPOINT_EVENT_BUS";
pub const SIGNING_SECRET_ID: &str = "HOLDPOINT_SIGNING_SECRET_ID";
pub const KEY_CACHE_SECONDS: &str = "HOLDPOINT_KEY_CACHE_SECONDS";
pub const MAX_REQUESTS: &str = "HOLDPOINT_MAX_REQUESTS";
pub const MAX_CONNECTIONS: &str = "HOLDPOINT_MAX_CONNECTIONS";
pub const BODY_BUDGET_MIB: &str = "HOLDPOINT_BODY_BUDGET_MIB";
pub const DEFAULT_EXPIRY_SECONDS: &str = "HOLDPOINT_DEFAULT_EXPIRY_SECONDS";
pub const MIN_EXPIRY_SECONDS: &str = "HOLDPOINT_MIN_EXPIRY_SECONDS";
pub const MAX_EXPIRY_SECONDS: &str = "HOLDPOINT_MAX_EXPIRY_SECONDS";
/// Read by the commands that call a Holdpoint over HTTP (`approvals`, `mcp`, `demo-agent`).
pub const URL: &str = "HOLDPOINT_URL";
pub const API_KEY: &str = "HOLDPOINT_API_KEY";

/// Every variable Holdpoint reads, in the order the README lists them.
pub const VARIABLES: &[Variable] = &[
    var(
        ADDR,
        "`127.0.0.1:8004`",
        "local",
        "address to listen on (`--addr`)",
    ),
    var(
        DATA_DIR,
        "`./.holdpoint`",
        "local",
        "embedded store, signing keys and development keys (`--data-dir`)",
    ),
    var(
        API_KEYS,
        "unset: the directory (`directory.db`)",
        "local",
        "for tests and CI only: a fixed key map `{\"<key>\": {\"tenant\", \"principal\", \"roles\", \"kind\"}}` (`kind` `human` unless `agent`; keys of 16+ characters) used instead of the directory",
    ),
    var(
        STORE,
        "`embedded`",
        "local",
        "`embedded` or `dynamodb` (`--store`)",
    ),
    var(SWEEP_SECONDS, "`5`", "local", "seconds between sweeps"),
    var(
        MAX_REQUESTS,
        "`32`",
        "local",
        "requests served at once; past it `503 unavailable` with `Retry-After: 1` (`/health` is exempt)",
    ),
    var(
        MAX_CONNECTIONS,
        "`512`",
        "local",
        "open connections; past it a new connection is answered `503 unavailable` and closed",
    ),
    var(
        BODY_BUDGET_MIB,
        "`16`",
        "local",
        "MiB of request bodies held at once by all requests together (128 bodies of the largest size); past it `503 unavailable`",
    ),
    var(
        LOG,
        "`info`",
        "local",
        "log filter (`debug`, `holdpoint=debug`, …)",
    ),
    var(
        DIRECTORY_TABLE,
        "`holdpoint-directory`",
        "both",
        "the directory of principals on DynamoDB (`holdpoint principals --store dynamodb`, the functions)",
    ),
    var(
        DELIVERIES_TABLE,
        "`holdpoint-deliveries`",
        "both",
        "deliveries to reviewers and agents on DynamoDB",
    ),
    var(
        AUTH_CACHE_SECONDS,
        "`5`",
        "both",
        "how long a credential's principal is cached: a removed principal is refused at most this long after",
    ),
    var(
        SMTP_URL,
        "none: no mail is sent locally (each mail delivery fails, recorded)",
        "local",
        "where reviewers' mail goes: `smtp://host:port`, `smtps://user:pass@host`",
    ),
    var(
        EMAIL_FROM,
        "`holdpoint@localhost` locally; none on AWS: no mail is sent",
        "both",
        "the sender of reviewers' mail (on AWS an SES-verified identity)",
    ),
    var(
        ALLOW_PRIVATE_WEBHOOKS,
        "unset: refused",
        "both",
        "`1` lets webhooks and callbacks go to loopback and private addresses, over http too. For local development and tests only: unsafe wherever agents are not fully trusted",
    ),
    var(
        DELIVERY_ATTEMPTS,
        "`8`",
        "both",
        "attempts per delivery before it is recorded as failed",
    ),
    var(
        DELIVERY_BACKOFF_MS,
        "`1000`",
        "both",
        "the pause after a first failed attempt, doubled after each further one (capped at 5 minutes, half of it random)",
    ),
    var(
        APPROVALS_TABLE,
        "`holdpoint-approvals`",
        "both",
        "approvals table",
    ),
    var(AUDIT_TABLE, "`holdpoint-audit`", "both", "audit table"),
    var(DUE_SHARDS, "`8`", "both", "shards of the due index (1–64)"),
    var(
        PUBLIC_BASE_URL,
        "local: the server's own address; API functions: the domain API Gateway was called on; the sweep and notify: required (the template sets it)",
        "both",
        "http(s) base URL of review links (`--base-url` for `holdpoint links`)",
    ),
    var(
        EVENT_BUS,
        "`default`",
        "Lambda",
        "EventBridge bus for lifecycle events",
    ),
    var(
        SIGNING_SECRET_ID,
        "none: every function signs (notify, reviewers' links) and refuses to start without it; locally unset = `signing-keys.json`",
        "both",
        "Secrets Manager secret holding the HMAC key",
    ),
    var(
        KEY_CACHE_SECONDS,
        "`300`",
        "both",
        "how long the current key version from Secrets Manager is cached",
    ),
    var(
        DEFAULT_EXPIRY_SECONDS,
        "`3600`",
        "both",
        "expiry when a request names none",
    ),
    var(
        MIN_EXPIRY_SECONDS,
        "`60`",
        "both",
        "shortest expiry accepted",
    ),
    var(
        MAX_EXPIRY_SECONDS,
        "`2592000`",
        "both",
        "longest expiry accepted",
    ),
    var(
        URL,
        "`http://127.0.0.1:8004`",
        "client",
        "the Holdpoint that `holdpoint approvals`, `mcp` and `demo-agent` call (`--url`)",
    ),
    var(
        API_KEY,
        "none: the client commands refuse (or `--aws`)",
        "client",
        "the API key those commands send (`--api-key`); with `--aws`, SigV4 from the AWS credentials chain instead",
    ),
];

/// The Markdown table of [`VARIABLES`], as the README shows it.
pub fn markdown_table() -> String {
    let mut out = String::from("| Variable | Default | Used by | Meaning |\n|---|---|---|---|\n");
    for v in VARIABLES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            v.name, v.default, v.used_by, v.meaning
        ));
    }
    // Not Holdpoint's to read, but part of configuring it.
    out.push_str(
        "| `AWS_REGION`, `AWS_ENDPOINT_URL`, … | SDK defaults | both | the AWS SDK's own variables; nothing in the code special-cases an emulator |\n\
         | `AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL` | `JSON` (template), `INFO` | Lambda | the runtime's log format and level |\n",
    );
    out
}

/// Which store a process works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
}

impl StoreKind {
    pub fn parse(s: &str) -> Result<StoreKind, ConfigError> {
        match s {
            "embedded" => Ok(StoreKind::Embedded),
            "dynamodb" => Ok(StoreKind::Dynamodb),
            other => Err(ConfigError(format!(
                "the store is `embedded` or `dynamodb`, not {other:?}"
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
        Ok(Settings {
            addr,
            data_dir: PathBuf::from(text(DATA_DIR, "./.holdpoint")),
            api_keys: get(API_KEYS),
            store,
            sweep_every: Duration::from_secs(u64::from(number(SWEEP_SECONDS, 5)?.max(1))),
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
