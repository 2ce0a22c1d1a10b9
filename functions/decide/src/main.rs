//! The decide function: POST /v1/approvals/{id}/decision, /cancel and /execute, the review
//! form POST /review/{id}, and GET /health.

use holdpoint::http::Routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = holdpoint::cloud::app_from_env(&[Routes::Decide]).await?;
    lambda_http::run(app).await
}
