//! The sign-in message: a reviewer's single-use link to the inbox, by their own channels (an
//! email, a webhook signed like every other), kept in the delivery log like the review messages.
//! It asks about no approval: the worker sends it without asking whether one still waits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use uuid::Uuid;

use super::{Channel, Delivery, DeliveryStatus, Message};
use crate::directory::{Directory, Entry};
use crate::sessions::{LINK_MINUTES, SessionStore, SignInLink, hash};
use crate::store::StoreError;
use holdpoint_core::domain::identity::check_not_reserved;
use holdpoint_core::text;

/// The Standard Webhooks type of a sign-in message.
pub const SIGN_IN_TYPE: &str = "inbox.sign_in";

/// 256 random bits, base64url: a sign-in token or a session secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `entry` may sign in: a human with a channel, not under a name the service keeps.
pub fn may_sign_in(entry: &Entry) -> bool {
    entry.kind.is_human()
        && (entry.email.is_some() || entry.webhook.is_some())
        && check_not_reserved("name", &entry.name).is_ok()
}

/// Mints a sign-in link for `tenant`/`name` if it may sign in: keeps its hash in `sessions`
/// and answers the messages carrying it (links under `base`), for the caller to keep in the
/// delivery log and send; for anyone else, nothing. `request` names the messages (a retried
/// request plans the same ids).
pub async fn mint(
    sessions: &dyn SessionStore,
    directory: &dyn Directory,
    base: &str,
    (tenant, name): (&str, &str),
    request: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Delivery>, StoreError> {
    let Some(entry) = directory.get(tenant, name).await?.filter(may_sign_in) else {
        return Ok(Vec::new());
    };
    let token = new_secret();
    let link = SignInLink {
        hash: hash(&token),
        tenant: entry.tenant.clone(),
        name: entry.name.clone(),
        instance: entry.instance,
        expires_at: now + TimeDelta::minutes(LINK_MINUTES),
    };
    sessions.put_link(&link).await?;
    let url = format!("{base}/inbox/sign-in?token={token}");
    Ok(deliveries(&entry, &url, request, link.expires_at, now))
}

/// Whether `d` is a sign-in message (sent whatever any approval's state).
pub fn is_sign_in(d: &Delivery) -> bool {
    d.event_type == SIGN_IN_TYPE
}

/// The deliveries of one sign-in link to `entry`, one per channel it has. `request` is the
/// request's own id: it stands for the approval id of the log's key (no approval is involved).
pub fn deliveries(
    entry: &Entry,
    url: &str,
    request: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Delivery> {
    let event_id = format!("sign-in:{request}");
    let new = |channel: Channel, target: &str, message: Message| Delivery {
        id: format!("{event_id}.{}.{}", channel.as_str(), entry.name),
        tenant: entry.tenant.clone(),
        approval_id: request,
        event_id: event_id.clone(),
        event_type: SIGN_IN_TYPE.to_owned(),
        channel,
        recipient: entry.name.clone(),
        target: target.to_owned(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        created_at: now,
        next_attempt_at: now,
        last_attempt_at: None,
        delivered_at: None,
        last_error: None,
        last_status: None,
        message: Some(message),
        receipt: None,
    };
    let until = holdpoint_core::time::format(&expires_at);
    let mut out = Vec::new();
    if let Some(email) = &entry.email {
        out.push(new(
            Channel::Email,
            email,
            email_message(entry, url, &until),
        ));
    }
    if let Some(hook) = &entry.webhook {
        let body = serde_json::json!({
            "data": {
                "tenant": entry.tenant,
                "principal": entry.name,
                "sign_in_url": url,
                "expires_at": until,
            },
            "timestamp": holdpoint_core::time::format(&now),
            "type": SIGN_IN_TYPE,
        });
        out.push(new(
            Channel::Webhook,
            hook,
            Message::Webhook {
                body: body.to_string(),
            },
        ));
    }
    out
}

fn email_message(entry: &Entry, url: &str, until: &str) -> Message {
    let text = format!(
        "Hello {},\n\nSomeone asked to sign in to the Holdpoint inbox as you (tenant {}).\n\n\
         Sign in (this link is yours alone, works once, until {until}):\n{url}\n\n\
         If it was not you, ignore this message: nothing happens without the link.\n",
        text::visible(&entry.name),
        text::visible(&entry.tenant),
    );
    let html = format!(
        "<!doctype html><html><body><p>Hello {},</p><p>Someone asked to sign in to the \
         Holdpoint inbox as you (tenant {}).</p><p><a href=\"{}\">Sign in</a> (this link is \
         yours alone, works once, until {})</p><p>If it was not you, ignore this message: \
         nothing happens without the link.</p></body></html>",
        text::html_visible(&entry.name),
        text::html_visible(&entry.tenant),
        text::html(url),
        text::html(until),
    );
    Message::Email {
        subject: "Sign in to the Holdpoint inbox".into(),
        text,
        html,
    }
}
