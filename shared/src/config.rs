//! Settings read from the environment, shared by the Lambda functions and the local server.

use crate::request::ExpiryBounds;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// A whole number from `name`, or `default` when unset.
pub fn number(name: &str, default: u32) -> Result<u32, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a whole number, not {v:?}"))),
    }
}

/// `HOLDPOINT_DEFAULT_EXPIRY_SECONDS` (3600), `HOLDPOINT_MIN_EXPIRY_SECONDS` (60) and
/// `HOLDPOINT_MAX_EXPIRY_SECONDS` (2592000), with min ≤ default ≤ max.
pub fn expiry_bounds() -> Result<ExpiryBounds, ConfigError> {
    let d = ExpiryBounds::default();
    let bounds = ExpiryBounds {
        default_seconds: number("HOLDPOINT_DEFAULT_EXPIRY_SECONDS", d.default_seconds)?,
        min_seconds: number("HOLDPOINT_MIN_EXPIRY_SECONDS", d.min_seconds)?,
        max_seconds: number("HOLDPOINT_MAX_EXPIRY_SECONDS", d.max_seconds)?,
    };
    if !(1..=bounds.default_seconds).contains(&bounds.min_seconds)
        || bounds.default_seconds > bounds.max_seconds
    {
        return Err(ConfigError(format!(
            "expiry bounds must satisfy 1 <= min ({}) <= default ({}) <= max ({})",
            bounds.min_seconds, bounds.default_seconds, bounds.max_seconds
        )));
    }
    Ok(bounds)
}
