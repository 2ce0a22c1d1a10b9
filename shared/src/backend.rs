//! What a Holdpoint process runs on, built in one place from its [`Settings`]: the store of
//! approvals, the directory of principals, the deliveries log, the signing keys, where lifecycle
//! events go and the notifier — files in the data directory (the embedded backend) or the
//! DynamoDB tables, for the Lambda functions and the `holdpoint` binary alike.
//!
//! Each part is opened once, when first asked for, and shared after; the AWS SDK's
//! configuration is loaded once, when a first client needs it, and every client is built from
//! it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::config::{self, ConfigError, Settings, StoreKind};
use crate::delivery::DeliveryLog;
use crate::delivery::dynamodb::DynamoDeliveries;
use crate::directory::Directory;
use crate::directory::dynamodb::DynamoDirectory;
use crate::directory::policy::{PolicyStore, dynamodb::DynamoPolicies};
use crate::events::{EventBridgeSink, EventSink, JsonLinesSink};
use crate::keys::local::{self, LocalKeys};
use crate::keys::secrets_manager::SecretsManagerKeys;
use crate::service::Service;
use crate::store::checkpoints::CheckpointLog;
use crate::store::dynamodb::{DynamoStore, sdk_config};
use crate::store::{Store, StoreError};
use holdpoint_core::domain::review_link::BaseUrl;
use holdpoint_core::keys::{KeyError, KeyProvider};
use holdpoint_core::time::Clock;

#[cfg(feature = "embedded")]
use crate::store::embedded::EmbeddedStore;
#[cfg(not(feature = "embedded"))]
type EmbeddedStore = std::convert::Infallible;

/// Who opens the backend: what it may create, and where the signing key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A Lambda function: the DynamoDB tables, the key in the Secrets Manager secret (required),
    /// fetched in the background from the cold start, never waited for until a request needs
    /// it; events to EventBridge, mail by SES.
    Function,
    /// The local server: creates the data directory, its files and a first key if there are
    /// none; events to `events.jsonl`, mail by SMTP.
    Serve,
    /// An operator command beside a running server: creates nothing, writes nothing.
    Inspect,
}

/// Why a part of the backend could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("{}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Mail, or the HTTP client of webhooks and callbacks, cannot be set up as configured.
    #[error("{0}")]
    Delivery(String),
    #[error("this build of Holdpoint has no embedded store")]
    NoEmbeddedStore,
    #[error("this build of Holdpoint has no PostgreSQL store")]
    NoPostgres,
}

/// The store of approvals as opened.
#[derive(Clone)]
pub struct Approvals {
    pub store: Arc<dyn Store>,
    /// The same store's signed checkpoints.
    pub checkpoints: Arc<dyn CheckpointLog>,
    /// The embedded store by name, for walking every chain (DynamoDB is walked per tenant).
    pub embedded: Option<EmbeddedStore>,
}

/// The parts of one process, each opened on first use (see the module's comment).
pub struct Backend {
    settings: Settings,
    access: Access,
    sdk: OnceCell<aws_config::SdkConfig>,
    approvals: OnceCell<Approvals>,
    keys: OnceCell<Arc<dyn KeyProvider>>,
    directory: OnceCell<Arc<dyn Directory>>,
    deliveries: OnceCell<Arc<dyn DeliveryLog>>,
    #[cfg(feature = "postgres")]
    pg: OnceCell<crate::postgres::Pg>,
}

