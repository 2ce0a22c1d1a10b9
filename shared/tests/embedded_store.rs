//! The conformance suite on the embedded store, plus what only a file-backed store can show.

use std::sync::Arc;

use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;

async fn fresh() -> Arc<dyn Store> {
    // Leaked on purpose: the directory must outlive the test's store.
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Arc::new(EmbeddedStore::open(&dir).expect("open store"))
}

holdpoint::conformance_suite!(fresh());

#[tokio::test]
async fn tampering_is_detected() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    holdpoint::conformance::tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn state_tampering_is_detected() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    holdpoint::conformance::state_tampering_is_detected(store.clone(), store).await;
}
