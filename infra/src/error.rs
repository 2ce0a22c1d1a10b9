//! The one error of the `holdpoint` commands: the line printed and the exit code it ends with.
//! Every command returns it, so the exit codes are decided here and nowhere else.

use std::fmt;
use std::process::ExitCode;

use holdpoint::config::ConfigError;
use holdpoint::service::ServiceError;
use holdpoint::store::StoreError;
use holdpoint_core::invalid::Invalid;
use holdpoint_core::keys::KeyError;
use holdpoint_core::text::visible;

/// Exit codes of the commands (0 is done).
pub mod exit {
    /// Refused: the server refused (one line with the problem's code and detail), or a check
    /// found something broken, or a human stopped the demo agent.
    pub const REFUSED: u8 = 1;
    /// The command cannot run as given: its command line, settings or credentials are wrong, or
    /// what it opens is missing or unreadable.
    pub const USAGE: u8 = 2;
    /// The server cannot be reached (or answered something that is not Holdpoint).
    pub const UNREACHABLE: u8 = 3;
}

/// Why a command stopped, and its exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// A command that cannot run as given ([`exit::USAGE`]).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(exit::USAGE, message)
    }

    /// Says why on stderr and gives the exit code.
    pub fn exit(self) -> ExitCode {
        eprintln!("holdpoint: {}", self.message);
        ExitCode::from(self.code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// A failure a command words itself: it cannot run as given.
impl From<String> for CliError {
    fn from(message: String) -> CliError {
        CliError::usage(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> CliError {
        CliError::usage(message)
    }
}

/// The errors of what the local commands open (settings, store, keys, the service, files):
/// each cannot run as given, said in the error's own words.
macro_rules! cannot_run {
    ($($error:ty),*) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> CliError {
                CliError::usage(e.to_string())
            }
        }
    )*};
}

cannot_run!(
    ConfigError,
    StoreError,
    KeyError,
    ServiceError,
    Invalid,
    std::io::Error
);

/// What the server said, made safe to print (it may quote what an agent wrote), with the exit
/// code of its kind.
impl From<holdpoint_client::Error> for CliError {
    fn from(e: holdpoint_client::Error) -> CliError {
        use holdpoint_client::Error;
        let code = match &e {
            Error::Refused(_) => exit::REFUSED,
            Error::Unreachable(_) | Error::Unexpected(_) => exit::UNREACHABLE,
            Error::Credentials(_) | Error::Usage(_) => exit::USAGE,
        };
        CliError::new(code, visible(&e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_answer_is_printed_as_data_with_the_code_of_its_kind() {
        let e = CliError::from(holdpoint_client::Error::Unexpected(
            "ok\u{1b}[2Jgone".into(),
        ));
        assert_eq!(e.code, exit::UNREACHABLE);
        assert_eq!(e.message, "unexpected answer: ok\\u{1b}[2Jgone");
        let e = CliError::from(holdpoint_client::Error::Usage("a\nb\u{202e}c".into()));
        assert_eq!(
            (e.code, e.message.as_str()),
            (exit::USAGE, "a\\u{a}b\\u{202e}c")
        );
    }
}
