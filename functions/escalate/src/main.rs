//! The escalate function: on each scheduled EventBridge event, expires and escalates due
//! approvals until none is due or the invocation's deadline draws near (the next run goes on).

use lambda_http::aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_http::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let service = holdpoint::cloud::service_from_env().await?;
    let service = &service;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            tracing::info!(id = ?event.payload.id, "scheduled sweep");
            holdpoint::cloud::sweep(service, event.context.deadline).await
        },
    ))
    .await
}
