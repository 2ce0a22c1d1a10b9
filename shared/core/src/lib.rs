//! Holdpoint's rules, shared by both sides of the wire and doing no I/O.
//!
//! - [`domain`]: the approval, the request that creates it and its limits, the lifecycle rules,
//!   the seal that binds the approval's state to its audit chain, identities, review-link claims.
//! - [`audit`]: audit records, their canonical form and the hash chain.
//! - [`evidence`]: evidence bundles of one approval and their offline verification.
//! - [`json`]: canonical JSON, documents kept as sent, strict parsing.
//! - [`keys`]: the HMAC key and the contract of whatever provides it.
//! - [`text`], [`retry`], [`time`], [`invalid`]: the small rules everyone applies the same way.
//!
//! The server crate (`holdpoint`: stores, directory, deliveries, service, HTTP) and the client
//! crate (`holdpoint-client`) both depend on this one; it depends on neither.

pub mod audit;
pub mod domain;
pub mod evidence;
pub mod invalid;
pub mod json;
pub mod keys;
pub mod retry;
pub mod status;
pub mod text;
pub mod time;
