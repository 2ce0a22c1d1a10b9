//! The review routes, authorised by a signed link alone: `GET /review/{id}?token=…` shows the
//! page (and never changes anything: mail scanners prefetch links), `POST /review/{id}` decides
//! through the same transition as the API. The service opens the link and decides; this module
//! only parses the request and renders the answer.

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::read_body;
use super::review_page::{self, content_security_policy, message};
use super::state::AppState;
use crate::service::ServiceError;
use holdpoint_core::domain::approval::{Status, Verdict};
use holdpoint_core::domain::lifecycle::Refusal;
use holdpoint_core::domain::request::limits;
use holdpoint_core::domain::review_link::LinkRefusal;
use holdpoint_core::json::document::Document;
use holdpoint_core::text::is_blank;

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

fn unprocessable(text: &str) -> Response {
    html(
        StatusCode::UNPROCESSABLE_ENTITY,
        message(
            "Not sent",
            &format!("{text} Go back, correct it and send again."),
        ),
    )
}

/// The page for every way a link does not lead to a decision; says no more than it must.
fn refused(e: ServiceError) -> Response {
    match e {
        ServiceError::Link(LinkRefusal::Expired) => html(
            StatusCode::GONE,
            message("Link expired", "This review link has expired."),
        ),
        ServiceError::Link(LinkRefusal::Reassigned) => html(
            StatusCode::GONE,
            message(
                "Link no longer active",
                "This request was reassigned; this link no longer decides it.",
            ),
        ),
        ServiceError::Refused(Refusal::Conflict {
            current_status,
            decided_by,
            decided_at,
        }) => {
            let (title, text) =
                review_page::decided(current_status, decided_by.as_deref(), decided_at);
            let status = if current_status == Status::Expired {
                StatusCode::GONE
            } else {
                StatusCode::CONFLICT
            };
            html(status, message(&title, &text))
        }
        ServiceError::Invalid(i) if i.field == "comment" => {
            unprocessable("The comment is too long.")
        }
        ServiceError::Invalid(i) if i.field == "reason" => unprocessable("The reason is too long."),
        ServiceError::Invalid(i) if i.field == "seconds" => {
            unprocessable("The extension must be between one second and 30 days.")
        }
        ServiceError::Refused(Refusal::PastLatestExpiry { latest_expiry }) => {
            unprocessable(&format!(
                "The deadline cannot move past {}.",
                holdpoint_core::time::format(&latest_expiry)
            ))
        }
        ServiceError::Invalid(_) => unprocessable("The edited output is too large."),
        ServiceError::Refused(Refusal::CommentRequired) => {
            unprocessable("A rejection needs a comment.")
        }
        ServiceError::Refused(Refusal::ModifiedOutputRequired) => {
            unprocessable("Approving with edits needs the edited output.")
        }
        ServiceError::Link(_) | ServiceError::Refused(_) | ServiceError::NotFound => forbidden(),
        e => {
            tracing::warn!(error = %e, "review link not served");
            unavailable()
        }
    }
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
    let Ok(id) = Uuid::try_parse(&id) else {
        return forbidden();
    };
    match state.service.open_review(id, &token).await {
        Ok(r) => html(
            StatusCode::OK,
            review_page::review(&r.approval, &r.claims.reviewer, &token),
        ),
        Err(e) => refused(e),
    }
}

/// One of the page's forms: a decision, or (with `extend_seconds` instead) an extension.
#[derive(Deserialize)]
struct DecisionForm {
    token: String,
    decision: Option<Verdict>,
    extend_seconds: Option<u32>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    reason: String,
    modified_output: Option<String>,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return html(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message("Not sent", "Send the review form."),
        );
    }
    let Ok(body) = read_body(request, limits::FORM_BYTES).await else {
        return html(
            StatusCode::PAYLOAD_TOO_LARGE,
            message("Not sent", "The form is too large."),
        );
    };
    let Ok(form) = serde_urlencoded::from_bytes::<DecisionForm>(&body) else {
        return html(
            StatusCode::BAD_REQUEST,
            message("Not sent", "The form was not understood."),
        );
    };
    let Ok(id) = Uuid::try_parse(&id) else {
        return forbidden();
    };
    // The link first, verified once: a refused link reveals nothing, not even what was wrong
    // with the form.
    let link = match state.service.verify_link(id, &form.token).await {
        Ok(link) => link,
        Err(e) => return refused(e),
    };
    let decision = match (form.decision, form.extend_seconds) {
        (Some(d), None) => d,
        (None, Some(seconds)) => {
            let reason = Some(form.reason).filter(|r| !is_blank(r));
            return match state.service.extend_as(&link, seconds, reason).await {
                Ok(a) => html(
                    StatusCode::OK,
                    message(
                        "Deadline extended",
                        &format!(
                            "The request now waits for a decision until {}.",
                            holdpoint_core::time::format(&a.expires_at)
                        ),
                    ),
                ),
                Err(e) => refused(e),
            };
        }
        _ => {
            return html(
                StatusCode::BAD_REQUEST,
                message("Not sent", "The form was not understood."),
            );
        }
    };
    let modified_output = match (decision, form.modified_output.as_deref()) {
        (Verdict::Modified, Some(text)) => match edited_output(text) {
            Ok(v) => Some(v),
            Err(e) => {
                return unprocessable(&format!("The edited output is not valid JSON ({e})."));
            }
        },
        _ => None,
    };
    let comment = Some(form.comment).filter(|c| !is_blank(c));
    let decided = state
        .service
        .decide_as(&link, decision, comment, modified_output)
        .await;
    match decided {
        Ok(done) => {
            let text = match done.status {
                Status::Pending => format!(
                    "Your approval is recorded: {} of {} needed.",
                    done.approvals.len(),
                    done.quorum
                ),
                status => format!("Thank you. The request is now {}.", status.as_str()),
            };
            html(StatusCode::OK, message("Decision recorded", &text))
        }
        Err(e) => refused(e),
    }
}

/// Why the edited output of the form is not a document: not strict JSON, or not one in shape.
#[derive(Debug, thiserror::Error)]
pub(super) enum NotADocument {
    #[error(transparent)]
    Strict(#[from] holdpoint_core::invalid::Invalid),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The edited output as the form sent it, checked as strictly as the API's JSON.
pub(super) fn edited_output(text: &str) -> Result<Document, NotADocument> {
    holdpoint_core::json::strict::check(text.as_bytes())?;
    Ok(serde_json::from_str(text)?)
}
