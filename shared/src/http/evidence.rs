//! What an auditor fetches (issue 24): an approval's evidence bundle, and the public keys its
//! checkpoints are verified with (no credentials: anyone may check a bundle).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use super::extract::Caller;
use super::problem::Problem;
use super::state::AppState;

/// `GET /v1/approvals/{id}/evidence`: the bundle `holdpoint audit verify-bundle` checks, as
/// `docs/audit-evidence.md` describes it.
pub(super) async fn evidence(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = uuid::Uuid::try_parse(&id)
        .map_err(|_| Problem::bad_request("invalid_id", "the approval id must be a UUID"))?;
    let bundle = state.service.evidence(&caller, id).await?;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"holdpoint-evidence-{id}.json\""),
        )],
        axum::Json(bundle),
    )
        .into_response())
}

/// `GET /.well-known/holdpoint/audit-keys`: every public key a checkpoint may have been signed
/// with, as a JWKS; retired keys stay listed, so old checkpoints keep verifying.
pub(super) async fn audit_keys(State(state): State<AppState>) -> Result<Response, Problem> {
    let keys = state.service.audit_keys().ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "no_audit_keys",
            "this service keeps no signed checkpoints",
        )
    })?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(keys),
    )
        .into_response())
}
