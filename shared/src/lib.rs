//! Holdpoint's server: the rules of [`holdpoint_core`] put to work.
//!
//! The storage contract and its backends ([`store`]), the directory of principals
//! ([`directory`]), reaching people and agents ([`delivery`]), lifecycle events ([`events`]),
//! the operations over them ([`service`]) and the one HTTP router every function mounts
//! ([`http`]); where the signing key comes from ([`keys`]) and the settings ([`config`]); the
//! one place that builds a process's parts from those settings ([`backend`]) and the Lambda
//! functions' edge ([`cloud`]).

#[cfg(feature = "aws")]
pub mod backend;
#[cfg(feature = "aws")]
pub mod cloud;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod delivery;
pub mod directory;
pub mod events;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod policy;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod service;
pub mod sessions;
pub mod slack;
pub mod store;
