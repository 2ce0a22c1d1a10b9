//! The approval: what an agent asked for, who may decide it, and where it stands.

use crate::json::document::Document;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::ChainHead;
use crate::domain::identity::SYSTEM_ACTOR;
use crate::domain::seal::{Integrity, Seal};
// Below the audit trail, whose events each lead to one (see `AuditEvent::facts`).
pub use crate::status::Status;
use crate::time::rfc3339;

/// What a reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approved,
    Rejected,
    Modified,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Rejected => "rejected",
            Verdict::Modified => "modified",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub name: String,
    #[serde(default)]
    pub arguments: Document,
}

/// One escalation level: when the current level has not decided `after_seconds` after it started,
/// the approval is reassigned to `reviewers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    #[serde(deserialize_with = "crate::json::whole::required")]
    pub after_seconds: u32,
    pub reviewers: Vec<String>,
}

/// One reviewer's approval towards the quorum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub by: String,
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
    /// The rules whose [`Requirement`] this vote counts towards: those whose reviewers its
    /// author was (by name or a role held) when voting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meets: Vec<String>,
}

/// What one policy rule demands of an approval, whoever else may also review it: `quorum`
/// approvals from among its own `reviewers`. Reviewers an agent adds, or another rule's, never
/// count towards it, so no rule is diluted by the pool it is combined into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub rule: String,
    pub reviewers: Vec<String>,
    pub quorum: u32,
}

/// The final decision, once the approval left `pending` through a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Verdict,
    pub by: String,
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
    pub modified_output: Option<Document>,
    /// The signature of the audit record of this decision (see `POST …/verify`).
    #[serde(default)]
    pub signature: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: Uuid,
    pub tenant: String,
    pub status: Status,
    /// Starts at 1 and grows by one with every stored transition; the compare-and-set token.
    pub version: u64,
    pub action: String,
    pub agent_id: String,
    pub requested_by: String,
    /// The reviewers of the current escalation level: principals and `role:NAME` entries.
    pub reviewers: Vec<String>,
    pub quorum: u32,
    /// What the policy's rules demand beyond the quorum, each of its own reviewers (none before
    /// policies, and once an escalation has moved the approval on to the rules' next level).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<Requirement>,
    /// A JSON object, kept as sent.
    pub context: Document,
    pub context_hash: String,
    pub reason: Option<String>,
    pub tool_call: Option<ToolCall>,
    pub risk_score: Option<u8>,
    pub checkpoint_type: Option<String>,
    pub execution_id: Option<String>,
    pub session_id: Option<String>,
    pub state_snapshot: Option<Document>,
    pub escalation: Vec<EscalationLevel>,
    /// Where terminal changes are posted (see [`crate::delivery`]); absent when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// How many escalation levels have been applied (0 = the original reviewers).
    pub escalation_level: u32,
    /// Approvals recorded so far towards the quorum (of `proposed_output`, when one is set).
    pub approvals: Vec<Vote>,
    /// Edits proposed by a reviewer while a quorum above 1 is still being gathered.
    pub proposed_output: Option<Document>,
    pub decision: Option<Decision>,
    pub cancelled_by: Option<String>,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
    /// When the current escalation level ends (absent when no further level exists).
    #[serde(with = "rfc3339::option")]
    pub escalates_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339::option")]
    pub executed_at: Option<DateTime<Utc>>,
    /// When its reviewers are reminded, once (see [`crate::domain::reminder`]); absent when no
    /// reminder is owed: turned off, a window too short, already reminded, or made before
    /// reminders existed.
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub reminds_at: Option<DateTime<Utc>>,
    /// The tenant's policy version and the rules that settled this approval's gate (absent on
    /// approvals made before policies, and when no policy was set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governed_by: Option<Governance>,
    /// How long after its approval it may be executed; absent on approvals made before windows
    /// existed, which get [`DEFAULT_EXECUTE_WITHIN_SECONDS`].
    #[serde(
        default,
        deserialize_with = "crate::json::whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub execute_within_seconds: Option<u32>,
    /// The latest `expires_at` an extension may reach (the policy's maximum lifetime).
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub latest_expiry: Option<DateTime<Utc>>,
    /// The last audit record written for this approval.
    pub audit_head: ChainHead,
    /// The sequence of the last audit record whose event was published; newer records are
    /// events still to publish (the sweep retries them).
    #[serde(default)]
    pub published_seq: u64,
    /// An HMAC binding the state to its tenant, id and chain head (see
    /// [`crate::domain::integrity`]).
    #[serde(default)]
    pub seal: Seal,
    /// Set on reads when the stored state does not match its signed head; never stored.
    #[serde(default, skip_serializing_if = "Integrity::is_ok")]
    pub integrity: Integrity,
    /// The columns of the row it was read from (its key, status, due time, index attributes)
    /// that contradict this document, as the store that read it found them; never stored.
    #[serde(skip)]
    pub row_mismatch: Vec<String>,
}

/// How long an approved approval may wait to be executed when its request named no window.
pub const DEFAULT_EXECUTE_WITHIN_SECONDS: u32 = 3600;

/// What governed an approval: the tenant's policy version and the ids of the rules that matched
/// (empty when none did and the tenant's default applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    pub policy_version: u64,
    pub rules: Vec<String>,
}

