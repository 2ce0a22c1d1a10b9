//! `holdpoint slack …`: a tenant's Slack app, kept locally in `directory.db` (on AWS the
//! operator writes the Secrets Manager secret `HOLDPOINT_SLACK_SECRET_ID` names). Secrets come
//! from files, never the command line (which other users of the machine can read), and are
//! never printed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use holdpoint::config::Settings;
use holdpoint::config::StoreKind;
use holdpoint::directory::check_name;
use holdpoint::postgres::slack::PgSlack;
use holdpoint::postgres::{Migrate, Pg};
use holdpoint::slack::api::{ApiError, SlackApi};
use holdpoint::slack::connection::embedded::EmbeddedSlack;
use holdpoint::slack::connection::{BotToken, Connected, SlackConnection, check_team};
use holdpoint::store::StoreError;

use crate::error::{CliError, exit};
use crate::place::DataDir;

/// The largest secret file read: Slack's tokens and secrets are far shorter, and a mistaken
/// path (a log, a device) is refused without being read whole.
pub const MAX_SECRET_FILE: u64 = 4 * 1024;

/// `holdpoint slack`'s arguments (a struct, so the command's line in `main.rs` is one).
#[derive(Args)]
pub struct SlackArgs {
    #[command(subcommand)]
    pub command: SlackCommand,
}

/// Locally; on AWS the operator writes the secret HOLDPOINT_SLACK_SECRET_ID names.
#[derive(Subcommand)]
pub enum SlackCommand {
    /// Connect a tenant to its Slack app: checks the bot token with Slack (auth.test), learns
    /// the app's team and keeps both secrets in directory.db. Replaces any app it had.
    Connect {
        tenant: String,
        /// A file holding the app's bot token (xoxb-…).
        #[arg(long)]
        bot_token_file: PathBuf,
        /// A file holding the app's signing secret (Basic Information → App Credentials).
        #[arg(long)]
        signing_secret_file: PathBuf,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Disconnect a tenant from Slack: its reviewers' Slack messages stop, their buttons stop
    /// deciding.
    Disconnect {
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// The connected tenants and their Slack teams (never a secret).
    Status {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

/// Where the local server keeps the tenants' apps: `directory.db`, or PostgreSQL.
enum Apps {
    Embedded(EmbeddedSlack),
    Postgres(PgSlack),
}

impl Apps {
    async fn open(settings: &Settings) -> Result<Apps, CliError> {
        Ok(match settings.store {
            StoreKind::Postgres => Apps::Postgres(PgSlack::new(
                Pg::connect(&settings.database, Migrate::Check).await?,
            )),
            _ => Apps::Embedded(EmbeddedSlack::open(&settings.data_dir)?),
        })
    }

    async fn put(
        &self,
        tenant: &str,
        team: Option<&str>,
        token: &str,
        secret: &str,
    ) -> Result<(), StoreError> {
        match self {
            Apps::Embedded(a) => a.put(tenant, team, token, secret).await,
            Apps::Postgres(a) => a.put(tenant, team, token, secret).await,
        }
    }

    async fn remove(&self, tenant: &str) -> Result<bool, StoreError> {
        match self {
            Apps::Embedded(a) => a.remove(tenant).await,
            Apps::Postgres(a) => a.remove(tenant).await,
        }
    }

    async fn list(&self) -> Result<Vec<Connected>, StoreError> {
        match self {
            Apps::Embedded(a) => a.list().await,
            Apps::Postgres(a) => a.list().await,
        }
    }
}

/// Runs `command` on the data directory it names (over `settings`).
pub async fn run(command: SlackCommand, mut settings: Settings) -> Result<ExitCode, CliError> {
    match command {
        SlackCommand::Connect {
            tenant,
            bot_token_file,
            signing_secret_file,
            data_dir,
        } => {
            data_dir.apply(&mut settings);
            check_name("tenant", &tenant)?;
            let token = read_secret(&bot_token_file, "--bot-token-file")?;
            let secret = read_secret(&signing_secret_file, "--signing-secret-file")?;
            let bot_token = BotToken::new(&token).ok_or(
                "--bot-token-file: not a Slack bot token (xoxb-…, one line, at most 255 characters)",
            )?;
            // Checked before Slack is asked: nothing is stored half.
            SlackConnection::from_parts(&tenant, None, &token, &secret)?;
            let api = SlackApi::new(&settings.slack_api_url)?;
            let team = api.auth_test(&bot_token).await.map_err(refused_by_slack)?;
            check_team(&team).map_err(|e| format!("Slack's auth.test answered {e}"))?;
            let apps = Apps::open(&settings).await?;
            apps.put(&tenant, Some(&team), &token, &secret).await?;
            println!("connected {tenant} to Slack team {team}");
            Ok(ExitCode::SUCCESS)
        }
        SlackCommand::Disconnect { tenant, data_dir } => {
            data_dir.apply(&mut settings);
            check_name("tenant", &tenant)?;
            if Apps::open(&settings).await?.remove(&tenant).await? {
                println!("disconnected {tenant} from Slack");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(format!("{tenant} is not connected to Slack").into())
            }
        }
        SlackCommand::Status { json, data_dir } => {
            data_dir.apply(&mut settings);
            let connected = Apps::open(&settings).await?.list().await?;
            if json {
                let all: Vec<_> = connected
                    .iter()
                    .map(|c| serde_json::json!({"tenant": c.tenant, "team_id": c.team_id}))
                    .collect();
                println!("{}", serde_json::Value::Array(all));
            } else if connected.is_empty() {
                println!("no tenant is connected to Slack");
            } else {
                for c in &connected {
                    let team = c.team_id.as_deref().unwrap_or("-");
                    println!("{}  team: {team}", c.tenant);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Slack's refusal of the token in Slack's words (its error code), or why Slack was not reached.
fn refused_by_slack(e: ApiError) -> CliError {
    match e {
        ApiError::Slack(code) => CliError::new(
            exit::REFUSED,
            format!("Slack refused the bot token: {code}; nothing was stored"),
        ),
        other => CliError::new(exit::UNREACHABLE, format!("{other}; nothing was stored")),
    }
}

/// A secret from a file: at most [`MAX_SECRET_FILE`] bytes of UTF-8, one trailing line break
/// dropped, not blank.
pub fn read_secret(path: &Path, flag: &str) -> Result<String, CliError> {
    let told = |why: String| CliError::usage(format!("{flag} {}: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| told(e.to_string()))?;
    let meta = file.metadata().map_err(|e| told(e.to_string()))?;
    if !meta.is_file() {
        return Err(told("not a file".into()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| told(e.to_string()))?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(told(format!(
            "larger than {MAX_SECRET_FILE} bytes: not a Slack secret"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| told("not text".into()))?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if text.trim().is_empty() {
        return Err(told("empty".into()));
    }
    if text.contains(['\n', '\r']) {
        return Err(told("more than one line".into()));
    }
    Ok(text.to_owned())
}
