//! Sending one delivery once: a signed POST (webhooks, callbacks), a mail (SMTP locally, Amazon
//! SES v2 on AWS) or a Slack message ([`super::slack`]), and what the answer means for a retry. Never logs a message: it may hold a
//! review link.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use holdpoint_core::retry::{is_retryable_status, retry_after};
use lettre::AsyncTransport;

use super::target::{self, Unreachable};
use super::{Channel, Delivery, Message, Outcome};
use crate::directory::Directory;
use crate::slack::Slack;

/// How long one HTTP attempt may take, connection included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one attempt may take, the directory read and the name lookup included: a receiver
/// that never answers holds its slot no longer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(12);

/// How mail leaves.
pub enum Mailer {
    Smtp {
        transport: Box<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>,
        from: lettre::message::Mailbox,
    },
    Ses {
        client: aws_sdk_sesv2::Client,
        from: String,
    },
}

impl Mailer {
    /// SMTP at `url` (`smtp://host:port`, `smtps://…`, or with `?tls=required`), from `from`.
    pub fn smtp(url: &str, from: &str) -> Result<Mailer, String> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| format!("the SMTP URL is not valid: {e}"))?
            .timeout(Some(HTTP_TIMEOUT))
            .build()
            .into();
        let from = from
            .parse()
            .map_err(|e| format!("{from:?} is not a mail address: {e}"))?;
        Ok(Mailer::Smtp { transport, from })
    }
}

/// Name resolution for the delivery client: a name with any address that is not public is not
/// resolved at all (unless allowed), so the address a connection goes to is one that was
/// checked, whatever the name answered a moment before.
struct PublicOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addrs.iter().any(|a| !target::is_public(a.ip())) {
                return Err(format!("{host} resolves to an address that is not public").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Sends deliveries: finds the recipient's secret in the directory, checks the target again,
/// sends, and tells what came of it.
pub struct Courier {
    directory: Arc<dyn Directory>,
    mailer: Option<Mailer>,
    allow_private: bool,
    /// One client for every webhook: connections and TLS sessions are reused.
    http: reqwest::Client,
    /// The tenants' Slack apps and Slack's API (`None`: Slack is not set up here).
    slack: Option<Arc<Slack>>,
}

impl Courier {
    pub fn new(
        directory: Arc<dyn Directory>,
        mailer: Option<Mailer>,
        allow_private: bool,
        slack: Option<Arc<Slack>>,
    ) -> Result<Courier, String> {
        // No proxy and no redirect: to the checked address of the URL given, and nowhere else.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(HTTP_TIMEOUT)
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .user_agent("Holdpoint-Webhooks/1")
            .build()
            .map_err(|e| format!("no HTTP client: {e}"))?;
        Ok(Courier {
            directory,
            mailer,
            allow_private,
            http,
            slack,
        })
    }

    /// Whether Slack messages can be sent at all (Slack is configured).
    pub fn has_slack(&self) -> bool {
        self.slack.is_some()
    }

    /// One attempt at `d`, at `now`.
    pub async fn attempt(&self, d: &Delivery, now: DateTime<Utc>) -> Outcome {
        match (d.channel, &d.message) {
            (
                Channel::Email,
                Some(Message::Email {
                    subject,
                    text,
                    html,
                }),
            ) => self.mail(d, subject, text, html).await,
            (Channel::Webhook | Channel::Callback, Some(Message::Webhook { body })) => {
                self.post(d, body, now).await
            }
            (Channel::Slack, Some(m @ (Message::Slack { .. } | Message::SlackUpdate { .. }))) => {
                super::slack::send(self.slack.as_deref(), d, m).await
            }
            _ => Outcome::Final {
                error: "nothing to send".into(),
                status: None,
            },
        }
    }

    async fn post(&self, d: &Delivery, body: &str, now: DateTime<Utc>) -> Outcome {
        let fail = |error: String| Outcome::Final {
            error,
            status: None,
        };
        let retry = |error: String| Outcome::Retry {
            error,
            status: None,
            retry_after: None,
        };
        let secret = match self.directory.get(&d.tenant, &d.recipient).await {
            Ok(Some(entry)) => entry.webhook_secret,
            Ok(None) => return fail(format!("{} is no longer in the directory", d.recipient)),
            Err(e) => return retry(format!("the directory could not be read: {e}")),
        };
        let Some(secret) = secret else {
            return fail(format!(
                "{} has no webhook secret (holdpoint principals rotate-key gives one)",
                d.recipient
            ));
        };
        let url = match target::check_url(&d.target, self.allow_private) {
            Ok(u) => u,
            Err(e) => return fail(format!("refused target: {e}")),
        };
        // Checked here to tell a refused target (final) from a name that does not resolve now
        // (retried); the client's resolver checks again what it connects to.
        match target::resolve(&url, self.allow_private).await {
            Ok(_) => {}
            Err(Unreachable::Refused(e)) => return fail(format!("refused target: {e}")),
            Err(Unreachable::Lookup(e)) => return retry(e),
        }
        let signer = match standardwebhooks::Webhook::new(&secret) {
            Ok(s) => s,
            Err(e) => return fail(format!("the webhook secret is not valid: {e}")),
        };
        let timestamp = now.timestamp();
        let signature = match signer.sign(&d.id, timestamp, body.as_bytes()) {
            Ok(s) => s,
            Err(e) => return fail(format!("could not sign: {e}")),
        };
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &d.id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body.to_owned())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "the request failed"
                };
                return retry(format!("{what}: {}", redact(&e.to_string())));
            }
        };
        let status = response.status();
        let code = Some(status.as_u16());
        if status.is_success() {
            return Outcome::Delivered {
                status: code,
                receipt: None,
            };
        }
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, now));
        if is_retryable_status(status.as_u16()) {
            Outcome::Retry {
                error: format!("answered {status}"),
                status: code,
                retry_after,
            }
        } else {
            Outcome::Final {
                error: format!("answered {status}"),
                status: code,
            }
        }
    }

    async fn mail(&self, d: &Delivery, subject: &str, text: &str, html: &str) -> Outcome {
        let Some(mailer) = &self.mailer else {
            return Outcome::Final {
                error: format!(
                    "no mail transport is configured ({} locally, {} on AWS)",
                    crate::config::SMTP_URL,
                    crate::config::EMAIL_FROM
                ),
                status: None,
            };
        };
        match mailer {
            Mailer::Smtp { transport, from } => {
                let to: lettre::message::Mailbox = match d.target.parse() {
                    Ok(t) => t,
                    Err(e) => {
                        return Outcome::Final {
                            error: format!("not a mail address: {e}"),
                            status: None,
                        };
                    }
                };
                let message = lettre::Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .message_id(Some(format!("<{}@holdpoint>", message_id(&d.id))))
                    .multipart(lettre::message::MultiPart::alternative_plain_html(
                        text.to_owned(),
                        html.to_owned(),
                    ));
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        return Outcome::Final {
                            error: format!("the mail could not be built: {e}"),
                            status: None,
                        };
                    }
                };
                match transport.send(message).await {
                    Ok(_) => Outcome::Delivered {
                        status: None,
                        receipt: None,
                    },
                    Err(e) if e.is_permanent() => Outcome::Final {
                        error: format!("the mail server refused: {e}"),
                        status: None,
                    },
                    Err(e) => Outcome::Retry {
                        error: format!("the mail server is unavailable: {e}"),
                        status: None,
                        retry_after: None,
                    },
                }
            }
            Mailer::Ses { client, from } => ses(client, from, &d.target, subject, text, html).await,
        }
    }
}

