//! A service with everything sign-in needs, on the embedded stores: the directory, the delivery
//! log (where the sign-in messages are read back from, as a reviewer's mailbox), events under
//! a public base URL, sessions, and a clock the tests move.

#![allow(dead_code)]

use std::sync::Arc;

use holdpoint::conformance::ManualClock;
use holdpoint::delivery::embedded::EmbeddedDeliveries;
use holdpoint::delivery::{DeliveryLog, Message};
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry};
use holdpoint::events::JsonLinesSink;
use holdpoint::service::Service;
use holdpoint::sessions::embedded::EmbeddedSessions;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::identity::PrincipalKind;
use holdpoint_core::domain::request::ExpiryBounds;

pub const BASE: &str = "https://holdpoint.example";

pub struct World {
    pub service: Service,
    pub directory: Arc<dyn Directory>,
    pub log: Arc<dyn DeliveryLog>,
    pub clock: ManualClock,
}

pub fn entry(tenant: &str, name: &str) -> Entry {
    Entry {
        tenant: tenant.into(),
        name: name.into(),
        roles: vec!["sre".into()],
        kind: PrincipalKind::Human,
        email: Some(format!("{name}@example.com")),
        webhook: None,
        iam_arns: Vec::new(),
        key_hash: None,
        slack: None,
        webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        instance: None,
    }
}

/// acme/ann (mail), acme/wes (webhook only), acme/bot (an agent with mail), acme/mute (no
/// channel), globex/ann (mail).
pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap().keep();
    let clock = ManualClock::default();
    let directory: Arc<dyn Directory> = Arc::new(EmbeddedDirectory::open(&dir).unwrap());
    let log: Arc<dyn DeliveryLog> = Arc::new(EmbeddedDeliveries::open(&dir).unwrap());
    let wes = Entry {
        email: None,
        webhook: Some("https://hooks.example/wes".into()),
        ..entry("acme", "wes")
    };
    let bot = Entry {
        kind: PrincipalKind::Agent,
        ..entry("acme", "bot")
    };
    let mute = Entry {
        email: None,
        ..entry("acme", "mute")
    };
    for e in [entry("acme", "ann"), wes, bot, mute, entry("globex", "ann")] {
        directory.put(&e, true).await.unwrap();
    }
    let service = Service::new(
        Arc::new(EmbeddedStore::open(&dir).unwrap()),
        holdpoint::conformance::test_keys(),
        clock.clock(),
        ExpiryBounds::default(),
    )
    .with_events(Arc::new(JsonLinesSink::new(dir.join("events.jsonl"))), BASE)
    .with_directory(directory.clone())
    .with_deliveries(log.clone())
    .with_sessions(Arc::new(EmbeddedSessions::open(&dir).unwrap()), 12);
    World {
        service,
        directory,
        log,
        clock,
    }
}

impl World {
    /// Every sign-in message sent to `tenant`/`name`, newest first, as (channel, text).
    pub async fn messages(&self, tenant: &str, name: &str) -> Vec<(String, String)> {
        let all = self.log.recent(Some(tenant), false, 1000).await.unwrap();
        all.into_iter()
            .filter(|d| d.recipient == name && d.event_type == "inbox.sign_in")
            .map(|d| {
                let text = match d.message {
                    Some(Message::Email { text, .. }) => text,
                    Some(Message::Webhook { body }) => body,
                    Some(Message::Slack { post } | Message::SlackUpdate { post, .. }) => {
                        post.to_string()
                    }
                    None => String::new(),
                };
                (d.channel.as_str().to_owned(), text)
            })
            .collect()
    }

    /// The sign-in messages to `tenant`/`name` once `n` are kept (they are kept off the
    /// answer's path), or all after a while.
    pub async fn sent(&self, tenant: &str, name: &str, n: usize) -> Vec<(String, String)> {
        for _ in 0..100 {
            let sent = self.messages(tenant, name).await;
            if sent.len() >= n {
                return sent;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.messages(tenant, name).await
    }

    /// The token of the sign-in link sent to `tenant`/`name` (the first one, once sent).
    pub async fn token(&self, tenant: &str, name: &str) -> String {
        let sent = self.sent(tenant, name, 1).await;
        token_in(&sent.first().expect("a message").1)
    }

    /// Asks for a link for `tenant`/`name` and signs in by it: the cookie.
    pub async fn signed_in(&self, tenant: &str, name: &str) -> String {
        let before = self.messages(tenant, name).await;
        self.service
            .request_sign_in(tenant, name, None)
            .await
            .unwrap();
        let now = self.sent(tenant, name, before.len() + 1).await;
        let new = now
            .iter()
            .find(|m| !before.contains(m))
            .expect("a new message");
        self.service.sign_in(&token_in(&new.1)).await.unwrap().0
    }
}

fn token_in(text: &str) -> String {
    let at = text.find("token=").expect("a link") + "token=".len();
    text[at..at + 43].to_owned()
}
