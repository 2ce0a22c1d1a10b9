//! Why a Slack click decides nothing, in the clicker's words and the log's.

use holdpoint_core::domain::approval::Status;
use holdpoint_core::domain::lifecycle::Refusal;

use crate::slack::interaction;

/// Why a click decides nothing. Each is told to the clicker in its own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refused {
    OtherTeam,
    NotAPrincipal,
    Agent,
    NotAReviewer,
    Requester,
    NotForThisClick,
    Expired,
    Used,
    AlreadyRecorded,
    Decided {
        status: Status,
        by: Option<String>,
    },
    /// The modal's comment is missing or not taken: told under the input, the modal stays.
    Comment(String),
    Unavailable,
}

impl Refused {
    pub(super) fn why(&self) -> String {
        match self {
            Refused::OtherTeam => "this Slack workspace is not the one connected to Holdpoint for this tenant.".into(),
            Refused::NotAPrincipal => "your Slack account is not (or no longer) a principal of this tenant in Holdpoint.".into(),
            Refused::Agent => "an agent cannot decide.".into(),
            Refused::NotAReviewer => "you are no longer a reviewer of this request.".into(),
            Refused::Requester => "the requester cannot decide its own request.".into(),
            Refused::NotForThisClick => "this button is not yours, or not for this request.".into(),
            Refused::Expired => "this button has expired.".into(),
            Refused::Used => "this button was already used.".into(),
            Refused::AlreadyRecorded => "your approval is already recorded; it waits for other reviewers.".into(),
            Refused::Decided { status, by } => {
                let by = by.as_deref().map_or(String::new(), |b| format!(" by {b}"));
                format!("already decided: {}{by}.", status.as_str())
            }
            Refused::Comment(why) => why.clone(),
            Refused::Unavailable => "Holdpoint could not take this click just now; try again, or open the request in the browser.".into(),
        }
    }

    /// What the log says (no name, no value).
    pub(super) fn code(&self) -> &'static str {
        match self {
            Refused::OtherTeam => "other_team",
            Refused::NotAPrincipal => "not_a_principal",
            Refused::Agent => "agent",
            Refused::NotAReviewer => "not_a_reviewer",
            Refused::Requester => "requester",
            Refused::NotForThisClick => "not_for_this_click",
            Refused::Expired => "expired",
            Refused::Used => "used",
            Refused::AlreadyRecorded => "already_recorded",
            Refused::Decided { .. } => "decided",
            Refused::Comment(_) => "comment",
            Refused::Unavailable => "unavailable",
        }
    }

    pub(super) fn from_refusal(r: Refusal) -> Refused {
        match r {
            Refusal::AgentCannotDecide => Refused::Agent,
            Refusal::NotAReviewer => Refused::NotAReviewer,
            Refusal::SelfApproval => Refused::Requester,
            Refusal::CommentRequired => Refused::Comment(interaction::COMMENT_REQUIRED.into()),
            Refusal::Conflict {
                current_status,
                decided_by,
                ..
            } => Refused::Decided {
                status: current_status,
                by: decided_by,
            },
            _ => Refused::Unavailable,
        }
    }
}
