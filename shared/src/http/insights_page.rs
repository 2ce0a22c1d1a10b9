//! Insights as an HTML fragment for the inbox's Insights tab. Agent and tool names are what
//! agents wrote: escaped, hidden characters shown, isolated from the page's direction, as on the
//! review page. No script, no inline style: the inbox's own page and policy frame it.

use std::fmt::Write;

use crate::service::insights::{Count, Insights};
use holdpoint_core::text::{html, html_visible};
use holdpoint_core::time;

/// Milliseconds as a person reads a wait: `850 ms`, `42.0 s`, `12.5 min`, `3.2 h`.
fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "–".into();
    };
    let ms = ms as f64;
    match ms {
        m if m < 1_000.0 => format!("{m:.0} ms"),
        m if m < 60_000.0 => format!("{:.1} s", m / 1_000.0),
        m if m < 3_600_000.0 => format!("{:.1} min", m / 60_000.0),
        m => format!("{:.1} h", m / 3_600_000.0),
    }
}

fn table(out: &mut String, caption: &str, head: &str, rows: &[Count]) {
    let _ = write!(
        out,
        "<table class=\"insights\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th>\
         <th scope=\"col\">Approvals</th></tr></thead><tbody>",
        html(caption),
        html(head)
    );
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"2\">none</td></tr>");
    }
    for c in rows {
        let _ = write!(
            out,
            "<tr><td><bdi>{}</bdi></td><td>{}</td></tr>",
            html_visible(&c.name),
            c.count
        );
    }
    out.push_str("</tbody></table>");
}

/// The fragment: the window, what was counted, and each figure of `i`.
pub fn insights_html(i: &Insights) -> String {
    let mut out = String::from("<section class=\"insights\" aria-label=\"Insights\">");
    let _ = write!(
        out,
        "<p>Approvals created from <time datetime=\"{s}\">{s}</time> to \
         <time datetime=\"{u}\">{u}</time>: <strong>{n}</strong> counted.</p>",
        s = html(&time::format(&i.since)),
        u = html(&time::format(&i.until)),
        n = i.counted,
    );
    if i.truncated {
        out.push_str(
            "<p role=\"note\">Truncated: only the newest approvals of the window were counted. \
             Choose a shorter window.</p>",
        );
    }
    let t = &i.time_to_decision;
    let _ = write!(
        out,
        "<dl><dt>Decided by reviewers</dt><dd>{}</dd>\
         <dt>Time to decision p50</dt><dd>{}</dd>\
         <dt>Time to decision p90</dt><dd>{}</dd>\
         <dt>Time to decision max</dt><dd>{}</dd>\
         <dt>Expired</dt><dd>{}</dd><dt>Escalated</dt><dd>{}</dd>",
        t.decided,
        duration(t.p50_ms),
        duration(t.p90_ms),
        duration(t.max_ms),
        i.expired,
        i.escalated,
    );
    if let Some(p) = &i.policy {
        let _ = write!(
            out,
            "<dt>Governed by the policy</dt><dd>{}</dd>\
             <dt>Approved by the policy</dt><dd>{} ({:.1} %)</dd>\
             <dt>Rejected by the policy</dt><dd>{}</dd>",
            p.governed,
            p.approved_by_policy,
            p.approved_by_policy_share * 100.0,
            p.rejected_by_policy,
        );
    }
    out.push_str("</dl>");
    table(
        &mut out,
        "By outcome (status now)",
        "Outcome",
        &i.by_outcome,
    );
    let agents = format!("Top {} agents", i.top);
    table(&mut out, &agents, "Agent", &i.by_agent);
    let tools = format!("Top {} tools", i.top);
    table(&mut out, &tools, "Tool", &i.by_tool);
    out.push_str("</section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::insights::TimeToDecision;
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn insights(agent: &str, tool: &str) -> Insights {
        Insights {
            tenant: "acme".into(),
            since: at("2026-11-23T00:00:00Z"),
            until: at("2026-11-30T00:00:00Z"),
            counted: 3,
            truncated: false,
            by_outcome: vec![Count {
                name: "approved".into(),
                count: 3,
            }],
            top: 10,
            by_agent: vec![Count {
                name: agent.into(),
                count: 3,
            }],
            by_tool: vec![Count {
                name: tool.into(),
                count: 3,
            }],
            time_to_decision: TimeToDecision {
                decided: 3,
                p50_ms: Some(90_000),
                p90_ms: Some(300_000),
                max_ms: Some(7_200_000),
            },
            expired: 0,
            escalated: 1,
            policy: None,
        }
    }

    #[test]
    fn agent_names_show_as_text_never_markup() {
        let hostile = "<script>alert(1)</script>\u{202E}gpj.exe";
        let page = insights_html(&insights(hostile, "<img src=x onerror=alert(2)>"));
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains('\u{202E}'), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("\\u{202e}gpj.exe"), "{page}");
    }

    #[test]
    fn figures_read_as_durations() {
        let page = insights_html(&insights("ops-agent", "ec2.terminate"));
        assert!(page.contains("<dd>1.5 min</dd>"), "{page}");
        assert!(page.contains("<dd>5.0 min</dd>"), "{page}");
        assert!(page.contains("<dd>2.0 h</dd>"), "{page}");
        assert!(page.contains("Top 10 agents"), "{page}");
        assert!(
            !page.contains("Governed"),
            "no policy, no policy figures: {page}"
        );
    }
}
