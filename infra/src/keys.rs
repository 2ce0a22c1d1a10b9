//! `holdpoint keys rotate`: a new local signing key (on AWS, the Secrets Manager secret is
//! rotated instead).

use std::path::Path;
use std::process::ExitCode;

use holdpoint::keys::local::LocalKeys;

use crate::error::CliError;

/// Adds a key to the key file in `dir` and makes it current; older keys keep verifying.
pub fn rotate(dir: &Path) -> Result<ExitCode, CliError> {
    let id = LocalKeys::open(dir)?.rotate()?;
    println!("signing with new key {id}; earlier keys still verify");
    Ok(ExitCode::SUCCESS)
}
