//! The conformance suite on the DynamoDB store, over the wire to a DynamoDB-protocol server.

use std::sync::Arc;

use holdpoint::store::Store;

async fn fresh() -> Arc<dyn Store> {
    Arc::new(holdpoint_tests::fresh_store().await.0)
}

holdpoint::conformance_suite!(fresh());

#[tokio::test]
async fn tampering_is_detected() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let store = Arc::new(store);
    holdpoint::conformance::tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn row_tampering_is_detected() {
    let store = Arc::new(holdpoint_tests::fresh_store().await.0);
    holdpoint::conformance::row_tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn previous_seals_still_verify() {
    let store = Arc::new(holdpoint_tests::fresh_store().await.0);
    holdpoint::conformance::previous_seals_still_verify(store.clone(), store).await;
}

#[tokio::test]
async fn state_tampering_is_detected() {
    let store = Arc::new(holdpoint_tests::fresh_store().await.0);
    holdpoint::conformance::state_tampering_is_detected(store.clone(), store).await;
}

mod directory {
    use std::sync::Arc;

    use holdpoint::directory::Directory;

    async fn fresh() -> Arc<dyn Directory> {
        Arc::new(holdpoint_tests::directory(
            &holdpoint_tests::fresh_store().await.0,
        ))
    }

    holdpoint::directory_suite!(fresh());
}

mod deliveries {
    use std::sync::Arc;

    use holdpoint::delivery::DeliveryLog;
    use holdpoint::delivery::dynamodb::DynamoDeliveries;

    async fn fresh() -> Arc<dyn DeliveryLog> {
        let (store, _) = holdpoint_tests::fresh_store().await;
        Arc::new(DynamoDeliveries::new(
            store.client().clone(),
            store.tables().deliveries.clone(),
        ))
    }

    holdpoint::deliveries_suite!(fresh());
}
