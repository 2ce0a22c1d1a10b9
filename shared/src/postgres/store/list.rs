//! A page of one tenant's approvals, newest first, by keyset: each query starts after the last
//! row the previous one read (`(created_at, id) < (…)`) and reads a bounded number of rows in
//! index order, so a page costs its rows, never a sort of the whole tenant.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::row::{self, APPROVAL_AS_A};
use crate::postgres::{failed, ms};
use crate::store::{Cursor, ListFilter, Page, StoreError};
use holdpoint_core::domain::approval::Status;

/// The most rows one query reads: filters the index cannot apply (lazy expiry, `awaiting`) may
/// skip rows, and then the next query goes on from where this one stopped.
const CHUNK: usize = 500;

type Arg = Box<dyn ToSql + Sync + Send>;

/// The stored statuses a filter on `status` can match: a stored pending approval reads as
/// expired once past its deadline, an approved or modified one as lapsed once past its window.
fn stored_statuses(status: Status) -> Vec<&'static str> {
    match status {
        Status::Expired => vec!["expired", "pending"],
        Status::Lapsed => vec!["lapsed", "approved", "modified"],
        s => vec![s.as_str()],
    }
}

/// The query of one chunk: the candidates after `position`, newest first, from the narrowest
/// index; the two last columns are the row's place in that order (where the next chunk starts).
pub fn query(
    tenant: &str,
    filter: &ListFilter,
    position: Option<&(i64, String)>,
    now: DateTime<Utc>,
    chunk: usize,
) -> (String, Vec<Arg>) {
    let mut args: Vec<Arg> = vec![Box::new(tenant.to_owned())];
    let arg = |args: &mut Vec<Arg>, v: Arg| {
        args.push(v);
        format!("${}", args.len())
    };
    let (o, key) = if filter.reviewer.is_some() {
        ("r", "approval_id")
    } else {
        ("a", "id")
    };
    let mut sql = match &filter.reviewer {
        Some(r) => {
            let r = arg(&mut args, Box::new(r.clone()));
            format!(
                "SELECT {APPROVAL_AS_A}, r.created_at, r.approval_id FROM reviewers r \
                 JOIN approvals a ON a.id = r.approval_id AND a.tenant = r.tenant \
                 WHERE r.tenant = $1 AND r.reviewer = {r}"
            )
        }
        None => format!(
            "SELECT {APPROVAL_AS_A}, a.created_at, a.id FROM approvals a WHERE a.tenant = $1"
        ),
    };
    if let Some((created_at, id)) = position {
        let c = arg(&mut args, Box::new(*created_at));
        let i = arg(&mut args, Box::new(id.clone()));
        sql.push_str(&format!(" AND ({o}.created_at, {o}.{key}) < ({c}, {i})"));
    }
    if let Some(s) = filter.narrowed_status() {
        let stored: Vec<String> = stored_statuses(s)
            .iter()
            .map(|v| arg(&mut args, Box::new(v.to_string())))
            .collect();
        sql.push_str(&format!(" AND a.status IN ({})", stored.join(", ")));
        let now = ms(now);
        match s {
            Status::Pending => {
                let n = arg(&mut args, Box::new(now));
                sql.push_str(&format!(" AND a.expires_at > {n}"));
            }
            Status::Expired => {
                let n = arg(&mut args, Box::new(now));
                sql.push_str(&format!(
                    " AND (a.status = 'expired' OR a.expires_at <= {n})"
                ));
            }
            _ => {}
        }
    }
    if let Some(agent) = &filter.agent_id {
        let p = arg(&mut args, Box::new(agent.clone()));
        sql.push_str(&format!(" AND a.agent_id = {p}"));
    }
    if let Some(t) = &filter.checkpoint_type {
        let p = arg(&mut args, Box::new(t.clone()));
        sql.push_str(&format!(" AND a.checkpoint_type = {p}"));
    }
    let limit = arg(&mut args, Box::new(chunk as i64));
    sql.push_str(&format!(
        " ORDER BY {o}.created_at DESC, {o}.{key} DESC LIMIT {limit}"
    ));
    (sql, args)
}

fn refs(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// A page of one tenant's approvals, newest first: the index finds the candidates in order, and
/// [`ListFilter::matches`] has the last word (lazy expiry, exact matches).
pub async fn page(
    conn: &impl GenericClient,
    tenant: &str,
    filter: &ListFilter,
    limit: usize,
    after: Option<&Cursor>,
    now: DateTime<Utc>,
) -> Result<Page, StoreError> {
    let chunk = limit.saturating_add(1).min(CHUNK);
    let mut position = after.map(|c| (ms(c.created_at), row::id(c.id)));
    let mut items = Vec::with_capacity(limit.min(256) + 1);
    loop {
        let (sql, args) = query(tenant, filter, position.as_ref(), now, chunk);
        let s = conn.prepare_cached(&sql).await.map_err(failed)?;
        let rows = conn.query(&s, &refs(&args)).await.map_err(failed)?;
        let read = rows.len();
        for r in &rows {
            let place: (i64, String) = (
                r.try_get(12).map_err(failed)?,
                r.try_get(13).map_err(failed)?,
            );
            position = Some(place);
            let a = row::approval(r)?;
            if !filter.matches(&a, now) || after.is_some_and(|c| !c.precedes(&a)) {
                continue;
            }
            if items.len() == limit {
                let next = items.last().map(Cursor::after);
                return Ok(Page { items, next });
            }
            items.push(a);
        }
        if read < chunk {
            return Ok(Page { items, next: None });
        }
    }
}

/// `EXPLAIN (ANALYZE)` of the first query of a page: the plan and what each step read.
pub async fn explain(
    conn: &impl GenericClient,
    tenant: &str,
    filter: &ListFilter,
    limit: usize,
    after: Option<&Cursor>,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let position = after.map(|c| (ms(c.created_at), row::id(c.id)));
    let chunk = limit.saturating_add(1).min(CHUNK);
    let (sql, args) = query(tenant, filter, position.as_ref(), now, chunk);
    let rows = conn
        .query(
            &format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}"),
            &refs(&args),
        )
        .await
        .map_err(failed)?;
    Ok(plan(&rows))
}

/// The lines of an `EXPLAIN`'s answer.
pub fn plan(rows: &[tokio_postgres::Row]) -> String {
    rows.iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}
