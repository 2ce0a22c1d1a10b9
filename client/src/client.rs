//! The client itself: a Holdpoint endpoint, the credentials that call it, and one method per
//! operation of the API (waiting and gating are in their own modules).

use std::time::Duration;

use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::{Approval, Verdict};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::CreateRequest as ApprovalRequest;
use holdpoint_core::domain::sweep::SweepReport;
use holdpoint_core::json::document::Document;
use holdpoint_core::retry::is_retryable_status;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::credentials::Credentials;
use crate::error::Error;
use crate::pacing::WaitPolicy;
use crate::ticket::Ticket;

mod insights;
pub(crate) mod policy;
mod transport;

/// How many times a create is sent before giving up (same `Idempotency-Key` each time).
const CREATE_ATTEMPTS: u32 = 4;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A Holdpoint endpoint and who is calling it.
#[derive(Debug, Clone)]
pub struct Client {
    base: reqwest::Url,
    http: reqwest::Client,
    credentials: Credentials,
    /// How [`Client::wait`] and a retried create space their requests.
    pub(crate) wait: WaitPolicy,
}

/// One page of `GET /v1/approvals`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Page {
    pub items: Vec<Approval>,
    pub next_cursor: Option<String>,
}

/// What `GET /v1/approvals?…` filters on.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub status: Option<String>,
    pub agent_id: Option<String>,
    pub reviewer: Option<String>,
    pub checkpoint_type: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// An approval's audit chain and whether it verifies (`GET /v1/approvals/{id}/audit`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AuditReport {
    /// Typed, so that payloads keep their numbers as written (a `Value` would re-spell them and
    /// fail on one outside f64's range).
    pub records: Vec<AuditRecord>,
    pub valid: bool,
    pub first_invalid_sequence: Option<u64>,
    pub reason: Option<String>,
}

/// A reviewer's decision (`POST /v1/approvals/{id}/decision`).
#[derive(Debug, Clone)]
pub struct Decision {
    pub verdict: Verdict,
    pub comment: Option<String>,
    /// With [`Verdict::Modified`]: what the agent should do instead.
    pub modified_output: Option<Document>,
}

