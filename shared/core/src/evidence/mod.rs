//! Evidence bundles: one approval with everything needed to check it offline, with no service,
//! store or secret — its stored state, its audit records, and the signed checkpoints that cover
//! its head up to the tenant's newest (format and algorithm in `docs/audit-evidence.md`).
//!
//! Here rather than in [`crate::audit`] because a bundle holds an [`Approval`] and checks its
//! state digest ([`crate::domain::integrity`]), and the domain already builds on the audit trail.

mod bundle;
mod verify;

pub use bundle::{
    BUNDLE_FORMAT, BUNDLE_VERSION, EvidenceBundle, checkpoints_for, checkpoints_for_chain,
};
pub use verify::{
    Checkpointed, Finding, MAX_BUNDLE_NESTING, NO_CHECKPOINT, NewestCheckpoint, Report,
    verify_bundle, verify_bundle_text,
};

#[cfg(test)]
mod tests;
