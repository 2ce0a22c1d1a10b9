//! Support for tests that talk to a DynamoDB-protocol server (moto, started by `infra/test.sh`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use holdpoint::store::dynamodb::{DynamoStore, Tables, tables};

pub mod bus;
pub mod fault_proxy;
pub mod lambda;
pub mod postgres;
pub mod receivers;
pub mod slack;

/// The endpoint of the local DynamoDB-protocol server. Tests refuse anything but loopback, so a
/// stray credential can never make them write to a real account.
pub fn endpoint() -> String {
    let url = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:"),
        "AWS_ENDPOINT_URL must name a local DynamoDB-protocol server (got {url:?}); \
         run the tests with infra/test.sh, which starts one"
    );
    url
}

/// Counts the requests the SDK sends, by operation (`x-amz-target`).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl RequestCounter {
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn total(&self) -> usize {
        self.counts().values().sum()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .rsplit('.')
            .next()
            .unwrap_or("?")
            .to_owned();
        if let Ok(mut m) = self.0.lock() {
            *m.entry(target.clone()).or_default() += 1;
        }
        // Holdpoint never scans: every test's client refuses to, so any Scan fails its test.
        if target == "Scan" {
            return Err("Scan is not allowed in Holdpoint".into());
        }
        Ok(())
    }
}

/// A client for the local server that counts its requests.
pub async fn client(counter: &RequestCounter) -> Client {
    endpoint();
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    Client::from_conf(config)
}

/// Fresh tables, created from `template.yaml` under unique names, and a store on them.
pub async fn fresh_store() -> (DynamoStore, RequestCounter) {
    let counter = RequestCounter::default();
    let client = client(&counter).await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let tables = Tables {
        approvals: format!("approvals-{suffix}"),
        audit: format!("audit-{suffix}"),
        directory: format!("directory-{suffix}"),
        deliveries: format!("deliveries-{suffix}"),
        due_shards: 4,
    };
    tables::create_all(&client, &tables)
        .await
        .expect("tables created from template.yaml");
    counter.reset();
    (DynamoStore::new(client, tables), counter)
}

/// The IAM identities the function tests' fixtures carry: an agent and a reviewer role.
pub fn iam_principals() -> Vec<holdpoint::directory::Entry> {
    let entry = |name: &str, roles: &[&str]| holdpoint::directory::Entry {
        tenant: "acme".into(),
        name: name.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        email: None,
        webhook: None,
        iam_arns: vec![format!("arn:aws:sts::123456789012:assumed-role/{name}")],
        key_hash: None,
        slack: None,
        webhook_secret: None,
        instance: None,
        kind: Default::default(),
    };
    vec![entry("agent", &[]), entry("reviewer", &["ops"])]
}

/// The directory on `store`'s directory table.
pub fn directory(store: &DynamoStore) -> holdpoint::directory::dynamodb::DynamoDirectory {
    holdpoint::directory::dynamodb::DynamoDirectory::new(
        store.client().clone(),
        store.tables().directory.clone(),
    )
}

/// An approval stored directly, created by `agent` of tenant `acme` at `created_at`.
pub async fn stored_approval(
    store: &DynamoStore,
    env: &[(&str, String)],
    created_at: chrono::DateTime<chrono::Utc>,
    expires_in_seconds: u32,
) -> holdpoint_core::domain::approval::Approval {
    let request: holdpoint_core::domain::request::CreateRequest =
        serde_json::from_value(serde_json::json!({
            "action": "Rotate the database password",
            "agent_id": "ops-agent",
            "reviewers": ["reviewer"],
            "expires_in_seconds": expires_in_seconds,
        }))
        .expect("valid request");
    // Created as the functions' own service would, signed and sealed with their key, at
    // `created_at`, and with nothing left to publish.
    let secret = env
        .iter()
        .find(|(k, _)| *k == "HOLDPOINT_SIGNING_SECRET_ID")
        .map(|(_, v)| v.clone())
        .expect("the environment names the signing secret");
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let keys = holdpoint::keys::secrets_manager::SecretsManagerKeys::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        secret,
        std::time::Duration::from_secs(60),
    );
    let service = holdpoint::service::Service::new(
        std::sync::Arc::new(store.clone()),
        std::sync::Arc::new(keys),
        holdpoint_core::time::Clock::from_fn(move || created_at),
        holdpoint_core::domain::request::ExpiryBounds::default(),
    );
    service
        .create(&acme("agent"), request, None)
        .await
        .expect("stored")
        .0
}

