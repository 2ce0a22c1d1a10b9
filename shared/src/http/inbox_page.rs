//! The HTML of the reviewer inbox. Agent text goes through the review page's escaping
//! (`review_page::agent`); the only script is `/inbox/app.js` (the countdown), the only styles
//! the review page's block and this one, both allowed by their hashes.

use std::fmt::Write;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::review_page::{STYLE, agent};
use crate::service::sessions::SignedIn;
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::text::{html, html_visible};
use holdpoint_core::time;

const INBOX_STYLE: &str = "body{max-width:64rem}\
nav{display:flex;gap:1rem;align-items:center;border-bottom:1px solid #ccc;padding-bottom:.5rem;flex-wrap:wrap}\
nav a[aria-current]{font-weight:700}nav form{border:0;margin:0 0 0 auto;padding:0}nav button{margin:0}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem;border-bottom:1px solid #e3e3e3;vertical-align:top}\
td{overflow-wrap:anywhere}.filters{display:flex;gap:.75rem;flex-wrap:wrap;align-items:end}\
.filters label{display:flex;flex-direction:column;font-size:.9rem}input,select{font:inherit}\
.late{color:#cf222e;font-weight:600}\
@media(max-width:40rem){thead{display:none}table,tbody,tr,td{display:block}\
tr{border-bottom:1px solid #ccc;padding:.5rem 0}td{border:0;padding:.1rem 0}\
td[data-label]::before{content:attr(data-label) \": \";font-weight:600}}";

/// The script the pages load (and nothing else): it counts every deadline down.
pub const APP_JS: &str = r#""use strict";
(function () {
  function left(ms) {
    if (ms <= 0) return "expired";
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
      m = Math.floor(s % 3600 / 60);
    if (d > 0) return d + " d " + h + " h left";
    if (h > 0) return h + " h " + m + " min left";
    if (m > 0) return m + " min " + (s % 60) + " s left";
    return s + " s left";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.left").forEach(function (t) {
      var ms = Date.parse(t.getAttribute("datetime")) - now;
      t.textContent = left(ms);
      if (ms < 300000) t.classList.add("late");
    });
  }
  tick();
  setInterval(tick, 1000);
})();
"#;

/// The Content-Security-Policy of every inbox page: the two style blocks by hash, the script
/// from this origin only, nothing framed, forms posting here only.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |s: &str| STANDARD.encode(Sha256::digest(s.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{}' 'sha256-{}'; script-src 'self'; \
             img-src 'none'; connect-src 'none'; form-action 'self'; frame-ancestors 'none'; \
             base-uri 'none'",
            hash(STYLE),
            hash(INBOX_STYLE)
        )
    })
}

/// The tabs of a signed-in page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Pending,
    Decided,
    Insights,
    None,
}

/// The CSRF token as a hidden field: every form of a signed-in page carries one.
pub fn csrf_field(s: &SignedIn) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        html(&s.csrf)
    )
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · Holdpoint inbox</title><style>{STYLE}</style><style>{INBOX_STYLE}</style>\
         <script src=\"/inbox/app.js\" defer></script></head><body>{body}</body></html>",
        html(title)
    )
}

