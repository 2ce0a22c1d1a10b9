//! `holdpoint backup FILE`: a consistent copy of the embedded store while the server writes.

use std::path::Path;
use std::process::ExitCode;

use holdpoint::store::embedded::EmbeddedStore;

use crate::error::CliError;

/// Copies the store in `dir` to `to` (never over an existing file) with SQLite's online backup,
/// then reads the copy back to say how many approvals it holds.
pub async fn run(dir: &Path, to: &Path) -> Result<ExitCode, CliError> {
    if to.exists() {
        return Err(format!("{}: exists; choose a new file", to.display()).into());
    }
    let store = EmbeddedStore::open_read_only(dir)?;
    store.backup(to).await?;
    let copy = EmbeddedStore::open_file_read_only(to)?;
    let n = copy.all_approvals().await?.len();
    println!(
        "{}: {n} approvals copied from {}",
        to.display(),
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}
