//! What is sent: a reviewer's email (plain text and HTML, everything an agent wrote escaped as
//! on the review page), a reviewer's webhook and an agent's callback (Standard Webhooks JSON:
//! `{"type", "timestamp", "data"}`) and a reviewer's Slack message ([`super::slack`]).
//! Callbacks never carry a review link.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::links::Minting;
use crate::directory::Entry;
use crate::events::LifecycleEvent;
use crate::slack::blocks::{self, Asked, Buttons, MessageRefusal};
use crate::slack::button::{self, Choice};
use holdpoint_core::audit::AuditEvent;
use holdpoint_core::json::members;
use holdpoint_core::text;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    Email {
        subject: String,
        text: String,
        html: String,
    },
    /// The JSON body, signed as sent.
    Webhook { body: String },
    /// A Slack post (`{"text", "blocks"}`), to the delivery's target (a Slack user id).
    Slack { post: serde_json::Value },
    /// What the Slack message at `posted` becomes.
    SlackUpdate {
        posted: crate::slack::blocks::Posted,
        post: serde_json::Value,
    },
}

/// The Standard Webhooks type of a message asking a reviewer to decide (as a request's, for an
/// event that asks nobody).
pub fn review_type(event: AuditEvent) -> &'static str {
    let requested = AuditEvent::Created.facts().review_type;
    event.facts().review_type.or(requested).unwrap_or_default()
}

/// How long a reminded approval has left, from its reminder to its deadline, in seconds.
fn seconds_left(event: &LifecycleEvent) -> Option<i64> {
    let d = &event.detail;
    if d.event != AuditEvent::Reminded {
        return None;
    }
    let at = DateTime::parse_from_rfc3339(&d.at).ok()?;
    let expires = DateTime::parse_from_rfc3339(&d.expires_at).ok()?;
    Some((expires - at).num_seconds().max(0))
}

/// A duration as a reviewer reads it: "1 hour 5 minutes", "12 minutes", "45 seconds".
fn readable(seconds: i64) -> String {
    let unit = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => unit(seconds, "second"),
        (0, 0, m) => unit(m, "minute"),
        (0, h, 0) => unit(h, "hour"),
        (0, h, m) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
        (d, 0, _) => unit(d, "day"),
        (d, h, _) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

fn risk(event: &LifecycleEvent) -> String {
    event
        .detail
        .risk_score
        .map_or_else(|| "not given".to_owned(), |r| format!("{r} / 100"))
}

pub fn review_email(event: &LifecycleEvent, reviewer: &str, url: &str) -> Message {
    let d = &event.detail;
    // Agent-written text shows its hidden characters (control, bidi, zero-width) escaped, as
    // every surface does: a mail neither breaks its lines nor disguises what an agent wrote.
    let action = text::visible(&d.action);
    let left = seconds_left(event).map(readable);
    let subject = match &left {
        Some(left) => format!("Reminder, {left} left: approval needed: {action}"),
        None => format!("Approval needed: {action}"),
    };
    let subject: String = subject.chars().take(150).collect();
    let (agent, asked_by) = (text::visible(&d.agent_id), text::visible(&d.requested_by));
    let reason = d.reason.as_deref().map(text::visible);
    let intro = match (d.event, &left) {
        (AuditEvent::Reminded, Some(left)) => {
            format!("A reminder: an approval waiting for you expires in {left}, unanswered so far.")
        }
        (AuditEvent::Escalated, _) => "An approval was escalated to you.".into(),
        (AuditEvent::Extended, _) => "An approval waiting for you has a new deadline.".into(),
        _ => "An agent is waiting for your approval.".into(),
    };
    let mut text = format!(
        "Hello {},\n\n{}\n\nAction:   {action}\nAgent:    {}\nAsked by: {}\nRisk:     {}\nDecide by: {}\n",
        text::visible(reviewer),
        intro,
        agent,
        asked_by,
        risk(event),
        d.expires_at,
    );
    if let Some(r) = &reason {
        text.push_str(&format!("Reason:   {r}\n"));
    }
    text.push_str(&format!(
        "\nReview and decide (this link is yours alone; do not forward it):\n{url}\n\nApproval {}\n",
        d.approval_id
    ));
    let reason_row = d
        .reason
        .as_deref()
        .map(|r| format!("<tr><th>Reason</th><td>{}</td></tr>", text::html_visible(r)))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html><body><p>Hello {},</p><p>{}</p><table>\
         <tr><th>Action</th><td>{}</td></tr><tr><th>Agent</th><td>{}</td></tr>\
         <tr><th>Asked by</th><td>{}</td></tr><tr><th>Risk</th><td>{}</td></tr>\
         <tr><th>Decide by</th><td>{}</td></tr>{reason_row}</table>\
         <p><a href=\"{}\">Review and decide</a> (this link is yours alone; do not forward it)</p>\
         <p>Approval {}</p></body></html>",
        text::html_visible(reviewer),
        intro,
        text::html_visible(&d.action),
        text::html_visible(&d.agent_id),
        text::html_visible(&d.requested_by),
        text::html(&risk(event)),
        text::html(&d.expires_at),
        text::html(url),
        d.approval_id,
    );
    Message::Email {
        subject,
        text,
        html,
    }
}

