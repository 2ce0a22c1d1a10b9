//! The read function: GET /v1/approvals, GET /v1/approvals/{id}, GET /v1/approvals/{id}/audit, GET /health.

use holdpoint::http::Routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = holdpoint::cloud::app_from_env(&[Routes::Read]).await?;
    lambda_http::run(app).await
}
