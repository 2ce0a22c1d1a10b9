//! How approvals, audit records and idempotency keys are laid out as DynamoDB items.
//!
//! The whole approval is kept as deflated JSON in `doc` (a Binary: a typical approval then fits
//! one write unit); beside it live only the attributes that keys, indexes and conditions need,
//! and `published`, the outbox's mark, which is set without rewriting the item. A transition
//! replaces the item, so the due-index attributes disappear on their own when an approval leaves
//! `pending` (the index is sparse). Items of the previous layout (JSON text in `doc`, more
//! columns beside it) still read; their next transition rewrites them.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use crate::store::{Cursor, StoreError};
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::{Approval, Status};
use holdpoint_core::time;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn approval_pk(tenant: &str, id: Uuid) -> String {
    format!("A#{tenant}#{id}")
}

pub fn idempotency_pk(tenant: &str, key: &str) -> String {
    format!("I#{tenant}#{key}")
}

pub fn chain_key(tenant: &str, id: Uuid) -> String {
    format!("{tenant}#{id}")
}

pub fn tenant_status(tenant: &str, status: Status) -> String {
    format!("{tenant}#{}", status.as_str())
}

/// Sort key of the tenant and status indexes: newest first when read backwards.
pub fn created_key(c: &Cursor) -> String {
    format!("{}#{}", time::format(&c.created_at), c.id)
}

/// The due-index shard of an approval: spreads the index over `shards` partitions.
pub fn due_shard(id: Uuid, shards: u32) -> String {
    (id.as_u128() % u128::from(shards.max(1))).to_string()
}

/// The item of `a` as a create or transition writes it: marked moved (its chain has a new head
/// no checkpoint recorded yet), in the same write as its audit record.
pub fn approval_item(a: &Approval, shards: u32) -> Result<Item, StoreError> {
    let mut item = columns(a, shards);
    item.insert("doc".into(), packed(a)?);
    item.insert(MOVED.into(), s(due_shard(a.id, shards)));
    Ok(item)
}

/// The moved mark: the approval's shard of the sparse moved index, present from a create or
/// transition until a checkpoint records the head it wrote. Not checked against the document:
/// it says what a checkpoint did, not what the approval is.
pub const MOVED: &str = "moved_shard";

/// The attributes beside `a`'s document: its key and what indexes and conditions read. Each
/// follows from the document alone.
fn columns(a: &Approval, shards: u32) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(approval_pk(&a.tenant, a.id))),
        ("tenant".into(), s(&a.tenant)),
        ("created".into(), s(created_key(&Cursor::after(a)))),
        (
            "tenant_status".into(),
            s(tenant_status(&a.tenant, a.status)),
        ),
        ("version".into(), n(a.version)),
    ]);
    if let Some((shard, at)) = due(a, shards) {
        item.insert("due_shard".into(), shard);
        item.insert("due_at".into(), at);
    }
    item
}

/// The due index's `(due_shard, due_at)` of `a`, while the sweep has something to do with it.
pub fn due(a: &Approval, shards: u32) -> Option<(AttributeValue, AttributeValue)> {
    let deadline = a.next_deadline()?;
    Some((
        s(due_shard(a.id, shards)),
        s(format!("{}#{}", time::format(&deadline), a.id)),
    ))
}

/// Columns the previous layout kept beside the document for list filters, which
/// `ListFilter::matches` now applies to the approvals read. Items written before still carry
/// them until their next transition, and they are checked like any other.
fn previous_columns(a: &Approval) -> Item {
    let mut item = Item::from([
        ("status".into(), s(a.status.as_str())),
        ("expires_at".into(), s(time::format(&a.expires_at))),
        ("agent_id".into(), s(&a.agent_id)),
        (
            "reviewers".into(),
            AttributeValue::L(a.reviewers.iter().map(s).collect()),
        ),
    ]);
    if let Some(c) = &a.checkpoint_type {
        item.insert("checkpoint_type".into(), s(c));
    }
    item
}

/// The approval an item holds, with every attribute beside its document that says otherwise
/// named in `row_mismatch` (its key names the tenant or id it contradicts). `published` is read
/// like the document: the outbox's mark, set alone, has the last word on `published_seq`.
pub fn approval_from(item: &Item, shards: u32) -> Result<Approval, StoreError> {
    let mut a: Approval = from_doc(item, "approval")?;
    let mut mismatch: Vec<String> = Vec::new();
    match item.get("published").map(number) {
        None => {}
        Some(Some(p)) => a.published_seq = a.published_seq.max(p),
        Some(None) => mismatch.push("published".into()),
    }
    if a.published_seq > a.audit_head.sequence {
        // No honest mark is ahead of the chain: one raised past it would hide events.
        mismatch.push("published".into());
    }
    let mut expected = columns(&a, shards);
    // Any shard the sweep queries will do: the count may have been raised since the write.
    let queried = |v: &str| {
        v.parse::<u32>()
            .is_ok_and(|n| n < shards.max(1) && n.to_string() == v)
    };
    if let Some(AttributeValue::S(stored)) = item.get("due_shard")
        && expected.contains_key("due_shard")
        && queried(stored)
    {
        expected.insert("due_shard".into(), s(stored));
    }
    let previous = previous_columns(&a);
    for (name, value) in item
        .iter()
        .filter(|(name, _)| !["doc", "published", MOVED].contains(&name.as_str()))
    {
        if expected.get(name).or_else(|| previous.get(name)) != Some(value) {
            mismatch.push(name.clone());
        }
    }
    mismatch.extend(
        expected
            .keys()
            .filter(|name| !item.contains_key(*name))
            .cloned(),
    );
    if let Some(pk) = mismatch.iter().position(|m| m == "pk") {
        // The key, told as the fields it binds.
        let stored = string(item, "pk").unwrap_or_default();
        let (tenant, id) = stored
            .strip_prefix("A#")
            .and_then(|k| k.rsplit_once('#'))
            .unwrap_or_default();
        let mut told = Vec::new();
        if tenant != a.tenant {
            told.push("tenant (the row's key)".to_owned());
        }
        if id != a.id.to_string() {
            told.push("id (the row's key)".to_owned());
        }
        mismatch.splice(pk..=pk, told);
    }
    mismatch.sort();
    a.row_mismatch = mismatch;
    Ok(a)
}

