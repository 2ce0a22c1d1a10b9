//! TLS to PostgreSQL: the test server offers it with a certificate for 127.0.0.1 signed by a CA
//! of its own (`infra/with-postgres.sh`). Asked for, TLS is used and the certificate checked;
//! a CA nobody configured, or a host name the certificate does not name, is refused; the URL's
//! password never shows in an error.

use holdpoint::config::Database;
use holdpoint::postgres::{Migrate, Pg};
use holdpoint::store::StoreError;
use holdpoint_tests::postgres::{admin_url, database, test_ca};

/// The test server's `postgres` database with `sslmode` set to `mode`.
fn url(mode: &str) -> String {
    let admin = admin_url();
    let base = admin.split_once('?').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}?sslmode={mode}")
}

fn with_ca(url: &str) -> Database {
    Database {
        ca_file: Some(test_ca()),
        ..database(url, 2)
    }
}

async fn encrypted(pg: &Pg) -> bool {
    pg.conn()
        .await
        .expect("a connection")
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

#[tokio::test]
async fn require_with_the_servers_ca_is_encrypted() {
    for mode in ["require", "verify-ca", "verify-full", "prefer"] {
        let pg = Pg::connect(&with_ca(&url(mode)), Migrate::Leave)
            .await
            .unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        assert!(
            encrypted(&pg).await,
            "sslmode={mode} must use TLS when offered"
        );
    }
    let plain = Pg::connect(&with_ca(&url("disable")), Migrate::Leave)
        .await
        .expect("disable");
    assert!(!encrypted(&plain).await, "sslmode=disable is plain");
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_even_when_only_preferred() {
    for mode in ["require", "prefer"] {
        let refused = Pg::connect(&database(&url(mode), 2), Migrate::Leave).await;
        match refused {
            Err(StoreError::Unavailable(m) | StoreError::Internal(m)) => {
                eprintln!("sslmode={mode} without the CA: {m}");
                assert!(m.contains("UnknownIssuer"), "sslmode={mode}: {m}")
            }
            Err(e) => panic!("sslmode={mode}: unexpected {e:?}"),
            Ok(_) => panic!("sslmode={mode}: a certificate no configured CA signed was accepted"),
        }
    }
}

#[tokio::test]
async fn a_host_name_the_certificate_does_not_name_is_refused() {
    // The certificate names 127.0.0.1 only; `localhost` reaches the same server.
    let wrong = url("require").replace("127.0.0.1", "localhost");
    let refused = Pg::connect(&with_ca(&wrong), Migrate::Leave).await;
    let m = refused
        .err()
        .expect("a certificate for another name was accepted")
        .to_string();
    eprintln!("localhost with a certificate for 127.0.0.1: {m}");
    assert!(m.contains("not valid for name \"localhost\""), "{m}");
}

#[tokio::test]
async fn a_password_in_the_url_never_shows_in_an_error() {
    let secret = "s3cret-never-shown";
    let bad = url("disable").replace("holdpoint@", &format!("nobody:{secret}@"));
    let e = Pg::connect(&database(&bad, 1), Migrate::Leave)
        .await
        .err()
        .expect("an unknown role is refused");
    assert!(!format!("{e} {e:?}").contains(secret), "{e:?}");
    let e = Pg::connect(
        &database(&format!("postgres://u:{secret}@[::1",), 1),
        Migrate::Leave,
    )
    .await
    .err()
    .expect("a malformed URL is refused");
    assert!(!format!("{e} {e:?}").contains(secret), "{e:?}");
}

#[tokio::test]
async fn a_ca_file_without_a_certificate_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = Pg::connect(
        &Database {
            ca_file: Some(empty),
            ..database(&url("require"), 1)
        },
        Migrate::Leave,
    )
    .await
    .err()
    .expect("refused");
    assert!(e.to_string().contains("HOLDPOINT_DATABASE_CA_FILE"), "{e}");
}

#[path = "postgres_tls/app_role.rs"]
mod app_role;

/// No `sslmode` in the URL: plain to this machine (the server offers TLS with a certificate no
/// system root signs, which `prefer` would have refused), and every session has limits.
#[tokio::test]
async fn without_sslmode_loopback_is_plain_and_sessions_have_limits() {
    let admin = admin_url();
    let bare = admin.split_once('?').map_or(admin.as_str(), |(b, _)| b);
    let pg = Pg::connect(&database(bare, 1), Migrate::Leave)
        .await
        .expect("loopback without sslmode connects");
    assert!(!encrypted(&pg).await);
    let conn = pg.conn().await.unwrap();
    for (setting, value) in [
        ("statement_timeout", "30s"),
        ("lock_timeout", "10s"),
        ("idle_in_transaction_session_timeout", "1min"),
    ] {
        let shown: String = conn
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(shown, value, "{setting}");
    }
}
