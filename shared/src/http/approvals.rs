//! Handlers of the agent- and reviewer-facing JSON API.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::extract::{Caller, JsonBody};
use super::problem::Problem;
use super::state::AppState;
use crate::store::{Cursor, ListFilter};
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::{CreateRequest, limits};
use holdpoint_core::invalid::Invalid;
use holdpoint_core::json::document::Document;
use holdpoint_core::json::members::{self, Members};

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 100;

fn approval_id(raw: &str) -> Result<Uuid, Problem> {
    Uuid::try_parse(raw)
        .map_err(|_| Problem::bad_request("invalid_id", "the approval id must be a UUID"))
}

fn ok(body: impl serde::Serialize) -> Response {
    Json(body).into_response()
}

/// An approval as callers see it: without its seal, which only the service checks, and its
/// documents' numbers as the agent wrote them (never through `serde_json::Value`).
fn shown(a: &Approval) -> Members {
    members::of(a, &["seal"])
}

/// A page of `GET /v1/approvals`.
#[derive(Serialize)]
struct Page {
    items: Vec<Members>,
    next_cursor: Option<String>,
}

/// `GET /v1/approvals/{id}/audit` (members in name order, as they always were).
#[derive(Serialize)]
struct AuditAnswer<'a> {
    first_invalid_sequence: Option<u64>,
    reason: &'a Option<String>,
    records: Vec<Members>,
    valid: bool,
}

pub(super) async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: JsonBody<CreateRequest>,
) -> Result<Response, Problem> {
    let key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| {
                    (1..=limits::NAME_CHARS).contains(&k.len())
                        && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
                })
                .ok_or_else(|| {
                    Problem::bad_request(
                        "invalid_idempotency_key",
                        "Idempotency-Key must be 1 to 200 visible ASCII characters",
                    )
                })?,
        ),
    };
    let (approval, created) = state
        .service
        .create(&caller, body.value, key.map(|k| (k, &body.raw[..])))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/approvals/{}", approval.id);
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(shown(&approval)),
    )
        .into_response())
}

/// Who the credentials say the caller is: tenant, principal and roles (the CLI's `--mine`).
pub(super) async fn me(Caller(caller): Caller) -> Response {
    ok(caller)
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = approval_id(&id)?;
    Ok(ok(shown(&state.service.get(&caller, id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    status: Option<String>,
    agent_id: Option<String>,
    reviewer: Option<String>,
    checkpoint_type: Option<String>,
    /// `me`: what waits for the caller's decision now, named or through a role it holds.
    awaiting: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(p) = params.map_err(|e| Problem::bad_request("invalid_query", e.body_text()))?;
    let status = match p.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            Problem::bad_request(
                "invalid_query",
                "status must be one of pending, approved, rejected, modified, expired, cancelled, executed, lapsed",
            )
        })?),
    };
    let limit = match p.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                Problem::bad_request("invalid_query", "limit must be between 1 and 100")
            })?,
    };
    let cursor = match p.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            Cursor::decode(c)
                .ok_or_else(|| Problem::bad_request("invalid_cursor", "the cursor is not valid"))?,
        ),
    };
    for (name, value) in [
        ("agent_id", &p.agent_id),
        ("reviewer", &p.reviewer),
        ("checkpoint_type", &p.checkpoint_type),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > limits::NAME_CHARS)
        {
            return Err(Problem::bad_request(
                "invalid_query",
                format!("{name} is too long"),
            ));
        }
    }
    let awaiting = match p.awaiting.as_deref() {
        None => None,
        // An agent decides nothing, so nothing waits for it.
        Some("me") if caller.is_agent() => {
            return Ok(ok(json!({"items": [], "next_cursor": null})));
        }
        Some("me") => Some(crate::store::Awaiting {
            name: caller.principal.clone(),
            roles: caller.roles.clone(),
        }),
        Some(_) => {
            return Err(Problem::bad_request("invalid_query", "awaiting must be me"));
        }
    };
    let filter = ListFilter {
        status,
        agent_id: p.agent_id,
        reviewer: p.reviewer,
        checkpoint_type: p.checkpoint_type,
        awaiting,
    };
    // Cut by bytes as well as by count: past the budget the page ends after the last item
    // kept and says there is more, so no page holds more than a few MB however large the
    // approvals are (an item larger than the budget alone still goes out, on a page of its
    // own). The store is read a few items first, then as many as the budget can still hold at
    // the size seen so far, so large approvals are never held far past the budget and small ones
    // take one more read, not ten. At most `STORE_READS` reads: a sparse filter answers a short
    // page with its cursor rather than scanning on (DynamoDB filters after its limit).
    let mut items = Vec::new();
    let mut bytes = 0;
    let mut after = cursor;
    let mut reads = 0;
    let next = 'page: loop {
        let room = limit - items.len();
        let want = match items.len() {
            0 => room.min(READ_AT_ONCE),
            n => room.min(PAGE_BYTES.saturating_sub(bytes) / (bytes / n).max(1) + 1),
        };
        reads += 1;
        let read = state
            .service
            .list(&caller, &filter, want, after.as_ref())
            .await?;
        for a in &read.items {
            let item = shown(a);
            let size = json_size(&item);
            if !items.is_empty() && bytes + size > PAGE_BYTES {
                break 'page after;
            }
            bytes += size;
            items.push(item);
            after = Some(Cursor::after(a));
            // Large items take a while to write out: let other requests (`/health`) run.
            tokio::task::yield_now().await;
        }
        match read.next {
            Some(more) if items.len() < limit && reads < STORE_READS => after = Some(more),
            more => break more,
        }
    };
    let page = Page {
        items,
        next_cursor: next.map(|c| c.encode()),
    };
    // Megabytes of JSON are written off the request threads, for the same reason.
    let failed = |e: String| crate::service::ServiceError::Internal(format!("writing a page: {e}"));
    let body = tokio::task::spawn_blocking(move || serde_json::to_vec(&page))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Bytes::from(body),
    )
        .into_response())
}