/// `value` as JSON, deflated, for `doc`.
pub fn packed<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(AttributeValue::B(Blob::new(
        miniz_oxide::deflate::compress_to_vec(&json, 6),
    )))
}

/// Above any approval the API can build (a 128 KiB request and a few 64 KiB edits), far below
/// what a page of them may hold in a function's memory: a planted `doc` cannot inflate beyond.
const DOC_LIMIT: usize = 1 << 20;

/// The JSON an item keeps in `doc`: deflated (Binary), or as text (the previous layout, and
/// the tables that keep their documents as text).
pub fn doc_text<'a>(item: &'a Item, what: &str) -> Result<Cow<'a, str>, StoreError> {
    match item.get("doc") {
        Some(AttributeValue::S(d)) => Ok(Cow::Borrowed(d)),
        Some(AttributeValue::B(b)) => {
            miniz_oxide::inflate::decompress_to_vec_with_limit(b.as_ref(), DOC_LIMIT)
                .ok()
                .and_then(|json| String::from_utf8(json).ok())
                .map(Cow::Owned)
                .ok_or_else(|| StoreError::Internal(format!("{what} item's doc does not inflate")))
        }
        _ => Err(StoreError::Internal(format!("{what} item has no doc"))),
    }
}

/// The JSON text an item keeps in `doc` (every table keeps its whole document there).
pub fn doc<'a>(item: &'a Item, what: &str) -> Result<&'a str, StoreError> {
    match item.get("doc") {
        Some(AttributeValue::S(d)) => Ok(d),
        _ => Err(StoreError::Internal(format!("{what} item has no doc"))),
    }
}

/// An item's `doc`, decoded.
pub fn from_doc<T: serde::de::DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(&doc_text(item, what)?)
        .map_err(|e| StoreError::Internal(format!("{what} item does not decode: {e}")))
}

/// An audit record: its key and its document, nothing else (no index or condition reads more).
pub fn record_item(r: &AuditRecord) -> Result<Item, StoreError> {
    Ok(Item::from([
        ("approval".into(), s(chain_key(&r.tenant, r.approval_id))),
        ("seq".into(), n(r.sequence)),
        ("doc".into(), packed(r)?),
    ]))
}

pub fn record_from(item: &Item) -> Result<AuditRecord, StoreError> {
    from_doc(item, "audit")
}

/// The list position an index's `LastEvaluatedKey` stands for.
pub fn cursor_from_key(key: &Item) -> Option<Cursor> {
    let AttributeValue::S(created) = key.get("created")? else {
        return None;
    };
    let (at, id) = created.rsplit_once('#')?;
    Some(Cursor {
        created_at: chrono::DateTime::parse_from_rfc3339(at)
            .ok()?
            .with_timezone(&chrono::Utc),
        id: Uuid::try_parse(id).ok()?,
    })
}

pub fn string(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

pub fn number(v: &AttributeValue) -> Option<u64> {
    match v {
        AttributeValue::N(n) => n.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use holdpoint_core::domain::identity::Principal;
    use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};

    fn pending() -> Approval {
        let request: CreateRequest = serde_json::from_value(serde_json::json!({
            "action": "a", "agent_id": "ops-agent", "reviewers": ["alice"],
        }))
        .unwrap();
        let agent = Principal {
            tenant: "acme".into(),
            principal: "agent".into(),
            roles: vec![],
            kind: Default::default(),
        };
        let (mut a, r) = request
            .into_approval(
                &agent,
                &holdpoint_core::domain::request::Gate::open(),
                ExpiryBounds::default(),
                chrono::Utc::now(),
            )
            .unwrap();
        a.published_seq = r.sequence;
        a
    }

    /// A raised shard count leaves every stored shard in the sweep's sight: not a breach. A
    /// lowered one leaves some out of it: those are named.
    #[test]
    fn any_shard_the_sweep_queries_is_intact() {
        let a = (0..)
            .map(|_| pending())
            .find(|a| due_shard(a.id, 8) == "5")
            .unwrap();
        let item = approval_item(&a, 8).unwrap();
        assert!(approval_from(&item, 8).unwrap().row_mismatch.is_empty());
        assert!(approval_from(&item, 16).unwrap().row_mismatch.is_empty());
        assert_eq!(approval_from(&item, 4).unwrap().row_mismatch, ["due_shard"]);
        let mut odd = item.clone();
        odd.insert("due_shard".into(), s("05"));
        assert_eq!(approval_from(&odd, 8).unwrap().row_mismatch, ["due_shard"]);
    }

    #[test]
    fn a_planted_document_inflates_within_its_limit() {
        let packed = |n: usize| {
            let bomb = miniz_oxide::deflate::compress_to_vec(&vec![b' '; n], 9);
            assert!(bomb.len() < 8 * 1024, "small when stored: {}", bomb.len());
            Item::from([("doc".into(), AttributeValue::B(Blob::new(bomb)))])
        };
        assert_eq!(doc_text(&packed(DOC_LIMIT), "x").unwrap().len(), DOC_LIMIT);
        assert!(doc_text(&packed(DOC_LIMIT + 1), "x").is_err());
    }
}
