//! The Block Kit messages a reviewer gets in Slack: the question (what the agent asks, with
//! Approve, Reject and "Open in browser") and, once the approval leaves pending, the answer that
//! replaces it everywhere (what happened, by whom, when; no buttons).
//!
//! All agent text goes through [`mrkdwn::escape_within`], each piece bounded so that every
//! message keeps to Slack's Block Kit limits ([`check_limits`]) whatever the agent sent: a
//! message over them is refused by Slack whole, and the reviewer would get nothing.

use chrono::{DateTime, Utc};
use holdpoint_core::domain::approval::{Approval, Status};
use serde_json::{Value, json};
use uuid::Uuid;

use super::button::{Choice, MAX_VALUE_LEN};
use super::mrkdwn::{escape_json_within, escape_within, plain, text};

/// Slack's limits (Block Kit reference): blocks per message, characters per section text, per
/// section field, per URL, per `action_id`/`block_id`, per button label.
pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_TEXT: usize = 3_000;
pub const MAX_FIELD_TEXT: usize = 2_000;
pub const MAX_URL: usize = 3_000;
pub const MAX_ID: usize = 255;
pub const MAX_BUTTON_LABEL: usize = 75;

// What each piece of agent text may take (well inside the limits above, so a message stays
// readable on a phone).
const ACTION_CHARS: usize = 1_500;
const AGENT_CHARS: usize = 200;
const REASON_CHARS: usize = 1_500;
const TOOL_NAME_CHARS: usize = 200;
const ARGUMENTS_CHARS: usize = 1_200;
const CONTEXT_CHARS: usize = 800;
const NOTIFICATION_CHARS: usize = 150;
/// The `action_id` of the "Open in browser" button (Slack reports its clicks too; they decide
/// nothing).
pub const OPEN_ACTION_ID: &str = "holdpoint_open";
/// The actions block's `block_id` is `holdpoint_decide.{approval id}`: a click tells the
/// approval it is on by it, whatever its button's value says.
const ACTIONS_BLOCK_ID: &str = "holdpoint_decide";

/// The actions block's id in the message asking about `approval`.
pub fn block_id(approval: Uuid) -> String {
    format!("{ACTIONS_BLOCK_ID}.{approval}")
}

/// The approval a clicked actions block (`block_id`) is about; `None` unless it is one of
/// Holdpoint's (the canonical hyphenated id, as [`block_id`] writes it).
pub fn approval_of_block(block_id: &str) -> Option<Uuid> {
    let id = block_id.strip_prefix(ACTIONS_BLOCK_ID)?.strip_prefix('.')?;
    let approval = Uuid::try_parse(id).ok()?;
    (approval.hyphenated().to_string() == id).then_some(approval)
}

/// Where a posted message is, for `chat.update`: its conversation and timestamp (kept on the
/// post's delivery, and in the reject modal).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// Why a reviewer is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    Requested,
    Escalated,
    Reminded,
    /// The deadline moved: asked again, with buttons valid until the new one.
    Extended,
}

impl Asked {
    fn headline(self) -> &'static str {
        match self {
            Asked::Requested => "An agent asks for your approval",
            Asked::Escalated => "Escalated to you: an agent asks for approval",
            Asked::Reminded => "Reminder: an agent still waits for your answer",
            Asked::Extended => "Deadline extended: an agent still waits for your answer",
        }
    }
}

/// The buttons' contents, from the caller: opaque button values (see [`super::button`]) and the
/// reviewer's own review link.
#[derive(Debug, Clone, Copy)]
pub struct Buttons<'a> {
    pub approve: &'a str,
    pub reject: &'a str,
    pub review_url: &'a str,
}

/// A message Holdpoint would not send: it breaks one of Slack's limits, or the caller asked for
/// something that is no message (a review link that is no web address, a pending "decided").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageRefusal {
    #[error("the Slack message breaks a Block Kit limit: {0}")]
    Limit(String),
    #[error("the review link is not an http(s) address")]
    ReviewUrl,
    #[error("the approval is still pending")]
    Pending,
}

