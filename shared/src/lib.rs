//! Holdpoint: human approval for AI agents' sensitive actions.
//!
//! The domain ([`approval`], [`lifecycle`], [`request`]), the audit chain ([`audit`]) and the
//! approval state bound to it ([`integrity`]), the storage
//! contract and its backends ([`store`]), the operations over them ([`service`]) and the one HTTP
//! router every function mounts ([`http`]).

pub mod approval;
pub mod audit;
pub mod canonical;
#[cfg(feature = "aws")]
pub mod cloud;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod delivery;
pub mod directory;
pub mod document;
pub mod events;
pub mod http;
pub mod identity;
pub mod integrity;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod request;
pub mod review_link;
pub mod service;
#[cfg(feature = "embedded")]
pub mod sqlite_file;
pub mod store;
pub mod strict_json;
pub mod time;
