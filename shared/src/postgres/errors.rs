//! Database errors as the store reports them: what passes is `Unavailable`, worth retrying; the
//! rest is `Internal`. None quotes the URL or a parameter.

use tokio_postgres::error::SqlState;

use crate::store::StoreError;

/// A database error as the store reports it: what passes (a lost connection, a serialization
/// failure, a server shutting down or full) is `Unavailable`, worth retrying; the rest is
/// `Internal`. Never quotes parameters.
pub fn failed(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let passing = [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::QUERY_CANCELED,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::DISK_FULL,
            SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
        ];
        return if passing.contains(db.code()) {
            StoreError::Unavailable(format!("postgres: {}", db.message()))
        } else {
            StoreError::Internal(format!("postgres: {}", db.message()))
        };
    }
    // The driver's own words leave out the cause (which certificate check failed, why the
    // connection was refused): add each source, none of which quotes the URL.
    let mut told = format!("postgres: {e}");
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        told.push_str(&format!(": {c}"));
        cause = c.source();
    }
    if e.is_closed() || e.code().is_none() {
        return StoreError::Unavailable(told);
    }
    StoreError::Internal(told)
}

/// No connection to be had in time: unavailable.
pub fn pool_failed(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => match failed(e) {
            StoreError::Internal(m) => StoreError::Unavailable(m),
            other => other,
        },
        e => StoreError::Unavailable(format!("postgres pool: {e}")),
    }
}

/// Whether `e` is a unique-key violation (an insert that lost to one before it).
pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}
