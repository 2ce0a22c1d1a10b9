//! Where the HMAC key ([`holdpoint_core::keys`]) comes from: a file in the local data directory,
//! or (with the `aws` feature) Secrets Manager.

pub mod checkpoint;
pub mod local;
#[cfg(feature = "aws")]
pub mod secrets_manager;