/// The most bytes of items one page of `GET /v1/approvals` holds.
const PAGE_BYTES: usize = 2 * 1024 * 1024;
/// How many approvals a page reads from the store first, before it knows their size.
const READ_AT_ONCE: usize = 10;
/// The most store reads one page makes.
const STORE_READS: usize = 4;

/// The length of `value` as JSON, counted without keeping the text.
fn json_size(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail; a value that cannot be written counts as nothing and
    // fails where the page itself is written.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

pub(super) async fn deliveries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = approval_id(&id)?;
    let all = state.service.deliveries(&caller, id).await?;
    let items: Vec<_> = all.iter().map(crate::delivery::Delivery::public).collect();
    Ok(ok(json!({ "items": items })))
}

pub(super) async fn audit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = approval_id(&id)?;
    let (records, v) = state.service.audit(&caller, id).await?;
    Ok(ok(AuditAnswer {
        first_invalid_sequence: v.first_invalid_sequence,
        reason: &v.reason,
        records: records
            .iter()
            .map(|r: &AuditRecord| members::of(r, &[]))
            .collect(),
        valid: v.valid,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyBody {
    signature: String,
}

/// The signed-decision check: is this the signature of the approval's decision?
pub(super) async fn verify(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: JsonBody<VerifyBody, { limits::SMALL_BODY_BYTES }>,
) -> Result<Response, Problem> {
    let id = approval_id(&id)?;
    if body.value.signature.chars().count() > 256 {
        return Err(invalid(Invalid {
            field: "signature".into(),
            message: "is too long".into(),
        }));
    }
    let check = state
        .service
        .verify_decision(&caller, id, &body.value.signature)
        .await?;
    Ok(ok(check))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    decision: Verdict,
    comment: Option<String>,
    modified_output: Option<Document>,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: JsonBody<DecisionBody>,
) -> Result<Response, Problem> {
    let id = approval_id(&id)?;
    let b = body.value;
    let command = Command::Decide {
        by: &caller,
        verdict: b.decision,
        comment: b.comment,
        modified_output: b.modified_output,
    };
    Ok(ok(shown(
        &state.service.apply(&caller.tenant, id, command).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelBody {
    reason: Option<String>,
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: JsonBody<CancelBody, { limits::SMALL_BODY_BYTES }>,
) -> Result<Response, Problem> {
    let id = approval_id(&id)?;
    let command = Command::Cancel {
        by: &caller,
        reason: body.value.reason,
    };
    Ok(ok(shown(
        &state.service.apply(&caller.tenant, id, command).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExecuteBody {
    context_hash: Option<String>,
}

pub(super) async fn execute(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: JsonBody<ExecuteBody, { limits::SMALL_BODY_BYTES }>,
) -> Result<Response, Problem> {
    let id = approval_id(&id)?;
    let command = Command::Execute {
        by: &caller,
        context_hash: body.value.context_hash,
    };
    Ok(ok(shown(
        &state.service.apply(&caller.tenant, id, command).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExtendBody {
    #[serde(deserialize_with = "holdpoint_core::json::whole::required")]
    seconds: u64,
    reason: Option<String>,
}

/// A reviewer of the current level, or an admin, moves a pending approval's deadline later.
pub(super) async fn extend(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: JsonBody<ExtendBody, { limits::SMALL_BODY_BYTES }>,
) -> Result<Response, Problem> {
    let id = approval_id(&id)?;
    let b = body.value;
    // Beyond u32 is beyond the bound too: refused naming `seconds`, as any out of bounds.
    let seconds = u32::try_from(b.seconds).unwrap_or(u32::MAX);
    Ok(ok(shown(
        &state.service.extend(&caller, id, seconds, b.reason).await?,
    )))
}

/// How long a sweep asked for over HTTP may run: well inside the functions' 10 s timeout and
/// API Gateway's 30 s. A sweep cut short says `unfinished`; asking again goes on.
const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(6);

/// Runs the expiry and escalation sweep now, for a principal holding the role `admin`.
pub(super) async fn sweep(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, Problem> {
    Ok(ok(state.service.sweep_for(&caller, SWEEP_BUDGET).await?))
}

fn invalid(i: Invalid) -> Problem {
    crate::service::ServiceError::Invalid(i).into()
}
