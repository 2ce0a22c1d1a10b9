//! The notifier's part of the backend: how mail leaves, and the notifier of a function or of
//! the local server, which mints each reviewer's link as it plans their message.

use std::sync::Arc;

use super::{Access, Backend, BackendError};
use crate::delivery::LinkMinter;
use crate::delivery::send::{Courier, Mailer};
use crate::delivery::worker::{Notifier, NotifyingSink};
use crate::directory::Directory;
use crate::service::Service;
use holdpoint_core::domain::review_link::BaseUrl;

impl Backend {
    /// How mail leaves: from a function by SES, from `HOLDPOINT_EMAIL_FROM` (unset: no mail);
    /// locally by SMTP at `HOLDPOINT_SMTP_URL` (unset: no mail). Without a mailer every mail
    /// delivery fails, recorded.
    async fn mailer(&self) -> Result<Option<Mailer>, BackendError> {
        let settings = &self.settings;
        match self.access {
            Access::Function => Ok(match &settings.email_from {
                Some(from) => Some(Mailer::Ses {
                    client: aws_sdk_sesv2::Client::new(self.sdk().await),
                    from: from.clone(),
                }),
                None => None,
            }),
            Access::Serve | Access::Inspect => match &settings.smtp_url {
                Some(url) => {
                    let from = settings
                        .email_from
                        .as_deref()
                        .unwrap_or("holdpoint@localhost");
                    Ok(Some(
                        Mailer::smtp(url, from).map_err(BackendError::Delivery)?,
                    ))
                }
                None => Ok(None),
            },
        }
    }

    /// The notifier: deliveries kept in [`Backend::deliveries`], sent to the principals of
    /// `directory`, a message asking a reviewer only while the approval (read from the store)
    /// still waits, with the reviewer's own link under `base_url`, signed with
    /// [`Backend::keys`] as it is planned.
    pub async fn notifier(
        &self,
        directory: Arc<dyn Directory>,
        base_url: BaseUrl,
    ) -> Result<Notifier, BackendError> {
        let links = LinkMinter::new(self.approvals().await?.store, self.keys().await?, base_url);
        self.notifier_minting(directory, links).await
    }

    async fn notifier_minting(
        &self,
        directory: Arc<dyn Directory>,
        links: LinkMinter,
    ) -> Result<Notifier, BackendError> {
        let allow_private = self.settings.allow_private_webhooks;
        let slack = self.slack().await?;
        let courier = Courier::new(
            directory.clone(),
            self.mailer().await?,
            allow_private,
            slack,
        )
        .map_err(BackendError::Delivery)?;
        let log = self.deliveries().await?;
        Ok(Notifier::new(
            log,
            courier,
            directory,
            self.settings.delivery,
            links,
        ))
    }

    /// What `holdpoint serve` runs: `service` (the bare one) reading principals from
    /// `directory` (the one callers are authenticated against), events to
    /// [`Backend::events_file`], and the deliveries they owe kept in [`Backend::deliveries`]
    /// and sent by the notifier (to be run in this process), with review links under
    /// `base_url`, each also printed to this process's terminal for local development.
    pub async fn local_server(
        &self,
        service: Service,
        directory: Arc<dyn Directory>,
        base_url: impl Into<BaseUrl>,
    ) -> Result<(Service, Arc<Notifier>), BackendError> {
        let base_url = base_url.into();
        let links = LinkMinter::new(
            self.approvals().await?.store,
            self.keys().await?,
            base_url.clone(),
        )
        .printing();
        let notifier = Arc::new(self.notifier_minting(directory.clone(), links).await?);
        let sink = NotifyingSink::new(self.event_sink().await, notifier.clone());
        let service = service
            .with_events(Arc::new(sink), base_url)
            .with_directory(directory)
            .with_policies(self.policies().await?)
            .with_deliveries(self.deliveries().await?)
            .with_sessions(self.sessions().await?, self.settings.session_hours);
        let service = match self.slack().await? {
            Some(slack) => service.with_slack(slack),
            None => service,
        };
        Ok((service, notifier))
    }
}
