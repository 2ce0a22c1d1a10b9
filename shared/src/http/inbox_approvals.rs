//! The signed-in inbox pages: what waits for me, recently decided, one approval with its forms,
//! and bulk decisions after a preview. Every decision goes through the API's own service calls,
//! as the session's principal (roles as the directory holds them now).

use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use uuid::Uuid;

use super::inbox::{has_session_cookie, html, say, session, signed_form, unavailable};
use super::inbox_filters::{Filters, InboxQuery};
use super::inbox_page::{self as page, Shown};
use super::review_page;
use super::state::AppState;
use crate::service::ServiceError;
use crate::service::sessions::SignedIn;
use crate::store::{Awaiting, Cursor, ListFilter};
use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::domain::lifecycle::{Command, Refusal};
use holdpoint_core::text::is_blank;

/// The most approvals one bulk decision takes (past it: 413, nothing decided).
pub const BULK_MAX: usize = 50;
/// The most items the pending tab shows, and the store reads it makes for them.
const INBOX_MAX: usize = 200;
const INBOX_READS: usize = 4;
const DECIDED_SHOWN: usize = 50;

fn bad(s: &SignedIn, text: &str) -> Response {
    say(StatusCode::BAD_REQUEST, Some(s), "Not understood", text)
}

/// `GET /inbox`: signed in, what waits for me; otherwise the sign-in form.
pub(super) async fn pending(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<InboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // The filters first, signed in or not: a request the page cannot take is 400 either way.
    let filters = match Filters::of(query) {
        Ok(f) => f,
        Err(text) => return say(StatusCode::BAD_REQUEST, None, "Not understood", text),
    };
    let Filters {
        agent,
        tool,
        min_risk,
        soonest,
    } = filters;
    if !has_session_cookie(&state, &headers) {
        return html(StatusCode::OK, page::sign_in_form(None));
    }
    let s = match session(&state, &headers).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let filter = ListFilter {
        agent_id: agent.clone(),
        awaiting: Some(Awaiting {
            name: s.principal.principal.clone(),
            roles: s.principal.roles.clone(),
        }),
        ..Default::default()
    };
    let mut items = Vec::new();
    let mut after: Option<Cursor> = None;
    let mut more = false;
    for _ in 0..INBOX_READS {
        let read = match state
            .service
            .list(&s.principal, &filter, 100, after.as_ref())
            .await
        {
            Ok(r) => r,
            Err(e) => return unavailable(&e),
        };
        items.extend(read.items.into_iter().filter(|a| {
            tool.as_ref()
                .is_none_or(|t| a.tool_call.as_ref().is_some_and(|c| c.name == *t))
                && min_risk.is_none_or(|m| a.risk_score.is_some_and(|r| r >= m))
        }));
        after = read.next;
        more = after.is_some();
        if !more || items.len() >= INBOX_MAX {
            break;
        }
    }
    more |= items.len() > INBOX_MAX;
    items.truncate(INBOX_MAX);
    if soonest {
        items.sort_by_key(|a| a.expires_at);
    }
    let shown = Shown {
        agent: agent.as_deref().unwrap_or(""),
        tool: tool.as_deref().unwrap_or(""),
        min_risk,
        soonest,
    };
    let now = chrono::Utc::now();
    html(StatusCode::OK, page::inbox(&s, &items, &shown, more, now))
}

/// `GET /inbox/decided`: the recently decided tab.
pub(super) async fn decided(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = match session(&state, &headers).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    match state
        .service
        .recently_decided(&s.principal, DECIDED_SHOWN)
        .await
    {
        Ok(items) => html(StatusCode::OK, page::decided(&s, &items)),
        Err(e) => unavailable(&e),
    }
}

fn not_found(s: &SignedIn) -> Response {
    say(
        StatusCode::NOT_FOUND,
        Some(s),
        "Not found",
        "There is no such request for you.",
    )
}

