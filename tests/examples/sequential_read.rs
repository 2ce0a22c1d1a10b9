//! The cold-start yardstick of the read function (a benchmark, never part of the tests;
//! `tests/examples/lambda_timings.rs` times it beside the read function): a minimal Rust Lambda
//! doing, one after the other, the three calls a read's first request needs: the AWS SDK's
//! configuration (at init, as the read function loads it), then on the first GET the signing
//! key from Secrets Manager (`HOLDPOINT_SIGNING_SECRET_ID`), then the approval's item from
//! `HOLDPOINT_APPROVALS_TABLE` (one consistent GetItem). No auth, no seal check: the tenant is
//! `HOLDPOINT_BENCH_TENANT`. GET /health is answered at once, as the read function does.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, RequestExt, Response, service_fn};
use tokio::sync::OnceCell;

struct Clients {
    secrets: aws_sdk_secretsmanager::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    secret_id: String,
    table: String,
    tenant: String,
    /// Fetched on the first GET, kept after (as the read function caches it).
    key: OnceCell<Vec<u8>>,
}

fn setting(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

fn answer(status: u16, body: &str) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))?)
}

async fn get(clients: &Clients, id: &str) -> Result<Response<Body>, Error> {
    let key = clients
        .key
        .get_or_try_init(|| async {
            let out = clients
                .secrets
                .get_secret_value()
                .secret_id(&clients.secret_id)
                .version_stage("AWSCURRENT")
                .send()
                .await?;
            Ok::<_, Error>(out.secret_string().unwrap_or_default().as_bytes().to_vec())
        })
        .await?;
    if key.is_empty() {
        return answer(503, r#"{"code":"key_unavailable"}"#);
    }
    let item = clients
        .dynamodb
        .get_item()
        .table_name(&clients.table)
        .key(
            "pk",
            AttributeValue::S(format!("A#{}#{id}", clients.tenant)),
        )
        .consistent_read(true)
        .send()
        .await?
        .item;
    match item {
        Some(item) => answer(200, &format!(r#"{{"attributes":{}}}"#, item.len())),
        None => answer(404, r#"{"code":"not_found"}"#),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let clients = Clients {
        secrets: aws_sdk_secretsmanager::Client::new(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        secret_id: setting("HOLDPOINT_SIGNING_SECRET_ID")?,
        table: setting("HOLDPOINT_APPROVALS_TABLE")?,
        tenant: setting("HOLDPOINT_BENCH_TENANT")?,
        key: OnceCell::new(),
    };
    let clients = &clients;
    lambda_http::run(service_fn(move |request: Request| async move {
        let id = request.path_parameters().first("id").map(str::to_owned);
        match id {
            Some(id) if request.uri().path().starts_with("/v1/approvals/") => {
                get(clients, &id).await
            }
            _ if request.uri().path() == "/health" => answer(200, r#"{"status":"ok"}"#),
            _ => answer(404, r#"{"code":"not_found"}"#),
        }
    }))
    .await
}