/// A Standard Webhooks body, written from its parts so that `data`'s documents keep their
/// numbers as written (members in name order, as they always were).
fn webhook(event_type: &str, now: DateTime<Utc>, data: &impl Serialize) -> Message {
    #[derive(Serialize)]
    struct Body<'a, D: Serialize> {
        data: &'a D,
        timestamp: String,
        r#type: &'a str,
    }
    let body = Body {
        data,
        timestamp: holdpoint_core::time::format(&now),
        r#type: event_type,
    };
    Message::Webhook {
        body: serde_json::to_string(&body).unwrap_or_default(),
    }
}

pub fn review_webhook(
    event: &LifecycleEvent,
    reviewer: &str,
    url: &str,
    now: DateTime<Utc>,
) -> Message {
    let d = &event.detail;
    let mut data = serde_json::json!({
            "event_id": d.event_id,
            "approval_id": d.approval_id,
            "tenant": d.tenant,
            "reviewer": reviewer,
            "action": d.action,
            "agent_id": d.agent_id,
            "requested_by": d.requested_by,
            "reason": d.reason,
            "risk_score": d.risk_score,
            "expires_at": d.expires_at,
            "review_url": url,
    });
    if let Some(left) = seconds_left(event) {
        data["seconds_left"] = left.into();
    }
    webhook(review_type(d.event), now, &data)
}

/// The lifecycle event as the agent's callback: its detail without reviewers or the callback URL.
pub fn callback(event: &LifecycleEvent, event_type: &str, now: DateTime<Utc>) -> Message {
    let mut detail = event.detail.clone();
    detail.reviewers.clear();
    detail.callback_url = None;
    webhook(event_type, now, &members::of(&detail, &[]))
}

/// Why a reviewer is asked in Slack, for the events that ask.
fn asked(event: AuditEvent) -> Asked {
    match event {
        AuditEvent::Escalated => Asked::Escalated,
        AuditEvent::Reminded => Asked::Reminded,
        AuditEvent::Extended => Asked::Extended,
        _ => Asked::Requested,
    }
}