/// The message asking a reviewer to decide `approval`: `{"text", "blocks"}` for
/// `chat.postMessage` (the caller adds the channel).
pub fn request(
    approval: &Approval,
    asked: Asked,
    buttons: Buttons<'_>,
) -> Result<Value, MessageRefusal> {
    let url = buttons.review_url;
    let web = url.starts_with("https://") || url.starts_with("http://");
    if !web || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MessageRefusal::ReviewUrl);
    }
    let mut blocks = summary(approval, asked.headline());
    blocks.push(json!({"type": "section", "fields": [
        text(format!("*Agent*\n{}", escape_within(&approval.agent_id, AGENT_CHARS))),
        text(format!("*Risk*\n{}", approval.risk_score.map_or("not given".to_owned(), |r| r.to_string()))),
        text(format!("*Deadline*\n{}", date(approval.expires_at))),
    ]}));
    if let Some(reason) = &approval.reason {
        let shown = escape_within(reason, REASON_CHARS);
        blocks.push(section(format!("*Reason*\n{shown}")));
    }
    if let Some(call) = &approval.tool_call {
        let name = escape_within(&call.name, TOOL_NAME_CHARS);
        let args = escape_json_within(&call.arguments.pretty(), ARGUMENTS_CHARS);
        // Apart: backticks in the name cannot pair with the arguments' fence.
        blocks.push(section(format!("*Tool call* {name}")));
        blocks.push(section(format!("```{args}```")));
    }
    if !approval.context.is_null() && approval.context.text() != "{}" {
        let shown = escape_json_within(&approval.context.pretty(), CONTEXT_CHARS);
        blocks.push(section(format!("*Context*\n```{shown}```")));
    }
    blocks.push(json!({"type": "actions", "block_id": block_id(approval.id), "elements": [
        decide_button(Choice::Approve, "Approve", "primary", buttons.approve),
        decide_button(Choice::Reject, "Reject", "danger", buttons.reject),
        {"type": "button", "action_id": OPEN_ACTION_ID, "text": plain("Open in browser"), "url": url},
    ]}));
    let message = json!({
        "text": format!("Approval requested: {}", notification(approval)),
        "blocks": blocks,
    });
    check_limits(&message)?;
    Ok(message)
}

/// The message that replaces every copy of the question once `approval` has left pending:
/// what happened (`status`), by whom (none when the deadline or a policy decided) and when.
pub fn decided(
    approval: &Approval,
    status: Status,
    by: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Value, MessageRefusal> {
    // What came after an approval is the agent's doing, not the approver's: said after them.
    let (what, then) = match status {
        Status::Pending => return Err(MessageRefusal::Pending),
        Status::Approved => ("Approved", ""),
        Status::Rejected => ("Rejected", ""),
        Status::Modified => ("Approved with changes", ""),
        Status::Expired => ("Expired", ""),
        Status::Cancelled => ("Cancelled", ""),
        Status::Executed => ("Approved", ", then carried out"),
        Status::Lapsed => ("Approved", ", then lapsed unused"),
    };
    let who = by.map_or(String::new(), |b| {
        format!(" by {}", escape_within(b, AGENT_CHARS))
    }) + then;
    let mut blocks = summary(approval, "Approval request");
    blocks.push(json!({"type": "section", "fields": [
        text(format!("*Agent*\n{}", escape_within(&approval.agent_id, AGENT_CHARS))),
    ]}));
    blocks.push(json!({"type": "context", "elements": [
        text(format!("*{what}*{who} · {}", date(at))),
    ]}));
    let message = json!({
        "text": format!("{what}{who}: {}", notification(approval)),
        "blocks": blocks,
    });
    check_limits(&message)?;
    Ok(message)
}

fn summary(approval: &Approval, headline: &str) -> Vec<Value> {
    let action = escape_within(&approval.action, ACTION_CHARS);
    vec![section(format!("*{headline}*\n{action}"))]
}

fn section(safe: String) -> Value {
    json!({"type": "section", "text": text(safe)})
}

/// What a phone's notification shows (the top-level `text`): the action, short.
fn notification(approval: &Approval) -> String {
    escape_within(&approval.action, NOTIFICATION_CHARS)
}

fn decide_button(choice: Choice, label: &str, style: &str, value: &str) -> Value {
    json!({"type": "button", "action_id": choice.action_id(), "text": plain(label),
           "style": style, "value": value})
}

/// A moment shown in each reader's own time zone by Slack, with the UTC time as the fallback.
fn date(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// Whether `message` keeps to Slack's Block Kit limits (those Holdpoint's messages can reach).
pub fn check_limits(message: &Value) -> Result<(), MessageRefusal> {
    let over = |what: &str| Err(MessageRefusal::Limit(what.to_owned()));
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let blocks = message["blocks"].as_array().map_or(&[][..], Vec::as_slice);
    if blocks.is_empty() || blocks.len() > MAX_BLOCKS {
        return over("blocks per message");
    }
    for block in blocks {
        if chars(&block["block_id"]) > MAX_ID {
            return over("block_id");
        }
        if chars(&block["text"]["text"]) > MAX_SECTION_TEXT {
            return over("section text");
        }
        let fields = block["fields"].as_array().map_or(&[][..], Vec::as_slice);
        if fields.len() > 10 || fields.iter().any(|f| chars(&f["text"]) > MAX_FIELD_TEXT) {
            return over("section fields");
        }
        for element in block["elements"].as_array().map_or(&[][..], Vec::as_slice) {
            if chars(&element["value"]) > MAX_VALUE_LEN {
                return over("button value");
            }
            if chars(&element["url"]) > MAX_URL {
                return over("button url");
            }
            if chars(&element["action_id"]) > MAX_ID {
                return over("action_id");
            }
            if element["type"] == "button" && chars(&element["text"]["text"]) > MAX_BUTTON_LABEL {
                return over("button label");
            }
            if element["type"] == "mrkdwn" && chars(&element["text"]) > MAX_SECTION_TEXT {
                return over("context text");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
