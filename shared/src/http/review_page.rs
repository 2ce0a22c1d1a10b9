//! The HTML a reviewer sees. Everything an agent supplied is escaped and isolated (`<bdi>`), the
//! only style is one inline block allowed by its hash, and there is no script at all.

use std::fmt::Write;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use chrono::{DateTime, Utc};

use holdpoint_core::domain::approval::{Approval, Status};
use holdpoint_core::text::{html, html_json, html_visible};
use holdpoint_core::time;

pub(crate) const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:44rem;padding:1rem;color:#1b1b1b}\
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.5rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}\
bdi,pre,dd{overflow-wrap:anywhere;unicode-bidi:isolate}\
pre{background:#f4f4f4;padding:.75rem;overflow-x:auto;white-space:pre-wrap;font-size:.9rem}\
form{border:1px solid #ccc;border-radius:.5rem;padding:.75rem;margin:.75rem 0}\
textarea{width:100%;box-sizing:border-box;font:inherit;min-height:5rem}\
button{font:inherit;padding:.6rem 1.2rem;margin-top:.5rem;border-radius:.4rem;border:1px solid #555;cursor:pointer}\
.approve{background:#1a7f37;color:#fff}.reject{background:#cf222e;color:#fff}\
.note{padding:.75rem;border-radius:.5rem;background:#fff8c5}ol{padding-left:1.2rem}\
@media(max-width:30rem){dl{grid-template-columns:1fr}}";

/// The Content-Security-Policy of every review page: nothing runs, nothing loads, nothing frames.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// Agent-supplied text: hidden characters shown as escapes, markup escaped, and isolated from
/// the page's own text direction.
pub(crate) fn agent(text: &str) -> String {
    format!("<bdi>{}</bdi>", html_visible(text))
}

/// An agent's document, indented, escaped, its numbers as sent (hidden characters as JSON
/// escapes: the edit form sends it back as JSON).
fn pretty(doc: &holdpoint_core::json::document::Document) -> String {
    html_json(&doc.pretty())
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · Holdpoint</title><style>{STYLE}</style></head><body>{body}</body></html>",
        html(title)
    )
}

/// A short page that says one thing (refusals and results).
pub fn message(title: &str, text: &str) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1><p class=\"note\">{}</p>",
            html_visible(title),
            html_visible(text)
        ),
    )
}

/// The review page: what the agent wants to do, and the forms to decide.
pub fn review(a: &Approval, reviewer: &str, token: &str) -> String {
    let hidden = format!(
        "<input type=\"hidden\" name=\"token\" value=\"{}\">",
        html(token)
    );
    page(
        "Approval requested",
        &review_body(a, reviewer, &format!("/review/{}", a.id), &hidden),
    )
}

/// What the review page shows, its forms posting to `action` with `hidden` (the link's token,
/// or the inbox's CSRF token) in each: the inbox shows the very same.
pub(crate) fn review_body(a: &Approval, reviewer: &str, action: &str, hidden: &str) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Approval requested</h1><p>Reviewing as <strong>{}</strong>.</p><h2>Action</h2><p>{}</p><dl>",
        agent(reviewer),
        agent(&a.action)
    );
    let mut row = |name: &str, value: String| {
        let _ = write!(b, "<dt>{name}</dt><dd>{value}</dd>");
    };
    row("Agent", agent(&a.agent_id));
    row("Requested by", agent(&a.requested_by));
    if let Some(r) = &a.reason {
        row("Reason", agent(r));
    }
    if let Some(r) = a.risk_score {
        row("Risk score", format!("{r} / 100"));
    }
    if let Some(c) = &a.checkpoint_type {
        row("Checkpoint", agent(c));
    }
    row("Decide by", html(&time::format(&a.expires_at)));
    row(
        "Reviewers",
        a.reviewers
            .iter()
            .map(|r| agent(r))
            .collect::<Vec<_>>()
            .join(", "),
    );
    row(
        "Approvals",
        format!("{} of {} needed", a.approvals.len(), a.quorum),
    );
    b.push_str("</dl>");
    if let Some(call) = &a.tool_call {
        let _ = write!(
            b,
            "<h2>Tool call: {}</h2><pre>{}</pre>",
            agent(&call.name),
            pretty(&call.arguments)
        );
    }
    let _ = write!(b, "<h2>Context</h2><pre>{}</pre>", pretty(&a.context));
    if let Some(p) = &a.proposed_output {
        let _ = write!(
            b,
            "<h2>Edits proposed by a reviewer</h2><pre>{}</pre>",
            pretty(p)
        );
    }
    b.push_str("<h2>History</h2><ol>");
    let _ = write!(
        b,
        "<li>{} — requested by {}</li>",
        html(&time::format(&a.created_at)),
        agent(&a.requested_by)
    );
    if a.escalation_level > 0 {
        let _ = write!(b, "<li>escalated to level {}</li>", a.escalation_level);
    }
    for v in &a.approvals {
        let _ = write!(
            b,
            "<li>{} — approved by {}</li>",
            html(&time::format(&v.at)),
            agent(&v.by)
        );
    }
    b.push_str("</ol>");
    let edits = a
        .proposed_output
        .clone()
        .or_else(|| a.tool_call.as_ref().map(|c| c.arguments.clone()))
        .unwrap_or_else(|| a.context.clone());
    let _ = write!(
        b,
        "<h2>Decide</h2>\
         <form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"decision\" value=\"approved\">\
         <label for=\"approve-comment\">Comment (optional)</label><textarea id=\"approve-comment\" name=\"comment\" maxlength=\"4000\"></textarea>\
         <button class=\"approve\" type=\"submit\" id=\"approve\">Approve</button></form>\
         <form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"decision\" value=\"rejected\">\
         <label for=\"reject-comment\">Why reject? (required)</label><textarea id=\"reject-comment\" name=\"comment\" required maxlength=\"4000\"></textarea>\
         <button class=\"reject\" type=\"submit\" id=\"reject\">Reject</button></form>\
         <form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"decision\" value=\"modified\">\
         <label for=\"modified-output\">Approve with edits: the output to use instead (JSON)</label>\
         <textarea id=\"modified-output\" name=\"modified_output\" required rows=\"8\">{}</textarea>\
         <label for=\"modify-comment\">Comment (optional)</label><textarea id=\"modify-comment\" name=\"comment\" maxlength=\"4000\"></textarea>\
         <button type=\"submit\" id=\"modify\">Approve with edits</button></form>",
        pretty(&edits)
    );
    // Offered while an hour more stays within the latest expiry (the service's longest
    // lifetime bounds approvals that recorded none; it refuses past it all the same).
    let hour = chrono::TimeDelta::hours(1);
    if a.latest_expiry.is_none_or(|l| a.expires_at + hour <= l) {
        let _ = write!(
            b,
            "<h2>Need more time?</h2>\
             <form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"extend_seconds\" value=\"{}\">\
             <label for=\"extend-reason\">Why (optional)</label><textarea id=\"extend-reason\" name=\"reason\" maxlength=\"4000\"></textarea>\
             <button type=\"submit\" id=\"extend\">Extend the deadline by 1 hour</button></form>",
            hour.num_seconds()
        );
    }
    b
}

