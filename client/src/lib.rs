//! Ask Holdpoint for a human's approval before a sensitive step, wait for the decision without
//! writing a polling loop, run what was approved, and prove that what ran is what was approved.
//!
//! ```no_run
//! use std::time::Duration;
//! use holdpoint_client::{ApprovalRequest, Client, Credentials, Outcome};
//!
//! # async fn agent() -> Result<(), holdpoint_client::Error> {
//! let client = Client::new("http://127.0.0.1:8080", Credentials::api_key("hp_dev_agent_…"))?;
//! let request = ApprovalRequest::new("Drop table customers_old", "db-janitor", ["reviewer"])
//!     .context(&serde_json::json!({"table": "customers_old", "rows": 120_000}))
//!     .risk(80);
//! let ticket = client.request_approval(&request).await?;
//! match client.wait(ticket.id(), Duration::from_secs(3600)).await? {
//!     Outcome::Approved { .. } => {
//!         // … drop the table …
//!         client.execute(&ticket, None).await?;
//!     }
//!     Outcome::Modified { output, .. } => {
//!         // … do what the reviewer edited it into …
//!         client.execute(&ticket, Some(&output)).await?;
//!     }
//!     refused => println!("not done: {refused}"),
//! }
//! # Ok(()) }
//! ```
//!
//! [`Client::gate`] does all of that in one call, and only asks when a [`Policy`] says so.
//!
//! Credentials are an API key, or with the cargo feature `aws` (off by default, so an agent
//! needs no AWS SDK unless it asks) `Credentials::aws`: SigV4 from the AWS credentials chain.

mod client;
mod credentials;
mod error;
mod gate;
mod pacing;
#[cfg(feature = "aws")]
mod sigv4;
mod ticket;
mod wait;

pub use client::policy::{PolicyVersion, Ruling};
pub use client::{AuditReport, Client, Decision, ListQuery, Page};
pub use credentials::Credentials;
pub use error::{Error, Problem, ProblemCode};
pub use gate::{Gated, Policy};
/// A request for approval (`POST /v1/approvals`), as the service itself reads it: only `action`,
/// `agent_id` and `reviewers` are required; openapi.yaml gives every field's limits.
pub use holdpoint_core::domain::request::CreateRequest as ApprovalRequest;
pub use pacing::WaitPolicy;
pub use ticket::Ticket;
pub use wait::Outcome;
