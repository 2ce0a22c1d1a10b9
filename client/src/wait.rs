//! Waiting for a decision: the [`WaitPolicy`](crate::WaitPolicy)'s backoff (capped, jittered,
//! never faster than its floor, `Retry-After` honoured), and a typed outcome.

use std::fmt;
use std::time::{Duration, Instant};

use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::json::document::Document;
use holdpoint_core::retry::is_retryable_status;
use uuid::Uuid;

use crate::client::Client;
use crate::error::Error;

/// How a wait ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Approved {
        by: String,
        comment: Option<String>,
    },
    /// Approved with edits: do `output` instead of what was asked.
    Modified {
        by: String,
        output: Document,
        comment: Option<String>,
    },
    Rejected {
        by: String,
        comment: Option<String>,
    },
    /// Nobody decided before the deadline.
    Expired,
    /// Approved, but not executed within its execution window: it may no longer run.
    Lapsed,
    Cancelled {
        by: Option<String>,
    },
    /// The wait's own timeout passed first: the approval is still pending.
    TimedOut,
}

impl Outcome {
    /// The outcome `approval` has come to, or `None` while it is pending.
    pub fn of(approval: &Approval) -> Option<Outcome> {
        match approval.status {
            Status::Pending => None,
            Status::Expired => Some(Outcome::Expired),
            Status::Lapsed => Some(Outcome::Lapsed),
            Status::Cancelled => Some(Outcome::Cancelled {
                by: approval.cancelled_by.clone(),
            }),
            Status::Approved | Status::Rejected | Status::Modified | Status::Executed => {
                let d = approval.decision.as_ref()?;
                let (by, comment) = (d.by.clone(), d.comment.clone());
                Some(match d.decision {
                    Verdict::Approved => Outcome::Approved { by, comment },
                    Verdict::Rejected => Outcome::Rejected { by, comment },
                    Verdict::Modified => Outcome::Modified {
                        by,
                        comment,
                        output: d.modified_output.clone().unwrap_or_default(),
                    },
                })
            }
        }
    }

    /// Approved, with or without edits: the step may run.
    pub fn approved(&self) -> bool {
        matches!(self, Outcome::Approved { .. } | Outcome::Modified { .. })
    }

    /// `approved`, `modified`, `rejected`, `expired`, `lapsed`, `cancelled` or `timed_out`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Approved { .. } => "approved",
            Outcome::Modified { .. } => "modified",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Expired => "expired",
            Outcome::Lapsed => "lapsed",
            Outcome::Cancelled { .. } => "cancelled",
            Outcome::TimedOut => "timed_out",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let said = |c: &Option<String>| c.as_ref().map(|c| format!(": {c}")).unwrap_or_default();
        match self {
            Outcome::Approved { by, comment } => write!(f, "approved by {by}{}", said(comment)),
            Outcome::Modified { by, comment, .. } => {
                write!(f, "approved with edits by {by}{}", said(comment))
            }
            Outcome::Rejected { by, comment } => write!(f, "rejected by {by}{}", said(comment)),
            Outcome::Expired => f.write_str("expired: nobody decided in time"),
            Outcome::Lapsed => f.write_str("lapsed: not executed within its window"),
            Outcome::Cancelled { by } => match by {
                Some(by) => write!(f, "cancelled by {by}"),
                None => f.write_str("cancelled"),
            },
            Outcome::TimedOut => f.write_str("still pending: stopped waiting"),
        }
    }
}

impl Client {
    /// Waits until approval `id` is decided, expires or is cancelled, or `timeout` passes
    /// ([`Outcome::TimedOut`]). Polls with capped exponential backoff and jitter from the
    /// policy's floor; a 429 or 503 is waited out for its `Retry-After`, and a lost connection
    /// or a transient 5xx is retried the same way. No pause runs past the approval's own
    /// `expires_at`, so an expiry is seen when it happens. Any other refusal ends the wait.
    pub async fn wait(&self, id: Uuid, timeout: Duration) -> Result<Outcome, Error> {
        let deadline = Instant::now() + timeout;
        let mut backoff = self.wait.backoff();
        // When the approval expires: no need to wait past it to learn that it did.
        let mut expires_at = None;
        loop {
            let retry_after = match self.get(id).await {
                Ok(a) => match Outcome::of(&a) {
                    Some(outcome) => return Ok(outcome),
                    None => {
                        expires_at = Some(a.expires_at);
                        None
                    }
                },
                Err(Error::Refused(p)) if is_retryable_status(p.status) => p.retry_after,
                // A lost connection is not the end of a wait: the next poll may get through.
                Err(Error::Unreachable(_)) => None,
                Err(e) => return Err(e),
            };
            let mut pause = backoff.next(retry_after);
            if let Some(at) = expires_at
                && retry_after.is_none()
            {
                let until = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                pause = pause.min(until.max(backoff.floor()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if pause >= left {
                // Asking again before the pause is over would poll faster than allowed.
                tokio::time::sleep(left).await;
                return Ok(Outcome::TimedOut);
            }
            tokio::time::sleep(pause).await;
        }
    }
}
