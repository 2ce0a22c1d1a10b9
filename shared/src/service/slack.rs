//! Deciding from Slack (issue 26): what a verified click or reject-modal submission comes to.
//!
//! At the click, in this order: the workspace is the tenant's app's; the Slack user is a
//! principal of this tenant now (`Directory::find_slack`), and not an agent; the button's value
//! was minted for exactly this approval (the message's actions block), this principal and this
//! choice, and has not expired; the decision would be taken now (the lifecycle's own check, run
//! on the approval as stored without storing anything). Only then is the button's nonce spent
//! (single use), and the decision goes through [`Service::apply`] like any other: audit record,
//! events, callbacks, and every copy of the message updated by the notifier.
//!
//! A refused click is told in the clicker's own message (`chat.update`, no buttons left); the
//! reason is logged, never the payload nor a button's value. Slack wants an answer within 3 s:
//! everything runs under one [`BUDGET`], and what is still running then finishes after the answer.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta};
use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::{self, Command, Outcome, Refusal};
use serde_json::Value;
use uuid::Uuid;

use super::{Service, ServiceError};
use crate::slack::Slack;
use crate::slack::api::Posted;
use crate::slack::button::{self, ButtonClaims, ButtonRefusal, Choice, Click};
use crate::slack::connection::SlackConnection;
use crate::slack::interaction::{self, Clicker, Interaction, ModalOrigin};

/// The most an interaction takes before Slack is answered (Slack gives up at 3 s).
pub const BUDGET: Duration = Duration::from_millis(2_500);

