//! `holdpoint store check`: SQLite's integrity check of the embedded store, and how to recover
//! when it finds something.

use std::path::Path;
use std::process::ExitCode;

use holdpoint::store::embedded::{self, EmbeddedStore};

use crate::error::CliError;

/// Exits 0 when the check finds nothing wrong, 1 naming each problem and the recovery.
pub async fn check(dir: &Path) -> Result<ExitCode, CliError> {
    let db = dir.join(embedded::FILE);
    if !db.exists() {
        return Err(format!("{}: no embedded store here", dir.display()).into());
    }
    let store = EmbeddedStore::open_read_only(dir)?;
    let problems = store.integrity_check().await?;
    if problems.is_empty() {
        println!(
            "{}: SQLite's integrity check finds nothing wrong",
            db.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("{}: {p}", db.display());
    }
    println!(
        "recovery: stop the server, keep a copy of the data directory, and restore the latest \
         `holdpoint backup` in place of {} (or try sqlite3's `.recover`); then run `holdpoint \
         audit verify`.",
        db.display()
    );
    Ok(ExitCode::FAILURE)
}
