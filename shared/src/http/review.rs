//! The review routes, authorised by a signed link alone: `GET /review/{id}?token=…` shows the
//! page (and never changes anything: mail scanners prefetch links), `POST /review/{id}` decides
//! through the same transition as the API.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::review_page::{self, content_security_policy, message};
use crate::approval::{Approval, Status, Verdict};
use crate::lifecycle::{Command, Refusal};
use crate::request::{self, limits};
use crate::review_link::{self, Claims, LinkRefusal};
use crate::service::ServiceError;

fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(content_security_policy()) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// A refused or dead link: says no more than it must.
fn refused(r: LinkRefusal) -> Response {
    match r {
        LinkRefusal::Expired => html(
            StatusCode::GONE,
            message("Link expired", "This review link has expired."),
        ),
        LinkRefusal::Invalid => forbidden(),
        LinkRefusal::Key(e) => {
            tracing::error!(error = %e, "signing key unavailable for a review link");
            unavailable()
        }
    }
}

fn forbidden() -> Response {
    html(
        StatusCode::FORBIDDEN,
        message("Link not valid", "This review link is not valid."),
    )
}

fn unavailable() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        message(
            "Try again shortly",
            "Holdpoint is briefly unavailable. Nothing was changed; please try again.",
        ),
    )
}

/// Where a link leads once its approval no longer waits for this reviewer.
fn no_longer_pending(a: &Approval) -> Response {
    let (title, text) = review_page::decided(a);
    let status = if a.status == Status::Expired {
        StatusCode::GONE
    } else {
        StatusCode::CONFLICT
    };
    html(status, message(&title, &text))
}

/// Checks the link and loads its approval (as seen now). `Err` is the page to answer.
async fn open(state: &AppState, id: &str, token: &str) -> Result<(Claims, Approval), Response> {
    let id = Uuid::try_parse(id).map_err(|_| forbidden())?;
    let service = &state.service;
    let now = service.clock().now();
    let claims = review_link::verify(&**service.keys(), token, id, now)
        .await
        .map_err(refused)?;
    let approval = match service.store().get(&claims.tenant, id).await {
        Ok(Some(a)) => a.seen_at(now),
        Ok(None) => return Err(forbidden()),
        Err(e) => {
            tracing::warn!(error = %e, "review page store read failed");
            return Err(unavailable());
        }
    };
    if !review_link::still_addressed(&approval, &claims) {
        return Err(html(
            StatusCode::GONE,
            message(
                "Link no longer active",
                "This request was reassigned; this link no longer decides it.",
            ),
        ));
    }
    Ok((claims, approval))
}

#[derive(Deserialize)]
pub(super) struct PageQuery {
    token: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(token) = query.ok().and_then(|Query(q)| q.token) else {
        return forbidden();
    };
    let (claims, approval) = match open(&state, &id, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if approval.status != Status::Pending {
        return no_longer_pending(&approval);
    }
    let history = match state
        .service
        .store()
        .audit(&approval.tenant, approval.id)
        .await
    {
        Ok(h) => h,
        Err(_) => return unavailable(),
    };
    html(
        StatusCode::OK,
        review_page::review(&approval, &history, &claims.reviewer, &token),
    )
}

#[derive(Deserialize)]
struct DecisionForm {
    token: String,
    decision: Verdict,
    #[serde(default)]
    comment: String,
    modified_output: Option<String>,
}

fn unprocessable(text: &str) -> Response {
    html(
        StatusCode::UNPROCESSABLE_ENTITY,
        message(
            "Not sent",
            &format!("{text} Go back, correct it and send again."),
        ),
    )
}

pub(super) async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return html(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message("Not sent", "Send the review form."),
        );
    }
    if body.len() > limits::BODY_BYTES {
        return html(
            StatusCode::PAYLOAD_TOO_LARGE,
            message("Not sent", "The form is too large."),
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<DecisionForm>(&body) else {
        return html(
            StatusCode::BAD_REQUEST,
            message("Not sent", "The form was not understood."),
        );
    };
    let (claims, approval) = match open(&state, &id, &form.token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if request::check_text("comment", &form.comment, limits::TEXT_CHARS, false).is_err() {
        return unprocessable("The comment is too long.");
    }
    let modified_output = match (form.decision, form.modified_output.as_deref()) {
        (Verdict::Modified, Some(text)) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if request::check_document("modified_output", &v).is_ok() => Some(v),
            Ok(_) => return unprocessable("The edited output is too large."),
            Err(e) => return unprocessable(&format!("The edited output is not valid JSON ({e}).")),
        },
        _ => None,
    };
    let by = claims.principal();
    let command = Command::Decide {
        by: &by,
        verdict: form.decision,
        comment: Some(form.comment).filter(|c| !c.trim().is_empty()),
        modified_output,
    };
    match state
        .service
        .apply(&approval.tenant, approval.id, command)
        .await
    {
        Ok(done) => {
            let text = match (done.status, form.decision) {
                (Status::Pending, _) => format!(
                    "Your approval is recorded: {} of {} needed.",
                    done.approvals.len(),
                    done.quorum
                ),
                (status, _) => format!("Thank you. The request is now {}.", status.as_str()),
            };
            html(StatusCode::OK, message("Decision recorded", &text))
        }
        Err(ServiceError::Refused(Refusal::Conflict { .. })) => {
            match state
                .service
                .store()
                .get(&approval.tenant, approval.id)
                .await
            {
                Ok(Some(now)) => no_longer_pending(&now.seen_at(state.service.clock().now())),
                _ => unavailable(),
            }
        }
        Err(ServiceError::Refused(Refusal::CommentRequired)) => {
            unprocessable("A rejection needs a comment.")
        }
        Err(ServiceError::Refused(Refusal::ModifiedOutputRequired)) => {
            unprocessable("Approving with edits needs the edited output.")
        }
        Err(ServiceError::Refused(_)) => forbidden(),
        Err(ServiceError::NotFound) => forbidden(),
        Err(e) => {
            tracing::warn!(error = %e, "review decision failed");
            unavailable()
        }
    }
}
