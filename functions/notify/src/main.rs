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
    // A reviewer's sign-in request, on the same rule: its link is minted here.
    let sign_in = holdpoint::cloud::sign_in::sign_in_sender_from_env().await?;
    let sign_in = &sign_in;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = event.context.deadline;
            if holdpoint::cloud::sign_in::is_sign_in_request(&event.payload) {
                holdpoint::cloud::sign_in::notify_sign_in(
                    notifier,
                    sign_in,
                    event.payload,
                    deadline,
                )
                .await
            } else {
                holdpoint::cloud::notify(notifier, event.payload, deadline).await
            }
        },
    ))
    .await
}
