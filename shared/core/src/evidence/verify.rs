//! Checking a bundle offline: with the published keys and nothing else.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::bundle::{BUNDLE_FORMAT, BUNDLE_VERSION, EvidenceBundle};
use crate::audit::checkpoint::{Jwks, Standing, chain_problems, standing};
use crate::audit::{ChainHead, GENESIS_HASH};
use crate::domain::integrity;
use crate::json::canonical;
use crate::time::rfc3339;

/// One thing found wrong (or, among warnings, not yet provable), and what it concerns:
/// `bundle`, `record N`, `approval`, `checkpoint S`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub subject: String,
    pub problem: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.problem)
    }
}

/// The newest checkpoint a bundle carries: an auditor compares it with the service's newest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewestCheckpoint {
    pub sequence: u64,
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub hash: String,
}

/// A head of the approval as a checkpoint recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpointed {
    pub checkpoint: u64,
    pub head: ChainHead,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub approval_id: Uuid,
    pub tenant: String,
    /// The head the records end at.
    pub head: Option<ChainHead>,
    /// The newest checkpoint that records this approval, and the head it recorded.
    pub checkpointed: Option<Checkpointed>,
    pub newest_checkpoint: Option<NewestCheckpoint>,
    /// Any of these and the bundle does not verify.
    pub failures: Vec<Finding>,
    /// Nothing is wrong, but not everything is proven yet (a head newer than any checkpoint).
    pub warnings: Vec<Finding>,
    /// What an offline check cannot cover.
    pub unchecked: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, subject: impl Into<String>, problem: impl Into<String>) {
        self.0.push(Finding {
            subject: subject.into(),
            problem: problem.into(),
        });
    }
}

/// Checks `bundle` against the public keys `keys`: every record's hash from its content and the
/// chain's links, the approval's state against the digest its last record signed and its head
/// against the last record, every checkpoint's hash, signature and link, and every head a
/// checkpoint recorded for the approval against its records (a shorter or rewritten chain is a
/// rollback). Needs no secret: the records' HMAC signatures and the approval's seal are left
/// unchecked, and the report says so.
pub fn verify_bundle(bundle: &EvidenceBundle, keys: &Jwks) -> Report {
    let a = &bundle.approval;
    let mut failures = Findings(Vec::new());
    let mut warnings = Findings(Vec::new());
    let mut report = Report {
        approval_id: a.id,
        tenant: a.tenant.clone(),
        head: bundle.records.last().map(|r| r.head()),
        checkpointed: None,
        newest_checkpoint: bundle.checkpoints.last().map(|c| NewestCheckpoint {
            sequence: c.sequence,
            at: c.at,
            hash: c.hash.clone(),
        }),
        failures: Vec::new(),
        warnings: Vec::new(),
        unchecked: unchecked(bundle),
    };
    if bundle.format != BUNDLE_FORMAT || bundle.version != BUNDLE_VERSION {
        failures.add(
            "bundle",
            format!(
                "not a {BUNDLE_FORMAT} bundle of version {BUNDLE_VERSION} ({} {})",
                bundle.format, bundle.version
            ),
        );
        report.failures = failures.0;
        return report;
    }
    records(bundle, &mut failures);
    state(bundle, &mut failures, &mut warnings);
    checkpoints(bundle, keys, &mut failures);
    report.checkpointed = coverage(bundle, &mut failures, &mut warnings);
    report.failures = failures.0;
    report.warnings = warnings.0;
    report
}

/// The deepest a bundle's text may nest: as deep as any document in it may
/// ([`canonical::MAX_NESTING`]), which is more than a genuine bundle ever does.
pub const MAX_BUNDLE_NESTING: usize = canonical::MAX_NESTING;

/// [`verify_bundle`] of a bundle's JSON text, which must also be the bundle as this format
/// writes it: no member it does not define (a member the typed bundle would ignore, unchecked,
/// could mislead a reader), none missing. `Err` when it is not a bundle at all.
pub fn verify_bundle_text(text: &str, keys: &Jwks) -> Result<Report, String> {
    // Measured before parsing, without recursion: deep enough text would overflow the stack.
    if canonical::nesting(text) > MAX_BUNDLE_NESTING {
        return Err(format!(
            "not an evidence bundle: it nests deeper than {MAX_BUNDLE_NESTING} levels"
        ));
    }
    let bundle: EvidenceBundle =
        serde_json::from_str(text).map_err(|e| format!("not an evidence bundle: {e}"))?;
    let mut report = verify_bundle(&bundle, keys);
    let written: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let read = serde_json::to_value(&bundle).map_err(|e| e.to_string())?;
    if let Some(path) = difference(&written, &read, String::new()) {
        report.failures.push(Finding {
            subject: "bundle".into(),
            problem: format!(
                "{path} is not as this format writes it (a member added, renamed or left out)"
            ),
        });
    }
    Ok(report)
}

/// Where `a` and `b` first differ, as a dotted path.
fn difference(a: &Value, b: &Value, path: String) -> Option<String> {
    let at = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => difference(p, q, at(k)),
                _ => Some(at(k)),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| difference(p, q, at(&i.to_string()))),
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            "the bundle".into()
        } else {
            path
        }),
    }
}

