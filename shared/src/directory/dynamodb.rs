//! The directory in DynamoDB (`DirectoryTable` in `template.yaml`): principals under the
//! partition `principal` (sort key `{tenant}/{name}`, so a tenant's are one Query), and one
//! item per credential (`key#{hash}` or `arn#{arn}`) naming its owner. Every change is one
//! TransactWriteItems whose conditions keep a credential to a single principal, and a name to a
//! single principal of its tenant ignoring case: the item `name#{tenant}/{folded name}` names
//! its owner as a credential's does. Principals written before that item existed get it at
//! their next change; until then a create also looks through the tenant's principals.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::{Directory, Entry, Lookup};
use crate::store::StoreError;
use crate::store::dynamodb::item::{Item, doc, from_doc, s};
use crate::store::dynamodb::sdk_error;
use uuid::Uuid;

const PRINCIPAL: &str = "principal";
const CREDENTIAL: &str = "-";

#[derive(Clone)]
pub struct DynamoDirectory {
    client: Client,
    table: String,
}

fn owner(tenant: &str, name: &str) -> String {
    format!("{tenant}/{name}")
}

/// The item that keeps `entry`'s name, in any case, to it alone within its tenant.
fn name_lookup(entry: &Entry) -> String {
    format!("name#{}", owner(&entry.tenant, &entry.folded_name()))
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Internal(e.to_string()))
}

fn decode(item: &Item) -> Result<Entry, StoreError> {
    from_doc(item, "principal")
}

impl DynamoDirectory {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDirectory {
        DynamoDirectory {
            client,
            table: table.into(),
        }
    }

    async fn get_item(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?
            .item)
    }

    fn put_principal(
        &self,
        entry: &Entry,
        condition: &str,
        old: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let body = serde_json::to_string(entry).map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(PRINCIPAL))
            .item("sk", s(owner(&entry.tenant, &entry.name)))
            .item("tenant", s(&entry.tenant))
            .item("doc", s(body))
            .condition_expression(condition);
        if let Some(old) = old {
            put = put
                .expression_attribute_names("#d", "doc")
                .expression_attribute_values(":old", s(old));
        }
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    fn put_credential(&self, lookup: &str, who: &str) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(lookup))
            .item("sk", s(CREDENTIAL))
            .item("owner", s(who))
            .condition_expression("attribute_not_exists(pk) OR #o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(who));
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    fn delete_credential(&self, lookup: &str, who: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(lookup))
            .key("sk", s(CREDENTIAL))
            .condition_expression("attribute_not_exists(pk) OR #o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(who));
        Ok(TransactWriteItem::builder()
            .delete(built(delete.build())?)
            .build())
    }

    /// Runs one transaction; a failed condition is `refused`.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        refused: StoreError,
    ) -> Result<(), StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se)) if se.err().is_transaction_canceled_exception() => {
                Err(refused)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn stored(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<(Entry, String)>, StoreError> {
        match self.get_item(PRINCIPAL, &owner(tenant, name)).await? {
            Some(item) => Ok(Some((decode(&item)?, doc(&item, "principal")?.to_owned()))),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl Directory for DynamoDirectory {
    async fn put(&self, entry: &Entry, create: bool) -> Result<(), StoreError> {
        let mut entry = entry.clone();
        let who = owner(&entry.tenant, &entry.name);
        let new = entry.lookups();
        let mut items = Vec::new();
        if create {
            // Principals stored before name items existed have none to hold the name: looked
            // for (the name item's condition holds against everything written since).
            let folded = entry.folded_name();
            let twin = self
                .list(Some(&entry.tenant))
                .await?
                .into_iter()
                .any(|e| e.folded_name() == folded);
            if twin {
                return Err(StoreError::AlreadyExists);
            }
            entry.instance = Some(Uuid::new_v4());
            items.push(self.put_principal(&entry, "attribute_not_exists(pk)", None)?);
        } else {
            let (old, body) = self
                .stored(&entry.tenant, &entry.name)
                .await?
                .ok_or(StoreError::NotFound)?;
            entry.instance = old.instance;
            // Replaced only as read: a concurrent change makes this one fail, not mix.
            items.push(self.put_principal(&entry, "#d = :old", Some(&body))?);
            for gone in old.lookups().iter().filter(|l| !new.contains(l)) {
                items.push(self.delete_credential(gone, &who)?);
            }
        }
        items.push(self.put_credential(&name_lookup(&entry), &who)?);
        for lookup in &new {
            items.push(self.put_credential(lookup, &who)?);
        }
        self.transact(items, StoreError::AlreadyExists).await
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Entry>, StoreError> {
        Ok(self.stored(tenant, name).await?.map(|(e, _)| e))
    }

    async fn find(&self, lookup: &Lookup) -> Result<Option<Entry>, StoreError> {
        let Some(item) = self.get_item(&lookup.id(), CREDENTIAL).await? else {
            return Ok(None);
        };
        let Some((tenant, name)) = item
            .get("owner")
            .and_then(|v| v.as_s().ok())
            .and_then(|o| o.split_once('/'))
        else {
            return Ok(None);
        };
        let entry = self.get(tenant, name).await?;
        // A credential item outliving its principal (never written so) finds nobody.
        Ok(entry.filter(|e| e.lookups().contains(&lookup.id())))
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":p", s(PRINCIPAL))
                .set_exclusive_start_key(start.take());
            q = match tenant {
                Some(t) => q
                    .key_condition_expression("pk = :p AND begins_with(sk, :t)")
                    .expression_attribute_values(":t", AttributeValue::S(format!("{t}/"))),
                None => q.key_condition_expression("pk = :p"),
            };
            let page = q.send().await.map_err(sdk_error)?;
            for item in page.items() {
                out.push(decode(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn remove(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let Some((entry, body)) = self.stored(tenant, name).await? else {
            return Ok(false);
        };
        let who = owner(tenant, name);
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(PRINCIPAL))
            .key("sk", s(&who))
            .condition_expression("#d = :old")
            .expression_attribute_names("#d", "doc")
            .expression_attribute_values(":old", s(body));
        let mut items = vec![
            TransactWriteItem::builder()
                .delete(built(delete.build())?)
                .build(),
        ];
        for lookup in entry.lookups() {
            items.push(self.delete_credential(&lookup, &who)?);
        }
        items.push(self.delete_credential(&name_lookup(&entry), &who)?);
        self.transact(
            items,
            StoreError::Unavailable("the principal changed meanwhile; try again".into()),
        )
        .await?;
        Ok(true)
    }
}
