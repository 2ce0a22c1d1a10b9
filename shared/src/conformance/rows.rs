//! Tampering with the row an approval is stored in rather than its document: another
//! approval's document copied over it, the row moved to another tenant, a column beside the
//! document edited. Each is caught on read, refused on write and named by verification.

use super::fixture::*;
use super::tamper::{Column, Tamper};
use holdpoint_core::domain::seal::Integrity;

/// A pending approval of `tenant`, with alice as its reviewer.
async fn pending(service: &Service, tenant: &str) -> Approval {
    let reviewers = ["alice".to_owned()];
    let agent = principal(tenant, "agent");
    let request = request(&reviewers, json!({}));
    service.create(&agent, request, None).await.unwrap().0
}

/// Approval `id`, read in `tenant`, is shown broken (alone, and in a list, where it shows as the
/// approval its document says: `shows`), refuses every change and fails verification naming
/// each of `named`.
async fn caught(
    service: &Service,
    tenant: &str,
    (id, shows): (Uuid, Uuid),
    named: &[&str],
    what: &str,
) {
    let (agent, alice) = (principal(tenant, "agent"), principal(tenant, "alice"));
    let shown = service.get(&agent, id).await.unwrap();
    assert_eq!(
        shown.integrity,
        Integrity::Broken,
        "{what}: shown as broken"
    );
    let page = service
        .list(&agent, &ListFilter::default(), 100, None)
        .await
        .unwrap();
    let listed = page
        .items
        .iter()
        .any(|a| a.id == shows && a.integrity == Integrity::Broken);
    assert!(listed, "{what}: listed as broken");
    let commands = [
        approve(&alice),
        Command::Cancel {
            by: &agent,
            reason: None,
        },
        Command::Execute {
            by: &agent,
            context_hash: Some("0".repeat(64)),
        },
        Command::Extend {
            by: &alice,
            seconds: 60,
            reason: None,
            max_lifetime_seconds: 3_600,
        },
        Command::Expire,
        Command::Lapse,
    ];
    for cmd in commands {
        let r = service.apply(tenant, id, cmd.clone()).await;
        assert!(
            matches!(r, Err(ServiceError::IntegrityViolation(_))),
            "{what}: {cmd:?} gave {r:?}"
        );
    }
    let (_, v) = service.audit(&agent, id).await.unwrap();
    assert!(!v.valid, "{what}: verification fails");
    let reason = v.reason.unwrap_or_default();
    for name in named {
        assert!(
            reason.contains(name),
            "{what}: the reason names {name}: {reason}"
        );
    }
}

pub async fn row_tampering_is_detected(store: Arc<dyn Store>, tamper: Arc<dyn Tamper>) {
    let t = tenant();
    let service = service_on(&store, Clock::system());
    let alice = principal(&t, "alice");

    // An approved approval's document over a pending one's row: without the row check it would
    // read as intact and could be executed as the pending one.
    let (victim, donor) = (pending(&service, &t).await, pending(&service, &t).await);
    service.apply(&t, donor.id, approve(&alice)).await.unwrap();
    tamper.copy_body(&t, donor.id, victim.id).await;
    caught(
        &service,
        &t,
        (victim.id, donor.id),
        &["id"],
        "another's document",
    )
    .await;
    let donor_now = service
        .get(&principal(&t, "agent"), donor.id)
        .await
        .unwrap();
    assert!(donor_now.integrity.is_ok(), "the donor itself is untouched");

    // Moved to another tenant: gone from its own, and broken in the other.
    let moved = pending(&service, &t).await;
    let other = tenant();
    tamper.move_row(&t, moved.id, &other).await;
    let r = service.get(&principal(&t, "agent"), moved.id).await;
    assert!(
        matches!(r, Err(ServiceError::NotFound)),
        "moved away: {r:?}"
    );
    caught(
        &service,
        &other,
        (moved.id, moved.id),
        &["tenant"],
        "moved tenant",
    )
    .await;

    // Index columns that say otherwise than the document.
    let edited = pending(&service, &t).await;
    tamper.edit_column(&t, edited.id, Column::Status).await;
    caught(
        &service,
        &t,
        (edited.id, edited.id),
        &["status"],
        "status column",
    )
    .await;
    let hidden = pending(&service, &t).await;
    tamper.edit_column(&t, hidden.id, Column::DueAt).await;
    caught(
        &service,
        &t,
        (hidden.id, hidden.id),
        &["due_at"],
        "due time column",
    )
    .await;

    let muted = pending(&service, &t).await;
    tamper.edit_column(&t, muted.id, Column::Published).await;
    caught(
        &service,
        &t,
        (muted.id, muted.id),
        &["published"],
        "published mark",
    )
    .await;

    // Nothing was written for any of them.
    for id in [victim.id, edited.id, hidden.id, muted.id] {
        assert_eq!(
            store.audit(&t, id).await.unwrap().len(),
            1,
            "nothing written"
        );
    }
}
