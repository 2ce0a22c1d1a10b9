//! `GET /inbox/insights`: the admins' Insights tab, the default window of `GET /v1/insights`
//! rendered by `insights_page`.

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::inbox::{html, say, session, unavailable};
use super::inbox_page::{Tab, signed_in};
use super::insights_page::insights_html;
use super::state::AppState;
use crate::service::ServiceError;

pub(super) async fn insights(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = match session(&state, &headers).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    // Admins only, as the API: the tab is not even offered to others.
    if !s.principal.is_admin() {
        return say(
            StatusCode::FORBIDDEN,
            Some(&s),
            "Admins only",
            "Insights are for the tenant's admins.",
        );
    }
    let found = match state.service.insights_window(None, None) {
        Ok((since, until)) => state.service.insights(&s.principal, since, until).await,
        Err(e) => Err(e),
    };
    match found {
        Ok(i) => html(
            StatusCode::OK,
            signed_in(&s, Tab::Insights, "Insights", &insights_html(&i)),
        ),
        Err(ServiceError::NotAdmin) => say(
            StatusCode::FORBIDDEN,
            Some(&s),
            "Admins only",
            "Insights are for the tenant's admins.",
        ),
        Err(e) => unavailable(&e),
    }
}
