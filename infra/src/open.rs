//! What the local commands open, from the one [`Settings`] of the process, through the server
//! crate's one [`Backend`]: the signing keys, the store and the service over them, the
//! directory.

use std::sync::Arc;

use holdpoint::backend::{Backend, BackendError};
use holdpoint::config::Settings;
use holdpoint::directory::Directory;
use holdpoint::service::Service;

pub use holdpoint::backend::Access;

use crate::error::CliError;

/// What the backend could not open: the command cannot run as given.
impl From<BackendError> for CliError {
    fn from(e: BackendError) -> CliError {
        CliError::usage(e.to_string())
    }
}

/// The service of a command, with what it opened.
pub struct Opened {
    pub service: Service,
    /// The store, for walking every chain where it can (DynamoDB is walked per tenant).
    pub store: std::sync::Arc<dyn holdpoint::store::Store>,
    /// Where approvals live, for the operator.
    pub store_name: String,
    /// Where the signing key comes from, for the operator.
    pub key_source: String,
}

/// Opens the keys first (without a key nothing can be signed or checked, whatever the store
/// holds), then the store, and builds the service over them, reading principals from the
/// directory when there is one to read.
pub async fn open(settings: &Settings, access: Access) -> Result<Opened, CliError> {
    open_on(&Backend::new(settings, access)).await
}

/// As [`open`], on a backend the caller goes on using.
pub async fn open_on(backend: &Backend) -> Result<Opened, CliError> {
    let mut service = backend.bare_service().await?;
    // Links go to role members too; with a fixed key map (tests) there is no directory.
    if backend.has_directory() && backend.settings().api_keys.is_none() {
        service = service.with_directory(backend.directory().await?);
    }
    if let Some(checkpoints) = backend.checkpoints().await? {
        service = service.with_checkpoints(checkpoints);
    }
    Ok(Opened {
        service,
        store: backend.approvals().await?.store,
        store_name: backend.store_name(),
        key_source: backend.key_source(),
    })
}

/// The directory of principals where `settings` put the store: `directory.db` in the data
/// directory, or the DynamoDB directory table.
pub async fn open_directory(settings: &Settings) -> Result<Arc<dyn Directory>, CliError> {
    Ok(Backend::new(settings, Access::Serve).directory().await?)
}