fn records(bundle: &EvidenceBundle, failures: &mut Findings) {
    let a = &bundle.approval;
    if bundle.records.is_empty() {
        failures.add("bundle", "has no audit records");
    }
    let mut prev_hash = GENESIS_HASH;
    for (i, r) in bundle.records.iter().enumerate() {
        let subject = format!("record {}", i + 1);
        if r.sequence != i as u64 + 1 {
            failures.add(
                &subject,
                format!("sequence is {}, expected {}", r.sequence, i + 1),
            );
        }
        if r.approval_id != a.id || r.tenant != a.tenant {
            failures.add(&subject, "is of another approval");
        }
        if r.payload_digest != r.payload.digest() {
            failures.add(&subject, "payload does not match its digest");
        }
        if r.hash != r.computed_hash() {
            failures.add(&subject, "hash does not match its content");
        }
        if r.prev_hash != prev_hash {
            failures.add(&subject, "prev_hash does not link to the record before");
        }
        prev_hash = &r.hash;
    }
}

fn state(bundle: &EvidenceBundle, failures: &mut Findings, warnings: &mut Findings) {
    let a = &bundle.approval;
    let Some(last) = bundle.records.last() else {
        return;
    };
    if a.audit_head != last.head() {
        failures.add(
            "approval",
            format!(
                "its head (sequence {}) is not the last record (sequence {})",
                a.audit_head.sequence, last.sequence
            ),
        );
    }
    if last.state_digest.is_empty() {
        warnings.add(
            "approval",
            "its last record predates states bound to records: the state is not checked",
        );
    } else if integrity::state_digest(a) != last.state_digest {
        let fields = integrity::state::differing(a, &last.state_fields);
        let named = if fields.is_empty() || a.seal.is_legacy() {
            String::new()
        } else {
            format!(" (fields: {})", fields.join(", "))
        };
        failures.add(
            "approval",
            format!(
                "state does not match the digest record {} signed{named}",
                last.sequence
            ),
        );
    }
}

fn checkpoints(bundle: &EvidenceBundle, keys: &Jwks, failures: &mut Findings) {
    for c in &bundle.checkpoints {
        let subject = format!("checkpoint {}", c.sequence);
        if c.tenant != bundle.approval.tenant {
            failures.add(&subject, format!("is of tenant {:?}", c.tenant));
        }
        for problem in c.problems(keys) {
            failures.add(&subject, problem);
        }
    }
    for (sequence, problem) in chain_problems(&bundle.checkpoints) {
        failures.add(format!("checkpoint {sequence}"), problem);
    }
}

/// The warning for a bundle with no checkpoint at all: worded to stand out, since then nothing
/// signed covers the records and anyone could have written them.
pub const NO_CHECKPOINT: &str = "NOT CHECKPOINTED: the bundle carries no checkpoint, so nothing \
     signed covers its records (anyone could have written them)";

/// Checks every head a checkpoint recorded for the approval against its records (the record at
/// that sequence must have that hash; a sequence past the records' end is a rollback), and,
/// when none recorded it, that the bundle shows none could have; the newest such checkpoint
/// and head.
fn coverage(
    bundle: &EvidenceBundle,
    failures: &mut Findings,
    warnings: &mut Findings,
) -> Option<Checkpointed> {
    let id = bundle.approval.id;
    let hashes: Vec<&str> = bundle.records.iter().map(|r| r.hash.as_str()).collect();
    let mut newest = None;
    for c in &bundle.checkpoints {
        let Some(h) = c.head_of(id) else { continue };
        match standing(&hashes, h) {
            Standing::Holds => {}
            Standing::Shorter => failures.add(
                "approval",
                format!(
                    "rollback: checkpoint {} recorded its head at sequence {} but its records end at {}",
                    c.sequence,
                    h.sequence,
                    hashes.len()
                ),
            ),
            Standing::Differs => failures.add(
                "approval",
                format!(
                    "rewritten: checkpoint {} recorded another hash for record {}",
                    c.sequence, h.sequence
                ),
            ),
        }
        newest = Some(Checkpointed {
            checkpoint: c.sequence,
            head: ChainHead {
                sequence: h.sequence,
                hash: h.hash.clone(),
            },
        });
    }
    match (&newest, bundle.checkpoints.first(), bundle.records.last()) {
        (Some(c), _, _) if c.head.sequence < hashes.len() as u64 => warnings.add(
            "approval",
            format!(
                "not yet checkpointed: records after sequence {} (checkpoint {}) are newer than any checkpoint",
                c.head.sequence, c.checkpoint
            ),
        ),
        (Some(_), _, _) | (None, _, None) => {}
        (None, None, Some(_)) => warnings.add("approval", NO_CHECKPOINT),
        // None records it: only proof that none could have leaves that unremarkable — the
        // tenant's chain from its start, or from a checkpoint written before the last record.
        (None, Some(first), Some(last)) if first.sequence == 1 || first.at < last.at => {
            warnings.add(
                "approval",
                "not yet checkpointed: no checkpoint in the bundle records it",
            )
        }
        (None, Some(_), Some(_)) => failures.add(
            "approval",
            "the bundle leaves out the checkpoints that would record this approval (its first \
             checkpoint is neither the tenant's first nor written before its last record)",
        ),
    }
    newest
}

fn unchecked(bundle: &EvidenceBundle) -> Vec<String> {
    let mut hmac_keys: Vec<&str> = bundle.records.iter().map(|r| r.key_id.as_str()).collect();
    hmac_keys.sort();
    hmac_keys.dedup();
    let mut out = vec![
        format!(
            "record signatures: HMAC-SHA256 under the service's secret keys ({}), not checkable offline",
            hmac_keys.join(", ")
        ),
        "the approval's seal: an HMAC under the same keys, not checkable offline".to_owned(),
    ];
    if let Some(c) = bundle.checkpoints.last() {
        out.push(format!(
            "checkpoints after checkpoint {}: compare it with the service's newest",
            c.sequence
        ));
    }
    out
}
