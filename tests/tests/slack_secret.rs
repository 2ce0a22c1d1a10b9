//! Tenants' Slack apps in one Secrets Manager secret (on the local protocol server): no secret is
//! no tenant connected, a secret that is not the agreed shape refuses every tenant (503, never
//! a guess), one tenant's bad entry refuses that tenant alone, a change is seen once the cache
//! period passes, and no error tells a secret.

use std::time::Duration;

use holdpoint::slack::connection::SlackConnections;
use holdpoint::slack::connection::secrets::SecretsManagerSlack;
use holdpoint::store::StoreError;

async fn client() -> aws_sdk_secretsmanager::Client {
    holdpoint_tests::endpoint();
    aws_sdk_secretsmanager::Client::new(&holdpoint::store::dynamodb::sdk_config().await)
}

async fn secret(sm: &aws_sdk_secretsmanager::Client, text: &str) -> String {
    let name = format!("holdpoint-slack-{}", uuid::Uuid::new_v4().simple());
    sm.create_secret()
        .name(&name)
        .secret_string(text)
        .send()
        .await
        .unwrap();
    name
}

const APPS: &str = r#"{
    "acme": {"bot_token": "xoxb-1-topsecrettoken", "signing_secret": "sig-acme", "team_id": "T0TEAM"},
    "beta": {"bot_token": "xoxb-2-beta", "signing_secret": "sig-beta", "team_id": "T0BETA"},
    "broken": {"bot_token": "Bearer topsecret", "signing_secret": "sig", "team_id": "T0B"},
    "teamless": {"bot_token": "xoxb-3-teamless", "signing_secret": "sig"}
}"#;

#[tokio::test]
async fn each_tenant_reads_its_own_app_and_a_bad_entry_refuses_its_tenant_alone() {
    let sm = client().await;
    let id = secret(&sm, APPS).await;
    let apps = SecretsManagerSlack::new(sm.clone(), &id, Duration::from_secs(60));
    let acme = apps.get("acme").await.unwrap().unwrap();
    assert_eq!(acme.bot_token.expose(), "xoxb-1-topsecrettoken");
    assert_eq!(acme.team_id.as_deref(), Some("T0TEAM"));
    assert!(!format!("{acme:?}").contains("topsecret"));
    let beta = apps.get("beta").await.unwrap().unwrap();
    assert_eq!(
        (beta.tenant.as_str(), beta.team_id.as_deref()),
        ("beta", Some("T0BETA"))
    );
    // No team, no app: a click from any workspace would otherwise pass.
    assert!(matches!(
        apps.get("teamless").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(apps.get("gamma").await.unwrap().is_none(), "not connected");
    let refused = apps.get("broken").await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Unavailable(m) if m.contains("tenant broken") && !m.contains("topsecret")),
        "{refused:?}"
    );

    // Cached: a change is seen after the cache period, not before.
    sm.put_secret_value()
        .secret_id(&id)
        .secret_string(
            r#"{"beta": {"bot_token": "xoxb-2-beta", "signing_secret": "s", "team_id": "T0BETA"}}"#,
        )
        .send()
        .await
        .unwrap();
    assert!(
        apps.get("acme").await.unwrap().is_some(),
        "within the cache period"
    );
    let fresh = SecretsManagerSlack::new(sm, &id, Duration::ZERO);
    assert!(fresh.get("acme").await.unwrap().is_none(), "disconnected");
    assert!(fresh.get("beta").await.unwrap().is_some());
}

#[tokio::test]
async fn no_secret_is_no_tenant_and_a_malformed_one_refuses_every_tenant() {
    let sm = client().await;
    let missing =
        SecretsManagerSlack::new(sm.clone(), "holdpoint-no-such-slack-secret", Duration::ZERO);
    for _ in 0..2 {
        assert!(missing.get("acme").await.unwrap().is_none());
    }
    for text in [
        "xoxb-1-topsecret",
        r#"["xoxb-1-topsecret"]"#,
        r#"{"acme": {"bot_token": "xoxb-1-topsecret""#,
        "{}}",
    ] {
        let id = secret(&sm, text).await;
        let apps = SecretsManagerSlack::new(sm.clone(), &id, Duration::from_secs(60));
        for tenant in ["acme", "beta"] {
            let refused = apps.get(tenant).await.unwrap_err();
            let StoreError::Unavailable(message) = &refused else {
                panic!("{text}: {refused:?}");
            };
            assert!(
                message.contains(&id) && !message.contains("topsecret"),
                "{message}"
            );
        }
    }
    let empty = secret(&sm, "{}").await;
    let apps = SecretsManagerSlack::new(sm, &empty, Duration::ZERO);
    assert!(
        apps.get("acme").await.unwrap().is_none(),
        "an empty object: nobody"
    );
}
