//! One router definition: each Lambda function mounts its own routes, the local server mounts
//! them all, and both run the same handlers.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use http::{HeaderValue, Method, StatusCode, header};

mod approvals;
pub mod auth;
mod evidence;
mod extract;
mod inbox;
mod inbox_approvals;
mod inbox_filters;
mod inbox_insights;
pub mod inbox_page;
mod insights;
pub mod insights_page;
pub mod limits;
mod policy;
pub mod problem;
mod review;
pub mod review_page;
mod slack;
mod state;

pub use auth::Authenticator;
use problem::Problem;

pub use state::AppState;

/// The route groups, one per Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    Create,
    Read,
    Decide,
}

impl Routes {
    pub const ALL: [Routes; 3] = [Routes::Create, Routes::Read, Routes::Decide];
}

/// Every route with the function that serves it. The router is built from this table alone, so
/// what it lists is exactly what is served (the OpenAPI test holds the spec to it).
fn table() -> Vec<(Routes, Method, &'static str, MethodRouter<AppState>)> {
    use Method as M;
    use Routes as R;
    vec![
        (R::Create, M::POST, "/v1/approvals", post(approvals::create)),
        (R::Read, M::GET, "/v1/approvals", get(approvals::list)),
        (R::Read, M::GET, "/v1/me", get(approvals::me)),
        (
            R::Read,
            M::GET,
            "/v1/approvals/{id}",
            get(approvals::get_one),
        ),
        (
            R::Read,
            M::GET,
            "/v1/approvals/{id}/audit",
            get(approvals::audit),
        ),
        (
            R::Read,
            M::GET,
            "/v1/approvals/{id}/deliveries",
            get(approvals::deliveries),
        ),
        (
            R::Read,
            M::POST,
            "/v1/approvals/{id}/verify",
            post(approvals::verify),
        ),
        (
            R::Read,
            M::GET,
            "/v1/approvals/{id}/evidence",
            get(evidence::evidence),
        ),
        (
            R::Read,
            M::GET,
            "/.well-known/holdpoint/audit-keys",
            get(evidence::audit_keys),
        ),
        (R::Read, M::GET, "/v1/insights", get(insights::insights)),
        (R::Read, M::GET, "/v1/policy", get(policy::get)),
        (R::Decide, M::PUT, "/v1/policy", put(policy::put)),
        (R::Read, M::GET, "/v1/policy/history", get(policy::history)),
        (R::Read, M::POST, "/v1/policy/test", post(policy::test)),
        (R::Read, M::GET, "/review/{id}", get(review::page)),
        (R::Read, M::GET, "/inbox", get(inbox_approvals::pending)),
        (R::Decide, M::POST, "/inbox", post(inbox::request_link)),
        (R::Read, M::GET, "/inbox/sign-in", get(inbox::open_link)),
        (R::Decide, M::POST, "/inbox/sign-in", post(inbox::sign_in)),
        (R::Decide, M::POST, "/inbox/sign-out", post(inbox::sign_out)),
        (
            R::Read,
            M::GET,
            "/inbox/decided",
            get(inbox_approvals::decided),
        ),
        (
            R::Read,
            M::GET,
            "/inbox/approvals/{id}",
            get(inbox_approvals::one),
        ),
        (
            R::Decide,
            M::POST,
            "/inbox/approvals/{id}",
            post(inbox_approvals::decide_one),
        ),
        (
            R::Decide,
            M::POST,
            "/inbox/preview",
            post(inbox_approvals::preview),
        ),
        (
            R::Decide,
            M::POST,
            "/inbox/decide",
            post(inbox_approvals::decide_many),
        ),
        (R::Read, M::GET, "/inbox/app.js", get(inbox::app_js)),
        (
            R::Read,
            M::GET,
            "/inbox/insights",
            get(inbox_insights::insights),
        ),
        (R::Decide, M::POST, "/review/{id}", post(review::decide)),
        (
            R::Decide,
            M::POST,
            "/v1/approvals/{id}/decision",
            post(approvals::decide),
        ),
        (
            R::Decide,
            M::POST,
            "/v1/approvals/{id}/cancel",
            post(approvals::cancel),
        ),
        (
            R::Decide,
            M::POST,
            "/v1/approvals/{id}/execute",
            post(approvals::execute),
        ),
        (
            R::Decide,
            M::POST,
            "/v1/approvals/{id}/extend",
            post(approvals::extend),
        ),
        (
            R::Decide,
            M::POST,
            "/v1/escalations/sweep",
            post(approvals::sweep),
        ),
        (
            R::Decide,
            M::POST,
            "/slack/interactions",
            post(slack::interactions),
        ),
    ]
}

/// `(method, path)` of every route `groups` serve, `/health` included.
pub fn route_list(groups: &[Routes]) -> Vec<(Method, &'static str)> {
    let mut list = vec![(Method::GET, "/health")];
    list.extend(
        table()
            .into_iter()
            .filter(|(g, ..)| groups.contains(g))
            .map(|(_, m, p, _)| (m, p)),
    );
    list
}

/// The application serving `groups` (plus `/health`), with problem answers for unknown routes
/// and methods, and headers every response carries.
pub fn app(state: AppState, groups: &[Routes]) -> Router {
    let mut router = Router::new().route("/health", get(health));
    for (group, _, path, handler) in table() {
        if groups.contains(&group) {
            router = router.route(path, handler);
        }
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
    // Nothing is cached unless its handler says so (the public audit keys).
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Every answer carries the pages' strict headers unless its handler set its own: an
    // attacker found the inbox's 404 and 405 answers (problem documents) without them.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    res
}
