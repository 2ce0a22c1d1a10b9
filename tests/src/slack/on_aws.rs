//! Slack on AWS, for the function tests: the tenants' Slack apps in one Secrets Manager secret
//! (on the local server), the service's signing key to mint buttons with, and a click as API
//! Gateway (HTTP API, payload 2.0) hands it to the decide function.

use base64::Engine;
use serde_json::{Value, json};

/// A new secret holding `apps` (`{"<tenant>": {"bot_token", "signing_secret", "team_id"}}`); its
/// name, for `HOLDPOINT_SLACK_SECRET_ID`.
pub async fn apps_secret(apps: &Value) -> String {
    crate::endpoint();
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let name = format!("holdpoint-slack-{}", uuid::Uuid::new_v4().simple());
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&name)
        .secret_string(apps.to_string())
        .send()
        .await
        .expect("secret created");
    name
}

/// The service's current signing key, from the secret `secret_id` names (as the functions
/// read it): what buttons are minted with.
pub async fn service_key(secret_id: &str) -> holdpoint_core::keys::Key {
    use holdpoint_core::keys::KeyProvider;
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    holdpoint::keys::secrets_manager::SecretsManagerKeys::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        secret_id.to_owned(),
        std::time::Duration::from_secs(60),
    )
    .current()
    .await
    .expect("the signing key")
}

/// `POST /slack/interactions?{query}` with the form `body` and `headers` (Slack's), as API
/// Gateway sends it: the body base64-encoded, the query both raw and parsed.
pub fn interaction_event(query: &str, body: &str, headers: &[(String, String)]) -> Value {
    let mut h = json!({
        "content-type": "application/x-www-form-urlencoded",
        "content-length": body.len().to_string(),
        "host": "holdpoint.example",
        "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "x-forwarded-for": "54.209.0.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    });
    for (k, v) in headers {
        h[k.as_str()] = json!(v);
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "POST /slack/interactions",
        "rawPath": "/slack/interactions",
        "rawQueryString": query,
        "headers": h,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "holdpoint.example",
            "domainPrefix": "holdpoint",
            "http": {
                "method": "POST", "path": "/slack/interactions", "protocol": "HTTP/1.1",
                "sourceIp": "54.209.0.10", "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)"
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "POST /slack/interactions",
            "stage": "$default",
            "time": "30/Nov/2026:10:15:00 +0000",
            "timeEpoch": 1_795_342_500_000_u64
        },
        "body": base64::engine::general_purpose::STANDARD.encode(body),
        "isBase64Encoded": true,
    });
    let params: serde_json::Map<String, Value> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    if !params.is_empty() {
        event["queryStringParameters"] = Value::Object(params);
    }
    event
}
