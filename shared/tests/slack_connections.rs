//! Tenants' Slack apps kept in `directory.db`: connected, replaced, disconnected, each tenant
//! its own; secrets never shown; a hand-edited row is refused, not used; the file stays the
//! owner's alone.

use holdpoint::directory::Directory;
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::slack::connection::Connected;
use holdpoint::slack::connection::SlackConnections;
use holdpoint::slack::connection::embedded::EmbeddedSlack;
use holdpoint::store::StoreError;

const TOKEN: &str = "xoxb-1-topsecrettoken";

#[tokio::test]
async fn apps_are_put_got_and_removed_per_tenant_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let apps = EmbeddedSlack::open(dir.path()).unwrap();
    assert!(apps.get("acme").await.unwrap().is_none(), "none connected");
    apps.put("acme", Some("T0TEAM"), TOKEN, "sigsecret\n")
        .await
        .unwrap();
    apps.put("beta", None, "xoxb-2-othertoken", "other")
        .await
        .unwrap();

    let acme = apps.get("acme").await.unwrap().unwrap();
    assert_eq!(
        (acme.tenant.as_str(), acme.team_id.as_deref()),
        ("acme", Some("T0TEAM"))
    );
    assert_eq!(acme.bot_token.expose(), TOKEN);
    let signed = acme.signing_secret.sign(1, b"body");
    let expected = holdpoint::slack::signature::SigningSecret::new("sigsecret").unwrap();
    assert_eq!(signed, expected.sign(1, b"body"));
    let shown = format!("{acme:?} {}", acme.public());
    assert!(
        !shown.contains("topsecret") && !shown.contains("sigsecret"),
        "{shown}"
    );
    assert_eq!(
        apps.get("beta").await.unwrap().unwrap().bot_token.expose(),
        "xoxb-2-othertoken"
    );
    assert!(
        apps.get("ACME").await.unwrap().is_none(),
        "tenants as named"
    );

    // Connecting again replaces the app.
    apps.put("acme", Some("T0OTHER"), "xoxb-3-new", "new")
        .await
        .unwrap();
    assert_eq!(
        apps.get("acme").await.unwrap().unwrap().bot_token.expose(),
        "xoxb-3-new"
    );
    assert_eq!(
        apps.list().await.unwrap(),
        [
            Connected {
                tenant: "acme".into(),
                team_id: Some("T0OTHER".into())
            },
            Connected {
                tenant: "beta".into(),
                team_id: None
            },
        ]
    );

    assert!(apps.remove("acme").await.unwrap());
    assert!(!apps.remove("acme").await.unwrap());
    assert!(apps.get("acme").await.unwrap().is_none());
    assert!(apps.get("beta").await.unwrap().is_some(), "the other stays");

    // Beside the directory, in its file, which opens as before.
    let d = EmbeddedDirectory::open(dir.path()).unwrap();
    assert!(d.list(None).await.unwrap().is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "directory.db is the owner's alone");
    }
}

#[tokio::test]
async fn parts_that_are_not_slacks_are_never_stored_and_a_hand_edited_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let apps = EmbeddedSlack::open(dir.path()).unwrap();
    for (tenant, team, token, secret) in [
        ("a/b", None, TOKEN, "s"),
        ("acme", Some("<!channel>"), TOKEN, "s"),
        ("acme", None, "not-a-token", "s"),
        ("acme", None, TOKEN, "  "),
    ] {
        let err = apps.put(tenant, team, token, secret).await.unwrap_err();
        assert!(!err.to_string().contains("topsecret"), "{err}");
    }
    assert!(apps.list().await.unwrap().is_empty());

    // A row no `put` wrote (edited by hand): refused as unavailable, never used.
    let db = rusqlite::Connection::open(dir.path().join("directory.db")).unwrap();
    db.execute(
        "INSERT INTO slack_apps (tenant, team_id, bot_token, signing_secret) VALUES ('acme', NULL, 'Bearer topsecret', 's')",
        [],
    )
    .unwrap();
    let refused = apps.get("acme").await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Unavailable(m) if m.contains("tenant acme") && !m.contains("topsecret")),
        "{refused:?}"
    );
}
