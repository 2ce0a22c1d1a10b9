//! What an auditor fetches (issue 24): an approval's evidence bundle, and the public keys its
//! checkpoints are verified with (no credentials: anyone may check a bundle).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use super::extract::Caller;
use super::problem::Problem;
use super::state::AppState;

/// The checkpoint heads a bundle served over HTTP may carry (~142 bytes each: ~4 MB).
const MOST_HEADS: usize = 30_000;

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
    // A bundle carries its checkpoints whole, so it grows with the tenant's traffic since the
    // approval was first recorded: past this it is refused here (a Lambda answer holds 6 MB),
    // and `holdpoint audit export` writes it from the store.
    let heads: usize = bundle.checkpoints.iter().map(|c| c.heads.len()).sum();
    if heads > MOST_HEADS {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "evidence_too_large",
            format!(
                "this bundle would carry {} checkpoints recording {heads} heads (at most \
                 {MOST_HEADS} are served): export it with `holdpoint audit export`",
                bundle.checkpoints.len()
            ),
        ));
    }
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
