//! One router definition: each Lambda function mounts its own routes, the local server mounts
//! them all, and both run the same handlers.

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};

mod approvals;
pub mod auth;
mod extract;
pub mod problem;

pub use auth::Authenticator;
use problem::Problem;

use crate::service::Service;

#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub auth: Arc<Authenticator>,
}

/// The route groups, one per Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// `POST /v1/approvals`
    Create,
    /// `GET /v1/approvals`, `GET /v1/approvals/{id}`, `GET /v1/approvals/{id}/audit`
    Read,
    /// `POST /v1/approvals/{id}/decision`, `…/cancel`, `…/execute`
    Decide,
}

impl Routes {
    pub const ALL: [Routes; 3] = [Routes::Create, Routes::Read, Routes::Decide];

    fn router(self) -> Router<AppState> {
        match self {
            Routes::Create => Router::new().route("/v1/approvals", post(approvals::create)),
            Routes::Read => Router::new()
                .route("/v1/approvals", get(approvals::list))
                .route("/v1/approvals/{id}", get(approvals::get_one))
                .route("/v1/approvals/{id}/audit", get(approvals::audit)),
            Routes::Decide => Router::new()
                .route("/v1/approvals/{id}/decision", post(approvals::decide))
                .route("/v1/approvals/{id}/cancel", post(approvals::cancel))
                .route("/v1/approvals/{id}/execute", post(approvals::execute)),
        }
    }
}

/// The application serving `groups` (plus `/health`), with problem answers for unknown routes
/// and methods, and headers every response carries.
pub fn app(state: AppState, groups: &[Routes]) -> Router {
    let mut router = Router::new().route("/health", get(health));
    for g in groups {
        router = router.merge(g.router());
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(common_headers))
        .with_state(state)
}

async fn health() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no_route", "no such route")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

async fn common_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}