/// The Slack post asking `principal` to decide, with Approve and Reject buttons minted for them
/// alone (valid until the approval's deadline: an extension posts again, with new ones) and
/// their own `review_url`. `None` when the approval no longer waits.
pub fn review_slack(
    minting: &Minting,
    event: &LifecycleEvent,
    principal: &Entry,
    review_url: &str,
) -> Option<Result<serde_json::Value, MessageRefusal>> {
    let Minting::Waiting { approval, key, .. } = minting else {
        return None;
    };
    let mint = |choice| {
        button::mint(
            key,
            &approval.tenant,
            approval.id,
            &principal.name,
            principal.instance,
            choice,
            approval.expires_at,
        )
    };
    let (approve, reject) = (mint(Choice::Approve), mint(Choice::Reject));
    let buttons = Buttons {
        approve: &approve,
        reject: &reject,
        review_url,
    };
    Some(blocks::request(
        approval,
        asked(event.detail.event),
        buttons,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_text_in_a_mail_shows_its_hidden_characters_escaped() {
        let event: LifecycleEvent = serde_json::from_value(serde_json::json!({
            "source": "holdpoint", "detail_type": "Approval Requested",
            "detail": {
                "event_id": "e:1", "approval_id": uuid::Uuid::nil(), "tenant": "t",
                "version": 1, "status": "pending", "event": "created",
                "action": "Drop\ntable\u{1b}[2J", "agent_id": "bot\u{202e}gnp.exe",
                "actor": "a", "at": "2026-11-29T10:00:00.000Z", "payload": {},
                "reason": "Refund «1042» — 900 €\u{200b}",
            }
        }))
        .unwrap();
        let Message::Email {
            subject,
            text,
            html,
        } = review_email(&event, "alice", "https://x/review")
        else {
            panic!("a mail")
        };
        assert_eq!(subject, "Approval needed: Drop\\u{a}table\\u{1b}[2J");
        for body in [&text, &html] {
            assert!(body.contains("bot\\u{202e}gnp.exe"), "{body}");
            assert!(body.contains("Refund «1042» — 900 €\\u{200b}"), "{body}");
            assert!(!body.contains(['\u{1b}', '\u{202e}', '\u{200b}']), "{body}");
        }
    }

    #[test]
    fn every_hidden_character_an_agent_wrote_is_escaped_in_the_mail_html() {
        // ESC, C0 controls, DEL, C1 controls, bidi override and isolate, zero-width characters.
        let hostile = "x\u{1b}[2J\u{1}\u{1f}\u{7f}\u{80}\u{9b}\u{202e}\u{2067}\u{200b}\u{feff}y";
        let shown = r"x\u{1b}[2J\u{1}\u{1f}\u{7f}\u{80}\u{9b}\u{202e}\u{2067}\u{200b}\u{feff}y";
        let event: LifecycleEvent = serde_json::from_value(serde_json::json!({
            "source": "holdpoint", "detail_type": "Approval Requested",
            "detail": {
                "event_id": "e:1", "approval_id": uuid::Uuid::nil(), "tenant": "t",
                "version": 1, "status": "pending", "event": "created",
                "action": hostile, "agent_id": hostile, "requested_by": hostile,
                "actor": "a", "at": "2026-11-29T10:00:00.000Z", "payload": {},
                "reason": hostile,
            }
        }))
        .unwrap();
        let Message::Email { text, html, .. } = review_email(&event, hostile, "https://x/review")
        else {
            panic!("a mail")
        };
        for body in [&text, &html] {
            let raw: Vec<char> = body
                .chars()
                .filter(|&c| c != '\n' && text::is_hidden(c))
                .collect();
            assert!(raw.is_empty(), "raw {raw:?} in {body}");
            assert_eq!(body.matches(shown).count(), 5, "{body}");
        }
    }

    #[test]
    fn an_extension_mail_says_so_and_gives_the_new_deadline() {
        let event: LifecycleEvent = serde_json::from_value(serde_json::json!({
            "source": "holdpoint", "detail_type": "Approval Extended",
            "detail": {
                "event_id": "e:2", "approval_id": uuid::Uuid::nil(), "tenant": "t",
                "version": 2, "status": "pending", "event": "extended",
                "action": "Pay", "agent_id": "bot", "actor": "alice",
                "at": "2026-11-29T10:00:00.000Z", "payload": {},
                "expires_at": "2026-11-29T12:00:00.000Z",
            }
        }))
        .unwrap();
        let Message::Email { text, html, .. } = review_email(&event, "bob", "https://x/review")
        else {
            panic!("a mail")
        };
        for body in [&text, &html] {
            assert!(body.contains("has a new deadline"), "{body}");
            assert!(body.contains("2026-11-29T12:00:00.000Z"), "{body}");
        }
    }

    #[test]
    fn a_reminder_says_so_with_the_time_left_by_mail_and_webhook() {
        let event: LifecycleEvent = serde_json::from_value(serde_json::json!({
            "source": "holdpoint", "detail_type": "Approval Reminded",
            "detail": {
                "event_id": "e:2", "approval_id": uuid::Uuid::nil(), "tenant": "t",
                "version": 2, "status": "pending", "event": "reminded",
                "action": "Pay", "agent_id": "bot", "actor": "holdpoint",
                "at": "2026-11-29T10:48:00.000Z", "payload": {},
                "expires_at": "2026-11-29T11:00:00.000Z",
            }
        }))
        .unwrap();
        let Message::Email {
            subject,
            text,
            html,
        } = review_email(&event, "bob", "https://x/review")
        else {
            panic!("a mail")
        };
        assert_eq!(subject, "Reminder, 12 minutes left: approval needed: Pay");
        for body in [&text, &html] {
            assert!(body.contains("A reminder"), "{body}");
            assert!(body.contains("expires in 12 minutes"), "{body}");
            assert!(body.contains("2026-11-29T11:00:00.000Z"), "{body}");
        }
        let Message::Webhook { body } =
            review_webhook(&event, "bob", "https://x/review", chrono::Utc::now())
        else {
            panic!("a webhook")
        };
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["type"], "approval.reminder");
        assert_eq!(body["data"]["seconds_left"], 720);
        assert_eq!(body["data"]["expires_at"], "2026-11-29T11:00:00.000Z");
        assert_eq!(
            [90, 3_600, 3_900, 86_400, 90_000, 59].map(readable),
            [
                "1 minute",
                "1 hour",
                "1 hour 5 minutes",
                "1 day",
                "1 day 1 hour",
                "59 seconds"
            ]
        );
    }

    #[test]
    fn a_callback_carries_the_payload_as_written() {
        let payload =
            r#"{"modified_output":{"big":18446744073709551616,"p":1.50,"e":1e2,"h":1e400}}"#;
        let event = LifecycleEvent {
            source: "holdpoint".into(),
            detail_type: "Approval Modified".into(),
            detail: crate::events::EventDetail {
                event_id: "e:2".into(),
                approval_id: uuid::Uuid::nil(),
                tenant: "t".into(),
                version: 2,
                status: holdpoint_core::domain::approval::Status::Modified,
                event: AuditEvent::Modified,
                action: "a".into(),
                agent_id: "b".into(),
                actor: "c".into(),
                at: "2026-11-29T10:00:00.000Z".into(),
                payload: holdpoint_core::json::document::Document::from_text(payload).unwrap(),
                requested_by: "d".into(),
                reason: None,
                risk_score: None,
                expires_at: String::new(),
                callback_url: Some("https://x/cb".into()),
                reviewers: Vec::new(),
            },
        };
        let Message::Webhook { body } = callback(&event, "approval.modified", chrono::Utc::now())
        else {
            panic!("a webhook")
        };
        assert!(body.contains(&format!(r#""payload":{payload}"#)), "{body}");
        assert!(
            body.starts_with(r#"{"data":{"#) && !body.contains("https://x/cb"),
            "{body}"
        );
    }
}
