//! `holdpoint db migrate` and `holdpoint db status`: the PostgreSQL schema, applied ahead of a
//! deploy (a serving instance also applies it at start) or shown.

use std::process::ExitCode;

use clap::Subcommand;
use holdpoint::config::{Settings, StoreKind};
use holdpoint::postgres::migrations::{self, MIGRATIONS};
use holdpoint::postgres::{Migrate, Pg};

use crate::error::CliError;

#[derive(Subcommand)]
pub enum DbCommand {
    /// Apply the migrations the database lacks (a serving instance also does at start; run this
    /// ahead of a rolling deploy). Safe while instances run and when several run it at once.
    Migrate,
    /// List the migrations and whether each is applied; exits 1 when one is pending or the
    /// database is from a later Holdpoint.
    Status,
    /// Grant ROLE what instances need and no more (run as the tables' owner, after migrate):
    /// instances running as ROLE cannot switch off the audit trail's append-only triggers.
    Grant { role: String },
}

pub async fn run(command: DbCommand, settings: &Settings) -> Result<ExitCode, CliError> {
    match command {
        DbCommand::Migrate => migrate(settings).await,
        DbCommand::Status => status(settings).await,
        DbCommand::Grant { role } => {
            let pg = open(settings, Migrate::Check).await?;
            migrations::grant(&pg.conn().await?, &role).await?;
            println!("granted {role} what Holdpoint's instances need");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn open(settings: &Settings, migrate: Migrate) -> Result<Pg, CliError> {
    if settings.store != StoreKind::Postgres || settings.database.url.is_none() {
        return Err(CliError::usage(
            "the schema is PostgreSQL's: set HOLDPOINT_STORE=postgres and HOLDPOINT_DATABASE_URL",
        ));
    }
    Ok(Pg::connect(&settings.database, migrate).await?)
}

/// Applies the migrations the database lacks (once, whoever else is starting at the moment).
async fn migrate(settings: &Settings) -> Result<ExitCode, CliError> {
    let pg = open(settings, Migrate::Leave).await?;
    let applied = migrations::apply(&mut pg.conn().await?).await?;
    let now = migrations::applied(&pg.conn().await?).await?;
    let version = now.last().copied().unwrap_or(0);
    if applied.is_empty() {
        println!("the database is at schema version {version}: nothing to apply");
    } else {
        println!("applied {applied:?}: the database is at schema version {version}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints every migration and whether it is applied; exits 1 when one is pending.
async fn status(settings: &Settings) -> Result<ExitCode, CliError> {
    let pg = open(settings, Migrate::Leave).await?;
    let applied = migrations::applied(&pg.conn().await?).await?;
    for (version, name, _) in MIGRATIONS {
        let state = if applied.contains(version) {
            "applied"
        } else {
            "pending"
        };
        println!("{version:04} {name}: {state}");
    }
    migrations::check(&pg.conn().await?).await?;
    Ok(ExitCode::SUCCESS)
}
