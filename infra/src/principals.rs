//! `holdpoint principals …`: the directory of principals, on the embedded store or DynamoDB
//! alike. Secrets are made here and printed once; only an API key's hash is stored.

use std::process::ExitCode;

use clap::Subcommand;
use holdpoint::backend::{Access, Backend};
use holdpoint::config::Settings;
use holdpoint::directory::{self, Directory, Entry};
use holdpoint::store::StoreError;
use holdpoint_core::domain::identity::PrincipalKind;

use crate::error::CliError;
use crate::open::open_directory;
use crate::place::Place;

#[derive(Subcommand)]
pub enum PrincipalsCommand {
    /// Add a principal; prints its API key (unless it signs in with an IAM ARN) and its webhook
    /// secret, once.
    Add {
        /// TENANT/NAME
        who: String,
        /// A role it holds (repeat for more); `role:NAME` reviewers reach its holders.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// human (the default) or agent: an agent may ask for approval but never approve,
        /// reject or modify, even when named a reviewer or holding a reviewer role.
        #[arg(long, default_value = "human", value_parser = parse_kind)]
        kind: PrincipalKind,
        /// Where review requests are mailed.
        #[arg(long)]
        email: Option<String>,
        /// Where review requests are posted (https to a public address).
        #[arg(long)]
        webhook: Option<String>,
        /// An IAM ARN it calls the API with on AWS (repeat for more); an assumed role's
        /// sessions match `arn:aws:sts::ACCOUNT:assumed-role/NAME`.
        #[arg(long = "iam-arn")]
        iam_arns: Vec<String>,
        /// Its Slack user id (U0123ABCD: the member id in its Slack profile): the tenant's Slack
        /// app messages it, and its clicks decide as it.
        #[arg(long)]
        slack: Option<String>,
        #[command(flatten)]
        place: Place,
    },
    /// Change a principal, keeping everything not named (its keys, its review links).
    Update {
        /// TENANT/NAME, or NAME with --tenant
        who: String,
        #[arg(long)]
        tenant: Option<String>,
        /// Its Slack user id (U0123ABCD), or `none` to unlink it from Slack.
        #[arg(long)]
        slack: Option<String>,
        /// Its roles from now on, in place of those it holds (repeatable); it stops reviewing
        /// what it was asked through a role it no longer holds.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Takes every role away.
        #[arg(long, conflicts_with = "roles")]
        no_roles: bool,
        #[command(flatten)]
        place: Place,
    },
    /// List principals (never a secret).
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: Place,
    },
    /// Remove a principal: its keys stop working and its review links stop deciding.
    Remove {
        /// TENANT/NAME
        who: String,
        #[command(flatten)]
        place: Place,
    },
    /// End every inbox session of a principal at once (its sign-in links stay single-use and
    /// short: the next one it asks for signs it in again).
    SignOut {
        /// TENANT/NAME, or NAME with --tenant
        who: String,
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        place: Place,
    },
    /// Give a principal a new API key and webhook secret, printed once; the old ones stop
    /// working.
    RotateKey {
        /// TENANT/NAME
        who: String,
        #[command(flatten)]
        place: Place,
    },
}

impl PrincipalsCommand {
    fn place(&self) -> &Place {
        match self {
            PrincipalsCommand::Add { place, .. }
            | PrincipalsCommand::Update { place, .. }
            | PrincipalsCommand::List { place, .. }
            | PrincipalsCommand::Remove { place, .. }
            | PrincipalsCommand::RotateKey { place, .. }
            | PrincipalsCommand::SignOut { place, .. } => place,
        }
    }
}

fn split(who: &str) -> Result<(String, String), CliError> {
    let (tenant, name) = who
        .split_once('/')
        .ok_or_else(|| format!("{who:?}: name a principal as TENANT/NAME"))?;
    directory::check_name("tenant", tenant)?;
    directory::check_name("name", name)?;
    Ok((tenant.to_owned(), name.to_owned()))
}

