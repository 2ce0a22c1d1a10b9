//! Bundles an attacker with the store (or with a bundle and no key) makes: a chain rewritten
//! after a checkpoint recorded it, and a rewritten decision whose bundle drops the checkpoints
//! that recorded the genuine one.

use super::*;

/// The story's approval rejected instead (by a restore from before the decision and a second
/// decision, or by a forger recomputing every hash) at `t(200)`, and its records.
pub(super) struct Rewritten {
    pub approval: Approval,
    pub records: Vec<AuditRecord>,
}

pub(super) fn rewritten(s: &Story) -> Rewritten {
    let alice = who("alice");
    let decide = Command::Decide {
        by: &alice,
        verdict: Verdict::Rejected,
        comment: Some("FORGED: rejected".into()),
        modified_output: None,
    };
    let Ok(Outcome::Changed(next, r)) = lifecycle::apply(&s.created, decide, t(200)) else {
        panic!("alice rejects");
    };
    let (approval, r2) = sealed(*next, *r);
    assert_ne!(r2.hash, s.records[1].hash);
    Rewritten {
        approval,
        records: vec![s.records[0].clone(), r2],
    }
}

/// Checkpoint 3 after the story's, at `t(240)`.
pub(super) fn third(s: &Story, heads: Vec<CheckpointHead>) -> Vec<Checkpoint> {
    let three = checkpoint(s.checkpoints.get(1), t(240), heads, &key_b());
    let mut all = s.checkpoints.clone();
    all.push(three);
    all
}

fn other_head() -> CheckpointHead {
    CheckpointHead {
        approval_id: OTHER,
        sequence: 2,
        hash: "ef".repeat(32),
    }
}

/// Rewritten after checkpoint 2 recorded the decision, then recorded by checkpoint 3: a bundle
/// from the checkpoint recording its current head alone would verify.
pub(super) fn rewritten_after_checkpoint() -> EvidenceBundle {
    let s = story();
    let w = rewritten(&s);
    let all = third(
        &s,
        vec![CheckpointHead::of(APPROVAL, &w.approval.audit_head)],
    );
    EvidenceBundle::new(
        w.approval,
        w.records.clone(),
        checkpoints_for_chain(&all, APPROVAL, &w.records).to_vec(),
    )
}

/// The decision rewritten, hashes recomputed; of the tenant's checkpoints only the newest
/// (genuine, signed, recording another approval) kept.
pub(super) fn forged_dropping_checkpoints() -> EvidenceBundle {
    let s = story();
    let w = rewritten(&s);
    let all = third(&s, vec![other_head()]);
    EvidenceBundle::new(w.approval, w.records, all[2..].to_vec())
}

#[test]
fn a_chain_rewritten_after_a_checkpoint_recorded_it_is_bundled_with_that_checkpoint() {
    let keys = jwks(&[key_a(), key_b()]);
    let bundle = rewritten_after_checkpoint();
    let sequences: Vec<u64> = bundle.checkpoints.iter().map(|c| c.sequence).collect();
    assert_eq!(
        sequences,
        [1, 2, 3],
        "from the first that recorded it at all"
    );
    fails_with(
        &bundle,
        &keys,
        "approval: rewritten: checkpoint 2 recorded another hash for record 2",
    );
    // What it is caught by: from the checkpoint recording its current head alone, it verifies.
    let mut newest_only = bundle.clone();
    newest_only.checkpoints.drain(..2);
    assert!(verify_bundle(&newest_only, &keys).ok());
    // A head recorded past the records' end is a rollback, whichever checkpoint recorded it.
    let mut cut = bundle.clone();
    cut.records.truncate(1);
    cut.approval = story().created;
    fails_with(
        &cut,
        &keys,
        "approval: rollback: checkpoint 2 recorded its head at sequence 2 but its records end at 1",
    );
}

#[test]
fn a_bundle_that_drops_the_checkpoints_recording_its_approval_fails() {
    let keys = jwks(&[key_a(), key_b()]);
    let leaves_out =
        "approval: the bundle leaves out the checkpoints that would record this approval";
    fails_with(&forged_dropping_checkpoints(), &keys, leaves_out);
    // Written at the very moment of the last record is not before it.
    let s = story();
    let w = rewritten(&s);
    let mut at_once = third(&s, vec![other_head()]);
    at_once[2] = checkpoint(Some(&at_once[1]), t(200), vec![other_head()], &key_b());
    let bundle = EvidenceBundle::new(w.approval.clone(), w.records.clone(), at_once[2..].to_vec());
    fails_with(&bundle, &keys, leaves_out);
}

#[test]
fn an_approval_no_checkpoint_recorded_is_bundled_to_show_none_could_have() {
    let keys = jwks(&[key_a(), key_b()]);
    let s = story();
    let w = rewritten(&s);
    // As if only checkpoint 3 were about, after checkpoint 2 (t180) and the last record (t200).
    let mut all = third(&s, vec![other_head()]);
    for c in &mut all[..2] {
        c.heads.retain(|h| h.approval_id != APPROVAL);
    }
    let resigned = resign(&all);
    let chosen = checkpoints_for_chain(&resigned, APPROVAL, &w.records);
    assert_eq!(
        chosen[0].sequence, 2,
        "the last written before its last record"
    );
    let bundle = EvidenceBundle::new(w.approval.clone(), w.records.clone(), chosen.to_vec());
    let report = verify_bundle(&bundle, &keys);
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(
        report.warnings[0].problem,
        "not yet checkpointed: no checkpoint in the bundle records it"
    );
    // The tenant's chain from its first checkpoint shows it as well, however late that is.
    let late = vec![checkpoint(None, t(900), vec![other_head()], &key_a())];
    let from_first = EvidenceBundle::new(w.approval.clone(), w.records.clone(), late);
    assert!(verify_bundle(&from_first, &keys).ok());
    // No checkpoint at all: nothing signed covers it, which the warning says loudly.
    let none = EvidenceBundle::new(w.approval, w.records, Vec::new());
    let report = verify_bundle(&none, &keys);
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.warnings[0].problem, NO_CHECKPOINT);
}

/// `checkpoints` with their hashes, links and signatures made again after an edit.
fn resign(checkpoints: &[Checkpoint]) -> Vec<Checkpoint> {
    let mut out: Vec<Checkpoint> = Vec::new();
    for c in checkpoints {
        let signer = if c.sequence == 1 { key_a() } else { key_b() };
        let next = checkpoint(out.last(), c.at, c.heads.clone(), &signer);
        out.push(next);
    }
    out
}
