//! The parts of a process on PostgreSQL (`HOLDPOINT_STORE=postgres`): one pool for all of them,
//! opened on first use; a serving process brings the schema up to date, an operator's command
//! beside it only checks it.

use std::sync::Arc;

use super::{Access, Approvals, Backend, BackendError};
use crate::delivery::DeliveryLog;
use crate::directory::Directory;
use crate::directory::policy::PolicyStore;
use crate::sessions::SessionStore;
use crate::slack::connection::SlackConnections;

#[cfg(feature = "postgres")]
impl Backend {
    /// The pool, connected (and migrated, for a serving process) on first use.
    pub async fn pg(&self) -> Result<crate::postgres::Pg, BackendError> {
        use crate::postgres::{Migrate, Pg};
        let migrate = match self.access {
            Access::Serve | Access::Function => Migrate::Apply,
            Access::Inspect => Migrate::Check,
        };
        if self.access == Access::Serve {
            // The store is elsewhere, but this instance's events file is in its data directory.
            let dir = &self.settings.data_dir;
            std::fs::create_dir_all(dir).map_err(|source| BackendError::DataDir {
                path: dir.clone(),
                source,
            })?;
        }
        let pg = self
            .pg
            .get_or_try_init(|| Pg::connect(&self.settings.database, migrate))
            .await?;
        Ok(pg.clone())
    }

    pub(super) async fn open_pg_approvals(&self) -> Result<Approvals, BackendError> {
        let store = crate::postgres::store::PgStore::new(self.pg().await?);
        Ok(Approvals {
            store: Arc::new(store.clone()),
            checkpoints: Arc::new(store),
            embedded: None,
        })
    }

    pub(super) async fn open_pg_directory(&self) -> Result<Arc<dyn Directory>, BackendError> {
        let pg = self.pg().await?;
        Ok(Arc::new(crate::postgres::directory::PgDirectory::new(pg)))
    }

    pub(super) async fn open_pg_policies(&self) -> Result<Arc<dyn PolicyStore>, BackendError> {
        let pg = self.pg().await?;
        Ok(Arc::new(crate::postgres::policies::PgPolicies::new(pg)))
    }

    pub(super) async fn open_pg_deliveries(&self) -> Result<Arc<dyn DeliveryLog>, BackendError> {
        let pg = self.pg().await?;
        Ok(Arc::new(crate::postgres::deliveries::PgDeliveries::new(pg)))
    }

    pub(super) async fn open_pg_sessions(&self) -> Result<Arc<dyn SessionStore>, BackendError> {
        let pg = self.pg().await?;
        Ok(Arc::new(crate::postgres::sessions::PgSessions::new(pg)))
    }

    pub(super) async fn open_pg_slack(&self) -> Result<Arc<dyn SlackConnections>, BackendError> {
        let pg = self.pg().await?;
        Ok(Arc::new(crate::postgres::slack::PgSlack::new(pg)))
    }
}

#[cfg(not(feature = "postgres"))]
impl Backend {
    pub(super) async fn open_pg_approvals(&self) -> Result<Approvals, BackendError> {
        Err(BackendError::NoPostgres)
    }

    pub(super) async fn open_pg_directory(&self) -> Result<Arc<dyn Directory>, BackendError> {
        Err(BackendError::NoPostgres)
    }

    pub(super) async fn open_pg_policies(&self) -> Result<Arc<dyn PolicyStore>, BackendError> {
        Err(BackendError::NoPostgres)
    }

    pub(super) async fn open_pg_deliveries(&self) -> Result<Arc<dyn DeliveryLog>, BackendError> {
        Err(BackendError::NoPostgres)
    }

    pub(super) async fn open_pg_sessions(&self) -> Result<Arc<dyn SessionStore>, BackendError> {
        Err(BackendError::NoPostgres)
    }

    pub(super) async fn open_pg_slack(&self) -> Result<Arc<dyn SlackConnections>, BackendError> {
        Err(BackendError::NoPostgres)
    }
}
