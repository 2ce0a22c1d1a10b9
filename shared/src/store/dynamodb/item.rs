//! How approvals, audit records and idempotency keys are laid out as DynamoDB items.
//!
//! The whole approval is kept as JSON in `doc`; beside it live the attributes that keys, indexes,
//! conditions and list filters need. A transition replaces the item, so the due-index attributes
//! disappear on their own when an approval leaves `pending` (the index is sparse).

use std::collections::HashMap;

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

pub fn approval_item(a: &Approval, shards: u32) -> Result<Item, StoreError> {
    let doc = serde_json::to_string(a).map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut item = columns(a, shards);
    item.insert("doc".into(), s(doc));
    Ok(item)
}

/// The attributes beside `a`'s document: its key and what indexes, conditions and list filters
/// read. Each follows from the document alone.
fn columns(a: &Approval, shards: u32) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(approval_pk(&a.tenant, a.id))),
        ("tenant".into(), s(&a.tenant)),
        ("created".into(), s(created_key(&Cursor::after(a)))),
        (
            "tenant_status".into(),
            s(tenant_status(&a.tenant, a.status)),
        ),
        ("status".into(), s(a.status.as_str())),
        ("version".into(), n(a.version)),
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
    if let Some(deadline) = a.next_deadline() {
        item.insert("due_shard".into(), s(due_shard(a.id, shards)));
        item.insert(
            "due_at".into(),
            s(format!("{}#{}", time::format(&deadline), a.id)),
        );
    }
    item
}

/// The approval an item holds, with every attribute beside its document that says otherwise
/// named in `row_mismatch` (its key names the tenant or id it contradicts).
pub fn approval_from(item: &Item, shards: u32) -> Result<Approval, StoreError> {
    let mut a: Approval = from_doc(item, "approval")?;
    let expected = columns(&a, shards);
    let mut mismatch: Vec<String> = Vec::new();
    for (name, value) in item.iter().filter(|(name, _)| *name != "doc") {
        if expected.get(name) != Some(value) {
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

/// The JSON text an item keeps in `doc` (every table keeps its whole document there).
pub fn doc<'a>(item: &'a Item, what: &str) -> Result<&'a str, StoreError> {
    match item.get("doc") {
        Some(AttributeValue::S(d)) => Ok(d),
        _ => Err(StoreError::Internal(format!("{what} item has no doc"))),
    }
}

/// An item's `doc`, decoded.
pub fn from_doc<T: serde::de::DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc(item, what)?)
        .map_err(|e| StoreError::Internal(format!("{what} item does not decode: {e}")))
}

pub fn record_item(r: &AuditRecord) -> Result<Item, StoreError> {
    let doc = serde_json::to_string(r).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(Item::from([
        ("approval".into(), s(chain_key(&r.tenant, r.approval_id))),
        ("seq".into(), n(r.sequence)),
        ("event".into(), s(r.event.as_str())),
        ("at".into(), s(time::format(&r.at))),
        ("doc".into(), s(doc)),
    ]))
}

pub fn record_from(item: &Item) -> Result<AuditRecord, StoreError> {
    serde_json::from_str(doc(item, "audit")?)
        .map_err(|e| StoreError::Internal(format!("audit item does not decode: {e}")))
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