/// A signed-in page: the tabs, who is signed in, sign-out, then `body`.
pub fn signed_in(s: &SignedIn, tab: Tab, title: &str, body: &str) -> String {
    let link = |t: Tab, href: &str, text: &str| {
        let current = if t == tab {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{text}</a>")
    };
    let mut nav = link(Tab::Pending, "/inbox", "Waiting for me");
    nav.push_str(&link(Tab::Decided, "/inbox/decided", "Recently decided"));
    if s.principal.is_admin() {
        nav.push_str(&link(Tab::Insights, "/inbox/insights", "Insights"));
    }
    let _ = write!(
        nav,
        "<span>Signed in as <strong id=\"who\">{}</strong> ({})</span>\
         <form method=\"post\" action=\"/inbox/sign-out\">{}<button type=\"submit\" id=\"sign-out\">Sign out</button></form>",
        agent(&s.principal.principal),
        agent(&s.tenant),
        csrf_field(s)
    );
    document(
        title,
        &format!("<nav>{nav}</nav><h1>{}</h1>{body}", html_visible(title)),
    )
}

/// A page that says one thing, signed in or not.
pub fn message(s: Option<&SignedIn>, title: &str, text: &str) -> String {
    let body = format!(
        "<p class=\"note\" id=\"message\">{}</p><p><a href=\"/inbox\">Back to the inbox</a></p>",
        html_visible(text)
    );
    match s {
        Some(s) => signed_in(s, Tab::None, title, &body),
        None => document(title, &format!("<h1>{}</h1>{body}", html_visible(title))),
    }
}

/// The sign-in form: a tenant and a principal's name, nothing else.
pub fn sign_in_form(note: Option<&str>) -> String {
    let note = note
        .map(|n| format!("<p class=\"note\" id=\"message\">{}</p>", html_visible(n)))
        .unwrap_or_default();
    document(
        "Sign in",
        &format!(
            "<h1>Sign in to your Holdpoint inbox</h1>{note}\
             <form method=\"post\" action=\"/inbox\">\
             <label for=\"tenant\">Tenant</label><input id=\"tenant\" name=\"tenant\" required maxlength=\"64\" autocomplete=\"organization\">\
             <label for=\"name\">Your name in Holdpoint</label><input id=\"name\" name=\"name\" required maxlength=\"64\" autocomplete=\"username\">\
             <button type=\"submit\" id=\"send-link\">Send me a sign-in link</button></form>\
             <p>We send a single-use link, valid 15 minutes, by your own channels (mail or webhook).</p>"
        ),
    )
}

/// What a sign-in link offers, with the button that consumes it (opening it changes nothing).
pub fn confirm_sign_in(tenant: &str, name: &str, token: &str) -> String {
    document(
        "Sign in",
        &format!(
            "<h1>Sign in</h1><p>Sign in as <strong>{}</strong> ({})?</p>\
             <form method=\"post\" action=\"/inbox/sign-in\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button class=\"approve\" type=\"submit\" id=\"sign-in\">Sign in</button></form>",
            agent(name),
            agent(tenant),
            html(token)
        ),
    )
}

/// Time left until `at`, as the page first shows it (the script keeps it current).
pub fn countdown(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (at - now).num_seconds();
    let text = if s <= 0 {
        "expired".to_owned()
    } else if s >= 86_400 {
        format!("{} d {} h left", s / 86_400, s % 86_400 / 3_600)
    } else if s >= 3_600 {
        format!("{} h {} min left", s / 3_600, s % 3_600 / 60)
    } else if s >= 60 {
        format!("{} min {} s left", s / 60, s % 60)
    } else {
        format!("{s} s left")
    };
    format!(
        "<time class=\"left\" datetime=\"{}\">{text}</time>",
        html(&time::format(&at))
    )
}

fn tool(a: &Approval) -> String {
    a.tool_call
        .as_ref()
        .map(|c| agent(&c.name))
        .unwrap_or_default()
}

fn risk(a: &Approval) -> String {
    a.risk_score.map(|r| r.to_string()).unwrap_or_default()
}

/// One row of the item tables: action (linked), agent, tool, risk, reason.
fn cells(a: &Approval) -> String {
    format!(
        "<td><a href=\"/inbox/approvals/{id}\">{}</a></td><td data-label=\"Agent\">{}</td>\
         <td data-label=\"Tool\">{}</td><td data-label=\"Risk\">{}</td><td data-label=\"Reason\">{}</td>",
        agent(&a.action),
        agent(&a.agent_id),
        tool(a),
        risk(a),
        a.reason.as_deref().map(agent).unwrap_or_default(),
        id = a.id
    )
}

const HEAD: &str = "<th>Action</th><th>Agent</th><th>Tool</th><th>Risk</th><th>Reason</th>";

/// The filters as the page was asked for them (shown back in the form).
#[derive(Default)]
pub struct Shown<'a> {
    pub agent: &'a str,
    pub tool: &'a str,
    pub min_risk: Option<u8>,
    pub soonest: bool,
}

/// The pending tab: filters, then every item with a checkbox for the bulk preview.
pub fn inbox(
    s: &SignedIn,
    items: &[Approval],
    f: &Shown,
    more: bool,
    now: DateTime<Utc>,
) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/inbox\" class=\"filters\">\
         <label>Agent<input name=\"agent\" value=\"{}\" maxlength=\"64\"></label>\
         <label>Tool<input name=\"tool\" value=\"{}\" maxlength=\"200\"></label>\
         <label>Risk at least<input name=\"risk\" type=\"number\" min=\"0\" max=\"100\" value=\"{}\"></label>\
         <label>Order<select name=\"order\"><option value=\"newest\">newest first</option>\
         <option value=\"soonest\"{}>soonest deadline first</option></select></label>\
         <button type=\"submit\" id=\"filter\">Filter</button></form>",
        html(f.agent),
        html(f.tool),
        f.min_risk.map(|r| r.to_string()).unwrap_or_default(),
        if f.soonest { " selected" } else { "" }
    );
    if items.is_empty() {
        // Reads are bounded: an empty first stretch with more beyond is not "nothing".
        b.push_str(if more {
            "<p id=\"empty\">None of the newest pending requests waits for you, but there are \
             more: narrow the filters to find older ones.</p>"
        } else {
            "<p id=\"empty\">Nothing is waiting for you.</p>"
        });
        return signed_in(s, Tab::Pending, "Waiting for me", &b);
    }
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/inbox/preview\">{}<table id=\"pending\"><thead><tr><th>Select</th>{HEAD}<th>Time left</th></tr></thead><tbody>",
        csrf_field(s)
    );
    for a in items {
        let _ = write!(
            b,
            "<tr data-id=\"{id}\"><td><input type=\"checkbox\" name=\"id\" value=\"{id}\" aria-label=\"select\"></td>{}<td data-label=\"Time left\">{}</td></tr>",
            cells(a),
            countdown(a.expires_at, now),
            id = a.id
        );
    }
    b.push_str("</tbody></table>");
    if more {
        b.push_str("<p>More are waiting than shown: narrow the filters or decide these first.</p>");
    }
    b.push_str("<button type=\"submit\" id=\"preview\">Review the selected…</button></form>");
    signed_in(s, Tab::Pending, "Waiting for me", &b)
}