async fn ses(
    client: &aws_sdk_sesv2::Client,
    from: &str,
    to: &str,
    subject: &str,
    text: &str,
    html: &str,
) -> Outcome {
    use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent};
    let content = |data: &str| Content::builder().data(data).charset("UTF-8").build();
    let built = (|| {
        Ok::<_, aws_sdk_sesv2::error::BuildError>(
            EmailContent::builder()
                .simple(
                    aws_sdk_sesv2::types::Message::builder()
                        .subject(content(subject)?)
                        .body(
                            Body::builder()
                                .text(content(text)?)
                                .html(content(html)?)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
    })();
    let email = match built {
        Ok(e) => e,
        Err(e) => {
            return Outcome::Final {
                error: format!("the mail could not be built: {e}"),
                status: None,
            };
        }
    };
    let sent = client
        .send_email()
        .from_email_address(from)
        .destination(Destination::builder().to_addresses(to).build())
        .content(email)
        .send()
        .await;
    match sent {
        Ok(_) => Outcome::Delivered {
            status: None,
            receipt: None,
        },
        Err(SdkError::ServiceError(e)) => {
            let code = e.err().code().unwrap_or("unknown").to_owned();
            let status = e.raw().status().as_u16();
            let error = format!("SES refused: {code}");
            if matches!(
                code.as_str(),
                "TooManyRequestsException" | "LimitExceededException" | "InternalFailure"
            ) || is_retryable_status(status)
            {
                Outcome::Retry {
                    error,
                    status: None,
                    retry_after: None,
                }
            } else {
                Outcome::Final {
                    error,
                    status: None,
                }
            }
        }
        Err(e) => Outcome::Retry {
            error: format!(
                "SES unreachable: {}",
                aws_sdk_sesv2::error::DisplayErrorContext(&e)
            ),
            status: None,
            retry_after: None,
        },
    }
}

/// A delivery id as the local part of a Message-ID.
fn message_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// An HTTP client error without the URL it names (a URL may carry a token in its query).
fn redact(error: &str) -> String {
    match error.find(" for url (") {
        Some(i) => error[..i].to_owned(),
        None => error.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_lose_their_url() {
        assert_eq!(
            redact("error sending request for url (https://x/review?token=abc)"),
            "error sending request"
        );
    }
}
