//! The session-store conformance suite on the embedded store (`sessions.db`).

use std::sync::Arc;

use holdpoint::sessions::SessionStore;
use holdpoint::sessions::embedded::EmbeddedSessions;

async fn fresh() -> Arc<dyn SessionStore> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Arc::new(EmbeddedSessions::open(&dir).expect("open sessions"))
}

holdpoint::session_suite!(fresh());
