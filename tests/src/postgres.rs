//! PostgreSQL for tests: the server `infra/with-postgres.sh` started (its URL in
//! `HOLDPOINT_TEST_DATABASE_URL`), a database of its own per test binary or per test, and a
//! [`Pg`] on it. Each test opens its own pool: a pool's connections live on the runtime that
//! opened them, and every `#[tokio::test]` has its own.

use std::sync::OnceLock;
use std::time::Duration;

use holdpoint::config::Database;
use holdpoint::postgres::tokio_postgres::{self, NoTls};
use holdpoint::postgres::{Migrate, Pg};

/// The server's `postgres` database; a test run outside `infra/with-postgres.sh` stops here.
pub fn admin_url() -> String {
    std::env::var("HOLDPOINT_TEST_DATABASE_URL")
        .expect("HOLDPOINT_TEST_DATABASE_URL is not set: run the test under infra/with-postgres.sh")
}

/// `admin_url` with another database (its parameters kept).
pub fn url_of(database: &str) -> String {
    let admin = admin_url();
    let (server, rest) = admin.rsplit_once('/').expect("a URL with a database");
    match rest.split_once('?') {
        Some((_, query)) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// The CA that signed the test server's certificate (the server offers TLS; the URLs above say
/// `sslmode=disable`, the TLS tests ask for it).
pub fn test_ca() -> std::path::PathBuf {
    std::env::var_os("HOLDPOINT_TEST_DATABASE_CA")
        .expect("HOLDPOINT_TEST_DATABASE_CA is not set: run the test under infra/with-postgres.sh")
        .into()
}

/// Creates database `name` unless it exists (several tests may ask at once).
pub async fn create_database(name: &str) {
    let (client, connection) = tokio_postgres::connect(&admin_url(), NoTls)
        .await
        .expect("connect to the test server");
    let task = tokio::spawn(connection);
    match client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
    {
        Ok(()) => {}
        // Created by another test at the same moment: 42P04 duplicate_database, or 23505 on the
        // catalogue's unique index when the two raced.
        Err(e) if matches!(e.code().map(|c| c.code()), Some("42P04" | "23505")) => {}
        Err(e) => panic!("CREATE DATABASE {name}: {e}"),
    }
    drop(client);
    let _ = task.await;
}

/// A new, empty database of its own: its URL.
pub async fn fresh_database() -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    create_database(&name).await;
    url_of(&name)
}

/// The settings of a pool of `pool` connections on `url`.
pub fn database(url: &str, pool: usize) -> Database {
    Database {
        url: Some(url.to_owned()),
        ca_file: None,
        pool,
        lease: Duration::from_secs(60),
    }
}

/// This test binary's database (made on first use; scenarios keep to tenants of their own, so
/// they share it), migrated, with a small pool of this test's own.
pub async fn pg() -> Pg {
    static NAME: OnceLock<String> = OnceLock::new();
    let name = NAME.get_or_init(|| format!("t_{}", uuid::Uuid::new_v4().simple()));
    create_database(name).await;
    Pg::connect(&database(&url_of(name), 4), Migrate::Apply)
        .await
        .expect("connect to the test database")
}
