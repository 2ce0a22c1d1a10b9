//! The read function: GET /v1/approvals, /v1/approvals/{id}, /v1/approvals/{id}/audit, the
//! review page GET /review/{id}, POST /v1/approvals/{id}/verify, and GET /health.

use holdpoint::http::Routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = holdpoint::cloud::app_from_env(&[Routes::Read]).await?;
    lambda_http::run(app).await
}