/// What a reviewer sees once the approval is no longer waiting: its status, who brought it
/// there and when (as a conflict tells them).
pub fn decided(status: Status, by: Option<&str>, at: Option<DateTime<Utc>>) -> (String, String) {
    let when = |t: DateTime<Utc>| time::format(&t);
    match (status, by, at) {
        (Status::Expired, _, at) => (
            "Expired".into(),
            format!(
                "This request expired{} without a decision.",
                at.map(|t| format!(" at {}", when(t))).unwrap_or_default()
            ),
        ),
        (_, Some(by), Some(at)) => (
            "Already decided".into(),
            format!(
                "Already decided: {} by {by} at {}.",
                status.as_str(),
                when(at)
            ),
        ),
        (_, by, _) => (
            "No longer pending".into(),
            format!(
                "This request is {}{}.",
                status.as_str(),
                by.map(|by| format!(" by {by}")).unwrap_or_default()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_page_style() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!csp.contains("unsafe"));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    }

    /// ESC, other C0 controls (no NUL: JSON text cannot hold it raw), DEL, C1 controls, bidi
    /// overrides and isolates, zero-width characters.
    const HOSTILE: &str =
        "x\u{1b}[2J\u{1}\u{1f}\u{7f}\u{80}\u{9b}\u{202e}\u{2067}\u{200b}\u{feff}y";

    #[test]
    fn agent_text_shows_its_hidden_characters_escaped_never_raw() {
        use holdpoint_core::domain::identity::Principal;
        use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds, Gate};
        let request: CreateRequest = serde_json::from_value(serde_json::json!({
            "action": format!("drop {HOSTILE}"), "agent_id": "bot", "reviewers": ["alice"],
            "reason": HOSTILE, "checkpoint_type": "sql",
            "context": {"note": HOSTILE, HOSTILE: 1},
            "tool_call": {"name": "sql.execute", "arguments": {"sql": HOSTILE}},
        }))
        .unwrap();
        let agent = Principal {
            tenant: "acme".into(),
            principal: "agent".into(),
            roles: vec![],
            kind: Default::default(),
        };
        let (mut a, _) = request
            .into_approval(&agent, &Gate::open(), ExpiryBounds::default(), Utc::now())
            .unwrap();
        // Names the request refuses such characters in: shown escaped all the same, should one
        // ever be stored (written before that rule, or by another path).
        a.agent_id = HOSTILE.into();
        a.requested_by = HOSTILE.into();
        a.checkpoint_type = Some(HOSTILE.into());
        a.reviewers.push(HOSTILE.into());
        if let Some(call) = a.tool_call.as_mut() {
            call.name = HOSTILE.into();
        }
        let page = review(&a, "alice", "token");
        let raw: Vec<char> = page
            .chars()
            .filter(|&c| c != '\n' && holdpoint_core::text::is_hidden(c))
            .collect();
        assert!(raw.is_empty(), "raw {raw:?} in {page}");
        let shown =
            "x\\u{1b}[2J\\u{1}\\u{1f}\\u{7f}\\u{80}\\u{9b}\\u{202e}\\u{2067}\\u{200b}\\u{feff}y";
        assert_eq!(
            page.matches(shown).count(),
            8,
            "action, reason, agent, requested by (twice), checkpoint, reviewer, tool: {page}"
        );
        let in_json = "x\\u001b[2J\\u0001\\u001f\\u007f\\u0080\\u009b\\u202e\\u2067\\u200b\\ufeffy";
        assert!(
            page.matches(in_json).count() >= 4,
            "context and arguments, shown and editable: {page}"
        );
    }
}
