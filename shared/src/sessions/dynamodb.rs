//! Sessions in DynamoDB: items of the directory table (`DirectoryTable`, no table of its own),
//! each with the TTL attribute `ttl` (epoch seconds) so DynamoDB deletes them after they end;
//! reads compare `expires` (epoch ms) themselves, since TTL deletes late.
//!
//! - `sign-in#{tenant}/{folded name}`, sk `count`: the requests of a name in its window,
//!   counted by compare-and-set.
//! - `sign-in-link#{sha256 of the token}`, sk `-`: a link; sk `used`: put where none is by the
//!   one request that takes it.
//! - `session#{tenant}/{name}`, sk `{sha256 of the secret}`: a session; a principal's are one
//!   Query, so `holdpoint principals sign-out` ends them all.
//! - `slack-button#{nonce}`, sk `-`: a Slack button's value spent (single use), put where none
//!   is; kept until the button's end.
//!
//! Nothing here deletes or updates an item (no function may: infra/guard): a session ends by
//! being put again with no time left, and DynamoDB's TTL removes what is over.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{Counted, Session, SessionStore, SignInLink};
use crate::store::StoreError;
use crate::store::dynamodb::item::{Item, from_doc, number, s};
use crate::store::dynamodb::sdk_error;

#[derive(Clone)]
pub struct DynamoSessions {
    client: Client,
    table: String,
}

impl DynamoSessions {
    /// Sessions kept in the directory table `table`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoSessions {
        DynamoSessions {
            client,
            table: table.into(),
        }
    }
}

fn n_i(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn ttl(at: DateTime<Utc>) -> AttributeValue {
    // A day past the end: DynamoDB deletes within days anyway, and reads check `expires`.
    n_i(at.timestamp() + 86_400)
}

fn counter_pk(tenant: &str, folded: &str) -> String {
    format!("sign-in#{tenant}/{folded}")
}

fn link_pk(hash: &str) -> String {
    format!("sign-in-link#{hash}")
}

fn session_pk(tenant: &str, name: &str) -> String {
    format!("session#{tenant}/{name}")
}

fn button_pk(nonce: Uuid) -> String {
    format!("slack-button#{nonce}")
}

fn encode<T: serde::Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(v)
        .map(s)
        .map_err(|e| StoreError::Internal(e.to_string()))
}

fn expires(item: &Item) -> i64 {
    item.get("expires").and_then(number).map_or(0, |v| v as i64)
}

fn failed_condition<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    e: &SdkError<E, R>,
) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