/// Approval `id` if this reviewer may see it here: one it reviews (by name or a role held
/// now) or decided. Any other, of its tenant or not, is "not found".
async fn visible(state: &AppState, s: &SignedIn, id: &str) -> Result<Approval, Response> {
    let Ok(id) = Uuid::try_parse(id) else {
        return Err(not_found(s));
    };
    match state.service.get(&s.principal, id).await {
        Ok(a)
            if s.principal.is_reviewer(&a.reviewers)
                || a.decided_by() == Some(&s.principal.principal) =>
        {
            Ok(a)
        }
        Ok(_) | Err(ServiceError::NotFound) => Err(not_found(s)),
        Err(e) => Err(unavailable(&e)),
    }
}

/// `GET /inbox/approvals/{id}`: what the review page shows, its forms posting here.
pub(super) async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match session(&state, &headers).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let a = match visible(&state, &s, &id).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    if a.status != Status::Pending {
        let (title, text) = review_page::decided(a.status, a.decided_by(), a.decided_at());
        return say(StatusCode::OK, Some(&s), &title, &text);
    }
    let action = format!("/inbox/approvals/{}", a.id);
    let body = review_page::review_body(&a, &s.principal.principal, &action, &page::csrf_field(&s));
    html(
        StatusCode::OK,
        page::signed_in(&s, page::Tab::None, "Approval requested", &body),
    )
}

/// What a refused decision or extension says, as a status and a sentence.
fn refusal(e: &ServiceError) -> Option<(StatusCode, String)> {
    use StatusCode as S;
    Some(match e {
        ServiceError::Refused(Refusal::Conflict {
            current_status,
            decided_by,
            decided_at,
        }) => {
            let (_, text) =
                review_page::decided(*current_status, decided_by.as_deref(), *decided_at);
            (S::CONFLICT, text)
        }
        ServiceError::Refused(Refusal::NotAReviewer | Refusal::AgentCannotDecide) => (
            S::FORBIDDEN,
            "You are not a reviewer of this request.".into(),
        ),
        ServiceError::Refused(Refusal::SelfApproval) => (
            S::FORBIDDEN,
            "You requested this yourself; someone else decides it.".into(),
        ),
        ServiceError::Refused(Refusal::CommentRequired) => (
            S::UNPROCESSABLE_ENTITY,
            "A rejection needs a comment.".into(),
        ),
        ServiceError::Refused(Refusal::ModifiedOutputRequired) => (
            S::UNPROCESSABLE_ENTITY,
            "Approving with edits needs the edited output.".into(),
        ),
        ServiceError::Refused(Refusal::PastLatestExpiry { latest_expiry }) => (
            S::UNPROCESSABLE_ENTITY,
            format!(
                "The deadline cannot move past {}.",
                holdpoint_core::time::format(latest_expiry)
            ),
        ),
        ServiceError::Refused(r) => (S::CONFLICT, format!("Not done: {r}.")),
        ServiceError::Invalid(i) => (
            S::UNPROCESSABLE_ENTITY,
            format!("Not done: {} {}.", i.field, i.message),
        ),
        ServiceError::Policy(p) => (S::FORBIDDEN, format!("Not done: {p}.")),
        ServiceError::NotFound => (S::NOT_FOUND, "There is no such request for you.".into()),
        _ => return None,
    })
}

fn answer(s: &SignedIn, e: ServiceError) -> Response {
    match refusal(&e) {
        Some((status, text)) => say(status, Some(s), "Not done", &text),
        None => unavailable(&e),
    }
}

/// `POST /inbox/approvals/{id}`: one decision, or (with `extend_seconds`) an extension.
pub(super) async fn decide_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let (s, form) = match signed_form(&state, request).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let a = match visible(&state, &s, &id).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let text = |name: &str| form.one(name).map(str::to_owned).filter(|t| !is_blank(t));
    if let Some(seconds) = form.one("extend_seconds") {
        let Ok(seconds) = seconds.parse::<u32>() else {
            return bad(&s, "The extension must be between one second and 30 days.");
        };
        return match state
            .service
            .extend(&s.principal, a.id, seconds, text("reason"))
            .await
        {
            Ok(a) => say(
                StatusCode::OK,
                Some(&s),
                "Deadline extended",
                &format!(
                    "The request now waits for a decision until {}.",
                    holdpoint_core::time::format(&a.expires_at)
                ),
            ),
            Err(e) => answer(&s, e),
        };
    }
    let verdict = match form.one("decision") {
        Some("approved") => Verdict::Approved,
        Some("rejected") => Verdict::Rejected,
        Some("modified") => Verdict::Modified,
        _ => return bad(&s, "The form was not understood."),
    };
    let modified_output = match (verdict, form.one("modified_output")) {
        (Verdict::Modified, Some(t)) => match super::review::edited_output(t) {
            Ok(d) => Some(d),
            Err(e) => {
                return say(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&s),
                    "Not done",
                    &format!("The edited output is not valid JSON ({e})."),
                );
            }
        },
        _ => None,
    };
    let command = Command::Decide {
        by: &s.principal,
        verdict,
        comment: text("comment"),
        modified_output,
    };
    match state.service.apply(&s.tenant, a.id, command).await {
        Ok(done) => say(
            StatusCode::OK,
            Some(&s),
            "Decision recorded",
            &outcome(&done),
        ),
        Err(e) => answer(&s, e),
    }
}

