//! Deciding from Slack (issue 26), its self-contained core: agent text made safe for mrkdwn
//! ([`mrkdwn`]), the Block Kit messages ([`blocks`]), Slack's request signatures
//! ([`signature`]) and the signed button values ([`button`]). Nothing is wired to routes or
//! delivery yet.

pub mod blocks;
pub mod button;
#[cfg(test)]
mod hostile;
pub mod mrkdwn;
pub mod signature;
