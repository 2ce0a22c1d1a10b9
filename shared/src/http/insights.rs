//! `GET /v1/insights?since=…&until=…`: how the caller's tenant's approvals went, for its admins.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::extract::Caller;
use super::problem::Problem;
use super::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowParams {
    since: Option<String>,
    until: Option<String>,
}

/// An instant of the query: RFC 3339 with an offset, else 400.
fn instant(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, Problem> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| holdpoint_core::time::truncate_millis(t.with_timezone(&Utc)))
                .map_err(|_| {
                    Problem::bad_request(
                        "invalid_query",
                        format!("{name} must be an RFC 3339 instant, e.g. 2026-11-30T00:00:00Z"),
                    )
                })
        })
        .transpose()
}

pub(super) async fn insights(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: Result<Query<WindowParams>, QueryRejection>,
) -> Result<Response, Problem> {
    // Non-admins are refused before their query is even looked at.
    if !crate::service::insights::may_read(&caller) {
        return Err(crate::service::ServiceError::NotAdmin.into());
    }
    let Query(p) = params.map_err(|e| Problem::bad_request("invalid_query", e.body_text()))?;
    let since = instant("since", p.since.as_deref())?;
    let until = instant("until", p.until.as_deref())?;
    let (since, until) = state.service.insights_window(since, until)?;
    let insights = state.service.insights(&caller, since, until).await?;
    Ok(Json(insights).into_response())
}
