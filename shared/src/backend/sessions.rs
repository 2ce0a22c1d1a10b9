//! Where reviewers' sign-in links and sessions are kept: beside the directory (`sessions.db`
//! in the data directory, or items of the DynamoDB directory table).

use std::sync::Arc;

use super::{Backend, BackendError};
use crate::config::StoreKind;
use crate::sessions::SessionStore;
use crate::sessions::dynamodb::DynamoSessions;

impl Backend {
    /// The session store, beside the directory.
    pub async fn sessions(&self) -> Result<Arc<dyn SessionStore>, BackendError> {
        Ok(match self.store_kind() {
            StoreKind::Embedded => self.open_embedded_sessions()?,
            StoreKind::Postgres => self.open_pg_sessions().await?,
            StoreKind::Dynamodb => Arc::new(DynamoSessions::new(
                self.dynamodb().await,
                self.settings.tables.directory.clone(),
            )),
        })
    }

    #[cfg(feature = "embedded")]
    fn open_embedded_sessions(&self) -> Result<Arc<dyn SessionStore>, BackendError> {
        let store = crate::sessions::embedded::EmbeddedSessions::open(self.data_dir())?;
        Ok(Arc::new(store))
    }

    #[cfg(not(feature = "embedded"))]
    fn open_embedded_sessions(&self) -> Result<Arc<dyn SessionStore>, BackendError> {
        Err(BackendError::NoEmbeddedStore)
    }
}
