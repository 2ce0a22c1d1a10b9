//! The pending tab's filters, read from its query as the page's own GET form sends them and as
//! openapi.yaml states them.

use axum::extract::Query;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct InboxQuery {
    agent: Option<String>,
    tool: Option<String>,
    risk: Option<String>,
    order: Option<String>,
}

/// Agent, tool, minimum risk, soonest first.
pub(super) struct Filters {
    pub agent: Option<String>,
    pub tool: Option<String>,
    pub min_risk: Option<u8>,
    pub soonest: bool,
}

impl Filters {
    /// The filters, or why the query cannot be taken (a 400 page).
    pub(super) fn of(
        query: Result<Query<InboxQuery>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Filters, &'static str> {
        let Ok(Query(q)) = query else {
            return Err("The filters were not understood.");
        };
        // An empty field is no filter; no more is taken than the spec allows.
        let too_long = |v: &Option<String>| v.as_ref().is_some_and(|v| v.chars().count() > 200);
        if too_long(&q.agent) || too_long(&q.tool) {
            return Err("A filter is too long.");
        }
        let nonblank = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let (agent, tool) = (nonblank(q.agent), nonblank(q.tool));
        let min_risk = match q.risk.as_deref() {
            None | Some("") => None,
            Some(r) => {
                let canonical = r.len() <= 3
                    && r.bytes().all(|b| b.is_ascii_digit())
                    && (r == "0" || !r.starts_with('0'));
                match r.parse::<u8>().ok().filter(|r| canonical && *r <= 100) {
                    // At least 0 is every request, those without a score too.
                    Some(0) => None,
                    Some(r) => Some(r),
                    None => return Err("Risk is a number from 0 to 100."),
                }
            }
        };
        let soonest = match q.order.as_deref() {
            None | Some("") | Some("newest") => false,
            Some("soonest") => true,
            Some(_) => return Err("Order is newest or soonest."),
        };
        Ok(Filters {
            agent,
            tool,
            min_risk,
            soonest,
        })
    }
}
