//! What one run of the sweep did, as the escalate function, the local server and the client
//! report it.

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepReport {
    pub expired: usize,
    pub escalated: usize,
    /// Approved approvals whose execution window closed unexecuted (absent in older reports).
    #[serde(default)]
    pub lapsed: usize,
    /// Pending approvals whose reviewers were reminded (absent in older reports).
    #[serde(default)]
    pub reminded: usize,
    /// Approvals whose unpublished events were published by this sweep.
    pub republished: usize,
    /// Due approvals another writer changed first; the next sweep sees them again if still due.
    pub skipped: usize,
    /// Due approvals that could not change (logged each); the next sweep tries again.
    pub failed: usize,
    /// Stopped at its deadline with approvals perhaps still due: the next sweep goes on.
    pub unfinished: bool,
}
