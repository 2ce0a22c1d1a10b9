//! Lifecycle events: every change published once the write is stored, none lost.

use super::fixture::*;

/// An event sink for tests: keeps what it is given, or refuses while told to fail.
#[derive(Default)]
pub struct RecordingSink {
    pub events: std::sync::Mutex<Vec<crate::events::LifecycleEvent>>,
    pub failing: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl crate::events::EventSink for RecordingSink {
    async fn publish(
        &self,
        events: &[crate::events::LifecycleEvent],
    ) -> Result<(), crate::events::PublishError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(crate::events::PublishError("injected failure".into()));
        }
        self.events.lock().unwrap().extend(events.iter().cloned());
        Ok(())
    }
}

impl RecordingSink {
    /// `(detail_type, version)` of what arrived for approval `id`, de-duplicated by event id.
    pub fn arrived(&self, id: Uuid) -> Vec<(String, u64)> {
        let mut seen = std::collections::BTreeMap::new();
        for e in self
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.detail.approval_id == id)
        {
            seen.insert(e.detail.version, e.detail_type.clone());
        }
        seen.into_iter().map(|(v, t)| (t, v)).collect()
    }
}

/// Every transition's event arrives, Requested naming its reviewers and carrying no link; when
/// publishing fails the state still changes, and the next sweep publishes what was missed, none
/// lost.
pub async fn events_are_never_lost(store: Arc<dyn Store>) {
    use holdpoint_core::audit::AuditEvent as E;
    let t = tenant();
    let sink = Arc::new(RecordingSink::default());
    let service =
        service_on(&store, Clock::system()).with_events(sink.clone(), "https://hp.example");
    let agent = principal(&t, "agent");
    let alice = principal(&t, "alice");
    let decide = approve(&alice);
    // What is run, as approved.
    let execute = |a: &Approval| Command::Execute {
        by: &agent,
        context_hash: Some(a.context_hash.clone()),
    };

    let (a, _) = service
        .create(&agent, request(&["alice".into()], json!({})), None)
        .await
        .unwrap();
    assert!(
        !serde_json::to_string(&a).unwrap().contains("token="),
        "no link reaches the agent"
    );
    service.apply(&t, a.id, decide.clone()).await.unwrap();
    service.apply(&t, a.id, execute(&a)).await.unwrap();
    assert_eq!(
        sink.arrived(a.id),
        [
            ("Approval Requested".to_owned(), 1),
            ("Approval Decided".to_owned(), 2),
            ("Approval Executed".to_owned(), 3)
        ]
    );
    let requested = sink.events.lock().unwrap()[0].clone();
    assert_eq!(requested.detail.reviewers, ["alice"]);
    let published = serde_json::to_string(&*sink.events.lock().unwrap()).unwrap();
    assert!(
        !published.contains("/review/") && !published.contains("token="),
        "no event carries a review link: {published}"
    );
    assert_eq!(store.get(&t, a.id).await.unwrap().unwrap().published_seq, 3);
    let swept = service.sweep().await.unwrap();
    assert_eq!(
        sink.arrived(a.id).len(),
        3,
        "nothing published twice by a sweep: {swept:?}"
    );

    // The bus is down: every change is still stored, its events wait.
    sink.failing.store(true, Ordering::SeqCst);
    let (b, _) = service
        .create(&agent, request(&["alice".into()], json!({})), None)
        .await
        .unwrap();
    service.apply(&t, b.id, decide).await.unwrap();
    service.apply(&t, b.id, execute(&b)).await.unwrap();
    let stored = store.get(&t, b.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.published_seq), (Status::Executed, 0));
    assert!(sink.arrived(b.id).is_empty());
    assert!(
        service.sweep().await.unwrap().republished == 0,
        "still down"
    );

    sink.failing.store(false, Ordering::SeqCst);
    let report = service.sweep().await.unwrap();
    assert!(report.republished >= 1, "{report:?}");
    let events: Vec<_> = sink.arrived(b.id);
    assert_eq!(
        events,
        [
            ("Approval Requested".to_owned(), 1),
            ("Approval Decided".to_owned(), 2),
            ("Approval Executed".to_owned(), 3)
        ],
        "none missing after the sweep"
    );
    let late = sink
        .events
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.detail.approval_id == b.id && e.detail.event == E::Created)
        .cloned()
        .unwrap();
    assert!(
        late.detail.reviewers.is_empty(),
        "a decided approval's late Requested event asks nobody"
    );
    assert_eq!(store.get(&t, b.id).await.unwrap().unwrap().published_seq, 3);
    assert!(
        store
            .due(chrono::Utc::now(), 1_000)
            .await
            .unwrap()
            .iter()
            .all(|x| x.id != b.id),
        "nothing left due"
    );
}
