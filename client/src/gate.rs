//! A human gate around one step: ask only when a policy says so, run the step only on approval
//! (with the reviewer's edits when there are some), and mark the approval executed.

use std::future::Future;
use std::time::Duration;

use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::request::CreateRequest as ApprovalRequest;
use holdpoint_core::json::document::Document;

use crate::client::Client;
use crate::error::Error;
use crate::wait::Outcome;

/// When a step needs a human (seeds 002/003/004: by risk, by tool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Every time.
    Always,
    /// When the request's `risk_score` is at least this (a request without a score is asked).
    RiskAtLeast(u8),
    /// When the request's tool call names one of these tools.
    Tools(Vec<String>),
    /// When any of these policies asks.
    Any(Vec<Policy>),
}

impl Policy {
    /// Whether `request` must be approved before it runs.
    pub fn asks(&self, request: &ApprovalRequest) -> bool {
        match self {
            Policy::Always => true,
            Policy::RiskAtLeast(t) => request.risk_score.is_none_or(|r| r >= *t),
            Policy::Tools(names) => request
                .tool_call
                .as_ref()
                .is_some_and(|c| names.contains(&c.name)),
            Policy::Any(all) => all.iter().any(|p| p.asks(request)),
        }
    }
}

/// What a gate came to.
#[derive(Debug)]
pub enum Gated<T> {
    /// The policy did not ask: the step ran without an approval.
    Unasked(T),
    /// Approved (with edits when `edited`): the step ran with them, and the approval is
    /// marked executed.
    Ran {
        value: T,
        approval: Box<Approval>,
        edited: Option<Document>,
    },
    /// Not approved (rejected, expired, cancelled, or still pending when the wait ended, in
    /// which case the request was withdrawn): the step did not run.
    Refused(Outcome),
}

impl Client {
    /// Runs `step` behind a human gate. When `policy` asks, requests approval, waits at most
    /// `timeout`, and calls `step` only on approval, with the reviewer's edited output when
    /// approved with edits; then marks the approval executed (with the context hash of what was
    /// sent). A wait that times out withdraws the request, so nobody approves a step that will
    /// not run.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use holdpoint_client::{ApprovalRequest, Client, Gated, Policy};
    /// # async fn agent(client: Client) -> Result<(), holdpoint_client::Error> {
    /// let request = ApprovalRequest::new("Refund order 1042", "support-bot", ["role:finance"])
    ///     .tool_call("refund", &serde_json::json!({"order": 1042, "amount_eur": 900}))
    ///     .risk(70);
    /// let policy = Policy::Any(vec![Policy::RiskAtLeast(50), Policy::Tools(vec!["refund".into()])]);
    /// match client.gate(&policy, &request, Duration::from_secs(900), |edited| async move {
    ///     // `edited` is the reviewer's version of the tool call's arguments, if any.
    ///     format!("refunded ({edited:?})")
    /// }).await? {
    ///     Gated::Unasked(done) | Gated::Ran { value: done, .. } => println!("{done}"),
    ///     Gated::Refused(outcome) => println!("not refunded: {outcome}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn gate<T, F, Fut>(
        &self,
        policy: &Policy,
        request: &ApprovalRequest,
        timeout: Duration,
        step: F,
    ) -> Result<Gated<T>, Error>
    where
        F: FnOnce(Option<Document>) -> Fut,
        Fut: Future<Output = T>,
    {
        if !policy.asks(request) {
            return Ok(Gated::Unasked(step(None).await));
        }
        let ticket = self.request_approval(request).await?;
        let edited = match self.wait(ticket.id(), timeout).await? {
            Outcome::Approved { .. } => None,
            Outcome::Modified { output, .. } => Some(output),
            Outcome::TimedOut => {
                self.cancel(ticket.id(), Some("the agent stopped waiting"))
                    .await?;
                return Ok(Gated::Refused(Outcome::TimedOut));
            }
            refused => return Ok(Gated::Refused(refused)),
        };
        let value = step(edited.clone()).await;
        let approval = self.execute(&ticket, edited.as_ref()).await?;
        Ok(Gated::Ran {
            value,
            approval: Box::new(approval),
            edited,
        })
    }
}