fn outcome(done: &Approval) -> String {
    match done.status {
        Status::Pending => format!(
            "Your approval is recorded: {} of {} needed.",
            done.approvals.len(),
            done.quorum
        ),
        status => format!("Recorded: the request is now {}.", status.as_str()),
    }
}

/// The ids a bulk form selected: 1 to [`BULK_MAX`] UUIDs, each once, in the order sent;
/// otherwise the status and sentence refusing the form.
fn selected(form: &super::inbox::Form) -> Result<Vec<Uuid>, (StatusCode, String)> {
    let mut ids: Vec<Uuid> = Vec::new();
    for raw in form.all("id") {
        let Ok(id) = Uuid::try_parse(raw) else {
            return Err((
                StatusCode::BAD_REQUEST,
                "A selected request is not one of yours.".into(),
            ));
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "Select at least one request.".into(),
        ));
    }
    if ids.len() > BULK_MAX {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Select at most {BULK_MAX} requests at once. Nothing was done."),
        ));
    }
    Ok(ids)
}

/// `POST /inbox/preview`: exactly the selected requests, and the forms deciding them all.
pub(super) async fn preview(State(state): State<AppState>, request: Request) -> Response {
    let (s, form) = match signed_form(&state, request).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let ids = match selected(&form) {
        Ok(ids) => ids,
        Err((status, text)) => return say(status, Some(&s), "Not done", &text),
    };
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        match visible(&state, &s, &id.to_string()).await {
            Ok(a) => items.push(a),
            Err(res) => return res,
        }
    }
    html(
        StatusCode::OK,
        page::preview(&s, &items, chrono::Utc::now()),
    )
}

/// `POST /inbox/decide`: each selected request decided on its own (its own audit record), and
/// what became of each.
pub(super) async fn decide_many(State(state): State<AppState>, request: Request) -> Response {
    let (s, form) = match signed_form(&state, request).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let ids = match selected(&form) {
        Ok(ids) => ids,
        Err((status, text)) => return say(status, Some(&s), "Not done", &text),
    };
    let verdict = match form.one("decision") {
        Some("approved") => Verdict::Approved,
        Some("rejected") => Verdict::Rejected,
        _ => return bad(&s, "Approve or reject the selected requests."),
    };
    let comment = form.one("comment").filter(|c| !is_blank(c));
    if verdict == Verdict::Rejected && comment.is_none() {
        return say(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&s),
            "Not done",
            "A rejection needs a comment. Nothing was decided.",
        );
    }
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let a = match visible(&state, &s, &id.to_string()).await {
            Ok(a) => a,
            Err(_) => {
                rows.push((id.to_string(), "Not found: nothing done.".to_owned()));
                continue;
            }
        };
        let command = Command::Decide {
            by: &s.principal,
            verdict,
            comment: comment.map(str::to_owned),
            modified_output: None,
        };
        let result = match state.service.apply(&s.tenant, a.id, command).await {
            Ok(done) => outcome(&done),
            Err(e) => match refusal(&e) {
                Some((_, text)) => text,
                None => {
                    tracing::warn!(error = %e, "bulk decision not made");
                    "Not decided: Holdpoint was briefly unavailable; try this one again.".into()
                }
            },
        };
        rows.push((page::named(&a), result));
    }
    html(StatusCode::OK, page::results(&s, &rows))
}