/// Why a click decides nothing. Each is told to the clicker in its own words.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refused {
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
    fn why(&self) -> String {
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
    fn code(&self) -> &'static str {
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

    fn from_refusal(r: Refusal) -> Refused {
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

/// A click that passed every check: who decides, on what, by which button.
struct Checked {
    principal: Principal,
    approval: Approval,
    claims: ButtonClaims,
}

/// A refusal, with the action it was about when the approval was read (shown above the reason).
struct Refusing(Refused, Option<String>);

impl From<Refused> for Refusing {
    fn from(r: Refused) -> Refusing {
        Refusing(r, None)
    }
}

impl Service {
    /// Takes clicks from the tenants' Slack apps in `slack`.
    pub fn with_slack(mut self, slack: Arc<Slack>) -> Service {
        self.slack = Some(slack);
        self
    }

    pub fn slack(&self) -> Option<&Arc<Slack>> {
        self.slack.as_ref()
    }

    /// `tenant`'s Slack app, what its requests are verified with; `None` when Slack is off or
    /// the tenant connected none.
    pub async fn slack_connection(
        &self,
        tenant: &str,
    ) -> Result<Option<SlackConnection>, ServiceError> {
        match &self.slack {
            Some(slack) => Ok(slack.connections.get(tenant).await?),
            None => Ok(None),
        }
    }

    /// Acts on an interaction of `connection`'s app whose signature verified; answers the JSON
    /// body for Slack (`None`: an empty 200). Within [`BUDGET`]: what is still running then
    /// carries on after the answer (a decision is never cut in half).
    pub async fn slack_interaction(
        &self,
        connection: SlackConnection,
        interaction: Interaction,
    ) -> Option<Value> {
        let service = self.clone();
        let work = tokio::spawn(async move { service.interact(&connection, interaction).await });
        match tokio::time::timeout(BUDGET, work).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a Slack interaction failed");
                None
            }
            Err(_) => {
                tracing::warn!("a Slack interaction outlasted its budget; answered first");
                None
            }
        }
    }

    async fn interact(&self, conn: &SlackConnection, interaction: Interaction) -> Option<Value> {
        match interaction {
            Interaction::Ignored => None,
            Interaction::Click {
                by,
                choice,
                approval,
                value,
                trigger_id,
                message,
            } => {
                // The rejection's comment is asked for next: checked here as any comment.
                let comment = (choice == Choice::Reject).then(|| "(asked in the modal)".into());
                let checked = self
                    .check_click(conn, &by, approval, &value, choice, comment)
                    .await;
                let refused = match (checked, choice) {
                    (Err(refusing), _) => Some(refusing),
                    (Ok(c), Choice::Approve) => self
                        .decide_click(conn, &c, Verdict::Approved, None)
                        .await
                        .err(),
                    (Ok(c), Choice::Reject) => {
                        let origin = ModalOrigin {
                            approval: c.approval.id,
                            value,
                            message: message.clone(),
                        };
                        self.open_modal(conn, &c, &origin, trigger_id.as_deref())
                            .await
                            .err()
                    }
                };
                if let Some(refusing) = refused {
                    self.tell(conn, message.as_ref(), refusing).await;
                }
                None
            }
            Interaction::Submit {
                by,
                origin,
                comment,
            } => {
                let checked = self
                    .check_click(
                        conn,
                        &by,
                        Some(origin.approval),
                        &origin.value,
                        Choice::Reject,
                        comment.clone(),
                    )
                    .await;
                let refused = match checked {
                    Ok(c) => self
                        .decide_click(conn, &c, Verdict::Rejected, comment)
                        .await
                        .err(),
                    Err(refusing) => Some(refusing),
                };
                match refused {
                    None => Some(interaction::clear()),
                    Some(Refusing(Refused::Comment(why), _)) => {
                        tracing::info!(tenant = %conn.tenant, reason = "comment", "Slack rejection refused");
                        Some(interaction::comment_errors(&why))
                    }
                    Some(refusing) => {
                        self.tell(conn, origin.message.as_ref(), refusing).await;
                        Some(interaction::clear())
                    }
                }
            }
        }
    }

    /// Every check of a click, nothing spent or stored (see the module).
    async fn check_click(
        &self,
        conn: &SlackConnection,
        by: &Clicker,
        approval: Option<Uuid>,
        value: &str,
        choice: Choice,
        comment: Option<String>,
    ) -> Result<Checked, Refusing> {
        let tenant = conn.tenant.as_str();
        if let Some(team) = &conn.team_id
            && by.team.as_deref() != Some(team)
        {
            return Err(Refused::OtherTeam.into());
        }
        let directory = self.directory.as_ref().ok_or(Refused::Unavailable)?;
        let entry = match directory.find_slack(tenant, &by.user).await {
            Ok(Some(e)) if e.tenant == tenant => e,
            Ok(_) => return Err(Refused::NotAPrincipal.into()),
            Err(e) => return Err(unavailable("directory", &e)),
        };
        let principal = entry.principal();
        if principal.is_agent() {
            return Err(Refused::Agent.into());
        }
        let id = approval.ok_or(Refused::NotForThisClick)?;
        let now = self.clock.now();
        let click = Click {
            tenant,
            approval: id,
            principal: &principal.principal,
            instance: entry.instance,
            choice,
        };
        let claims = match button::verify(&*self.keys, value, &click, now).await {
            Ok(c) => c,
            Err(ButtonRefusal::Expired) => return Err(Refused::Expired.into()),
            Err(ButtonRefusal::Key(e)) => return Err(unavailable("keys", &e)),
            Err(ButtonRefusal::Invalid | ButtonRefusal::Mismatch) => {
                return Err(Refused::NotForThisClick.into());
            }
        };
        let current = match self.store.get(tenant, id).await {
            Ok(Some(a)) => a,
            Ok(None) => return Err(Refused::NotForThisClick.into()),
            Err(e) => return Err(unavailable("store", &e)),
        };
        if let Err(e) = self.check_integrity(&current).await {
            return Err(unavailable("integrity", &e));
        }
        let action = Some(current.action.clone());
        let refusing = |r: Refused| Refusing(r, action.clone());
        let command = Command::Decide {
            by: &principal,
            verdict: verdict_of(choice),
            comment,
            modified_output: None,
        };
        if let Err(invalid) = command.check_limits() {
            return Err(refusing(Refused::Comment(invalid.to_string())));
        }
        match lifecycle::apply(&current, command, now) {
            Ok(Outcome::Changed(..)) => {}
            Ok(Outcome::Unchanged) if current.status_at(now) == Status::Pending => {
                return Err(refusing(Refused::AlreadyRecorded));
            }
            Ok(Outcome::Unchanged) => {
                let conflict = Refusal::conflict(&current, now);
                return Err(refusing(Refused::from_refusal(conflict)));
            }
            Err(r) => return Err(refusing(Refused::from_refusal(r))),
        }
        Ok(Checked {
            principal,
            approval: current,
            claims,
        })
    }

    /// Spends the button, then decides as its principal.
    async fn decide_click(
        &self,
        conn: &SlackConnection,
        c: &Checked,
        verdict: Verdict,
        comment: Option<String>,
    ) -> Result<(), Refusing> {
        let refusing = |r: Refused| Refusing(r, Some(c.approval.action.clone()));
        let sessions = self.sessions.as_ref().ok_or(Refused::Unavailable)?;
        let until = DateTime::from_timestamp_millis(c.claims.expires_ms)
            .unwrap_or_else(|| self.clock.now() + TimeDelta::days(1));
        match sessions
            .store
            .spend(&conn.tenant, c.claims.nonce, until)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(refusing(Refused::Used)),
            Err(e) => return Err(unavailable("sessions", &e)),
        }
        let command = Command::Decide {
            by: &c.principal,
            verdict,
            comment,
            modified_output: None,
        };
        match self.apply(&conn.tenant, c.approval.id, command).await {
            Ok(_) => {
                tracing::info!(tenant = %conn.tenant, approval = %c.approval.id, "decided from Slack");
                Ok(())
            }
            Err(ServiceError::Refused(r)) => Err(refusing(Refused::from_refusal(r))),
            Err(e) => Err(unavailable("decision", &e)),
        }
    }

    /// Opens the reject modal for the click of `trigger_id`.
    async fn open_modal(
        &self,
        conn: &SlackConnection,
        c: &Checked,
        origin: &ModalOrigin,
        trigger_id: Option<&str>,
    ) -> Result<(), Refusing> {
        let refusing = |r: Refused| Refusing(r, Some(c.approval.action.clone()));
        let (Some(slack), Some(trigger)) = (&self.slack, trigger_id) else {
            return Err(refusing(Refused::Unavailable));
        };
        let modal = interaction::reject_modal(&c.approval.action, origin)
            .ok_or_else(|| refusing(Refused::NotForThisClick))?;
        match slack.api.open_view(&conn.bot_token, trigger, &modal).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(tenant = %conn.tenant, error = %e, "the reject modal was not opened");
                Err(refusing(Refused::Unavailable))
            }
        }
    }

    /// Tells the clicker why, in the message clicked (its buttons replaced).
    async fn tell(&self, conn: &SlackConnection, message: Option<&Posted>, refusing: Refusing) {
        let Refusing(refused, action) = refusing;
        tracing::info!(tenant = %conn.tenant, reason = refused.code(), "Slack click refused");
        let (Some(slack), Some(posted)) = (&self.slack, message) else {
            return;
        };
        let shown = interaction::refusal(&refused.why(), action.as_deref());
        if let Err(e) = slack.api.update(&conn.bot_token, posted, &shown).await {
            tracing::warn!(tenant = %conn.tenant, error = %e, "a refused click's message was not updated");
        }
    }
}

fn verdict_of(choice: Choice) -> Verdict {
    match choice {
        Choice::Approve => Verdict::Approved,
        Choice::Reject => Verdict::Rejected,
    }
}

/// A check that could not be made: refused (fail closed), the cause logged.
fn unavailable(what: &str, e: &dyn std::fmt::Display) -> Refusing {
    tracing::warn!(what, error = %e, "a Slack click could not be checked");
    Refused::Unavailable.into()
}
