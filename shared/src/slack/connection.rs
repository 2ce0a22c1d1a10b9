//! A tenant's Slack app: the bot token messages are sent with and the signing secret its
//! interaction requests are verified with. Locally kept beside the directory (`holdpoint slack
//! connect`); on AWS one Secrets Manager secret holds every tenant's. Neither secret is ever
//! shown by `Debug`, logged or answered.

use async_trait::async_trait;

use super::signature::SigningSecret;
use crate::directory::check_name;
use crate::store::StoreError;

#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "aws")]
pub mod secrets;

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

/// One connected tenant as `holdpoint slack status` shows it: no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub tenant: String,
    pub team_id: Option<String>,
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

/// A Slack workspace id as `auth.test` gives it: `T` (or `E`, an Enterprise Grid) and up to 20
/// capital letters and digits.
pub fn check_team(team: &str) -> Result<(), String> {
    let b = team.as_bytes();
    let ok = (2..=21).contains(&b.len())
        && matches!(b[0], b'T' | b'E')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!("{team:?} is not a Slack team id"))
    }
}

impl SlackConnection {
    /// A connection from its stored parts, each checked: the tenant's name, the token's shape, a
    /// signing secret that is not blank and the team id's shape. The error names the part,
    /// never a secret.
    pub fn from_parts(
        tenant: &str,
        team_id: Option<&str>,
        bot_token: &str,
        signing_secret: &str,
    ) -> Result<SlackConnection, String> {
        check_name("tenant", tenant)?;
        if let Some(team) = team_id {
            check_team(team)?;
        }
        let bot_token = BotToken::new(bot_token).ok_or(
            "the bot token is not a Slack token (xoxb-…, one line, at most 255 characters)",
        )?;
        let signing_secret =
            SigningSecret::new(signing_secret).ok_or("the signing secret is blank")?;
        Ok(SlackConnection {
            tenant: tenant.to_owned(),
            team_id: team_id.map(str::to_owned),
            bot_token,
            signing_secret,
        })
    }

    /// What may be shown of it: the tenant and its team, no secret.
    pub fn public(&self) -> serde_json::Value {
        serde_json::json!({"tenant": self.tenant, "team_id": self.team_id})
    }
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

    #[test]
    fn a_connection_is_checked_part_by_part_and_shows_no_secret() {
        let c =
            SlackConnection::from_parts("acme", Some("T0TEAM"), "xoxb-1-secrettoken", "s3cr3t\n")
                .unwrap();
        let shown = format!("{c:?} {}", c.public());
        assert!(
            shown.contains("T0TEAM") && shown.contains("acme"),
            "{shown}"
        );
        assert!(
            !shown.contains("secrettoken") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        for (tenant, team, token, secret) in [
            ("a/b", None, "xoxb-1", "s"),
            ("", None, "xoxb-1", "s"),
            ("acme", Some("t0team"), "xoxb-1", "s"),
            ("acme", Some("<!channel>"), "xoxb-1", "s"),
            ("acme", None, "xoxb-1 2", "s"),
            ("acme", None, "xoxb-1", " \n"),
        ] {
            let err = SlackConnection::from_parts(tenant, team, token, secret).unwrap_err();
            assert!(!err.contains("xoxb-1"), "{err}");
        }
    }
}