/// A principal named as TENANT/NAME, or as NAME with `--tenant`.
fn named(who: &str, tenant: Option<&str>) -> Result<(String, String), CliError> {
    match tenant {
        Some(t) if !who.contains('/') => split(&format!("{t}/{who}")),
        None if who.contains('/') => split(who),
        _ => Err("name the principal as TENANT/NAME, or NAME with --tenant".into()),
    }
}

/// `--slack` as given: a Slack user id, checked; `none` clears it.
fn slack_user(given: &str) -> Result<Option<String>, CliError> {
    if given == "none" {
        return Ok(None);
    }
    directory::check_slack_user(given).map_err(|e| format!("--slack: {e}"))?;
    Ok(Some(given.to_owned()))
}

/// Runs `command` on the directory where its place (over `settings`) says.
pub async fn run(command: PrincipalsCommand, mut settings: Settings) -> Result<ExitCode, CliError> {
    command.place().clone().apply(&mut settings);
    let directory = open_directory(&settings).await?;
    match command {
        PrincipalsCommand::Add {
            who,
            roles,
            kind,
            email,
            webhook,
            iam_arns,
            slack,
            ..
        } => {
            let (tenant, name) = split(&who)?;
            let slack = match slack.as_deref() {
                Some("none") | None => None,
                Some(given) => slack_user(given)?,
            };
            if let Some(url) = &webhook {
                holdpoint::delivery::target::check_url(url, settings.allow_private_webhooks)
                    .map_err(|e| format!("--webhook: {e}"))?;
            }
            let api_key = iam_arns.is_empty().then(directory::new_api_key);
            let secret = directory::new_webhook_secret();
            let entry = Entry {
                tenant,
                name,
                roles,
                kind,
                email,
                webhook,
                iam_arns,
                key_hash: api_key.as_deref().map(directory::key_hash),
                slack,
                webhook_secret: Some(secret.clone()),
                instance: None,
            };
            entry.check()?;
            match directory.put(&entry, true).await {
                Ok(()) => {}
                Err(StoreError::AlreadyExists) => return Err(taken(&*directory, &entry).await),
                Err(e) => return Err(e.into()),
            }
            println!("added {who}");
            print_secrets(api_key.as_deref(), &secret);
            Ok(ExitCode::SUCCESS)
        }
        PrincipalsCommand::List { tenant, json, .. } => {
            let entries = directory.list(tenant.as_deref()).await?;
            if json {
                let all: Vec<_> = entries.iter().map(Entry::public).collect();
                println!("{}", serde_json::Value::Array(all));
            } else if entries.is_empty() {
                println!("no principals");
            } else {
                for e in &entries {
                    let reach: Vec<&str> = e
                        .email
                        .iter()
                        .chain(e.webhook.iter())
                        .map(String::as_str)
                        .collect();
                    println!(
                        "{}/{}  kind: {}  roles: {}  reached at: {}  slack: {}  signs in with: {}",
                        e.tenant,
                        e.name,
                        e.kind.as_str(),
                        none_if_empty(&e.roles.join(",")),
                        none_if_empty(&reach.join(" ")),
                        e.slack.as_deref().unwrap_or("-"),
                        none_if_empty(&signs_in(e)),
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PrincipalsCommand::Update {
            who,
            tenant,
            slack,
            roles,
            no_roles,
            ..
        } => {
            let (tenant, name) = named(&who, tenant.as_deref())?;
            if slack.is_none() && roles.is_empty() && !no_roles {
                return Err(
                    "nothing to change: give --slack U… (or none), --role R or --no-roles".into(),
                );
            }
            let mut entry = directory
                .get(&tenant, &name)
                .await?
                .ok_or_else(|| format!("{tenant}/{name} is not in the directory"))?;
            if let Some(given) = &slack {
                entry.slack = slack_user(given)?;
            }
            if no_roles || !roles.is_empty() {
                entry.roles = roles;
            }
            entry.check().map_err(CliError::usage)?;
            match directory.put(&entry, false).await {
                Ok(()) => {}
                Err(StoreError::AlreadyExists) => return Err(taken(&*directory, &entry).await),
                Err(e) => return Err(e.into()),
            }
            let slack = entry.slack.as_deref().unwrap_or("none");
            let roles = entry.roles.join(",");
            println!("updated {tenant}/{name}: roles [{roles}], Slack user {slack}");
            Ok(ExitCode::SUCCESS)
        }
        PrincipalsCommand::Remove { who, .. } => {
            let (tenant, name) = split(&who)?;
            if directory.remove(&tenant, &name).await? {
                println!("removed {who}");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(format!("{who} is not in the directory").into())
            }
        }
        PrincipalsCommand::SignOut { who, tenant, .. } => {
            let (tenant, name) = named(&who, tenant.as_deref())?;
            let sessions = Backend::new(&settings, Access::Serve).sessions().await?;
            let ended = sessions
                .remove_sessions_of(&tenant, &name, chrono::Utc::now())
                .await?;
            println!("signed out {tenant}/{name}: {ended} session(s) ended");
            Ok(ExitCode::SUCCESS)
        }
        PrincipalsCommand::RotateKey { who, .. } => {
            let (tenant, name) = split(&who)?;
            let mut entry = directory
                .get(&tenant, &name)
                .await?
                .ok_or_else(|| format!("{who} is not in the directory"))?;
            // An IAM principal keeps signing in with its ARNs; it gets no API key.
            let api_key = entry.iam_arns.is_empty().then(directory::new_api_key);
            let secret = directory::new_webhook_secret();
            entry.key_hash = api_key.as_deref().map(directory::key_hash);
            entry.webhook_secret = Some(secret.clone());
            directory.put(&entry, false).await?;
            println!("rotated {who}: the previous key and webhook secret no longer work");
            print_secrets(api_key.as_deref(), &secret);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Why a create was refused as already there: the name, in this case or another (names are
/// unique within a tenant ignoring case), its Slack user, or a credential of another principal.
async fn taken(directory: &dyn Directory, entry: &Entry) -> CliError {
    let who = format!("{}/{}", entry.tenant, entry.name);
    let listed = directory
        .list(Some(&entry.tenant))
        .await
        .unwrap_or_default();
    let twin = listed
        .iter()
        .find(|e| e.folded_name() == entry.folded_name());
    let slack_twin = listed
        .iter()
        .find(|e| e.name != entry.name && e.slack.is_some() && e.slack == entry.slack);
    CliError::usage(match (twin, slack_twin) {
        (_, Some(e)) => format!(
            "{who}: Slack user {} is already {}/{}'s (one principal per Slack user)",
            e.slack.as_deref().unwrap_or_default(),
            e.tenant,
            e.name
        ),
        (Some(e), None) if e.name == entry.name => format!("{who} is already in the directory"),
        (Some(e), None) => format!(
            "{who}: the directory already has {}/{} (names are unique within a tenant ignoring case)",
            e.tenant, e.name
        ),
        (None, None) => format!("{who}: one of its IAM ARNs belongs to another principal"),
    })
}

fn parse_kind(s: &str) -> Result<PrincipalKind, String> {
    s.parse()
        .map_err(|_| format!("{s:?}: a kind is human or agent"))
}

fn print_secrets(api_key: Option<&str>, webhook_secret: &str) {
    if let Some(key) = api_key {
        println!("api key:        {key}");
    }
    println!("webhook secret: {webhook_secret}");
    println!("(shown once: only the key's hash is kept)");
}

fn signs_in(e: &Entry) -> String {
    let mut ways: Vec<String> = Vec::new();
    if e.key_hash.is_some() {
        ways.push("api key".into());
    }
    ways.extend(e.iam_arns.iter().cloned());
    ways.join(" ")
}

fn none_if_empty(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}
