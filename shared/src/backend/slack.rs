//! Slack as a process uses it: the tenants' apps and Slack's Web API at
//! `HOLDPOINT_SLACK_API_URL`.

use std::sync::Arc;
use std::time::Duration;

use super::{Access, Backend, BackendError};
use crate::slack::Slack;
use crate::slack::api::SlackApi;
use crate::slack::connection::SlackConnections;
use crate::slack::connection::secrets::SecretsManagerSlack;

/// How long the Slack secret is trusted once read: a connect or a new token is seen within it.
pub const SLACK_SECRET_CACHE: Duration = Duration::from_secs(60);

impl Backend {
    /// The tenants' Slack apps and the API: from the Secrets Manager secret when
    /// `HOLDPOINT_SLACK_SECRET_ID` names one; otherwise none for a function (Slack is off) and
    /// `directory.db`'s for the local server and operators (`holdpoint slack connect`).
    pub async fn slack(&self) -> Result<Option<Arc<Slack>>, BackendError> {
        let connections: Arc<dyn SlackConnections> =
            match (&self.settings.slack_secret_id, self.access) {
                (Some(id), _) => Arc::new(SecretsManagerSlack::new(
                    aws_sdk_secretsmanager::Client::new(self.sdk().await),
                    id.clone(),
                    SLACK_SECRET_CACHE,
                )),
                (None, Access::Function) => return Ok(None),
                (None, Access::Serve | Access::Inspect) => match self.store_kind() {
                    crate::config::StoreKind::Postgres => self.open_pg_slack().await?,
                    _ => self.open_embedded_slack()?,
                },
            };
        let api = SlackApi::new(&self.settings.slack_api_url).map_err(BackendError::Delivery)?;
        Ok(Some(Arc::new(Slack { connections, api })))
    }

    #[cfg(feature = "embedded")]
    fn open_embedded_slack(&self) -> Result<Arc<dyn SlackConnections>, BackendError> {
        let apps = crate::slack::connection::embedded::EmbeddedSlack::open(self.data_dir())?;
        Ok(Arc::new(apps))
    }

    #[cfg(not(feature = "embedded"))]
    fn open_embedded_slack(&self) -> Result<Arc<dyn SlackConnections>, BackendError> {
        Err(BackendError::NoEmbeddedStore)
    }
}