/// See [`Approval::bound_hash`].
pub fn bound_hash(
    action: &str,
    tool_call: Option<&ToolCall>,
    context: &Document,
    modified_output: Option<&Document>,
) -> String {
    #[derive(Serialize)]
    struct Bound<'a> {
        action: &'a str,
        context: &'a Document,
        tool_call: Option<&'a ToolCall>,
        #[serde(skip_serializing_if = "Option::is_none")]
        modified_output: Option<&'a Document>,
    }
    crate::json::canonical::digest_of(&Bound {
        action,
        context,
        tool_call,
        modified_output,
    })
}

impl Approval {
    /// The status as it is at `now`. These are the expiry and lapse rules, stated once: a
    /// pending approval is expired from its `expires_at` on, and an approved or modified one
    /// lapsed from its [`Approval::execute_by`] on, even before any sweep has stored that.
    pub fn status_at(&self, now: DateTime<Utc>) -> Status {
        match self.status {
            Status::Pending if now >= self.expires_at => Status::Expired,
            Status::Approved | Status::Modified if self.execute_by().is_some_and(|t| now >= t) => {
                Status::Lapsed
            }
            s => s,
        }
    }

    /// How long after its approval it may be executed, in seconds.
    pub fn execute_within(&self) -> u32 {
        self.execute_within_seconds
            .unwrap_or(DEFAULT_EXECUTE_WITHIN_SECONDS)
    }

    /// When the execution window of an approved or modified approval closes (its decision plus
    /// the window), or closed for a lapsed one; `None` in any other status.
    pub fn execute_by(&self) -> Option<DateTime<Utc>> {
        match (&self.decision, self.status) {
            (Some(d), Status::Approved | Status::Modified | Status::Lapsed) => {
                Some(d.at + chrono::TimeDelta::seconds(i64::from(self.execute_within())))
            }
            _ => None,
        }
    }

    /// The latest `expires_at` an extension may reach: the one recorded at creation, else (an
    /// approval made before it was recorded) its creation plus `max_seconds`, the service's
    /// longest lifetime.
    pub fn latest_expiry_or(&self, max_seconds: u32) -> DateTime<Utc> {
        self.latest_expiry
            .unwrap_or(self.created_at + chrono::TimeDelta::seconds(i64::from(max_seconds)))
    }

    /// This approval as a reader sees it at `now` (lazy expiry and lapse applied).
    pub fn seen_at(mut self, now: DateTime<Utc>) -> Approval {
        self.status = self.status_at(now);
        self
    }

    /// What `context_hash` binds, so that what runs is what was approved: the hex SHA-256 of
    /// the canonical JSON of `{"action", "context", "tool_call"}` (`tool_call` null when there
    /// is none) and, once a reviewer approved with edits, `"modified_output"` too.
    pub fn bound_hash(&self) -> String {
        let edited = match (&self.decision, self.status) {
            (Some(d), Status::Modified | Status::Executed | Status::Lapsed) => {
                d.modified_output.as_ref()
            }
            _ => None,
        };
        bound_hash(&self.action, self.tool_call.as_ref(), &self.context, edited)
    }

    /// Whether some of this approval's events are not published yet.
    pub fn unpublished(&self) -> bool {
        self.audit_head.sequence > self.published_seq
    }

    /// The next moment the sweep must look at this approval: at once while events wait to be
    /// published, else its next deadline while pending, or the end of its execution window
    /// while approved; `None` when nothing is left to do.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        if self.unpublished() {
            return Some(self.created_at);
        }
        match self.status {
            Status::Pending => Some(
                [self.escalates_at, self.reminds_at]
                    .into_iter()
                    .flatten()
                    .filter(|at| *at < self.expires_at)
                    .fold(self.expires_at, DateTime::min),
            ),
            // Only with a recorded window: rows of approvals made before windows existed were
            // stored without this deadline, and their columns must keep following from their
            // documents (they lapse when read, and at execute, all the same).
            Status::Approved | Status::Modified if self.execute_within_seconds.is_some() => {
                self.execute_by()
            }
            _ => None,
        }
    }

    /// Whether `votes` decide: the quorum, and each rule's own quorum among its reviewers.
    pub fn quorum_met(&self, votes: &[Vote]) -> bool {
        votes.len() as u32 >= self.quorum
            && self.requirements.iter().all(|r| {
                votes.iter().filter(|v| v.meets.contains(&r.rule)).count() as u32 >= r.quorum
            })
    }

    /// Who brought the approval to its current state, for conflict answers.
    pub fn decided_by(&self) -> Option<&str> {
        if let Some(d) = &self.decision {
            return Some(&d.by);
        }
        match self.status {
            Status::Cancelled => self.cancelled_by.as_deref(),
            Status::Expired => Some(SYSTEM_ACTOR),
            _ => None,
        }
    }

    /// When the approval reached its decision, or its deadline when it expired.
    pub fn decided_at(&self) -> Option<DateTime<Utc>> {
        match (&self.decision, self.status) {
            (Some(d), _) => Some(d.at),
            (None, Status::Expired) => Some(self.expires_at),
            _ => None,
        }
    }
}
