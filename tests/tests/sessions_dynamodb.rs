//! The session-store conformance suite on DynamoDB: items of the directory table, created from
//! template.yaml's one definition (run under infra/with-moto.sh).

use std::sync::Arc;

use holdpoint::sessions::SessionStore;
use holdpoint::sessions::dynamodb::DynamoSessions;

async fn fresh() -> Arc<dyn SessionStore> {
    let (store, _) = holdpoint_tests::fresh_store().await;
    Arc::new(DynamoSessions::new(
        store.client().clone(),
        store.tables().directory.clone(),
    ))
}

holdpoint::session_suite!(fresh());
