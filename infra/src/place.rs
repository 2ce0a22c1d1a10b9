//! Where a local command finds approvals and keys: the flags over `HOLDPOINT_DATA_DIR` and
//! `HOLDPOINT_STORE`, applied to the settings read from the environment.

use std::path::PathBuf;

use clap::Args;
use holdpoint::config::{Settings, StoreKind};

/// The data directory (the flag over `HOLDPOINT_DATA_DIR`).
#[derive(Args, Clone)]
pub struct DataDir {
    /// Where the embedded store, the signing keys and the development API keys live
    /// [default: ./.holdpoint].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl DataDir {
    pub fn apply(self, settings: &mut Settings) {
        if let Some(d) = self.data_dir {
            settings.data_dir = d;
        }
    }
}

/// Where approvals and keys live (flags over `HOLDPOINT_DATA_DIR` and `HOLDPOINT_STORE`).
#[derive(Args, Clone)]
pub struct Place {
    #[command(flatten)]
    data_dir: DataDir,
    /// `embedded` (in the data directory), `dynamodb` (at the endpoint the AWS SDK's standard
    /// variables name) or `postgres` (at HOLDPOINT_DATABASE_URL) [default: embedded].
    #[arg(long, value_parser = StoreKind::parse)]
    store: Option<StoreKind>,
}

impl Place {
    pub fn apply(self, settings: &mut Settings) {
        self.data_dir.apply(settings);
        if let Some(s) = self.store {
            settings.store = s;
        }
    }
}