impl Client {
    /// `base_url` is where Holdpoint answers (`http://127.0.0.1:8080`, or the API's URL).
    pub fn new(base_url: &str, credentials: Credentials) -> Result<Client, Error> {
        let mut base = reqwest::Url::parse(base_url)
            .map_err(|e| Error::Usage(format!("{base_url} is not a URL: {e}")))?;
        match base.scheme() {
            "https" => {}
            // Credentials in clear text only ever cross the loopback interface.
            "http" if is_loopback(&base) => {}
            "http" => {
                return Err(Error::Usage(format!(
                    "{base_url}: plain http only to this machine (127.0.0.1, ::1, localhost); \
                     credentials to another host need https"
                )));
            }
            _ => return Err(Error::Usage(format!("{base_url} is not an http(s) URL"))),
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("holdpoint-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Usage(e.to_string()))?;
        Ok(Client {
            base,
            http,
            credentials,
            wait: WaitPolicy::default(),
        })
    }

    /// How [`Client::wait`] polls (its floor is never below [`WaitPolicy::MIN_FLOOR`]).
    pub fn with_wait_policy(mut self, wait: WaitPolicy) -> Client {
        self.wait = wait;
        self
    }

    /// Asks for approval. The request carries an `Idempotency-Key` made here; a create whose
    /// answer was lost (connection dropped, 5xx, 429) is sent again with the same key, so the
    /// server answers the approval it already made instead of making a second one.
    pub async fn request_approval(&self, request: &ApprovalRequest) -> Result<Ticket, Error> {
        self.request_approval_with_key(request, &Uuid::new_v4().to_string())
            .await
    }

    /// As [`Client::request_approval`] with the caller's own key (for an agent that must survive
    /// its own restart: the same key after a restart finds the same approval).
    pub async fn request_approval_with_key(
        &self,
        request: &ApprovalRequest,
        idempotency_key: &str,
    ) -> Result<Ticket, Error> {
        let body = serde_json::to_vec(request).map_err(|e| Error::Usage(e.to_string()))?;
        let mut backoff = self.wait.backoff();
        let mut attempt = 1;
        loop {
            let sent = self
                .send(
                    Method::POST,
                    "v1/approvals",
                    Some(body.clone()),
                    Some(idempotency_key),
                )
                .await;
            let retry = match &sent {
                Err(Error::Unreachable(_)) => Some(None),
                Err(Error::Refused(p)) if is_retryable_status(p.status) => Some(p.retry_after),
                _ => None,
            };
            match retry {
                Some(after) if attempt < CREATE_ATTEMPTS => {
                    tokio::time::sleep(backoff.next(after)).await;
                    attempt += 1;
                }
                _ => {
                    let approval = parse(sent?)?;
                    return Ok(Ticket {
                        approval,
                        request: request.clone(),
                    });
                }
            }
        }
    }

    /// Who these credentials are: tenant, principal and roles.
    pub async fn me(&self) -> Result<Principal, Error> {
        parse(self.send(Method::GET, "v1/me", None, None).await?)
    }

    pub async fn get(&self, id: Uuid) -> Result<Approval, Error> {
        parse(
            self.send(Method::GET, &format!("v1/approvals/{id}"), None, None)
                .await?,
        )
    }

    pub async fn list(&self, query: &ListQuery) -> Result<Page, Error> {
        let mut url = self
            .base
            .join("v1/approvals")
            .map_err(|e| Error::Usage(e.to_string()))?;
        let limit = query.limit.map(|l| l.to_string());
        let pairs = [
            ("status", query.status.as_deref()),
            ("agent_id", query.agent_id.as_deref()),
            ("reviewer", query.reviewer.as_deref()),
            ("checkpoint_type", query.checkpoint_type.as_deref()),
            ("limit", limit.as_deref()),
            ("cursor", query.cursor.as_deref()),
        ];
        url.query_pairs_mut()
            .extend_pairs(pairs.iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        parse(self.send(Method::GET, url.as_str(), None, None).await?)
    }

    pub async fn audit(&self, id: Uuid) -> Result<AuditReport, Error> {
        parse(
            self.send(Method::GET, &format!("v1/approvals/{id}/audit"), None, None)
                .await?,
        )
    }

    /// Decides as a reviewer.
    pub async fn decide(&self, id: Uuid, decision: Decision) -> Result<Approval, Error> {
        /// Written from its parts so that the edits keep their numbers as written.
        #[derive(serde::Serialize)]
        struct Body<'a> {
            decision: &'a str,
            comment: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            modified_output: Option<Document>,
        }
        let body = Body {
            decision: decision.verdict.as_str(),
            comment: decision.comment,
            modified_output: decision.modified_output,
        };
        self.post(&format!("v1/approvals/{id}/decision"), &body)
            .await
    }

    /// Moves a pending approval's deadline `seconds` later (its reviewers and admins; never past
    /// its latest expiry).
    pub async fn extend(
        &self,
        id: Uuid,
        seconds: u32,
        reason: Option<&str>,
    ) -> Result<Approval, Error> {
        self.post(
            &format!("v1/approvals/{id}/extend"),
            &json!({"seconds": seconds, "reason": reason}),
        )
        .await
    }

    /// Withdraws a pending request (the requester only).
    pub async fn cancel(&self, id: Uuid, reason: Option<&str>) -> Result<Approval, Error> {
        self.post(
            &format!("v1/approvals/{id}/cancel"),
            &json!({"reason": reason}),
        )
        .await
    }

    /// Marks an approved request executed, sending the context hash computed from what the
    /// ticket's request sent (and the reviewer's edits, when it was modified): the server
    /// refuses (`context_mismatch`) if that is not what was approved.
    pub async fn execute(
        &self,
        ticket: &Ticket,
        edited: Option<&Document>,
    ) -> Result<Approval, Error> {
        let hash = ticket.request.context_hash(edited);
        self.execute_with_hash(ticket.id(), &hash).await
    }

    /// Marks approval `id` executed, proving what ran by `context_hash` (see
    /// [`Approval::bound_hash`]; the server refuses one that is not what was approved).
    pub async fn execute_with_hash(&self, id: Uuid, context_hash: &str) -> Result<Approval, Error> {
        self.post(
            &format!("v1/approvals/{id}/execute"),
            &json!({"context_hash": context_hash}),
        )
        .await
    }

    /// Runs the expiry and escalation sweep now (principals holding the role `admin`).
    pub async fn sweep(&self) -> Result<SweepReport, Error> {
        let body = self
            .send(Method::POST, "v1/escalations/sweep", None, None)
            .await?;
        let v: Value = parse(body)?;
        let count = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
        Ok(SweepReport {
            expired: count("expired"),
            escalated: count("escalated"),
            lapsed: count("lapsed"),
            reminded: count("reminded"),
            republished: count("republished"),
            skipped: count("skipped"),
            failed: count("failed"),
            unfinished: v["unfinished"].as_bool().unwrap_or(false),
        })
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Usage(e.to_string()))?;
        parse(self.send(Method::POST, path, Some(bytes), None).await?)
    }

    /// One JSON request: its answer's body when 2xx, the server's problem otherwise.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        let body = body.map(|b| (b, "application/json"));
        let header = idempotency_key.map(|k| ("idempotency-key", k));
        self.send_as(method, path, body, header).await
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn parse<T: DeserializeOwned>(body: Vec<u8>) -> Result<T, Error> {
    serde_json::from_slice(&body).map_err(|e| Error::Unexpected(e.to_string()))
}

/// The error and its causes on one line (reqwest's own message stops at the outermost).
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Problem;

    #[test]
    fn credentials_cross_the_network_only_over_https() {
        let key = || Credentials::api_key("k");
        for ok in [
            "https://approvals.example.com",
            "http://127.0.0.1:8004",
            "http://[::1]:8004/",
            "http://localhost:8004",
        ] {
            assert!(Client::new(ok, key()).is_ok(), "{ok}");
        }
        for refused in [
            "http://approvals.example.com",
            "http://10.0.0.7:8004",
            "ftp://x",
            "nope",
        ] {
            assert!(
                matches!(Client::new(refused, key()), Err(Error::Usage(_))),
                "{refused}"
            );
        }
    }

    /// A one-answer HTTP server on the loopback interface: answers every connection with
    /// `answer`, and gives its base URL.
    async fn answering(answer: String) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = conn.read(&mut request).await;
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    async fn refusal_with_retry_after(value: &str) -> Problem {
        let body = r#"{"code":"unavailable","detail":"busy"}"#;
        let url = answering(format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
             retry-after: {value}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ))
        .await;
        let client = Client::new(&url, Credentials::api_key("k")).unwrap();
        match client.get(Uuid::nil()).await {
            Err(Error::Refused(p)) => p,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn retry_after_is_read_as_seconds_or_an_http_date() {
        let p = refusal_with_retry_after("7").await;
        assert_eq!(
            (p.status, p.retry_after),
            (503, Some(Duration::from_secs(7)))
        );

        let at = chrono::Utc::now() + chrono::TimeDelta::seconds(30);
        let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let asked = refusal_with_retry_after(&date).await.retry_after.unwrap();
        // The date is whole seconds and some time passed since: a little under 30 s.
        assert!(
            (Duration::from_secs(28)..=Duration::from_secs(30)).contains(&asked),
            "{date}: {asked:?}"
        );

        let past = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(refusal_with_retry_after(past).await.retry_after, None);
    }
}
