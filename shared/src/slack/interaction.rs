//! What Slack sends to `POST /slack/interactions` once its signature verified: a button click
//! (`block_actions`) or the reject modal's submission (`view_submission`), read into
//! [`Interaction`]; and what Holdpoint sends back into Slack for one: the reject modal
//! ([`reject_modal`]) and the message that replaces a refused click's buttons ([`refusal`]).
//!
//! Only what a decision needs is read. Slack's ids are bounded (a payload is Slack's, but an
//! id that is no id is read as absent, never passed on whole).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::api::Posted;
use super::blocks::{MAX_SECTION_TEXT, approval_of_block, check_limits};
use super::button::{Choice, MAX_VALUE_LEN};
use super::mrkdwn::{escape_within, plain, text};

/// The reject modal's `callback_id`, what its submission is recognised by.
pub const REJECT_CALLBACK: &str = "holdpoint_reject";
/// The modal's comment input: its `block_id` and `action_id`.
pub const COMMENT: &str = "comment";
/// The longest comment the modal takes (Slack's input `max_length`).
pub const MAX_COMMENT_CHARS: usize = 3_000;
/// Slack's limit on a view's `private_metadata`.
const MAX_METADATA: usize = 3_000;
/// The longest Slack id read (user, team, channel, message ts, trigger id).
const MAX_ID: usize = 255;
/// Characters of the action shown in the modal and a refusal.
const ACTION_CHARS: usize = 600;

/// Who clicked, as Slack says: the user and the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clicker {
    pub user: String,
    pub team: Option<String>,
}

/// A click on a decide button, or the reject modal submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// Approve or Reject clicked in a message.
    Click {
        by: Clicker,
        choice: Choice,
        /// From the actions block's `block_id`; `None` when it names no approval.
        approval: Option<Uuid>,
        value: String,
        trigger_id: Option<String>,
        /// The message clicked in, to update when the click is refused.
        message: Option<Posted>,
    },
    /// The reject modal submitted.
    Submit {
        by: Clicker,
        origin: ModalOrigin,
        comment: Option<String>,
    },
    /// Anything else ("Open in browser", other apps' actions, other events): nothing to do.
    Ignored,
}

/// What the reject modal carries from the click that opened it (its `private_metadata`, which
/// Slack hands back unchanged with the submission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModalOrigin {
    pub approval: Uuid,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Posted>,
}

/// Why a payload is not one Slack would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not a form with one field payload")]
    Form,
    #[error("the payload is not JSON")]
    Json,
}

/// Reads a signed body: `payload={json}`, form-encoded.
pub fn parse(body: &[u8]) -> Result<Interaction, PayloadError> {
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| PayloadError::Form)?;
    let mut payloads = fields.iter().filter(|(k, _)| k == "payload");
    let (Some((_, payload)), None) = (payloads.next(), payloads.next()) else {
        return Err(PayloadError::Form);
    };
    let v: Value = serde_json::from_str(payload).map_err(|_| PayloadError::Json)?;
    Ok(interaction(&v))
}

fn id(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
}

fn clicker(v: &Value) -> Option<Clicker> {
    Some(Clicker {
        user: id(&v["user"]["id"])?,
        team: id(&v["team"]["id"]).or_else(|| id(&v["user"]["team_id"])),
    })
}

fn interaction(v: &Value) -> Interaction {
    let Some(by) = clicker(v) else {
        return Interaction::Ignored;
    };
    match v["type"].as_str() {
        Some("block_actions") => {
            // One click is one action; several at once is no click Holdpoint made.
            let actions = v["actions"].as_array().map_or(&[][..], Vec::as_slice);
            let [action] = actions else {
                return Interaction::Ignored;
            };
            let action_id = action["action_id"].as_str().unwrap_or_default();
            // "Open in browser" (`blocks::OPEN_ACTION_ID`) and anything else decide nothing.
            let Some(choice) = Choice::from_action_id(action_id) else {
                return Interaction::Ignored;
            };
            let message = match (
                id(&v["container"]["channel_id"]).or_else(|| id(&v["channel"]["id"])),
                id(&v["container"]["message_ts"]).or_else(|| id(&v["message"]["ts"])),
            ) {
                (Some(channel), Some(ts)) => Some(Posted { channel, ts }),
                _ => None,
            };
            Interaction::Click {
                by,
                choice,
                approval: action["block_id"].as_str().and_then(approval_of_block),
                value: action["value"].as_str().unwrap_or_default().to_owned(),
                trigger_id: id(&v["trigger_id"]),
                message,
            }
        }
        Some("view_submission") if v["view"]["callback_id"] == REJECT_CALLBACK => {
            let metadata = v["view"]["private_metadata"].as_str().unwrap_or_default();
            let Ok(origin) = serde_json::from_str::<ModalOrigin>(metadata) else {
                return Interaction::Ignored;
            };
            let comment = v["view"]["state"]["values"][COMMENT][COMMENT]["value"]
                .as_str()
                .map(str::to_owned);
            Interaction::Submit {
                by,
                origin,
                comment,
            }
        }
        _ => Interaction::Ignored,
    }
}

/// The modal a Reject click opens: the action it would reject and a required comment. `None`
/// when what it must carry back would not fit Slack's `private_metadata`.
pub fn reject_modal(action: &str, origin: &ModalOrigin) -> Option<Value> {
    if origin.value.len() > MAX_VALUE_LEN {
        return None;
    }
    let metadata = serde_json::to_string(origin).ok()?;
    if metadata.chars().count() > MAX_METADATA {
        return None;
    }
    Some(json!({
        "type": "modal",
        "callback_id": REJECT_CALLBACK,
        "private_metadata": metadata,
        "title": plain("Reject request"),
        "submit": plain("Reject"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "section", "text": text(format!("*Reject*\n{}", escape_within(action, ACTION_CHARS)))},
            {"type": "input", "block_id": COMMENT, "label": plain("Why do you reject it?"),
             "element": {"type": "plain_text_input", "action_id": COMMENT, "multiline": true,
                         "max_length": MAX_COMMENT_CHARS}},
        ],
    }))
}

/// What a submission without a comment is told.
pub const COMMENT_REQUIRED: &str = "A rejection needs a comment: say why.";

/// The answer to a submission whose comment is not taken (missing, blank, too long): the modal
/// stays open and says `why` under the input.
pub fn comment_errors(why: &str) -> Value {
    json!({"response_action": "errors", "errors": {COMMENT: why}})
}

/// The answer that closes the modal (and any under it).
pub fn clear() -> Value {
    json!({"response_action": "clear"})
}

/// The message that replaces the buttons of a refused click: `why` (Holdpoint's own words,
/// shown as they are) under the action it was about (agent text, escaped), when known.
pub fn refusal(why: &str, action: Option<&str>) -> Value {
    let mut blocks = Vec::new();
    if let Some(action) = action {
        let shown = escape_within(action, ACTION_CHARS);
        blocks
            .push(json!({"type": "section", "text": text(format!("*Approval request*\n{shown}"))}));
    }
    let why = escape_within(why, MAX_SECTION_TEXT - 20);
    blocks.push(json!({"type": "section", "text": text(format!("*Not decided:* {why}"))}));
    let message = json!({"text": format!("Not decided: {why}"), "blocks": blocks});
    debug_assert!(check_limits(&message).is_ok());
    message
}

#[cfg(test)]
mod tests;
