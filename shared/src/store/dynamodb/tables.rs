//! The tables, as `template.yaml` defines them: the one definition that deploys production and
//! that `holdpoint tables create` and the tests create on any DynamoDB endpoint.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use serde::Deserialize;

use super::Tables;

/// The SAM template, compiled in.
pub const TEMPLATE: &str = include_str!("../../../../template.yaml");
pub const APPROVALS: &str = "ApprovalsTable";
pub const AUDIT: &str = "AuditTable";
pub const DIRECTORY: &str = "DirectoryTable";
pub const DELIVERIES: &str = "DeliveriesTable";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<Attribute>,
    pub key_schema: Vec<Key>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<Index>,
    pub billing_mode: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Key {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Index {
    pub index_name: String,
    pub key_schema: Vec<Key>,
    pub projection: IndexProjection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexProjection {
    pub projection_type: String,
}

/// The `Properties` of resource `logical_id` in `template`.
pub fn definition(template: &str, logical_id: &str) -> Result<TableDefinition, String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let props = doc
        .get("Resources")
        .and_then(|r| r.get(logical_id))
        .and_then(|r| r.get("Properties"))
        .ok_or_else(|| format!("template.yaml has no {logical_id}"))?;
    serde_yaml_ng::from_value(props.clone()).map_err(|e| format!("{logical_id}: {e}"))
}

fn keys(keys: &[Key]) -> Result<Vec<KeySchemaElement>, String> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Creates `name` as defined, unless it exists. Answers whether it was created.
pub async fn create(client: &Client, name: &str, def: &TableDefinition) -> Result<bool, String> {
    if client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .is_ok()
    {
        return Ok(false);
    }
    let attributes = def
        .attribute_definitions
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let indexes = def
        .global_secondary_indexes
        .iter()
        .map(|i| {
            GlobalSecondaryIndex::builder()
                .index_name(&i.index_name)
                .set_key_schema(Some(keys(&i.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            i.projection.projection_type.as_str(),
                        ))
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(keys(&def.key_schema)?))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .billing_mode(BillingMode::from(def.billing_mode.as_str()))
        .send()
        .await
        .map_err(|e| {
            format!(
                "creating {name}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(true)
}

/// `(name, logical id)` of every table, under the names in `tables`.
pub fn all(tables: &Tables) -> [(&String, &'static str); 4] {
    [
        (&tables.approvals, APPROVALS),
        (&tables.audit, AUDIT),
        (&tables.directory, DIRECTORY),
        (&tables.deliveries, DELIVERIES),
    ]
}

/// Creates every table under the names in `tables`; answers the names it created.
pub async fn create_all(client: &Client, tables: &Tables) -> Result<Vec<String>, String> {
    let mut created = Vec::new();
    for (name, id) in all(tables) {
        if create(client, name, &definition(TEMPLATE, id)?).await? {
            created.push(name.clone());
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_defines_both_tables_with_the_indexes_the_store_queries() {
        let approvals = definition(TEMPLATE, APPROVALS).unwrap();
        let names: Vec<_> = approvals
            .global_secondary_indexes
            .iter()
            .map(|i| i.index_name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                super::super::BY_TENANT,
                super::super::BY_STATUS,
                super::super::DUE,
                super::super::MOVED_KEYS
            ]
        );
        assert!(
            approvals
                .global_secondary_indexes
                .iter()
                .all(|i| i.projection.projection_type == "KEYS_ONLY"),
            "the store reads the approvals themselves by key"
        );
        assert_eq!(approvals.billing_mode, "PAY_PER_REQUEST");
        let audit = definition(TEMPLATE, AUDIT).unwrap();
        let key: Vec<_> = audit
            .key_schema
            .iter()
            .map(|k| k.attribute_name.as_str())
            .collect();
        assert_eq!(key, ["approval", "seq"]);
        let directory = definition(TEMPLATE, DIRECTORY).unwrap();
        let key: Vec<_> = directory
            .key_schema
            .iter()
            .map(|k| k.attribute_name.as_str())
            .collect();
        assert_eq!(key, ["pk", "sk"]);
    }
}