impl Backend {
    pub fn new(settings: &Settings, access: Access) -> Backend {
        Backend {
            settings: settings.clone(),
            access,
            sdk: OnceCell::new(),
            approvals: OnceCell::new(),
            keys: OnceCell::new(),
            directory: OnceCell::new(),
            deliveries: OnceCell::new(),
            #[cfg(feature = "postgres")]
            pg: OnceCell::new(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn access(&self) -> Access {
        self.access
    }

    /// Where approvals, the directory and deliveries live: a function is on DynamoDB whatever
    /// `HOLDPOINT_STORE` says.
    pub fn store_kind(&self) -> StoreKind {
        match self.access {
            Access::Function => StoreKind::Dynamodb,
            Access::Serve | Access::Inspect => self.settings.store,
        }
    }

    /// The AWS SDK's configuration of this process, loaded on first use.
    pub async fn sdk(&self) -> &aws_config::SdkConfig {
        self.sdk.get_or_init(sdk_config).await
    }

    async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(self.sdk().await)
    }

    fn data_dir(&self) -> &std::path::Path {
        &self.settings.data_dir
    }

    /// Where the signing keys and the checkpoint key are: the data directory unless
    /// `HOLDPOINT_KEYS_DIR` says otherwise.
    fn keys_dir(&self) -> &std::path::Path {
        &self.settings.keys_dir
    }

    /// The signing keys: the Secrets Manager secret when one is named (a function needs one),
    /// else the key file in the data directory. Outside a function the secret is read at once,
    /// so a command without its key stops before it touches anything; a function starts reading
    /// it in the background and waits for it only when a request needs it (a cold start
    /// answering health never waits for it).
    pub async fn keys(&self) -> Result<Arc<dyn KeyProvider>, BackendError> {
        let keys = self.keys.get_or_try_init(|| self.open_keys()).await?;
        Ok(keys.clone())
    }

    async fn open_keys(&self) -> Result<Arc<dyn KeyProvider>, BackendError> {
        let secret = match self.access {
            Access::Function => Some(Settings::required(
                &self.settings.signing_secret_id,
                config::SIGNING_SECRET_ID,
                "nothing could be signed",
            )?),
            Access::Serve | Access::Inspect => self.settings.signing_secret_id.as_deref(),
        };
        if let Some(secret) = secret {
            let client = aws_sdk_secretsmanager::Client::new(self.sdk().await);
            let keys = Arc::new(SecretsManagerKeys::new(
                client,
                secret,
                self.settings.key_cache,
            ));
            if self.access == Access::Function {
                keys.warm_in_background();
            } else {
                keys.current().await?;
            }
            return Ok(keys);
        }
        let dir = self.keys_dir();
        let keys = match self.access {
            Access::Serve => {
                std::fs::create_dir_all(dir).map_err(|source| BackendError::DataDir {
                    path: dir.to_owned(),
                    source,
                })?;
                LocalKeys::open_or_create(dir)?
            }
            Access::Function | Access::Inspect => LocalKeys::open(dir)?,
        };
        Ok(Arc::new(keys))
    }

    /// Where the signing key comes from, for the operator.
    pub fn key_source(&self) -> String {
        match &self.settings.signing_secret_id {
            Some(secret) => format!("Secrets Manager secret {secret}"),
            None => self.keys_dir().join(local::FILE).display().to_string(),
        }
    }

    /// The store of approvals: `approvals.db` in the data directory (opened read-only for an
    /// operator beside a server), or the DynamoDB tables.
    pub async fn approvals(&self) -> Result<Approvals, BackendError> {
        let opened = self
            .approvals
            .get_or_try_init(|| async {
                Ok::<_, BackendError>(match self.store_kind() {
                    StoreKind::Embedded => self.open_embedded()?,
                    StoreKind::Postgres => self.open_pg_approvals().await?,
                    StoreKind::Dynamodb => {
                        let store = Arc::new(DynamoStore::new(
                            self.dynamodb().await,
                            self.settings.tables.clone(),
                        ));
                        Approvals {
                            store: store.clone(),
                            checkpoints: store,
                            embedded: None,
                        }
                    }
                })
            })
            .await?;
        Ok(opened.clone())
    }

    #[cfg(feature = "embedded")]
    fn open_embedded(&self) -> Result<Approvals, BackendError> {
        let store = match self.access {
            Access::Inspect => EmbeddedStore::open_read_only(self.data_dir())?,
            Access::Serve | Access::Function => EmbeddedStore::open(self.data_dir())?,
        };
        Ok(Approvals {
            store: Arc::new(store.clone()),
            checkpoints: Arc::new(store.clone()),
            embedded: Some(store),
        })
    }

    #[cfg(not(feature = "embedded"))]
    fn open_embedded(&self) -> Result<Approvals, BackendError> {
        Err(BackendError::NoEmbeddedStore)
    }

    /// Where approvals live, for the operator.
    pub fn store_name(&self) -> String {
        match self.store_kind() {
            StoreKind::Embedded => format!("embedded, in {}", self.data_dir().display()),
            StoreKind::Postgres => "PostgreSQL (HOLDPOINT_DATABASE_URL)".to_owned(),
            StoreKind::Dynamodb => format!(
                "DynamoDB tables {} and {}",
                self.settings.tables.approvals, self.settings.tables.audit
            ),
        }
    }

    /// The directory of principals: `directory.db` in the data directory, or the DynamoDB
    /// directory table.
    pub async fn directory(&self) -> Result<Arc<dyn Directory>, BackendError> {
        let directory = self
            .directory
            .get_or_try_init(|| async {
                Ok::<Arc<dyn Directory>, BackendError>(match self.store_kind() {
                    StoreKind::Embedded => self.open_embedded_directory()?,
                    StoreKind::Postgres => self.open_pg_directory().await?,
                    StoreKind::Dynamodb => Arc::new(DynamoDirectory::new(
                        self.dynamodb().await,
                        self.settings.tables.directory.clone(),
                    )),
                })
            })
            .await?;
        Ok(directory.clone())
    }

    /// Tenant policies, beside the directory: in `directory.db`, or the directory table.
    pub async fn policies(&self) -> Result<Arc<dyn PolicyStore>, BackendError> {
        Ok(match self.store_kind() {
            StoreKind::Embedded => crate::directory::policy::local::open(self.data_dir())?,
            StoreKind::Postgres => self.open_pg_policies().await?,
            StoreKind::Dynamodb => Arc::new(DynamoPolicies::new(
                self.dynamodb().await,
                self.settings.tables.directory.clone(),
            )),
        })
    }

    #[cfg(feature = "embedded")]
    fn open_embedded_directory(&self) -> Result<Arc<dyn Directory>, BackendError> {
        let directory = crate::directory::embedded::EmbeddedDirectory::open(self.data_dir())?;
        Ok(Arc::new(directory))
    }

    #[cfg(not(feature = "embedded"))]
    fn open_embedded_directory(&self) -> Result<Arc<dyn Directory>, BackendError> {
        Err(BackendError::NoEmbeddedStore)
    }

    /// Whether a directory is there to read without creating one: always on DynamoDB;
    /// embedded, once `directory.db` exists (an operator's read beside a server creates no
    /// file).
    #[cfg(feature = "embedded")]
    pub fn has_directory(&self) -> bool {
        self.store_kind() != StoreKind::Embedded
            || self.access != Access::Inspect
            || self
                .data_dir()
                .join(crate::directory::embedded::FILE)
                .exists()
    }

    #[cfg(not(feature = "embedded"))]
    pub fn has_directory(&self) -> bool {
        self.store_kind() != StoreKind::Embedded
    }

    /// The deliveries log: `deliveries.db` in the data directory (the local retry queue), or
    /// the DynamoDB deliveries table; `holdpoint deliveries` reads where the server keeps them.
    /// A local server on DynamoDB sends from its local queue and records in the table.
    pub async fn deliveries(&self) -> Result<Arc<dyn DeliveryLog>, BackendError> {
        let log = self
            .deliveries
            .get_or_try_init(|| async {
                Ok::<Arc<dyn DeliveryLog>, BackendError>(match self.store_kind() {
                    StoreKind::Embedded => self.open_embedded_deliveries()?,
                    StoreKind::Postgres => self.open_pg_deliveries().await?,
                    StoreKind::Dynamodb => {
                        let table: Arc<dyn DeliveryLog> = Arc::new(DynamoDeliveries::new(
                            self.dynamodb().await,
                            self.settings.tables.deliveries.clone(),
                        ));
                        match self.access {
                            Access::Serve => self.queued_locally(table)?,
                            Access::Function | Access::Inspect => table,
                        }
                    }
                })
            })
            .await?;
        Ok(log.clone())
    }

    #[cfg(feature = "embedded")]
    fn open_embedded_deliveries(&self) -> Result<Arc<dyn DeliveryLog>, BackendError> {
        let log = crate::delivery::embedded::EmbeddedDeliveries::open(self.data_dir())?;
        Ok(Arc::new(log))
    }

    #[cfg(not(feature = "embedded"))]
    fn open_embedded_deliveries(&self) -> Result<Arc<dyn DeliveryLog>, BackendError> {
        Err(BackendError::NoEmbeddedStore)
    }

    /// `table`, with the local retry queue a serving process sends from.
    #[cfg(feature = "embedded")]
    fn queued_locally(
        &self,
        table: Arc<dyn DeliveryLog>,
    ) -> Result<Arc<dyn DeliveryLog>, BackendError> {
        let queue = self.open_embedded_deliveries()?;
        Ok(Arc::new(crate::delivery::mirrored::Mirrored::new(
            queue, table,
        )))
    }

    #[cfg(not(feature = "embedded"))]
    fn queued_locally(
        &self,
        _: Arc<dyn DeliveryLog>,
    ) -> Result<Arc<dyn DeliveryLog>, BackendError> {
        Err(BackendError::NoEmbeddedStore)
    }

    /// Where a local server writes its lifecycle events, standing in for the bus.
    pub fn events_file(&self) -> PathBuf {
        self.data_dir().join("events.jsonl")
    }

    /// Where lifecycle events go: a function's EventBridge bus; locally
    /// [`Backend::events_file`]. Neither gets a review link (see [`Backend::local_server`]).
    pub async fn event_sink(&self) -> Arc<dyn EventSink> {
        match self.access {
            Access::Function => Arc::new(EventBridgeSink::new(
                aws_sdk_eventbridge::Client::new(self.sdk().await),
                self.settings.event_bus.clone(),
            )),
            Access::Serve | Access::Inspect => Arc::new(JsonLinesSink::new(self.events_file())),
        }
    }

    /// The service over the store and the keys, with nothing else yet (no events, directory or
    /// deliveries: those are added by what runs it).
    pub async fn bare_service(&self) -> Result<Service, BackendError> {
        // The keys first: without them nothing can be signed or checked, whatever is stored.
        let keys = self.keys().await?;
        let store = self.approvals().await?.store;
        Ok(
            Service::new(store, keys, Clock::system(), self.settings.expiry)
                .allowing_private_webhooks(self.settings.allow_private_webhooks),
        )
    }

    /// The service of an API function or the sweep: the tables, the directory, the deliveries
    /// table, events to the bus with review links under `base_url`, and signed checkpoints.
    pub async fn function_service(&self, base_url: BaseUrl) -> Result<Service, BackendError> {
        let service = self
            .bare_service()
            .await?
            .with_events(self.event_sink().await, base_url)
            .with_directory(self.directory().await?)
            .with_policies(self.policies().await?)
            .with_deliveries(self.deliveries().await?)
            .with_sessions(self.sessions().await?, self.settings.session_hours);
        Ok(match self.checkpoints().await? {
            Some(c) => service.with_checkpoints(c),
            None => service,
        })
    }
}

mod checkpoints;
#[cfg(feature = "delivery")]
mod notify;
mod postgres;
mod sessions;
#[cfg(feature = "delivery")]
mod slack;
