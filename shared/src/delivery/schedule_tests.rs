use chrono::{TimeDelta, Utc};
use uuid::Uuid;

use super::*;
use crate::delivery::DeliveryStatus;

fn due(n: usize, tenant: &str, channel: Channel, target: &str) -> Delivery {
    let now = Utc::now() + TimeDelta::milliseconds(n as i64);
    Delivery {
        id: format!("{tenant}.{n}.{target}"),
        tenant: tenant.into(),
        approval_id: Uuid::nil(),
        event_id: format!("e{n}"),
        event_type: "approval.approved".into(),
        channel,
        recipient: "agent".into(),
        target: target.into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        created_at: now,
        next_attempt_at: now,
        last_attempt_at: None,
        delivered_at: None,
        last_error: None,
        last_status: None,
        message: None,
        receipt: None,
    }
}

fn ids(ds: &[Delivery]) -> Vec<&str> {
    ds.iter().map(|d| d.id.as_str()).collect()
}

#[test]
fn a_target_is_its_origin_or_mail_domain() {
    let t = |channel, target| target_of(&due(0, "t", channel, target));
    assert_eq!(
        t(Channel::Callback, "https://Dead.example/a?x=1"),
        "https://dead.example"
    );
    assert_eq!(
        t(Channel::Webhook, "https://dead.example:443/b"),
        "https://dead.example"
    );
    // Another port on the same host is another receiver.
    assert_ne!(
        t(Channel::Callback, "http://127.0.0.1:1/"),
        t(Channel::Webhook, "http://127.0.0.1:2/")
    );
    assert_eq!(t(Channel::Email, "Alice@Example.COM"), "mail:example.com");
}

#[test]
fn a_target_with_its_slots_full_is_passed_over_for_later_deliveries() {
    let mut slots = Slots::new(2, 32);
    let mut all: Vec<Delivery> = (0..30)
        .map(|n| due(n, "t", Channel::Callback, "https://dead.example/cb"))
        .collect();
    all.push(due(30, "t", Channel::Webhook, "https://alice.example/hook"));
    let taken = slots.take(all.clone());
    assert_eq!(
        ids(&taken.start),
        [
            "t.0.https://dead.example/cb",
            "t.1.https://dead.example/cb",
            "t.30.https://alice.example/hook"
        ]
    );
    assert_eq!(taken.waiting.len(), 28);

    // The same due list again: those in flight are not taken twice, the dead target stays full.
    let again = slots.take(all.clone());
    assert!(again.start.is_empty(), "{:?}", ids(&again.start));
    assert_eq!(again.waiting.len(), 28);

    // One attempt over: its slot goes to the next oldest of that target, once.
    slots.release("t.0.https://dead.example/cb");
    slots.release("t.30.https://alice.example/hook");
    let next = slots.take(all[1..30].to_vec());
    assert_eq!(ids(&next.start), ["t.2.https://dead.example/cb"]);
    assert_eq!(slots.busy(), 2);
}

#[test]
fn tenants_take_turns_and_the_global_limit_holds() {
    let mut slots = Slots::new(2, 6);
    // The busy tenant's deliveries are all older, to ten targets of its own.
    let mut all: Vec<Delivery> = (0..20)
        .map(|n| {
            due(
                n,
                "busy",
                Channel::Webhook,
                &format!("https://r{}.example/", n % 10),
            )
        })
        .collect();
    all.extend((20..23).map(|n| due(n, "quiet", Channel::Webhook, "https://q.example/")));
    all.push(due(23, "other", Channel::Email, "x@mail.example"));
    let taken = slots.take(all);
    let by = |tenant: &str| taken.start.iter().filter(|d| d.tenant == tenant).count();
    assert_eq!(taken.start.len(), 6);
    assert_eq!((by("busy"), by("quiet"), by("other")), (3, 2, 1));
    assert!(!slots.free());
    // What the global limit left is not counted as waiting on its target.
    assert!(taken.waiting.is_empty());
    assert_eq!(taken.later.len(), 18);
}

#[test]
fn released_slots_can_be_taken_again_and_unknown_ids_are_ignored() {
    let mut slots = Slots::new(1, 4);
    let d = due(0, "t", Channel::Callback, "https://a.example/");
    assert_eq!(slots.take(vec![d.clone(), d.clone()]).start.len(), 1);
    slots.release("nobody");
    assert_eq!(slots.busy(), 1);
    slots.release(&d.id);
    assert_eq!(slots.busy(), 0);
    assert_eq!(slots.take(vec![d]).start.len(), 1);
}

#[test]
fn a_tenant_with_many_dead_callback_origins_holds_only_its_share() {
    let mut slots = Slots::default();
    // 100 callbacks of one tenant to 50 origins (a wildcard DNS name, many ports), all older
    // than a reviewer's webhook of the same tenant and one of another tenant.
    let mut all: Vec<Delivery> = (0..100)
        .map(|n| {
            due(
                n,
                "noisy",
                Channel::Callback,
                &format!("https://dead{}.example:{}/", n % 50, 8000 + n),
            )
        })
        .collect();
    all.push(due(
        100,
        "noisy",
        Channel::Webhook,
        "https://hooks.example/r",
    ));
    all.push(due(101, "calm", Channel::Webhook, "https://calm.example/r"));
    let taken = slots.take(all);
    let callbacks = taken
        .start
        .iter()
        .filter(|d| d.channel == Channel::Callback)
        .count();
    assert_eq!(
        callbacks, PER_TENANT_CALLBACKS,
        "the agent's callbacks hold their share"
    );
    let started: Vec<&str> = ids(&taken.start);
    assert!(
        started.contains(&"noisy.100.https://hooks.example/r"),
        "{started:?}"
    );
    assert!(
        started.contains(&"calm.101.https://calm.example/r"),
        "{started:?}"
    );
    assert_eq!(taken.waiting.len(), 100 - PER_TENANT_CALLBACKS);
    assert!(slots.free(), "the process keeps slots for everyone else");
}

#[test]
fn callbacks_of_all_tenants_leave_slots_for_reviewers() {
    let mut slots = Slots::default();
    // Ten tenants each at their callback share fill the callbacks' share of the process.
    let mut all: Vec<Delivery> = (0..40)
        .map(|n| {
            due(
                n,
                &format!("t{}", n % 10),
                Channel::Callback,
                &format!("https://dead{n}.example/"),
            )
        })
        .collect();
    all.extend((40..48).map(|n| due(n, &format!("t{}", n % 10), Channel::Email, "r@mail.example")));
    all.extend((48..56).map(|n| due(n, "r", Channel::Webhook, &format!("https://r{n}.example/"))));
    let taken = slots.take(all);
    let callbacks = taken
        .start
        .iter()
        .filter(|d| d.channel == Channel::Callback)
        .count();
    assert_eq!(callbacks, CALLBACKS);
    assert_eq!(taken.start.len(), IN_FLIGHT);
    // Reviewers' messages got the slots callbacks could not take (mail to one domain: two).
    assert_eq!(taken.start.len() - callbacks, IN_FLIGHT - CALLBACKS);
    assert!(taken.start.iter().any(|d| d.channel == Channel::Email));
    let first = taken
        .start
        .iter()
        .find(|d| d.channel == Channel::Callback)
        .unwrap()
        .id
        .clone();
    slots.release(&first);
    assert!(slots.free());
}
