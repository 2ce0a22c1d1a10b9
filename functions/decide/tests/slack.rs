//! A Slack click through the decide binary, as API Gateway (HTTP API, payload 2.0) hands
//! `POST /slack/interactions?tenant=acme` to it, with the tenant's Slack app in Secrets Manager
//! (`HOLDPOINT_SLACK_SECRET_ID`) and the DynamoDB-protocol server: signed by Slack's own SDK, an
//! Approve click decides; unsigned or signed with another secret, it is 401 and nothing changes;
//! a stranger's click decides nothing and their message says why.

use std::path::Path;

use holdpoint::slack::blocks::{Asked, Buttons, request};
use holdpoint::slack::button::{Choice, mint};
use holdpoint::store::Store;
use holdpoint_core::domain::approval::Status;
use holdpoint_tests::lambda::{Function, body, store_env};
use holdpoint_tests::slack::StandIn;
use holdpoint_tests::slack::clicks::{SlackSdk, TEAM, block_actions, form};
use holdpoint_tests::slack::on_aws::{apps_secret, interaction_event, service_key};
use serde_json::json;

const TOKEN: &str = "xoxb-2222-3333-decideFunctionTest";
const SECRET: &str = "9a8b7c6d5e4f30211f2e3d4c5b6a7988";

#[tokio::test]
async fn a_signed_approve_click_decides_and_an_unsigned_one_is_401() {
    let Some(sdk) = SlackSdk::find() else { return };
    let (store, _) = holdpoint_tests::fresh_store().await;
    let api = StandIn::start().await;
    api.accept_token(TOKEN);
    let mut principals = holdpoint_tests::iam_principals();
    let reviewer = principals
        .iter_mut()
        .find(|p| p.name == "reviewer")
        .unwrap();
    reviewer.slack = Some("U0REVIEWER".into());
    let mut env = store_env(&store, &principals).await;
    let apps = json!({"acme": {"bot_token": TOKEN, "signing_secret": SECRET, "team_id": TEAM}});
    env.push(("HOLDPOINT_SLACK_SECRET_ID", apps_secret(&apps).await));
    env.push(("HOLDPOINT_SLACK_API_URL", api.url()));
    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 3_600).await;

    // The reviewer's message as the notifier posts it: buttons minted with the service's key.
    let signing = env
        .iter()
        .find(|(k, _)| *k == "HOLDPOINT_SIGNING_SECRET_ID")
        .unwrap();
    let key = service_key(&signing.1).await;
    let instance = {
        use holdpoint::directory::Directory;
        let directory = holdpoint_tests::directory(&store);
        let stored = directory.get("acme", "reviewer").await.unwrap().unwrap();
        stored.instance
    };
    let value = |choice| {
        mint(
            &key,
            "acme",
            approval.id,
            "reviewer",
            instance,
            choice,
            approval.expires_at,
        )
    };
    let (approve, reject) = (value(Choice::Approve), value(Choice::Reject));
    let review_url = format!("https://holdpoint.example/review/{}?token=t", approval.id);
    let buttons = Buttons {
        approve: &approve,
        reject: &reject,
        review_url: &review_url,
    };
    let message = request(&approval, Asked::Requested, buttons).expect("a message");
    let posted = api.place("U0REVIEWER", &message);
    let click = form(&block_actions(
        "U0REVIEWER",
        TEAM,
        &posted,
        "holdpoint_approve",
    ));

    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_decide")), &env).await;
    // Attacker: unsigned, and signed with another app's secret: 401, nothing decided.
    let forged = sdk.headers("another app's signing secret", 0, &click);
    for headers in [vec![], forged] {
        let event = interaction_event("tenant=acme", &click, &headers);
        let response = function.invoke(event).await.expect("a response");
        assert_eq!(response["statusCode"], 401, "{response}");
        assert_eq!(body(&response)["code"], "slack_signature", "{response}");
    }
    let stored = store.get("acme", approval.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Pending);
    assert!(api.calls_to("chat.update").is_empty(), "no call to Slack");

    // A Slack user who is no principal: 200, nothing decided, and their message (updated with
    // the app's token from the secret) says why.
    let stranger = form(&block_actions(
        "U0STRANGER",
        TEAM,
        &posted,
        "holdpoint_approve",
    ));
    let event = interaction_event("tenant=acme", &stranger, &sdk.headers(SECRET, 0, &stranger));
    let response = function.invoke(event).await.expect("a response");
    assert_eq!(response["statusCode"], 200, "{response}");
    let stored = store.get("acme", approval.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Pending);
    let updates = api.updates_of(&posted);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].token.as_deref(), Some(TOKEN));
    assert!(
        updates[0].body["text"]
            .as_str()
            .unwrap()
            .contains("not (or no longer) a principal")
    );

    let headers = sdk.headers(SECRET, 0, &click);
    let event = interaction_event("tenant=acme", &click, &headers);
    let response = function.invoke(event.clone()).await.expect("a response");
    assert_eq!(response["statusCode"], 200, "{response}");
    let stored = store.get("acme", approval.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Approved);
    assert_eq!(
        stored.decision.as_ref().map(|d| d.by.as_str()),
        Some("reviewer")
    );
    assert_eq!(store.audit("acme", approval.id).await.unwrap().len(), 2);

    // The same request replayed decides nothing more.
    let replayed = function.invoke(event).await.expect("a response");
    assert_eq!(replayed["statusCode"], 200, "{replayed}");
    let again = store.get("acme", approval.id).await.unwrap().unwrap();
    assert_eq!(again.version, stored.version);
}
