//! A page of one tenant's approvals, newest first, from the narrowest index the filter allows.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::schema;
use super::sqlite::failed;
use crate::store::{Cursor, ListFilter, Page, StoreError};
use holdpoint_core::domain::approval::Status;

/// The stored statuses a filter on `status` can match: a stored pending approval reads as
/// expired once past its deadline, an approved or modified one as lapsed once past its window.
fn stored_statuses(status: Status) -> Vec<&'static str> {
    match status {
        Status::Expired => vec!["expired", "pending"],
        Status::Lapsed => vec!["lapsed", "approved", "modified"],
        s => vec![s.as_str()],
    }
}

/// A page of one tenant's approvals, newest first: the narrowest index finds the candidates in
/// order, and [`ListFilter::matches`] has the last word (lazy expiry, exact matches).
pub fn page(
    conn: &Connection,
    tenant: &str,
    filter: &ListFilter,
    limit: usize,
    after: Option<&Cursor>,
    now: DateTime<Utc>,
) -> Result<Page, StoreError> {
    use rusqlite::types::Value;
    let (mut sql, mut args): (String, Vec<Value>) = match &filter.reviewer {
        Some(r) => (
            format!(
                "SELECT {} FROM reviewers r JOIN approvals a ON a.id = r.approval_id \
                 WHERE r.tenant = ? AND r.reviewer = ?",
                schema::APPROVAL_AS_A
            ),
            vec![tenant.to_owned().into(), r.clone().into()],
        ),
        None => (
            format!(
                "SELECT {} FROM approvals a WHERE a.tenant = ?",
                schema::APPROVAL_AS_A
            ),
            vec![tenant.to_owned().into()],
        ),
    };
    let order = if filter.reviewer.is_some() { "r" } else { "a" };
    if let Some(c) = after {
        sql.push_str(&format!(
            " AND ({order}.created_at, {order}.{}) < (?, ?)",
            if order == "r" { "approval_id" } else { "id" }
        ));
        args.push(schema::ms(c.created_at).into());
        args.push(schema::id(c.id).into());
    }
    if filter.reviewer.is_some() {
        sql.push_str(" AND a.tenant = r.tenant");
    }
    if let Some(s) = filter.narrowed_status() {
        let stored = stored_statuses(s);
        sql.push_str(&format!(
            " AND a.status IN ({})",
            vec!["?"; stored.len()].join(", ")
        ));
        args.extend(stored.iter().map(|s| Value::from(s.to_string())));
        match s {
            Status::Pending => {
                sql.push_str(" AND a.expires_at > ?");
                args.push(schema::ms(now).into());
            }
            Status::Expired => {
                sql.push_str(" AND (a.status = 'expired' OR a.expires_at <= ?)");
                args.push(schema::ms(now).into());
            }
            _ => {}
        }
    }
    if let Some(agent) = &filter.agent_id {
        sql.push_str(" AND a.agent_id = ?");
        args.push(agent.clone().into());
    }
    if let Some(t) = &filter.checkpoint_type {
        sql.push_str(" AND a.checkpoint_type = ?");
        args.push(t.clone().into());
    }
    sql.push_str(&format!(
        " ORDER BY {order}.created_at DESC, {order}.{} DESC",
        if order == "r" { "approval_id" } else { "id" }
    ));
    let mut stmt = conn.prepare_cached(&sql).map_err(failed)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(args))
        .map_err(failed)?;
    let mut items = Vec::with_capacity(limit.min(256) + 1);
    while let Some(row) = rows.next().map_err(failed)? {
        let a = schema::approval(row)?;
        if !filter.matches(&a, now) || after.is_some_and(|c| !c.precedes(&a)) {
            continue;
        }
        if items.len() == limit {
            let next = items.last().map(Cursor::after);
            return Ok(Page { items, next });
        }
        items.push(a);
    }
    Ok(Page { items, next: None })
}