/// The recently decided tab.
pub fn decided(s: &SignedIn, items: &[Approval]) -> String {
    let mut b =
        format!("<table id=\"decided\"><thead><tr>{HEAD}<th>Outcome</th></tr></thead><tbody>");
    for a in items {
        let by = a
            .decided_by()
            .map(|by| format!(" by {}", agent(by)))
            .unwrap_or_default();
        let _ = write!(
            b,
            "<tr data-id=\"{}\">{}<td data-label=\"Outcome\">{}{by}</td></tr>",
            a.id,
            cells(a),
            a.status.as_str()
        );
    }
    b.push_str("</tbody></table>");
    signed_in(s, Tab::Decided, "Recently decided", &b)
}

/// The bulk preview: exactly what is selected, and the two ways to decide them all.
pub fn preview(s: &SignedIn, items: &[Approval], now: DateTime<Utc>) -> String {
    let mut b = format!(
        "<p>You selected {} request{}:</p><table id=\"selected\"><thead><tr>{HEAD}<th>Time left</th></tr></thead><tbody>",
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    );
    let mut ids = String::new();
    for a in items {
        let _ = write!(
            b,
            "<tr data-id=\"{}\">{}<td data-label=\"Time left\">{}</td></tr>",
            a.id,
            cells(a),
            countdown(a.expires_at, now)
        );
        let _ = write!(
            ids,
            "<input type=\"hidden\" name=\"id\" value=\"{}\">",
            a.id
        );
    }
    let csrf = csrf_field(s);
    let _ = write!(
        b,
        "</tbody></table><p>Each is decided on its own and recorded on its own.</p>\
         <form method=\"post\" action=\"/inbox/decide\">{csrf}{ids}<input type=\"hidden\" name=\"decision\" value=\"approved\">\
         <button class=\"approve\" type=\"submit\" id=\"approve-all\">Approve all {n}</button></form>\
         <form method=\"post\" action=\"/inbox/decide\">{csrf}{ids}<input type=\"hidden\" name=\"decision\" value=\"rejected\">\
         <label for=\"reject-comment\">Why reject? (required; applies to each)</label>\
         <textarea id=\"reject-comment\" name=\"comment\" required maxlength=\"4000\"></textarea>\
         <button class=\"reject\" type=\"submit\" id=\"reject-all\">Reject all {n}</button></form>",
        n = items.len()
    );
    signed_in(s, Tab::None, "Decide the selected", &b)
}

/// The bulk result: what became of each item, in the order selected.
pub fn results(s: &SignedIn, rows: &[(String, String)]) -> String {
    let mut b = String::from(
        "<table id=\"results\"><thead><tr><th>Request</th><th>Result</th></tr></thead><tbody>",
    );
    for (what, result) in rows {
        let _ = write!(
            b,
            "<tr><td>{what}</td><td>{}</td></tr>",
            html_visible(result)
        );
    }
    b.push_str("</tbody></table>");
    signed_in(s, Tab::None, "Results", &b)
}

/// The request as a result row names it (the action, linked; agent text escaped).
pub fn named(a: &Approval) -> String {
    format!(
        "<a href=\"/inbox/approvals/{}\">{}</a>",
        a.id,
        agent(&a.action)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_two_styles_and_this_origin_s_script_only() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe"));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
        assert_eq!(csp.matches("'sha256-").count(), 2);
    }

    #[test]
    fn the_countdown_starts_from_the_server_s_time_left() {
        let now = Utc::now();
        let left = |s| countdown(now + chrono::TimeDelta::seconds(s), now);
        assert!(left(90_000).contains(">1 d 1 h left<"));
        assert!(left(3_660).contains(">1 h 1 min left<"));
        assert!(left(61).contains(">1 min 1 s left<"));
        assert!(left(5).contains(">5 s left<"));
        assert!(left(-1).contains(">expired<"));
    }
}
