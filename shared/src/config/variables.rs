//! Every `HOLDPOINT_*` variable by name, with its default, who reads it and what it means.

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
pub const CHECKPOINT_SECONDS: &str = "HOLDPOINT_CHECKPOINT_SECONDS";
pub const CHECKPOINT_KMS_KEY: &str = "HOLDPOINT_CHECKPOINT_KMS_KEY";
pub const CHECKPOINT_RETIRED_KMS_KEYS: &str = "HOLDPOINT_CHECKPOINT_RETIRED_KMS_KEYS";
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
pub const REMIND_AT: &str = "HOLDPOINT_REMIND_AT";
pub const SESSION_HOURS: &str = "HOLDPOINT_SESSION_HOURS";
pub const SLACK_API_URL: &str = "HOLDPOINT_SLACK_API_URL";
pub const SLACK_SECRET_ID: &str = "HOLDPOINT_SLACK_SECRET_ID";
pub const KEYS_DIR: &str = "HOLDPOINT_KEYS_DIR";
pub const DATABASE_URL: &str = "HOLDPOINT_DATABASE_URL";
pub const DATABASE_CA_FILE: &str = "HOLDPOINT_DATABASE_CA_FILE";
pub const DATABASE_POOL: &str = "HOLDPOINT_DATABASE_POOL";
pub const CLAIM_LEASE_SECONDS: &str = "HOLDPOINT_CLAIM_LEASE_SECONDS";
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
        "`embedded`, `dynamodb` or `postgres` (`--store`)",
    ),
    var(
        DATABASE_URL,
        "unset",
        "local",
        "PostgreSQL for `HOLDPOINT_STORE=postgres`: `postgres://user:password@host:5432/holdpoint`; `sslmode=require` encrypts and checks the server's certificate (never logged)",
    ),
    var(
        DATABASE_CA_FILE,
        "unset: the system's roots",
        "local",
        "PEM file of the CA that signed the PostgreSQL server's certificate",
    ),
    var(
        DATABASE_POOL,
        "`16`",
        "local",
        "PostgreSQL connections one instance keeps open at most",
    ),
    var(
        CLAIM_LEASE_SECONDS,
        "`60`",
        "local",
        "on PostgreSQL, how long an instance's claim on a due approval or delivery holds: what a crashed instance claimed is taken over after it",
    ),
    var(
        KEYS_DIR,
        "the data directory",
        "local",
        "where `signing-keys.json` and the checkpoint key are kept; every instance on one PostgreSQL database must read the same keys",
    ),
    var(SWEEP_SECONDS, "`5`", "local", "seconds between sweeps"),
    var(
        CHECKPOINT_SECONDS,
        "`60`",
        "local",
        "seconds between signed checkpoints of the audit chains that moved (on AWS: each sweep, every minute)",
    ),
    var(
        CHECKPOINT_KMS_KEY,
        "unset",
        "both",
        "the KMS key (id, ARN or alias; `ECC_NIST_P256`, `SIGN_VERIFY`) that signs checkpoints; unset: `checkpoint-key.pem` in the data directory",
    ),
    var(
        CHECKPOINT_RETIRED_KMS_KEYS,
        "unset",
        "both",
        "KMS keys that signed checkpoints before, comma-separated: still published at `/.well-known/holdpoint/audit-keys`",
    ),
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
        REMIND_AT,
        "`0.8`",
        "both",
        "when reviewers of a pending approval are reminded, once: the share of its window passed (`0.8`: 80 %), or `never`; a tenant's policy `remind_at` overrides it",
    ),
    var(
        SESSION_HOURS,
        "`12`",
        "both",
        "how long a reviewer's inbox session lasts (1–720); `holdpoint principals sign-out TENANT/NAME` ends it sooner",
    ),
    var(
        SLACK_API_URL,
        "`https://slack.com/api/`",
        "both",
        "Slack's Web API (`auth.test`, `chat.postMessage`, `chat.update`, `views.open`): https, or http to a loopback stand-in",
    ),
    var(
        SLACK_SECRET_ID,
        "unset: Slack is off on AWS",
        "Lambda",
        "Secrets Manager secret holding each tenant's Slack app: `{\"<tenant>\": {\"bot_token\", \"signing_secret\", \"team_id\"}}` (locally `holdpoint slack connect` keeps them in `directory.db`)",
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

/// `HOLDPOINT_SLACK_API_URL` as Holdpoint calls it: https, or http to a loopback address only
/// (a stand-in; a bot token never crosses a network in the clear); ending in `/`.
pub fn check_slack_api_url(url: &str) -> Result<String, String> {
    let refused = || {
        format!(
            "{SLACK_API_URL} must be an https URL such as https://slack.com/api/ (http only to a loopback address), not {url:?}"
        )
    };
    let parsed = url::Url::parse(url.trim()).map_err(|_| refused())?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(refused()),
    };
    let plain = parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.query().is_none()
        && parsed.fragment().is_none();
    match parsed.scheme() {
        "https" if plain => {}
        "http" if plain && loopback => {}
        _ => return Err(refused()),
    }
    let mut out = parsed.to_string();
    if !out.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_api_url_is_https_or_loopback_http() {
        for (given, taken) in [
            ("https://slack.com/api/", "https://slack.com/api/"),
            ("https://slack.com/api", "https://slack.com/api/"),
            ("http://127.0.0.1:9999/api/", "http://127.0.0.1:9999/api/"),
            ("http://localhost:1/api/", "http://localhost:1/api/"),
            ("http://[::1]:1/", "http://[::1]:1/"),
        ] {
            assert_eq!(check_slack_api_url(given).unwrap(), taken);
        }
        for refused in [
            "http://slack.com/api/",
            "http://10.0.0.1/api/",
            "http://127.0.0.1.evil.example/api/",
            "ftp://slack.com/api/",
            "https://user:pw@slack.com/api/",
            "https://slack.com/api/?x=1",
            "slack.com/api/",
            "",
        ] {
            let err = check_slack_api_url(refused).unwrap_err();
            assert!(err.contains(SLACK_API_URL), "{refused:?}: {err}");
        }
    }
}