#[async_trait]
impl SessionStore for DynamoSessions {
    async fn count_request(
        &self,
        tenant: &str,
        folded_name: &str,
        now: DateTime<Utc>,
        window: TimeDelta,
        limit: u32,
    ) -> Result<Counted, StoreError> {
        let pk = counter_pk(tenant, folded_name);
        let now_ms = now.timestamp_millis();
        // Read, then put the next count where the read one still stands: of racing requests
        // one wins each count, the others read again.
        for _ in 0..16 {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s("count"))
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?
                .item;
            let live = item.as_ref().filter(|i| expires(i) > now_ms);
            let (count, end) = match live {
                Some(i) => (i.get("count").and_then(number).unwrap_or(0), expires(i)),
                None => (0, (now + window).timestamp_millis()),
            };
            if count >= u64::from(limit) {
                let left = ((end - now_ms) as u64).div_ceil(1000).max(1);
                return Ok(Counted::Limited {
                    retry_after_seconds: left,
                });
            }
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("sk", s("count"))
                .item("count", n_i(count as i64 + 1))
                .item("expires", n_i(end))
                .item(
                    "ttl",
                    ttl(DateTime::from_timestamp_millis(end).unwrap_or(now)),
                );
            put = match (live, &item) {
                (Some(_), _) | (None, Some(_)) => put
                    .condition_expression("#c = :c AND #e = :e")
                    .expression_attribute_names("#c", "count")
                    .expression_attribute_names("#e", "expires")
                    .expression_attribute_values(
                        ":c",
                        item.as_ref()
                            .and_then(|i| i.get("count").cloned())
                            .unwrap_or_else(|| n_i(0)),
                    )
                    .expression_attribute_values(
                        ":e",
                        item.as_ref()
                            .and_then(|i| i.get("expires").cloned())
                            .unwrap_or_else(|| n_i(0)),
                    ),
                (None, None) => put.condition_expression("attribute_not_exists(pk)"),
            };
            match put.send().await {
                Ok(_) => return Ok(Counted::Admitted),
                Err(e) if failed_condition(&e) => continue,
                Err(e) => return Err(sdk_error(e)),
            }
        }
        Err(StoreError::Unavailable(
            "sign-in requests of this name raced; retry".into(),
        ))
    }

    async fn put_link(&self, link: &SignInLink) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(link_pk(&link.hash)))
            .item("sk", s("-"))
            .item("doc", encode(link)?)
            .item("expires", n_i(link.expires_at.timestamp_millis()))
            .item("ttl", ttl(link.expires_at))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn link(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SignInLink>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(link_pk(hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?
            .items
            .unwrap_or_default();
        let sk = |i: &Item| match i.get("sk") {
            Some(AttributeValue::S(v)) => v.clone(),
            _ => String::new(),
        };
        if items.iter().any(|i| sk(i) == "used") {
            return Ok(None);
        }
        match items.iter().find(|i| sk(i) == "-") {
            Some(i) if expires(i) > now.timestamp_millis() => {
                Ok(Some(from_doc(i, "sign-in link")?))
            }
            _ => Ok(None),
        }
    }

    async fn take_link(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SignInLink>, StoreError> {
        let Some(link) = self.link(hash, now).await? else {
            return Ok(None);
        };
        // The one put of `used` that finds none takes the link.
        let taken = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(link_pk(hash)))
            .item("sk", s("used"))
            .item("ttl", ttl(link.expires_at))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match taken {
            Ok(_) => Ok(Some(link)),
            Err(e) if failed_condition(&e) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(session_pk(&session.tenant, &session.name)))
            .item("sk", s(&session.hash))
            .item("doc", encode(session)?)
            .item("expires", n_i(session.expires_at.timestamp_millis()))
            .item("ttl", ttl(session.expires_at))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn session(
        &self,
        tenant: &str,
        name: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(session_pk(tenant, name)))
            .key("sk", s(hash))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?
            .item;
        match item {
            Some(i) if expires(&i) > now.timestamp_millis() => Ok(Some(from_doc(&i, "session")?)),
            _ => Ok(None),
        }
    }

    async fn remove_session(
        &self,
        tenant: &str,
        name: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        // Put again with no time left (and gone by TTL a day on): a live one was there when
        // the condition holds.
        let now = Utc::now();
        let ended = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(session_pk(tenant, name)))
            .item("sk", s(hash))
            .item("expires", n_i(0))
            .item("ttl", ttl(now))
            .condition_expression("#e > :zero")
            .expression_attribute_names("#e", "expires")
            .expression_attribute_values(":zero", n_i(0))
            .send()
            .await;
        match ended {
            Ok(_) => Ok(true),
            Err(e) if failed_condition(&e) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn remove_sessions_of(
        &self,
        tenant: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let pk = session_pk(tenant, name);
        let now = now.timestamp_millis();
        let mut removed = 0;
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(&pk))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in page.items() {
                let Some(AttributeValue::S(sk)) = item.get("sk") else {
                    continue;
                };
                if self.remove_session(tenant, name, sk).await? && expires(item) > now {
                    removed += 1;
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(removed),
            }
        }
    }

    async fn spend(
        &self,
        tenant: &str,
        nonce: Uuid,
        expires: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let spent = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(button_pk(nonce)))
            .item("sk", s("-"))
            .item("tenant", s(tenant))
            .item("expires", n_i(expires.timestamp_millis()))
            .item("ttl", ttl(expires))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match spent {
            Ok(_) => Ok(true),
            Err(e) if failed_condition(&e) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }
}
