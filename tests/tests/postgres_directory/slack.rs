//! Tenants' Slack apps on PostgreSQL: a round trip, and secrets never shown.

use holdpoint::postgres::slack::PgSlack;
use holdpoint::slack::connection::Connected;
use holdpoint::slack::connection::SlackConnections;
use holdpoint::slack::signature::SigningSecret;
use holdpoint::store::StoreError;
use holdpoint_tests::postgres::pg;

use super::{SECRET, TOKEN, tenant};

#[tokio::test]
async fn slack_apps_round_trip_and_never_show_a_secret() {
    let slack = PgSlack::new(pg().await);
    let (t, other) = (tenant(), tenant());
    assert!(slack.get(&t).await.unwrap().is_none());
    slack
        .put(
            &t,
            Some("T0FIRST"),
            &format!("{TOKEN}\n"),
            &format!(" {SECRET}\n"),
        )
        .await
        .unwrap();
    let c = slack.get(&t).await.unwrap().expect("connected");
    assert_eq!(
        (c.tenant.as_str(), c.team_id.as_deref()),
        (&*t, Some("T0FIRST"))
    );
    assert_eq!(c.bot_token.expose(), TOKEN, "kept trimmed");
    let expected = SigningSecret::new(SECRET).unwrap().sign(1, b"body");
    assert_eq!(c.signing_secret.sign(1, b"body"), expected);
    let listed = slack.list().await.unwrap();
    assert!(listed.contains(&Connected {
        tenant: t.clone(),
        team_id: Some("T0FIRST".into())
    }));
    let shown = format!("{c:?} {listed:?} {}", c.public());
    assert!(
        !shown.contains("firsttenanttoken") && !shown.contains(SECRET),
        "{shown}"
    );
    // Reconnected: in place of the first app, one row.
    slack
        .put(&t, None, "xoxb-2-second", "second")
        .await
        .unwrap();
    let c = slack.get(&t).await.unwrap().unwrap();
    assert_eq!((c.team_id, c.bot_token.expose()), (None, "xoxb-2-second"));
    let rows = slack.list().await.unwrap();
    assert_eq!(rows.iter().filter(|r| r.tenant == t).count(), 1);
    // Refused parts write nothing and never quote the secret.
    let err = slack
        .put(&t, None, "not-a-token", SECRET)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(SECRET), "{err}");
    assert!(slack.put("a/b", None, TOKEN, SECRET).await.is_err());
    let nul = slack.put(&t, None, TOKEN, "zq\0xw").await.unwrap_err();
    assert!(
        matches!(nul, StoreError::Internal(_)) && !nul.to_string().contains("zq"),
        "{nul}"
    );
    assert_eq!(
        slack.get(&t).await.unwrap().unwrap().bot_token.expose(),
        "xoxb-2-second"
    );
    assert!(slack.get(&other).await.unwrap().is_none(), "per tenant");
    assert!(slack.remove(&t).await.unwrap());
    assert!(!slack.remove(&t).await.unwrap());
    assert!(slack.get(&t).await.unwrap().is_none());
}

#[tokio::test]
async fn a_hand_edited_slack_app_is_refused_without_its_secret() {
    let pg = pg().await;
    let slack = PgSlack::new(pg.clone());
    let t = tenant();
    slack.put(&t, None, TOKEN, SECRET).await.unwrap();
    let conn = pg.conn().await.unwrap();
    conn.execute(
        "UPDATE slack_apps SET bot_token = 'stolen ' || bot_token WHERE tenant = $1",
        &[&t],
    )
    .await
    .unwrap();
    let err = slack.get(&t).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("firsttenanttoken"), "{err}");
}
