//! The commands that talk to a running Holdpoint over HTTP (the reviewer CLI, the MCP server, the
//! demo agent): where it is, who is calling, and how their failures become exit codes.

use std::process::ExitCode;

use clap::Args;
use holdpoint::config;
use holdpoint_client::{Client, Credentials, Error};

/// Where Holdpoint answers and who is calling (flags over the variables `config::URL` and
/// `config::API_KEY`).
#[derive(Args, Clone, Debug)]
pub struct Remote {
    /// Holdpoint's URL.
    #[arg(long, global = true, env = config::URL, default_value = "http://127.0.0.1:8004")]
    pub url: String,
    /// An API key (the local server prints its development keys when it creates them).
    #[arg(long, global = true, env = config::API_KEY, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Sign requests with SigV4 from the AWS credentials chain (the IAM-authorised API on AWS)
    /// instead of an API key.
    #[arg(long, global = true, conflicts_with = "api_key")]
    pub aws: bool,
}

/// Exit codes of the commands that talk to a server.
pub mod exit {
    /// The server refused (one line with the problem's code and detail).
    pub const REFUSED: u8 = 1;
    /// The command line or the credentials are wrong.
    pub const USAGE: u8 = 2;
    /// The server cannot be reached (or answered something that is not Holdpoint).
    pub const UNREACHABLE: u8 = 3;
}

impl Remote {
    pub async fn client(&self) -> Result<Client, Failure> {
        let credentials = if self.aws {
            Credentials::aws().await?
        } else {
            match &self.api_key {
                Some(k) if !k.is_empty() => Credentials::api_key(k),
                _ => {
                    return Err(Failure::usage(
                        "no credentials: set HOLDPOINT_API_KEY (or --api-key), or use --aws",
                    ));
                }
            }
        };
        Ok(Client::new(&self.url, credentials)?)
    }
}

/// Why a remote command stopped, and its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    pub fn exit(self) -> ExitCode {
        eprintln!("holdpoint: {}", self.message);
        ExitCode::from(self.code)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let code = match &e {
            Error::Refused(_) => exit::REFUSED,
            Error::Unreachable(_) | Error::Unexpected(_) => exit::UNREACHABLE,
            Error::Credentials(_) | Error::Usage(_) => exit::USAGE,
        };
        Failure {
            code,
            message: plain(&e.to_string()),
        }
    }
}

/// `text` safe to print on a terminal: control characters (escape sequences among them) and
/// the bidirectional overrides that could disguise it are shown as `\u{…}` escapes, so what an
/// agent wrote is shown as data and never drives the terminal.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if hidden {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn escape_sequences_and_bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(plain("ok\u{1b}[2Jgone"), "ok\\u{1b}[2Jgone");
        assert_eq!(plain("a\nb\u{202e}c"), "a\\u{a}b\\u{202e}c");
        assert_eq!(
            plain("Drop table «users» — 100 %"),
            "Drop table «users» — 100 %"
        );
    }
}
