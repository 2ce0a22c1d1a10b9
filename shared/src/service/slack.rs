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
//! A refused click is told in the clicker's own message (`chat.update`, no buttons left), unless
//! the refusal is passing (Holdpoint unavailable): then the message keeps its buttons, to click
//! again. The reason is logged, never the payload nor a button's value.
//!
//! Slack wants an answer within 3 s, and a Lambda function is frozen once it has answered, so
//! nothing is left running after the answer: the checks (reads only) must end within
//! [`BUDGET`] less [`DECIDING`], else the click is refused as unavailable with nothing spent;
//! spending and deciding then run to their end; Slack calls get what is left of the budget.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

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
use refused::Refused;

mod refused;

/// The most an interaction takes before Slack is answered (Slack gives up at 3 s).
pub const BUDGET: Duration = Duration::from_millis(2_500);
/// What is kept of the budget for spending the button and deciding (one conditional put and
/// one compare-and-set, milliseconds each when the stores answer).
pub const DECIDING: Duration = Duration::from_millis(1_000);

/// A click that passed every check: who decides, on what, by which button.
struct Checked {
    principal: Principal,
    approval: Approval,
    claims: ButtonClaims,
}

/// A refusal, with the action it was about when the approval was read (shown above the reason).
struct Refusing(Refused, Option<Box<Approval>>);

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
    /// body for Slack (`None`: an empty 200), within [`BUDGET`] (see the module).
    pub async fn slack_interaction(
        &self,
        connection: SlackConnection,
        interaction: Interaction,
    ) -> Option<Value> {
        let deadline = Instant::now() + BUDGET;
        self.interact(&connection, interaction, deadline).await
    }

    async fn interact(
        &self,
        conn: &SlackConnection,
        interaction: Interaction,
        deadline: Instant,
    ) -> Option<Value> {
        // The checks only read: cut short, nothing is spent or decided.
        let checks_end = deadline - DECIDING;
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
                let checked = in_time(
                    checks_end,
                    self.check_click(conn, &by, approval, &value, choice, comment),
                )
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
                        let modal = self.open_modal(conn, &c, &origin, trigger_id.as_deref());
                        in_time(deadline, modal).await.err()
                    }
                };
                if let Some(refusing) = refused {
                    self.tell(conn, message.as_ref(), refusing, deadline).await;
                }
                None
            }
            Interaction::Submit {
                by,
                origin,
                comment,
            } => {
                let check = self.check_click(
                    conn,
                    &by,
                    Some(origin.approval),
                    &origin.value,
                    Choice::Reject,
                    comment.clone(),
                );
                let checked = in_time(checks_end, check).await;
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
                        self.tell(conn, origin.message.as_ref(), refusing, deadline)
                            .await;
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
        // Fail closed: an app whose workspace is not known takes no click.
        if conn.team_id.is_none() || by.team != conn.team_id {
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
        let read = Some(Box::new(current.clone()));
        let refusing = |r: Refused| Refusing(r, read.clone());
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
        let refusing = |r: Refused| Refusing(r, Some(Box::new(c.approval.clone())));
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
        let refusing = |r: Refused| Refusing(r, Some(Box::new(c.approval.clone())));
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

    /// Tells the clicker why, in the message clicked (its buttons replaced), by `deadline`. A
    /// passing refusal leaves the message as it is: its buttons may work in a moment.
    async fn tell(
        &self,
        conn: &SlackConnection,
        message: Option<&Posted>,
        refusing: Refusing,
        deadline: Instant,
    ) {
        let Refusing(refused, read) = refusing;
        tracing::info!(tenant = %conn.tenant, reason = refused.code(), "Slack click refused");
        let (Some(slack), Some(posted)) = (&self.slack, message) else {
            return;
        };
        if refused == Refused::Unavailable {
            return;
        }
        // Decided already: the message becomes what every copy becomes (the notifier's update
        // may come before or after this one; both say the same).
        let answer = match (&refused, &read) {
            (Refused::Decided { .. }, Some(approval)) => {
                crate::delivery::slack::answer(approval, self.clock.now()).ok()
            }
            _ => None,
        };
        let action = read.as_ref().map(|a| a.action.as_str());
        let shown = answer.unwrap_or_else(|| interaction::refusal(&refused.why(), action));
        let update = slack.api.update(&conn.bot_token, posted, &shown);
        match tokio::time::timeout_at(deadline, update).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(tenant = %conn.tenant, error = %e, "a refused click's message was not updated")
            }
            Err(_) => {
                tracing::warn!(tenant = %conn.tenant, "a refused click's message was not updated in time")
            }
        }
    }
}

fn verdict_of(choice: Choice) -> Verdict {
    match choice {
        Choice::Approve => Verdict::Approved,
        Choice::Reject => Verdict::Rejected,
    }
}

/// `work` if it ends by `deadline`; else refused as unavailable (its reads abandoned).
async fn in_time<T>(
    deadline: Instant,
    work: impl std::future::Future<Output = Result<T, Refusing>>,
) -> Result<T, Refusing> {
    match tokio::time::timeout_at(deadline, work).await {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!("a Slack click's checks outlasted their share of the budget");
            Err(Refused::Unavailable.into())
        }
    }
}

/// A check that could not be made: refused (fail closed), the cause logged.
fn unavailable(what: &str, e: &dyn std::fmt::Display) -> Refusing {
    tracing::warn!(what, error = %e, "a Slack click could not be checked");
    Refused::Unavailable.into()
}
