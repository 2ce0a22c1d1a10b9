//! One conformance suite for every [`Store`]: scenario functions that each backend's tests call
//! unchanged, through [`conformance_suite!`](crate::conformance_suite).
//!
//! Every scenario works in a tenant of its own, so backends may share one database between
//! scenarios running in parallel.

mod awaiting;
pub mod checkpoints;
mod deadlines;
pub mod deliveries;
pub mod directory;
mod documents;
mod events;
mod fixture;
pub mod policies;
mod races;
mod reminders;
mod rows;
pub mod sessions;
mod state;
mod store;
mod tamper;
#[cfg(feature = "postgres")]
mod tamper_postgres;
mod upgrade;

pub use awaiting::*;
pub use deadlines::*;
pub use deliveries::*;
pub use directory::*;
pub use documents::*;
pub use events::*;
pub use fixture::{ManualClock, approve, test_key, test_keys};
pub use races::*;
pub use reminders::*;
pub use rows::*;
pub use state::*;
pub use store::*;
pub use tamper::*;
pub use upgrade::*;

/// Expands to one `#[tokio::test]` per scenario; `$make` is an async expression giving an
/// `Arc<dyn Store>`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@tests $make;
            create_then_get, create_is_create_if_absent, idempotency_keys,
            transition_is_compare_and_set, transition_versions_and_sequences,
            transition_stores_the_audit_record_with_the_state,
            list_pages_newest_first, list_filters, list_awaiting_expands_roles, due_holds_only_pending_past_deadline,
            fifty_concurrent_decisions_one_winner, fifty_concurrent_store_writes_one_winner,
            concurrent_quorum_approvals_all_count,
            forty_concurrent_votes_on_quorum_twenty_all_answer, lifecycle_end_to_end, sweep_expires_due_approvals,
            lazy_expiry_is_stored_on_write, events_are_never_lost,
            accepted_documents_survive_the_store, approvals_lapse_past_their_window,
            extend_moves_the_deadline_within_the_latest_expiry,
            a_reminder_is_found_due_and_recorded_once, a_reminder_asks_only_those_still_to_answer);
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store: ::std::sync::Arc<dyn $crate::store::Store> = $make.await;
                $crate::conformance::$name(store).await;
            }
        )*
    };
}
