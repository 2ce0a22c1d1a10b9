//! Size limits, chosen so that an approval item stays far below DynamoDB's 400 KB, and the
//! bounds of an approval's lifetime.

/// Largest request body accepted by create and decide, in bytes (413 above it).
pub const BODY_BYTES: usize = 128 * 1024;
/// Largest body of cancel, execute and verify, in bytes (413 above it).
pub const SMALL_BODY_BYTES: usize = 64 * 1024;
/// Largest review form, in bytes (413 above it; read before the link is checked).
pub const FORM_BYTES: usize = 64 * 1024;
/// Largest Slack interaction, in bytes (413 above it): the largest any request may send. A
/// click's payload repeats the whole message clicked, and Slack may write each non-ASCII
/// character of an agent's text as a `\uXXXX` escape (12 bytes for an emoji), so a message well
/// within Slack's limits can come back as more than a review form's 64 KiB.
pub const SLACK_BODY_BYTES: usize = BODY_BYTES;
/// Largest `context`, `state_snapshot`, `tool_call` or `modified_output`, as JSON bytes.
pub const DOCUMENT_BYTES: usize = 64 * 1024;
pub const ACTION_CHARS: usize = 1_000;
pub const TEXT_CHARS: usize = 4_000;
/// The longest identifier: agent id, checkpoint type, execution and session ids, tool name
/// (names of principals follow [`crate::domain::identity::check_principal_name`]).
pub const NAME_CHARS: usize = 200;
pub const REVIEWERS: usize = 50;
pub const ESCALATION_LEVELS: usize = 5;
/// Largest quorum when the reviewers name a role (whose size Holdpoint cannot know).
pub const QUORUM: u32 = 20;

/// The longest execution window (`execute_within_seconds`): 30 days.
pub const EXECUTE_WITHIN_SECONDS: u32 = 2_592_000;

/// Bounds on `expires_in_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryBounds {
    pub default_seconds: u32,
    pub min_seconds: u32,
    pub max_seconds: u32,
    /// When reviewers are reminded where the tenant's policy does not say (`HOLDPOINT_REMIND_AT`).
    pub remind_at: crate::domain::reminder::RemindAt,
}

impl Default for ExpiryBounds {
    fn default() -> Self {
        ExpiryBounds {
            default_seconds: 3_600,
            min_seconds: 60,
            max_seconds: 2_592_000,
            remind_at: Default::default(),
        }
    }
}
