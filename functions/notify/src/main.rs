//! The notify function: subscribed by an EventBridge rule to Holdpoint's lifecycle events, it
//! tells each reviewer with a contact (email by SES, signed webhook) and calls the requester
//! back, retrying within the invocation; what is still pending at its deadline fails the
//! invocation, for Lambda's asynchronous retries and then the failure queue.

use lambda_http::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let notifier = holdpoint::cloud::notifier_from_env().await?;
    let notifier = &notifier;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            holdpoint::cloud::notify(notifier, event.payload, event.context.deadline).await
        },
    ))
    .await
}