/// Writes `approvals` straight into the table (25 per BatchWriteItem): seeding for cost tests
/// and benchmarks, not a path Holdpoint itself uses.
pub async fn seed(store: &DynamoStore, approvals: &[holdpoint_core::domain::approval::Approval]) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use holdpoint::store::dynamodb::item;
    for chunk in approvals.chunks(25) {
        let mut requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|a| {
                let put = PutRequest::builder()
                    .set_item(Some(
                        item::approval_item(a, store.tables().due_shards).unwrap(),
                    ))
                    .build()
                    .unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        while !requests.is_empty() {
            let out = store
                .client()
                .batch_write_item()
                .request_items(&store.tables().approvals, requests)
                .send()
                .await
                .expect("seeded");
            requests = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&store.tables().approvals))
                .unwrap_or_default();
        }
    }
}

/// Stores `n` approvals of tenant `acme` created at `created_at` and expiring an hour later, as
/// the service would (signed audit record, sealed state, nothing left to publish), 25 per
/// BatchWriteItem: many approvals in seconds for the sweep's scale test.
pub async fn seed_created(
    store: &DynamoStore,
    key: &holdpoint_core::keys::Key,
    n: usize,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Vec<uuid::Uuid> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use holdpoint::store::dynamodb::item;
    let request: holdpoint_core::domain::request::CreateRequest =
        serde_json::from_value(serde_json::json!({
            "action": "Rotate the database password",
            "agent_id": "ops-agent",
            "reviewers": ["reviewer"],
            "expires_in_seconds": 3600,
        }))
        .expect("valid request");
    let mut approvals = Vec::with_capacity(n);
    let mut records = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut a, mut record) = request
            .clone()
            .into_approval(
                &acme("agent"),
                &holdpoint_core::domain::request::Gate::open(),
                holdpoint_core::domain::request::ExpiryBounds::default(),
                created_at,
            )
            .expect("valid approval");
        record.sign(key);
        a.published_seq = record.sequence;
        holdpoint_core::domain::integrity::seal(&mut a, key);
        records.push(item::record_item(&record).unwrap());
        approvals.push(a);
    }
    let puts = |items: Vec<_>| -> Vec<WriteRequest> {
        items
            .into_iter()
            .map(|i| {
                let put = PutRequest::builder().set_item(Some(i)).build().unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect()
    };
    let approval_items: Vec<_> = approvals
        .iter()
        .map(|a| item::approval_item(a, store.tables().due_shards).unwrap())
        .collect();
    for (table, items) in [
        (&store.tables().approvals, approval_items),
        (&store.tables().audit, records),
    ] {
        for chunk in items.chunks(25) {
            let mut requests = puts(chunk.to_vec());
            while !requests.is_empty() {
                let out = store
                    .client()
                    .batch_write_item()
                    .request_items(table, requests)
                    .send()
                    .await
                    .expect("seeded");
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(table))
                    .unwrap_or_default();
            }
        }
    }
    approvals.iter().map(|a| a.id).collect()
}

/// `n` pending approvals of tenant `acme`, of which `due` are past their deadline at `now`.
pub fn pending_approvals(
    n: usize,
    due: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<holdpoint_core::domain::approval::Approval> {
    let request: holdpoint_core::domain::request::CreateRequest =
        serde_json::from_value(serde_json::json!({
            "action": "Rotate the database password",
            "agent_id": "ops-agent",
            "reviewers": ["reviewer"],
            "context": {"database": "orders", "environment": "production"},
            "expires_in_seconds": 3600,
        }))
        .expect("valid request");
    let agent = acme("agent");
    (0..n)
        .map(|i| {
            // Due ones were created two hours ago and expired an hour ago.
            let created = if i < due {
                now - chrono::TimeDelta::hours(2)
            } else {
                now - chrono::TimeDelta::seconds(i as i64 % 600)
            };
            let mut a = request
                .clone()
                .into_approval(
                    &agent,
                    &holdpoint_core::domain::request::Gate::open(),
                    holdpoint_core::domain::request::ExpiryBounds::default(),
                    created,
                )
                .expect("valid approval")
                .0;
            a.published_seq = 1;
            a
        })
        .collect()
}

/// A new Secrets Manager secret on the local server holding a 48-character signing key; its name.
pub async fn signing_secret() -> String {
    endpoint();
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("holdpoint-signing-{}", uuid::Uuid::new_v4().simple());
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    client
        .create_secret()
        .name(&name)
        .secret_string(key)
        .send()
        .await
        .expect("secret created");
    name
}

/// A principal of tenant `acme`, the tenant of these tests.
pub fn acme(name: &str) -> holdpoint_core::domain::identity::Principal {
    holdpoint_core::domain::identity::Principal {
        tenant: "acme".into(),
        principal: name.into(),
        roles: vec![],
        kind: Default::default(),
    }
}
