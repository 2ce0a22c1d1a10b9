//! What an auditor runs (issue 24): `holdpoint audit export` writes an approval's evidence
//! bundle, `holdpoint audit verify-bundle` checks one with nothing but the published keys (no
//! service, no store, no secret), `holdpoint audit checkpoint` writes the checkpoints due now,
//! and `holdpoint audit keys` prints (or rotates) the checkpoint keys.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use holdpoint::config::Settings;
use holdpoint::keys::checkpoint::CheckpointKeys;
use holdpoint_core::audit::checkpoint::Jwks;
use holdpoint_core::evidence::verify_bundle_text;
use uuid::Uuid;

use crate::error::CliError;
use crate::open::{Access, open};

/// The largest bundle or key set read: far past any approval's.
const MOST_BYTES: u64 = 256 * 1024 * 1024;

/// Writes the evidence bundle of approval `id` to `out` (standard output without one).
pub async fn export(
    settings: &Settings,
    id: Uuid,
    tenant: Option<String>,
    out: Option<PathBuf>,
) -> Result<ExitCode, CliError> {
    let opened = open(settings, Access::Inspect).await?;
    let tenant = match tenant {
        Some(t) => t,
        None => crate::audit::chains(&opened, None, Some(id))
            .await?
            .into_iter()
            .next()
            .map(|(t, _)| t)
            .ok_or("no such approval (with --store dynamodb, name its --tenant)")?,
    };
    let bundle = opened
        .service
        .evidence_of(&tenant, id)
        .await?
        .ok_or("no such approval")?;
    let text = serde_json::to_string_pretty(&bundle).map_err(|e| e.to_string())? + "\n";
    match out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("evidence of approval {id} written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `tenant`'s trail as JSON lines (records, then the checkpoint that covers them), page
/// by page until nothing more is checkpointed; the cursor to resume from goes to standard error.
pub async fn export_trail(
    settings: &Settings,
    tenant: &str,
    since: Option<chrono::DateTime<chrono::Utc>>,
    cursor: Option<u64>,
    out: Option<PathBuf>,
) -> Result<ExitCode, CliError> {
    use std::io::Write;
    let opened = open(settings, Access::Inspect).await?;
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (mut from, mut since) = (cursor, since);
    let mut lines = 0usize;
    loop {
        let page = opened.service.export_since(tenant, from, since).await?;
        if page.lines.is_empty() {
            from = Some(page.next);
            break;
        }
        for line in &page.lines {
            serde_json::to_writer(&mut sink, line).map_err(|e| e.to_string())?;
            sink.write_all(b"\n")?;
            lines += 1;
        }
        from = Some(page.next);
        since = None;
    }
    sink.flush()?;
    eprintln!("{lines} lines; resume with --cursor {}", from.unwrap_or(1));
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path, what: &str) -> Result<String, CliError> {
    let file = std::fs::File::open(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MOST_BYTES + 1), &mut text)
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if text.len() as u64 > MOST_BYTES {
        return Err(format!(
            "{what} {} is larger than {MOST_BYTES} bytes",
            path.display()
        )
        .into());
    }
    Ok(text)
}

/// Checks the bundle in `file` against the keys in `keys` (a JWKS, as
/// `/.well-known/holdpoint/audit-keys` serves it); exits 1 naming every failure.
pub fn verify_bundle(file: &Path, keys: &Path) -> Result<ExitCode, CliError> {
    let jwks: Jwks = serde_json::from_str(&read(keys, "keys")?)
        .map_err(|e| format!("keys {}: not a key set: {e}", keys.display()))?;
    let report = verify_bundle_text(&read(file, "bundle")?, &jwks)
        .map_err(|e| format!("bundle {}: {e}", file.display()))?;
    for f in &report.failures {
        println!("FAILED  {f}");
    }
    for w in &report.warnings {
        println!("warning {w}");
    }
    for u in &report.unchecked {
        println!("not checked offline: {u}");
    }
    match &report.checkpointed {
        Some(c) => println!(
            "head {} recorded by checkpoint {}",
            c.head.sequence, c.checkpoint
        ),
        None => println!("head not recorded by any checkpoint in the bundle"),
    }
    if let Some(n) = &report.newest_checkpoint {
        println!(
            "newest checkpoint {} at {} ({}): compare it with the service's",
            n.sequence,
            holdpoint_core::time::format(&n.at),
            n.hash
        );
    }
    let id = report.approval_id;
    Ok(if report.ok() {
        println!("ok     approval {id}: the bundle verifies");
        ExitCode::SUCCESS
    } else {
        println!("BROKEN approval {id}: {} failures", report.failures.len());
        ExitCode::FAILURE
    })
}

/// Writes the checkpoints due now (what the server and the sweep do on their schedule).
pub async fn checkpoint(settings: &Settings) -> Result<ExitCode, CliError> {
    let opened = open(settings, Access::Serve).await?;
    let report = opened.service.checkpoint().await?;
    println!(
        "{} checkpoints written, recording {} heads ({} tenants left to the next run)",
        report.written, report.heads, report.contended
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints the published checkpoint keys (a JWKS); `rotate` first makes a new local key current.
pub fn keys(settings: &Settings, rotate: bool) -> Result<ExitCode, CliError> {
    let dir = &settings.data_dir;
    let published = if rotate {
        let keys = CheckpointKeys::rotate_local(dir)?;
        eprintln!("checkpoints are now signed by key {}", keys.key_id());
        keys.published().clone()
    } else {
        CheckpointKeys::local_published(dir)?
    };
    let text = serde_json::to_string_pretty(&published).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
