//! A tenant's Slack app: the bot token messages are sent with and the signing secret its
//! interaction requests are verified with. Locally kept beside the directory (`holdpoint slack
//! connect`); on AWS one Secrets Manager secret holds every tenant's. Neither secret is ever
//! shown by `Debug`, logged or answered.

use async_trait::async_trait;

use super::signature::SigningSecret;
use crate::store::StoreError;

/// A Slack bot token (`xoxb-…`). Never shown by `Debug`.
#[derive(Clone)]
pub struct BotToken(String);

/// The longest token taken (Slack's are far shorter).
pub const MAX_TOKEN_LEN: usize = 255;

impl BotToken {
    /// The token as Slack shows it, without surrounding white space; `None` unless it is one of
    /// Slack's token kinds, bounded and without inner white space.
    pub fn new(token: &str) -> Option<BotToken> {
        let token = token.trim();
        let kind = ["xoxb-", "xoxe-", "xoxp-"]
            .iter()
            .any(|p| token.starts_with(p));
        let plain = token.bytes().all(|b| b.is_ascii_graphic());
        (kind && plain && token.len() <= MAX_TOKEN_LEN).then(|| BotToken(token.to_owned()))
    }

    /// The token itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotToken(..)")
    }
}

/// One tenant's Slack app.
#[derive(Clone, Debug)]
pub struct SlackConnection {
    pub tenant: String,
    /// The workspace the app is installed in (`auth.test`'s `team_id`): a click from any
    /// other team decides nothing. `None` when it was not learned.
    pub team_id: Option<String>,
    pub bot_token: BotToken,
    pub signing_secret: SigningSecret,
}

/// Where tenants' Slack apps are found.
#[async_trait]
pub trait SlackConnections: Send + Sync + 'static {
    /// `tenant`'s app, if it connected one.
    async fn get(&self, tenant: &str) -> Result<Option<SlackConnection>, StoreError>;
}

/// A fixed set of connections, for tests.
pub struct StaticSlack(pub Vec<SlackConnection>);

#[async_trait]
impl SlackConnections for StaticSlack {
    async fn get(&self, tenant: &str) -> Result<Option<SlackConnection>, StoreError> {
        Ok(self.0.iter().find(|c| c.tenant == tenant).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_slack_shaped_and_never_shown() {
        let t = BotToken::new("xoxb-123-456-abc\n").unwrap();
        assert_eq!(t.expose(), "xoxb-123-456-abc");
        assert_eq!(format!("{t:?}"), "BotToken(..)");
        for bad in [
            "",
            "abc",
            "xoxb-a b",
            "Bearer xoxb-1",
            &format!("xoxb-{}", "a".repeat(300)),
        ] {
            assert!(BotToken::new(bad).is_none(), "{bad:?}");
        }
    }
}
